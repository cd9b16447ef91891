"""Malformed store exports, generated with hypothesis: every valid row is imported, every bad
row is reported with its field and reason and kept in the rejects file, nothing raises.

Each generated export is built row by row with the outcome known by construction: a valid row
(fresh key, references to valid rows only, sometimes huge but legal values) or a row with
exactly one defect: a wrong type, a missing field, a value out of range (64-bit overflow,
negative price, rating 6, year 9999, unknown status), a number beyond the double range, a NUL
character, bytes that are not UTF-8, a broken reference (unknown, or to a rejected row), a
duplicate key, a row that is not an object, or (JSON Lines) a truncated line. Files are JSON
arrays or JSON Lines at random. Exports broken as a whole (truncated or empty arrays,
structural garbage, a missing file) must be refused with the file named and the database left
as it was. The cases run are tallied and printed at the end of the module.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import Table, create_engine, select

from recograph import db
from recograph.cli import main
from recograph.dataset import COLUMNS
from recograph.importer import import_store
from recograph.io import STORE_FILES, StoreFormatError, read_store
from recograph.io.validate import SPECS, Kind
from recograph.models import STORE_TABLES

SCALE = int(os.environ.get("RECOGRAPH_FUZZ_SCALE", "1"))
FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
KEYS = {name: spec.key for name, spec in SPECS.items()}
# The frames name some columns differently from the files (products.id -> product_id).
FRAME_KEYS = {
    name: tuple(COLUMNS[name][[f.name for f in spec.fields].index(k)] for k in spec.key)
    for name, spec in SPECS.items()
}
PARENTS = {  # reference field -> table it points to
    name: {ref.field: ref.table for ref in spec.references} for name, spec in SPECS.items()
}
NOUN = {"customers": "customer", "orders": "order", "products": "product"}

TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=12
)
LONG_TEXT = st.builds(str.__mul__, st.sampled_from(["a", "é", "🛒", " "]), st.integers(1, 20_000))
STAMP = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)).map(
    lambda d: d.isoformat(timespec="seconds")
)
NUMBER = st.one_of(
    st.integers(0, 10**6),
    st.floats(0, 1e6, allow_nan=False),
    st.sampled_from([0, 0.0, 1e300, 2**62]),
)


@dataclass
class Row:
    """One line of a generated file: its bytes and what the import must make of it."""

    raw: bytes
    record: Any  # the decoded object when it is plain JSON, else None
    key: Any | None  # the key of a valid row
    field: str | None = None  # expected field of the reject (None: the whole row)
    reason: str = ""  # a fragment the reject's reason must contain
    defect: str = "valid"

    @property
    def valid(self) -> bool:
        return self.defect == "valid"


@dataclass
class Export:
    formats: dict[str, str]
    rows: dict[str, list[Row]] = field(default_factory=dict)

    def file(self, name: str) -> str:
        return f"{name}.{self.formats[name]}"

    def write(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for name, rows in self.rows.items():
            if self.formats[name] == "jsonl":
                content = b"".join(row.raw + b"\n" for row in rows)
            else:
                content = b"[\n" + b",\n".join(row.raw for row in rows) + b"\n]\n"
            (directory / self.file(name)).write_bytes(content)

    def expected_rejects(self) -> dict[tuple[str, int], Row]:
        return {
            (self.file(name), number): row
            for name, rows in self.rows.items()
            for number, row in enumerate(rows, start=1)
            if not row.valid
        }

    def valid_keys(self, name: str) -> set[Any]:
        return {row.key for row in self.rows[name] if row.valid}


# ---------------------------------------------------------------------------- generation


class Plan:
    """What was generated so far: keys of valid rows and of rows rejected by validation."""

    def __init__(self) -> None:
        self.valid: dict[str, list[Any]] = {name: [] for name in STORE_FILES}
        self.rejected: dict[str, list[int]] = {name: [] for name in STORE_FILES}
        self.next_id = 1

    def fresh_id(self, draw: st.DrawFn) -> int:
        self.next_id += draw(st.integers(1, 50))
        return self.next_id


def valid_record(draw: st.DrawFn, name: str, plan: Plan) -> dict[str, Any] | None:
    """A valid row of ``name`` (None when its parents have no valid rows to point at)."""
    ident = plan.fresh_id(draw)
    huge = draw(st.integers(0, 9)) == 0
    label = draw(LONG_TEXT if huge else TEXT)
    if name == "products":
        specs = draw(
            st.dictionaries(
                TEXT,
                st.one_of(
                    TEXT, st.integers(-(2**63), 2**63 - 1), st.booleans(), st.floats(-1e9, 1e9)
                ),
                max_size=3,
            )
        )
        return {
            "id": ident if not huge else 2**63 - ident,
            "sku": draw(TEXT),
            "name": label,
            "brand": draw(TEXT),
            "category": draw(st.sampled_from(["laptops", "mice", "cables"])),
            "price": draw(NUMBER),
            "description": draw(TEXT),
            "specs": specs,
            "stock": draw(st.integers(0, 2**31)),
            "promoted": draw(st.booleans()),
            "cost": draw(NUMBER),
            "created_at": draw(STAMP),
        }
    if name == "customers":
        return {"customer_id": ident, "name": label, "email": draw(TEXT), "created_at": draw(STAMP)}
    if name == "orders":
        if not plan.valid["customers"]:
            return None
        return {
            "order_id": ident,
            "customer_id": draw(st.sampled_from(plan.valid["customers"])),
            "status": draw(st.sampled_from(["completed", "pending", "canceled", "closed"])),
            "grand_total": draw(NUMBER),
            "order_date": draw(STAMP),
        }
    if name == "order_items":
        if not plan.valid["orders"] or not plan.valid["products"]:
            return None
        pair = (
            draw(st.sampled_from(plan.valid["orders"])),
            draw(st.sampled_from(plan.valid["products"])),
        )
        if pair in plan.valid["order_items"]:
            return None
        return {
            "order_id": pair[0],
            "product_id": pair[1],
            "product_name": label,
            "qty": draw(st.integers(1, 10**6)),
            "price": draw(NUMBER),
            "category": draw(TEXT),
        }
    if not plan.valid["products"] or not plan.valid["customers"]:
        return None
    return {
        "review_id": ident,
        "product_id": draw(st.sampled_from(plan.valid["products"])),
        "customer_id": draw(st.sampled_from(plan.valid["customers"])),
        "rating": draw(st.integers(1, 5)),
        "created_at": draw(STAMP),
    }


def key_of(name: str, record: dict[str, Any]) -> Any:
    parts = tuple(record[k] for k in KEYS[name])
    return parts[0] if len(parts) == 1 else parts


WRONG: dict[Kind, list[Any]] = {
    Kind.INT: ["12", 1.5, 1.0, True, None, [1], {}],
    Kind.NUMBER: ["1.5", True, None, [], {}],
    Kind.STR: [1, True, None, [], {}],
    Kind.BOOL: [1, "true", None],
    Kind.SPECS: [[], "x", 1, None],
    Kind.DATETIME: [1, None, True, "not a date", "2024-13-01T00:00:00"],
}
RANGE_DEFECTS: dict[str, list[tuple[str, Any, str]]] = {  # table -> (field, value, reason)
    "products": [
        ("price", -0.01, "must be >= 0"),
        ("stock", -1, "must be >= 0"),
        ("id", 2**64, "out of the 64-bit range"),
        ("created_at", "9999-01-01T00:00:00", "outside the supported"),
    ],
    "customers": [("customer_id", -(2**63) - 1, "out of the 64-bit range")],
    "orders": [
        ("status", "shipped", "must be one of"),
        ("grand_total", -5, "must be >= 0"),
        ("order_date", "1500-01-01T00:00:00", "outside the supported"),
    ],
    "order_items": [("qty", 0, "must be > 0"), ("price", -1.5, "must be >= 0")],
    "reviews": [("rating", 6, "must be from 1 to 5"), ("rating", 0, "must be from 1 to 5")],
}
STRING_FIELDS = {n: [f.name for f in s.fields if f.kind is Kind.STR] for n, s in SPECS.items()}
NUMBER_FIELDS = {n: [f.name for f in s.fields if f.kind is Kind.NUMBER] for n, s in SPECS.items()}


def dumps(record: Any) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode()


def defective_row(draw: st.DrawFn, name: str, plan: Plan, jsonl: bool) -> Row | None:
    """A row with exactly one defect (None when the drawn defect does not apply)."""
    base = valid_record(draw, name, plan)
    if base is None:
        return None
    spec = SPECS[name]
    kinds = ["wrong_type", "missing", "range", "not_object", "duplicate"]
    kinds += ["nul", "invalid_utf8"] if STRING_FIELDS[name] else []
    kinds += ["huge_number"] if NUMBER_FIELDS[name] else []
    kinds += ["broken_ref", "rejected_ref"] if spec.references else []
    kinds += ["truncated"] if jsonl else []
    defect = draw(st.sampled_from(kinds))
    record = dict(base)
    key_fields = set(KEYS[name])
    remembered = True  # the validator keeps the key of a row it rejects (for references)
    if defect == "wrong_type":
        target = draw(st.sampled_from(spec.fields))
        value = draw(st.sampled_from(WRONG[target.kind]))
        record[target.name] = value
        reason = (
            "not an ISO-8601"
            if isinstance(value, str) and target.kind is Kind.DATETIME
            else "expected"
        )
        row = Row(dumps(record), record, None, target.name, reason, defect)
        remembered = target.name not in key_fields
    elif defect == "missing":
        target = draw(st.sampled_from(spec.fields))
        del record[target.name]
        row = Row(dumps(record), record, None, target.name, "missing required field", defect)
        remembered = target.name not in key_fields
    elif defect == "range":
        target_name, value, reason = draw(st.sampled_from(RANGE_DEFECTS[name]))
        record[target_name] = value
        row = Row(dumps(record), record, None, target_name, reason, defect)
        if jsonl and isinstance(value, int) and not -(2**63) <= value < 2**64:
            # orjson reads integers beyond 64 bits as floats: "expected an integer, got number"
            row = Row(dumps(record), None, None, target_name, "expected an integer", defect)
        remembered = target_name not in key_fields
    elif defect == "nul":
        target_name = draw(st.sampled_from(STRING_FIELDS[name]))
        record[target_name] = "a\x00b"
        row = Row(dumps(record), record, None, target_name, "NUL character", defect)
    elif defect in {"invalid_utf8", "huge_number"}:
        fields = STRING_FIELDS[name] if defect == "invalid_utf8" else NUMBER_FIELDS[name]
        target_name = draw(st.sampled_from(fields))
        marker = "@@MARK@@"
        record[target_name] = marker
        raw_value = b'"a\xff\xfeb"' if defect == "invalid_utf8" else b"1e400"
        raw = dumps(record).replace(b'"' + marker.encode() + b'"', raw_value)
        if jsonl:  # the line is not valid JSON at all: rejected whole, key unknown
            row = Row(raw, None, None, None, "invalid JSON", defect)
            remembered = False
        else:
            reason = "invalid Unicode character" if defect == "invalid_utf8" else "finite"
            row = Row(raw, None, None, target_name, reason, defect)
    elif defect == "not_object":
        value = draw(st.sampled_from([[1, 2], 5, "row", None, True]))
        row = Row(dumps(value), value, None, None, "expected a JSON object", defect)
        remembered = False
    elif defect == "duplicate":
        if not plan.valid[name]:
            return None
        key = draw(st.sampled_from(plan.valid[name]))
        for part, value in zip(KEYS[name], key if isinstance(key, tuple) else (key,), strict=True):
            record[part] = value
        row = Row(dumps(record), record, None, "+".join(KEYS[name]), "duplicate id", defect)
        remembered = False
    elif defect in ("broken_ref", "rejected_ref"):
        ref = draw(st.sampled_from(spec.references))
        if defect == "broken_ref":
            target = 10**12 + draw(st.integers(0, 1000))
            reason = f"unknown {NOUN[ref.table]} {target}"
        else:
            if not plan.rejected[ref.table]:
                return None
            target = draw(st.sampled_from(plan.rejected[ref.table]))
            reason = f"{NOUN[ref.table]} {target} was rejected"
        record[ref.field] = target
        if name == "order_items" and key_of(name, record) in plan.valid[name]:
            return None  # would be reported as a duplicate first
        row = Row(dumps(record), record, None, ref.field, reason, defect)
    else:  # truncated JSON Lines line
        raw = dumps(record)
        cut = draw(st.integers(1, len(raw) - 1))
        row = Row(raw[:cut], None, None, None, "invalid JSON", defect)
        remembered = False
    if remembered and len(KEYS[name]) == 1 and defect != "duplicate":
        plan.rejected[name].append(base[KEYS[name][0]])
    return row


@st.composite
def exports(draw: st.DrawFn) -> Export:
    formats = {name: draw(st.sampled_from(["json", "jsonl"])) for name in STORE_FILES}
    export = Export(formats)
    plan = Plan()
    for name in STORE_FILES:
        rows: list[Row] = []
        for _ in range(draw(st.integers(1 if name in ("products", "customers") else 0, 6))):
            bad = draw(st.integers(0, 2)) == 0
            row = defective_row(draw, name, plan, formats[name] == "jsonl") if bad else None
            if row is None:
                record = valid_record(draw, name, plan)
                if record is None:
                    continue
                key = key_of(name, record)
                plan.valid[name].append(key)
                row = Row(dumps(record), record, key)
            rows.append(row)
        if name in ("products", "customers") and not plan.valid[name]:
            record = valid_record(draw, name, plan)
            assert record is not None
            plan.valid[name].append(key_of(name, record))
            rows.append(Row(dumps(record), record, key_of(name, record)))
        export.rows[name] = rows
    return export


# ---------------------------------------------------------------------------- checks


@pytest.fixture(scope="module")
def tally() -> Iterator[Counter[str]]:
    counts: Counter[str] = Counter()
    yield counts
    exports_run = counts.pop("exports", 0)
    rows = counts.pop("rows", 0)
    broken = counts.pop("broken files", 0)
    imported = counts.pop("imported", 0)
    files = {k: v for k, v in counts.items() if k.startswith("broken file: ")}
    defects = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k not in files)
    kinds = ", ".join(f"{k.removeprefix('broken file: ')} {v}" for k, v in sorted(files.items()))
    print(
        f"\nimport fuzz: {exports_run} generated exports, {rows} rows "
        f"(defective rows: {defects}); {imported} of the same kind imported into SQLite with "
        f"their rejects file; {broken} exports broken as a whole ({kinds})"
    )


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated empty database, copied for each example (migrating costs more)."""
    path = tmp_path_factory.mktemp("template") / "store.db"
    asyncio.run(db.upgrade_schema(f"sqlite+aiosqlite:///{path}"))
    return path


def check_rejects(export: Export, rejects: list[Any]) -> None:
    expected = export.expected_rejects()
    got = {(r.file, r.row): r for r in rejects}
    assert set(got) == set(expected)
    for where, reject in got.items():
        row = expected[where]
        assert reject.field == row.field, (where, row.defect, reject)
        assert row.reason in reject.reason, (where, row.defect, reject)
        assert str(reject).startswith(f"{where[0]}:{where[1]}: ")
        if row.record is not None and row.defect != "truncated":
            assert reject.record == row.record


@settings(FUZZ, max_examples=300 * SCALE)
@given(export=exports())
def test_every_valid_row_is_read_and_every_bad_row_rejected_with_its_reason(
    tmp_path_factory: pytest.TempPathFactory, tally: Counter[str], export: Export
) -> None:
    directory = tmp_path_factory.mktemp("export")
    export.write(directory)
    result = read_store(directory)
    tally["exports"] += 1
    for rows in export.rows.values():
        tally["rows"] += len(rows)
        tally.update(row.defect for row in rows if not row.valid)
    check_rejects(export, result.rejects)
    data = result.data
    frames = {
        "products": data.products,
        "customers": data.customers,
        "orders": data.orders,
        "order_items": data.order_items,
        "reviews": data.reviews,
    }
    for name, frame in frames.items():
        keys = list(zip(*(frame[k].tolist() for k in FRAME_KEYS[name]), strict=True))
        found = {k[0] if len(k) == 1 else k for k in keys}
        assert found == export.valid_keys(name), name
        assert result.counts[name].read == len(export.rows[name])
    by_id = {row.key: row.record for row in export.rows["products"] if row.valid}
    for ident, name, price in zip(
        data.products["product_id"],
        data.products["name"],
        data.products["price"],
        strict=True,
    ):
        assert name == by_id[ident]["name"]
        assert price == float(by_id[ident]["price"])


@settings(FUZZ, max_examples=60 * SCALE)
@given(export=exports())
def test_import_writes_the_valid_rows_and_the_rejects_file(
    tmp_path_factory: pytest.TempPathFactory,
    template_db: Path,
    tally: Counter[str],
    export: Export,
) -> None:
    work = tmp_path_factory.mktemp("import")
    export.write(work / "export")
    database = work / "store.db"
    shutil.copy(template_db, database)
    url = f"sqlite+aiosqlite:///{database}"
    summary = asyncio.run(import_store(work / "export", url, work / "rejects.jsonl"))
    tally["imported"] += 1
    check_rejects(export, summary.rejects)
    lines = (work / "rejects.jsonl").read_bytes().splitlines()
    written = [json.loads(line) for line in lines]
    assert [(w["file"], w["row"], w["field"], w["reason"]) for w in written] == [
        (r.file, r.row, r.field, r.reason) for r in summary.rejects
    ]
    expected = export.expected_rejects()
    for entry in written:
        row = expected[(entry["file"], entry["row"])]
        if row.record is not None and row.defect != "truncated":
            assert entry["record"] == row.record
    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            for name in STORE_FILES:
                table = STORE_TABLES[name].__table__
                assert isinstance(table, Table)
                stored = connection.execute(select(*(table.c[k] for k in KEYS[name]))).all()
                keys = {r[0] if len(r) == 1 else tuple(r) for r in stored}
                assert keys == export.valid_keys(name), name
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------- whole files


def good_rows(name: str) -> list[dict[str, Any]]:
    """One valid row of ``name``; the five tables together make a valid export."""
    return [
        {
            "products": {
                "id": 1,
                "sku": "S",
                "name": "N",
                "brand": "B",
                "category": "C",
                "price": 1,
                "description": "",
                "specs": {},
                "stock": 1,
                "promoted": False,
                "cost": 0,
                "created_at": "2024-01-01T00:00:00",
            },
            "customers": {
                "customer_id": 1,
                "name": "A",
                "email": "a@x",
                "created_at": "2024-01-01T00:00:00",
            },
            "orders": {
                "order_id": 1,
                "customer_id": 1,
                "status": "completed",
                "grand_total": 1,
                "order_date": "2024-01-02T00:00:00",
            },
            "order_items": {
                "order_id": 1,
                "product_id": 1,
                "product_name": "N",
                "qty": 1,
                "price": 1,
                "category": "C",
            },
            "reviews": {
                "review_id": 1,
                "product_id": 1,
                "customer_id": 1,
                "rating": 5,
                "created_at": "2024-01-03T00:00:00",
            },
        }[name]
    ]


def write_good_export(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in STORE_FILES:
        (directory / f"{name}.json").write_text(json.dumps(good_rows(name)))


@st.composite
def broken_files(draw: st.DrawFn) -> tuple[str, str, bytes | None]:
    """(table, how, content of its .json file; None = removed) for an export broken whole."""
    name = draw(st.sampled_from(STORE_FILES))
    content = json.dumps(good_rows(name) * 3, indent=1).encode()
    how = draw(
        st.sampled_from(["truncated", "empty", "blank", "not_array", "garbage_byte", "missing"])
    )
    if how == "truncated":
        cut = draw(st.integers(1, len(content) - 1))
        broken = content[:cut]
        try:
            json.loads(broken)
        except ValueError:
            return name, how, broken
        assume(False)
    if how == "empty":
        return name, how, b""
    if how == "blank":
        return name, how, b" \n\t\n"
    if how == "not_array":
        return name, how, draw(st.sampled_from([b'{"id": 1}', b'"rows"', b"42", b"null"]))
    if how == "garbage_byte":
        at = draw(st.sampled_from([i for i, c in enumerate(content) if c in b",]["]))
        return name, how, content[:at] + b"\xff" + content[at:]
    return name, how, None


@settings(FUZZ, max_examples=60 * SCALE)
@given(case=broken_files())
def test_an_export_broken_as_a_whole_is_refused_and_changes_nothing(
    tmp_path_factory: pytest.TempPathFactory,
    template_db: Path,
    capsys: pytest.CaptureFixture[str],
    tally: Counter[str],
    case: tuple[str, str, bytes | None],
) -> None:
    name, how, content = case
    work = tmp_path_factory.mktemp("broken")
    export = work / "export"
    write_good_export(export)
    database = work / "store.db"
    shutil.copy(template_db, database)
    url = f"sqlite+aiosqlite:///{database}"
    rejects = work / "rejects.jsonl"
    args = ["import", "--data", str(export), "--database-url", url, "--rejects", str(rejects)]
    assert main(args) == 0
    before = database.read_bytes(), rejects.read_bytes()
    capsys.readouterr()
    target = export / f"{name}.json"
    if content is None:
        target.unlink()
    else:
        target.write_bytes(content)
    with pytest.raises(StoreFormatError, match=f"{name}.json"):
        read_store(export)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "recograph import: error: " in err
    assert f"{name}.json" in err
    assert "nothing was imported; the database is unchanged" in err
    assert "Traceback" not in err
    assert (database.read_bytes(), rejects.read_bytes()) == before
    tally["broken files"] += 1
    tally[f"broken file: {how}"] += 1
