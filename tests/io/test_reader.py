"""read_store: streaming JSON arrays / JSON Lines into validated frames, with exact rejects."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recograph.dataset import COLUMNS
from recograph.io import Reject, StoreFormatError, read_store
from recograph.io.validate import SPECS, KeyRegistry, TableValidator

Store = dict[str, list[Any]]


def good_store() -> Store:
    """Two products, two customers, two orders with three lines, one review."""
    return {
        "products": [
            {
                "id": 1,
                "sku": "LAP-1",
                "name": "Laptop",
                "brand": "Acme",
                "category": "laptops",
                "price": 999,
                "description": "A laptop",
                "specs": {"ram": "16GB", "cores": 8, "touch": False, "weight": 1.5},
                "stock": 5,
                "promoted": True,
                "cost": 700.5,
                "created_at": "2024-01-01T00:00:00",
            },
            {
                "id": 2,
                "sku": "MOU-2",
                "name": "Mouse",
                "brand": "Acme",
                "category": "accessories",
                "price": 25.0,
                "description": "",
                "specs": {},
                "stock": 0,
                "promoted": False,
                "cost": 10,
                "created_at": "2024-01-02T10:00:00Z",
            },
            {
                "id": 3,
                "sku": "CAB-3",
                "name": "Cable",
                "brand": "Wire Co",
                "category": "accessories",
                "price": 5.5,
                "description": "USB-C cable",
                "specs": {"length_m": 2},
                "stock": 100,
                "promoted": False,
                "cost": 1,
                "created_at": "2024-01-03T00:00:00",
            },
        ],
        "customers": [
            {
                "customer_id": 10,
                "name": "Ana",
                "email": "ana@example.com",
                "created_at": "2024-02-01T01:30:00+02:00",
            },
            {
                "customer_id": 11,
                "name": "Bo",
                "email": "bo@example.com",
                "created_at": "2024-02-03T00:00:00",
            },
            {
                "customer_id": 12,
                "name": "Cy",
                "email": "cy@example.com",
                "created_at": "2024-02-04T00:00:00",
            },
        ],
        "orders": [
            {
                "order_id": 100,
                "customer_id": 10,
                "status": "completed",
                "grand_total": 1024.0,
                "order_date": "2024-03-01T12:00:00",
            },
            {
                "order_id": 101,
                "customer_id": 11,
                "status": "pending",
                "grand_total": 50,
                "order_date": "2024-03-02T08:15:30",
            },
            {
                "order_id": 102,
                "customer_id": 10,
                "status": "canceled",
                "grand_total": 0,
                "order_date": "2024-03-03T00:00:00",
            },
        ],
        "order_items": [
            {
                "order_id": 100,
                "product_id": 1,
                "product_name": "Laptop",
                "qty": 1,
                "price": 999.0,
                "category": "laptops",
            },
            {
                "order_id": 100,
                "product_id": 2,
                "product_name": "Mouse",
                "qty": 1,
                "price": 25.0,
                "category": "accessories",
            },
            {
                "order_id": 101,
                "product_id": 2,
                "product_name": "Mouse",
                "qty": 2,
                "price": 25.0,
                "category": "accessories",
            },
        ],
        "reviews": [
            {
                "review_id": 1000,
                "product_id": 1,
                "customer_id": 10,
                "rating": 5,
                "created_at": "2024-03-05T09:00:00",
            }
        ],
    }


def write_store(directory: Path, store: Store, jsonl: tuple[str, ...] = ()) -> Path:
    """Write each file as a JSON array, or as JSON Lines for the names in ``jsonl``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, rows in store.items():
        if name in jsonl:
            text = "".join(json.dumps(row) + "\n" for row in rows)
            (directory / f"{name}.jsonl").write_text(text, encoding="utf-8")
        else:
            (directory / f"{name}.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return directory


def test_good_store_frames_have_documented_columns_dtypes_and_values(tmp_path: Path) -> None:
    result = read_store(write_store(tmp_path, good_store()))

    assert result.rejects == []
    assert {name: (c.read, c.valid, c.rejected) for name, c in result.counts.items()} == {
        "products": (3, 3, 0),
        "customers": (3, 3, 0),
        "orders": (3, 3, 0),
        "order_items": (3, 3, 0),
        "reviews": (1, 1, 0),
    }
    data = result.data
    for name, columns in COLUMNS.items():
        assert tuple(getattr(data, name).columns) == columns
    products = data.products
    assert products["product_id"].tolist() == [1, 2, 3]
    assert str(products["product_id"].dtype) == "int64"
    assert str(products["price"].dtype) == "float64"
    assert products["price"].tolist() == [999.0, 25.0, 5.5]
    assert products["cost"].tolist() == [700.5, 10.0, 1.0]
    assert str(products["promoted"].dtype) == "bool"
    assert str(products["created_at"].dtype) == "datetime64[ns]"
    assert pd.api.types.is_string_dtype(products["sku"])
    # Spec values become strings in the frame (dataset.py: dict str -> str).
    assert products["specs"].tolist() == [
        {"ram": "16GB", "cores": "8", "touch": "false", "weight": "1.5"},
        {},
        {"length_m": "2"},
    ]
    # "Z" and offsets are converted to naive UTC.
    assert products["created_at"].tolist() == [
        pd.Timestamp("2024-01-01 00:00:00"),
        pd.Timestamp("2024-01-02 10:00:00"),
        pd.Timestamp("2024-01-03 00:00:00"),
    ]
    assert data.customers["created_at"].tolist() == [
        pd.Timestamp("2024-01-31 23:30:00"),
        pd.Timestamp("2024-02-03 00:00:00"),
        pd.Timestamp("2024-02-04 00:00:00"),
    ]
    assert data.orders["grand_total"].tolist() == [1024.0, 50.0, 0.0]
    assert data.order_items[["order_id", "product_id", "qty"]].values.tolist() == [
        [100, 1, 1],
        [100, 2, 1],
        [101, 2, 2],
    ]
    assert data.reviews["rating"].tolist() == [5]
    assert data.completed_lines()["product_id"].tolist() == [1, 2]


def _set(name: str, index: int, field: str, value: Any) -> Callable[[Store], None]:
    def change(store: Store) -> None:
        store[name][index][field] = value

    return change


def _drop(name: str, index: int, field: str) -> Callable[[Store], None]:
    def change(store: Store) -> None:
        del store[name][index][field]

    return change


def _append_copy(file: str, index: int, **changes: Any) -> Callable[[Store], None]:
    def change(store: Store) -> None:
        store[file].append({**copy.deepcopy(store[file][index]), **changes})

    return change


def _replace_row(name: str, index: int, value: Any) -> Callable[[Store], None]:
    def change(store: Store) -> None:
        store[name][index] = value

    return change


# (change, file, row, field, reason, good rows left in that file)
BAD_ROWS = [
    pytest.param(
        _set("products", 2, "id", "12"),
        "products.json",
        3,
        "id",
        'expected an integer, got string "12"',
        2,
        id="int-given-as-string",
    ),
    pytest.param(
        _set("products", 2, "promoted", "yes"),
        "products.json",
        3,
        "promoted",
        'expected a boolean, got string "yes"',
        2,
        id="bool-not-bool",
    ),
    pytest.param(
        _set("products", 2, "promoted", 1),
        "products.json",
        3,
        "promoted",
        "expected a boolean, got integer 1",
        2,
        id="bool-given-as-int",
    ),
    pytest.param(
        _set("products", 2, "specs", "ram=16GB"),
        "products.json",
        3,
        "specs",
        'expected an object, got string "ram=16GB"',
        2,
        id="specs-not-object",
    ),
    pytest.param(
        _set("products", 2, "specs", {"dims": [1, 2]}),
        "products.json",
        3,
        "specs.dims",
        "expected a string, number or boolean, got an array",
        2,
        id="specs-nested-value",
    ),
    pytest.param(
        _set("products", 2, "price", -1),
        "products.json",
        3,
        "price",
        "must be >= 0, got -1",
        2,
        id="negative-price",
    ),
    pytest.param(
        _set("products", 2, "cost", -0.5),
        "products.json",
        3,
        "cost",
        "must be >= 0, got -0.5",
        2,
        id="negative-cost",
    ),
    pytest.param(
        _set("products", 2, "stock", -3),
        "products.json",
        3,
        "stock",
        "must be >= 0, got -3",
        2,
        id="negative-stock",
    ),
    pytest.param(
        _set("products", 2, "name", "bad\x00name"),
        "products.json",
        3,
        "name",
        "contains a NUL character",
        2,
        id="nul-in-string",
    ),
    pytest.param(
        _drop("customers", 2, "email"),
        "customers.json",
        3,
        "email",
        "missing required field",
        2,
        id="missing-field",
    ),
    pytest.param(
        _set("customers", 2, "created_at", "yesterday"),
        "customers.json",
        3,
        "created_at",
        'not an ISO-8601 date-time: "yesterday"',
        2,
        id="bad-date",
    ),
    pytest.param(
        _set("customers", 2, "created_at", "0200-01-01T00:00:00"),
        "customers.json",
        3,
        "created_at",
        "year 200 is outside the supported 1678–2261",
        2,
        id="date-out-of-range",
    ),
    pytest.param(
        _append_copy("customers", 0, name="Ana again"),
        "customers.json",
        4,
        "customer_id",
        "duplicate id 10, first seen at row 1",
        3,
        id="duplicate-id",
    ),
    pytest.param(
        _replace_row("customers", 2, [11, "Bo"]),
        "customers.json",
        3,
        None,
        "expected a JSON object, got an array",
        2,
        id="row-not-object",
    ),
    pytest.param(
        _set("orders", 2, "status", "shipped"),
        "orders.json",
        3,
        "status",
        'must be one of canceled, closed, completed, pending, processing; got "shipped"',
        2,
        id="bad-status",
    ),
    pytest.param(
        _set("orders", 2, "grand_total", None),
        "orders.json",
        3,
        "grand_total",
        "expected a number, got null",
        2,
        id="null-number",
    ),
    pytest.param(
        _set("orders", 2, "grand_total", -50),
        "orders.json",
        3,
        "grand_total",
        "must be >= 0, got -50",
        2,
        id="negative-grand-total",
    ),
    pytest.param(
        _append_copy("orders", 1, order_id=103, customer_id=99),
        "orders.json",
        4,
        "customer_id",
        "unknown customer 99",
        3,
        id="order-unknown-customer",
    ),
    pytest.param(
        _set("order_items", 2, "qty", 0),
        "order_items.json",
        3,
        "qty",
        "must be > 0, got 0",
        2,
        id="zero-qty",
    ),
    pytest.param(
        _set("order_items", 2, "price", -25.0),
        "order_items.json",
        3,
        "price",
        "must be >= 0, got -25.0",
        2,
        id="negative-line-price",
    ),
    pytest.param(
        _set("order_items", 2, "product_id", 77),
        "order_items.json",
        3,
        "product_id",
        "unknown product 77",
        2,
        id="line-unknown-product",
    ),
    pytest.param(
        _set("order_items", 2, "order_id", 555),
        "order_items.json",
        3,
        "order_id",
        "unknown order 555",
        2,
        id="line-unknown-order",
    ),
    pytest.param(
        _append_copy("order_items", 0, qty=3),
        "order_items.json",
        4,
        "order_id+product_id",
        "duplicate id (100, 1), first seen at row 1",
        3,
        id="duplicate-line",
    ),
    pytest.param(
        _set("reviews", 0, "rating", 6),
        "reviews.json",
        1,
        "rating",
        "must be from 1 to 5, got 6",
        0,
        id="rating-too-high",
    ),
    pytest.param(
        _set("reviews", 0, "rating", 4.5),
        "reviews.json",
        1,
        "rating",
        "expected an integer, got number 4.5",
        0,
        id="rating-not-integer",
    ),
    pytest.param(
        _set("reviews", 0, "customer_id", 13),
        "reviews.json",
        1,
        "customer_id",
        "unknown customer 13",
        0,
        id="review-unknown-customer",
    ),
    pytest.param(
        _set("reviews", 0, "product_id", 4),
        "reviews.json",
        1,
        "product_id",
        "unknown product 4",
        0,
        id="review-unknown-product",
    ),
]


@pytest.mark.parametrize(("change", "file", "row", "field", "reason", "left"), BAD_ROWS)
def test_each_bad_row_is_rejected_with_its_reason_and_the_rest_kept(
    tmp_path: Path,
    change: Callable[[Store], None],
    file: str,
    row: int,
    field: str | None,
    reason: str,
    left: int,
) -> None:
    store = good_store()
    change(store)
    record = store[file.removesuffix(".json")][row - 1]

    result = read_store(write_store(tmp_path, store))

    assert result.rejects == [Reject(file, row, field, reason, record)]
    name = file.removesuffix(".json")
    assert len(getattr(result.data, name)) == left
    assert result.counts[name].rejected == 1
    assert result.counts[name].valid == left


def test_rows_of_a_rejected_order_are_rejected_naming_it(tmp_path: Path) -> None:
    store = good_store()
    store["orders"][1]["status"] = "lost"

    result = read_store(write_store(tmp_path, store))

    assert [str(reject) for reject in result.rejects] == [
        "orders.json:2: status: must be one of canceled, closed, completed, pending, "
        'processing; got "lost"',
        "order_items.json:3: order_id: order 101 was rejected (orders.json row 2)",
    ]
    assert result.data.order_items["order_id"].tolist() == [100, 100]


def test_rejected_customer_cascades_to_its_orders_and_reviews(tmp_path: Path) -> None:
    store = good_store()
    store["customers"][0]["customer_id"] = "10"  # not an int: its key is unknown
    store["customers"][1]["email"] = 7  # key 11 known, but rejected

    result = read_store(write_store(tmp_path, store))

    assert [str(reject) for reject in result.rejects] == [
        'customers.json:1: customer_id: expected an integer, got string "10"',
        "customers.json:2: email: expected a string, got integer 7",
        "orders.json:1: customer_id: unknown customer 10",
        "orders.json:2: customer_id: customer 11 was rejected (customers.json row 2)",
        "orders.json:3: customer_id: unknown customer 10",
        "order_items.json:1: order_id: order 100 was rejected (orders.json row 1)",
        "order_items.json:2: order_id: order 100 was rejected (orders.json row 1)",
        "order_items.json:3: order_id: order 101 was rejected (orders.json row 2)",
        "reviews.json:1: customer_id: unknown customer 10",
    ]
    assert [len(getattr(result.data, name)) for name in COLUMNS] == [3, 1, 0, 0, 0]


def test_json_lines_give_the_same_frames_and_reject_broken_lines(tmp_path: Path) -> None:
    expected = read_store(write_store(tmp_path / "array", good_store())).data
    directory = write_store(tmp_path / "lines", good_store(), jsonl=tuple(COLUMNS))
    lines = (directory / "orders.jsonl").read_text(encoding="utf-8").splitlines()
    broken = '{"order_id": 103, "customer_id": 10,'
    text = "\n".join([lines[0], "", broken, *lines[1:]]) + "\n"
    (directory / "orders.jsonl").write_text(text, encoding="utf-8")
    with (directory / "customers.jsonl").open("ab") as out:
        out.write(b'{"customer_id": 12, "name": "Jos\xe9", "email": "j@x", "created_at": "2024"}\n')
        out.write(b"42\n")

    result = read_store(directory)

    for name in COLUMNS:
        pd.testing.assert_frame_equal(getattr(result.data, name), getattr(expected, name))
    assert [(r.file, r.row, r.field, r.record) for r in result.rejects] == [
        (
            "customers.jsonl",
            4,
            None,
            '{"customer_id": 12, "name": "Jos\ufffd", "email": "j@x", "created_at": "2024"}',
        ),
        ("customers.jsonl", 5, None, 42),
        ("orders.jsonl", 3, None, broken),
    ]
    assert result.rejects[0].reason.startswith("invalid JSON: ")
    assert "UTF-8" in result.rejects[0].reason
    assert result.rejects[1].reason == "expected a JSON object, got integer 42"
    assert result.rejects[2].reason.startswith("invalid JSON: ")
    assert (result.counts["orders"].read, result.counts["orders"].rejected) == (4, 1)


def test_truncated_json_array_stops_with_file_and_position(tmp_path: Path) -> None:
    directory = write_store(tmp_path, good_store())
    text = (
        '[{"order_id": 100, "customer_id": 10, "status": "completed", '
        '"grand_total": 1.0, "order_date": "2024-03-01T12:00:00"},\n {"order_id": 1'
    )
    (directory / "orders.json").write_text(text, encoding="utf-8")

    with pytest.raises(StoreFormatError) as raised:
        read_store(directory)

    size = len(text.encode())
    column = size - text.index("\n")
    assert str(raised.value) == (
        f"orders.json: invalid JSON at line 2, column {column} (byte {size}) (after row 1): "
        "parse error: premature EOF"
    )


def test_malformed_json_array_reports_the_offending_byte(tmp_path: Path) -> None:
    directory = write_store(tmp_path, good_store())
    (directory / "reviews.json").write_text('[{"review_id": 1}, {"review_id": 2 x}]')

    with pytest.raises(StoreFormatError) as raised:
        read_store(directory)

    assert str(raised.value) == (
        "reviews.json: invalid JSON at line 1, column 36 (byte 35) (after row 1): "
        "lexical error: invalid char in json text."
    )


def test_invalid_utf8_in_a_json_array_rejects_that_row_only(tmp_path: Path) -> None:
    store = good_store()
    directory = write_store(tmp_path, store)
    customers = [json.dumps(c).encode() for c in store["customers"]]
    customers[0] = customers[0].replace(b'"Ana"', b'"Jos\xe9"')
    (directory / "customers.json").write_bytes(b"[\n" + b",\n".join(customers) + b"]")

    result = read_store(directory)

    assert [str(r) for r in result.rejects if r.file == "customers.json"] == [
        "customers.json:1: name: contains an invalid Unicode character"
    ]
    assert result.data.customers["customer_id"].tolist() == [
        c["customer_id"] for c in store["customers"][1:]
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            '{"products": []}',
            "products.json: expected a JSON array ('[') at the top level, found '{'",
            id="object",
        ),
        pytest.param(
            "  \n",
            "products.json: file is empty; expected a JSON array of objects",
            id="empty",
        ),
    ],
)
def test_json_file_that_is_not_an_array_stops(tmp_path: Path, content: str, message: str) -> None:
    directory = write_store(tmp_path, good_store())
    (directory / "products.json").write_text(content)

    with pytest.raises(StoreFormatError) as raised:
        read_store(directory)

    assert str(raised.value) == message


def test_missing_file_stops_naming_it(tmp_path: Path) -> None:
    directory = write_store(tmp_path, good_store())
    (directory / "reviews.json").unlink()

    with pytest.raises(StoreFormatError) as raised:
        read_store(directory)

    assert str(raised.value) == (
        f"missing required file reviews.json (or reviews.jsonl) in {directory}"
    )


def test_both_json_and_jsonl_for_one_file_is_ambiguous(tmp_path: Path) -> None:
    directory = write_store(tmp_path, good_store())
    (directory / "reviews.jsonl").write_text("")

    with pytest.raises(StoreFormatError) as raised:
        read_store(directory)

    assert (
        str(raised.value)
        == f"both reviews.json and reviews.jsonl exist in {directory}; keep only one"
    )


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    directory = write_store(tmp_path, good_store())
    path = directory / "products.json"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())

    result = read_store(directory)

    assert result.data.products["product_id"].tolist() == [1, 2, 3]
    assert result.data.products["created_at"].iloc[0] == datetime(2024, 1, 1)


# Values near every rule's edge, for each kind of field, plus JSON values of the wrong kind.
_EDGE_VALUES = st.one_of(
    st.sampled_from(
        [
            0,
            1,
            -1,
            5,
            6,
            2**63 - 1,
            2**63,
            -(2**63) - 1,
            0.0,
            -0.0,
            -0.01,
            4.5,
            True,
            False,
            None,
            "",
            "12",
            "a\x00b",
            "\ud800",
            "café",
            "completed",
            "shipped",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00+05:30",
            "1600-01-01T00:00:00",
            "2024-02-30",
            [],
            {},
            {"ram": "16GB"},
            {"dims": [1]},
            {"n": None},
        ]
    ),
    st.integers(min_value=-3, max_value=3),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=3),
)


_VALID_RECORDS: dict[str, dict[str, Any]] = {name: rows[0] for name, rows in good_store().items()}


@st.composite
def _records(draw: st.DrawFn, name: str) -> list[Any]:
    """A few rows: each a valid row with ids in 1..4 and some fields broken or removed."""
    records: list[Any] = []
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        if draw(st.integers(min_value=0, max_value=20)) == 0:
            records.append(draw(_EDGE_VALUES))  # not an object
            continue
        record = copy.deepcopy(_VALID_RECORDS[name])
        for field in list(record):
            if field.endswith("id"):
                record[field] = draw(st.integers(min_value=1, max_value=4))
            choice = draw(st.integers(min_value=0, max_value=9))
            if choice == 0:
                del record[field]
            elif choice == 1:
                record[field] = draw(_EDGE_VALUES)
        records.append(record)
    return records


def _registries() -> dict[str, KeyRegistry]:
    known = {1: 1, 2: 2}
    return {
        name: KeyRegistry(f"{name}.json", accepted=dict(known), rejected={3: 3})
        for name in ("products", "customers", "orders")
    }


@pytest.mark.parametrize("name", list(SPECS))
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_fast_path_accepts_exactly_what_the_field_checks_accept(
    name: str, data: st.DataObject
) -> None:
    records = data.draw(_records(name))
    fast = TableValidator(SPECS[name], f"{name}.json", _registries())
    slow = TableValidator(SPECS[name], f"{name}.json", _registries(), fast_path=False)

    for row, record in enumerate(records, start=1):
        assert fast.check(row, record) == slow.check(row, record)
