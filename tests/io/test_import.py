"""import_store and `recograph import`: validated upserts, rejects, failure safety, load_store.
The tests taking ``database_url`` (tests/conftest.py) run on SQLite and on PostgreSQL (when
`make test` provides one); the rest are about SQLite or do not depend on the backend."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, select, text

from recograph.build import data_fingerprint
from recograph.cli import main
from recograph.dataset import COLUMNS
from recograph.db import create_engine, upgrade_schema
from recograph.importer import import_store, load_store
from recograph.io import read_store
from recograph.models import STORE_TABLES, Base, Order, Product

Store = dict[str, list[dict[str, Any]]]


def product(pid: int, price: float = 10.0, **extra: Any) -> dict[str, Any]:
    return {
        "id": pid,
        "sku": f"SKU-{pid}",
        "name": f"Product {pid}",
        "brand": "Acme",
        "category": "gadgets",
        "price": price,
        "description": f"About product {pid}",
        "specs": {"colour": "red", "size": pid},
        "stock": 3,
        "promoted": pid == 1,
        "cost": price / 2,
        "created_at": "2024-01-01T00:00:00",
        **extra,
    }


def customer(cid: int) -> dict[str, Any]:
    return {
        "customer_id": cid,
        "name": f"Customer {cid}",
        "email": f"c{cid}@example.com",
        "created_at": "2024-02-01T00:00:00Z",
    }


def order(oid: int, cid: int, status: str = "completed", total: float = 0.0) -> dict[str, Any]:
    return {
        "order_id": oid,
        "customer_id": cid,
        "status": status,
        "grand_total": total,
        "order_date": f"2024-03-{oid % 28 + 1:02d}T12:00:00",
    }


def line(oid: int, pid: int, qty: int = 1, price: float = 10.0) -> dict[str, Any]:
    return {
        "order_id": oid,
        "product_id": pid,
        "product_name": f"Product {pid}",
        "qty": qty,
        "price": price,
        "category": "gadgets",
    }


def review(rid: int, pid: int, cid: int, rating: int = 4) -> dict[str, Any]:
    return {
        "review_id": rid,
        "product_id": pid,
        "customer_id": cid,
        "rating": rating,
        "created_at": "2024-04-01T00:00:00",
    }


def small_store() -> Store:
    """3 products, 2 customers, 3 orders with 4 lines, 2 reviews."""
    return {
        "products": [product(1, 100.0), product(2, 20.0), product(3, 5.5)],
        "customers": [customer(10), customer(11)],
        "orders": [
            order(100, 10, total=120.0),
            order(101, 11, total=40.0),
            order(102, 10, "canceled", 5.5),
        ],
        "order_items": [
            line(100, 1, 1, 100.0),
            line(100, 2, 1, 20.0),
            line(101, 2, 2, 20.0),
            line(102, 3, 1, 5.5),
        ],
        "reviews": [review(1000, 1, 10, 5), review(1001, 2, 11, 3)],
    }


def write_store(directory: Path, store: Store, jsonl: bool = False) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, rows in store.items():
        if jsonl:
            body = "".join(json.dumps(row) + "\n" for row in rows)
            (directory / f"{name}.jsonl").write_text(body, encoding="utf-8")
        else:
            (directory / f"{name}.json").write_text(json.dumps(rows), encoding="utf-8")
    return directory


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def table_contents(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every store table, ordered by key, straight from the database (the
    export's columns: the ``store`` column every row carries is left out)."""
    engine = create_engine(url)
    contents = {}
    try:
        async with engine.connect() as conn:
            for name, model in STORE_TABLES.items():
                table = Base.metadata.tables[model.__tablename__]
                columns = [column for column in table.columns if column.name != "store"]
                query = select(*columns).order_by(*table.primary_key.columns)
                contents[name] = [tuple(row) for row in (await conn.execute(query)).all()]
    finally:
        await engine.dispose()
    return contents


async def test_import_round_trips_counts_and_values(database_url: str, tmp_path: Path) -> None:
    data = write_store(tmp_path / "export", small_store())
    url = database_url
    rejects = tmp_path / "out" / "rejects.jsonl"

    summary = await import_store(data, url, rejects)

    assert {
        name: (f.file, f.read, f.imported, f.rejected) for name, f in summary.files.items()
    } == {
        "products": ("products.json", 3, 3, 0),
        "customers": ("customers.json", 2, 2, 0),
        "orders": ("orders.json", 3, 3, 0),
        "order_items": ("order_items.json", 4, 4, 0),
        "reviews": ("reviews.json", 2, 2, 0),
    }
    assert summary.rejects_path == rejects
    assert summary.rejects_path.read_text() == ""
    contents = await table_contents(url)
    assert {name: len(rows) for name, rows in contents.items()} == {
        "products": 3,
        "customers": 2,
        "orders": 3,
        "order_items": 4,
        "reviews": 2,
    }
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            first = (await conn.execute(select(Product).where(Product.id == 1))).one()
            statuses = (await conn.execute(select(Order.status).order_by(Order.order_id))).all()
    finally:
        await engine.dispose()
    assert first.specs == {"colour": "red", "size": 1}
    assert (first.price, first.cost, first.promoted, first.stock) == (100.0, 50.0, True, 3)
    assert first.created_at == pd.Timestamp("2024-01-01").to_pydatetime()
    assert [s for (s,) in statuses] == ["completed", "completed", "canceled"]


async def test_bad_rows_go_to_the_rejects_file_and_good_rows_are_imported(
    database_url: str, tmp_path: Path
) -> None:
    store = small_store()
    store["products"][2]["price"] = "5.50"
    store["orders"].append(order(103, 99))
    store["order_items"].append(line(103, 1))
    store["reviews"][1]["rating"] = 0
    data = write_store(tmp_path / "export", store)
    url = database_url
    rejects_path = tmp_path / "out" / "bad.jsonl"

    summary = await import_store(data, url, rejects_path)

    written = [json.loads(row) for row in rejects_path.read_text().splitlines()]
    assert written == [
        {
            "file": "products.json",
            "row": 3,
            "field": "price",
            "reason": 'expected a number, got string "5.50"',
            "record": store["products"][2],
        },
        {
            "file": "orders.json",
            "row": 4,
            "field": "customer_id",
            "reason": "unknown customer 99",
            "record": store["orders"][3],
        },
        {
            "file": "order_items.json",
            "row": 4,
            "field": "product_id",
            "reason": "product 3 was rejected (products.json row 3)",
            "record": store["order_items"][3],
        },
        {
            "file": "order_items.json",
            "row": 5,
            "field": "order_id",
            "reason": "order 103 was rejected (orders.json row 4)",
            "record": store["order_items"][4],
        },
        {
            "file": "reviews.json",
            "row": 2,
            "field": "rating",
            "reason": "must be from 1 to 5, got 0",
            "record": store["reviews"][1],
        },
    ]
    assert [(f.read, f.imported, f.rejected) for f in summary.files.values()] == [
        (3, 2, 1),
        (2, 2, 0),
        (4, 3, 1),
        (5, 3, 2),
        (2, 1, 1),
    ]
    contents = await table_contents(url)
    assert [row[0] for row in contents["products"]] == [1, 2]
    assert [row[0] for row in contents["orders"]] == [100, 101, 102]
    assert [row[:2] for row in contents["order_items"]] == [(100, 1), (100, 2), (101, 2)]
    assert [row[0] for row in contents["reviews"]] == [1000]


def test_cli_broken_export_exits_2_and_leaves_the_database_unchanged(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = database_url
    rejects = tmp_path / "var" / "rejects.jsonl"
    options = ["--database-url", url, "--rejects", str(rejects)]
    good = write_store(tmp_path / "good", small_store())
    assert main(["import", "--data", str(good), *options]) == 0
    before = _contents(url)
    rejects_before = rejects.read_bytes()

    changed = small_store()
    changed["products"][0]["price"] = 1.0  # would be updated if anything were written
    broken = write_store(tmp_path / "broken", changed)
    (broken / "reviews.json").write_text('[{"review_id": 1000, "product_id": 1,')
    capsys.readouterr()

    assert main(["import", "--data", str(broken), *options]) == 2

    err = capsys.readouterr().err
    assert err == (
        "recograph import: error: reviews.json: invalid JSON at line 1, column 38 (byte 37) "
        "(after row 0): parse error: premature EOF\n"
        "nothing was imported; the database is unchanged\n"
    )
    assert _contents(url) == before
    assert before["products"][0][5] == 100.0  # the price the broken export would have changed
    assert rejects.read_bytes() == rejects_before


def _contents(url: str) -> dict[str, list[tuple[Any, ...]]]:
    return asyncio.run(table_contents(url))


def test_cli_missing_file_exits_2_without_creating_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_store(tmp_path / "export", small_store())
    (data / "customers.json").unlink()
    db = tmp_path / "var" / "store.db"

    status = main(["import", "--data", str(data), "--database-url", sqlite_url(db)])

    assert status == 2
    assert capsys.readouterr().err == (
        f"recograph import: error: missing required file customers.json (or customers.jsonl) "
        f"in {data}\nnothing was imported; the database is unchanged\n"
    )
    assert not db.exists()


def test_cli_prints_a_summary_and_uses_the_environment_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = small_store()
    store["customers"].append(customer(10))
    data = write_store(tmp_path / "export", store)
    db = tmp_path / "envdb" / "recograph.db"
    monkeypatch.setenv("RECOGRAPH_DATABASE_URL", sqlite_url(db))

    assert main(["import", "--data", str(data)]) == 0

    out = capsys.readouterr().out.splitlines()
    assert out[:7] == [
        "file                    read    imported    rejected",
        "products.json              3           3           0",
        "customers.json             3           2           1",
        "orders.json                3           3           0",
        "order_items.json           4           4           0",
        "reviews.json               2           2           0",
        "total                     15          14           1",
    ]
    assert out[7].startswith(f"imported into {sqlite_url(db)} in ")
    assert out[8:] == [
        f"1 rejected rows listed in {db.parent / 'rejects.jsonl'}:",
        "  customers.json:3: customer_id: duplicate id 10, first seen at row 1",
    ]
    assert len((db.parent / "rejects.jsonl").read_text().splitlines()) == 1


def test_cli_rejects_a_url_it_cannot_write_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_store(tmp_path / "export", small_store())

    status = main(["import", "--data", str(data), "--database-url", "sqlite:///x.db"])

    assert status == 2
    assert capsys.readouterr().err == (
        "recograph import: error: sqlite is not an async driver; use sqlite+aiosqlite:// "
        "or postgresql+asyncpg://\n"
    )


async def test_reimport_is_idempotent_and_a_newer_export_updates_rows(
    database_url: str, tmp_path: Path
) -> None:
    url = database_url
    store = small_store()
    rejects = tmp_path / "rejects.jsonl"
    await import_store(write_store(tmp_path / "v1", store), url, rejects)
    first = await table_contents(url)

    await import_store(write_store(tmp_path / "v1", store), url, rejects)
    assert await table_contents(url) == first

    store["products"][1]["price"] = 18.0
    store["products"][1]["specs"] = {"colour": "blue"}
    store["orders"][1]["status"] = "closed"
    store["order_items"][2]["qty"] = 3
    store["reviews"].append(review(1002, 3, 10, 1))
    await import_store(write_store(tmp_path / "v2", store), url, rejects)

    second = await table_contents(url)
    assert {name: len(rows) for name, rows in second.items()} == {
        "products": 3,
        "customers": 2,
        "orders": 3,
        "order_items": 4,
        "reviews": 3,
    }
    assert second["products"][1][5] == 18.0
    assert second["products"][1][7] == {"colour": "blue"}
    assert second["orders"][1][2] == "closed"
    assert second["order_items"][2][3] == 3
    assert [row[0] for row in second["reviews"]] == [1000, 1001, 1002]
    assert second["customers"] == first["customers"]


async def test_jsonl_export_imports_the_same_rows(tmp_path: Path) -> None:
    array_url = sqlite_url(tmp_path / "a.db")
    lines_url = sqlite_url(tmp_path / "b.db")
    await import_store(write_store(tmp_path / "array", small_store()), array_url)

    summary = await import_store(write_store(tmp_path / "lines", small_store(), True), lines_url)

    assert [f.file for f in summary.files.values()] == [
        "products.jsonl",
        "customers.jsonl",
        "orders.jsonl",
        "order_items.jsonl",
        "reviews.jsonl",
    ]
    assert await table_contents(lines_url) == await table_contents(array_url)


async def test_load_store_gives_the_same_frames_as_read_store(
    database_url: str, tmp_path: Path
) -> None:
    store = small_store()
    store["products"][0]["specs"] = {"ram": "16GB", "cores": 8, "touch": True, "w": 1.25}
    store["customers"][0]["created_at"] = "2024-02-01T03:00:00+01:00"
    data = write_store(tmp_path / "export", store)
    url = database_url
    await import_store(data, url, tmp_path / "rejects.jsonl")

    loaded = await load_store(url)

    expected = read_store(data).data
    for name in COLUMNS:
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(expected, name))
    assert data_fingerprint(loaded) == data_fingerprint(expected)
    assert loaded.products["specs"].iloc[0] == {
        "ram": "16GB",
        "cores": "8",
        "touch": "true",
        "w": "1.25",
    }
    assert loaded.customers["created_at"].iloc[0] == pd.Timestamp("2024-02-01 02:00:00")


def _schema_differences(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_match_the_models_and_sqlite_pragmas_are_set(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "nested" / "dir" / "store.db")
    await upgrade_schema(url)
    await upgrade_schema(url)  # already at head: nothing to do

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(_schema_differences)
            journal = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
            foreign_keys = (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one()
            timeout = (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one()
            revision = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
    finally:
        await engine.dispose()
    assert differences == []
    assert (journal, foreign_keys, timeout) == ("wal", 1, 10000)
    assert revision == [("0002",)]


async def test_empty_files_give_empty_frames_with_the_documented_dtypes(tmp_path: Path) -> None:
    store = small_store()
    store["orders"] = store["order_items"] = store["reviews"] = []
    data = write_store(tmp_path / "export", store)
    (data / "order_items.json").unlink()
    (data / "order_items.jsonl").write_text("\n")  # a blank line is not a row
    url = sqlite_url(tmp_path / "store.db")

    summary = await import_store(data, url)
    loaded = await load_store(url)

    assert [(f.read, f.imported) for f in summary.files.values()] == [
        (3, 3),
        (2, 2),
        (0, 0),
        (0, 0),
        (0, 0),
    ]
    expected = read_store(data).data
    for name in ("orders", "order_items", "reviews"):
        frame = getattr(loaded, name)
        assert frame.empty
        pd.testing.assert_frame_equal(frame, getattr(expected, name))
    assert [str(t) for t in loaded.reviews.dtypes] == [
        "int64",
        "int64",
        "int64",
        "int64",
        "datetime64[ns]",
    ]
