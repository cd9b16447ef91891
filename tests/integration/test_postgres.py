"""What is particular to PostgreSQL: migrations (jsonb columns, 0002 in place), the demo store
imported and built from it, model versions, impressions and events (jsonb, named constraints).
Skipped only when no server is given (see `tests.pg`). Tests that are the same on every backend
are not repeated here: they take the ``database_url`` fixture (tests/conftest.py) and run on
SQLite and on PostgreSQL (tests/io/test_import.py)."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, func, insert, inspect, select, text
from sqlalchemy.engine import make_url

from recograph.build import data_fingerprint
from recograph.cli import main
from recograph.dataset import StoreData
from recograph.db import create_engine, upgrade_schema
from recograph.importer import ImportSummary, import_store
from recograph.models import STORE_TABLES, Base, Event, Impression, ModelVersion
from recograph.online.config import ServingConfig
from recograph.online.events import EventWriter, impression_row
from recograph.serving.app import create_app
from recograph.settings import Settings
from tests.pg import fresh_database, requires_postgres, run_sync
from tests.serving_helpers import client_of

pytestmark = [pytest.mark.postgres, requires_postgres]

DEMO_COUNTS = {
    "products": 291,
    "customers": 1000,
    "orders": 5000,
    "order_items": 15000,
    "reviews": 5000,
}


@pytest.fixture
def pg_url() -> Iterator[str]:
    """An empty database of this test's own."""
    yield from fresh_database()


@dataclass(frozen=True)
class DemoDatabase:
    url: str
    summary: ImportSummary


@pytest.fixture(scope="module")
def demo_db(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoDatabase]:
    """The demo store imported into a database of this module's own (read-only for tests)."""
    for url in fresh_database("recograph_demo"):
        rejects = tmp_path_factory.mktemp("pg-rejects") / "rejects.jsonl"
        yield DemoDatabase(url, run_sync(import_store(demo_dir, url, rejects)))


async def _scalar(url: str, statement: str) -> Any:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return (await connection.execute(text(statement))).scalar_one()
    finally:
        await engine.dispose()


def _schema_differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _table_names(connection: Connection) -> list[str]:
    return sorted(inspect(connection).get_table_names())


async def test_migrations_build_the_schema_and_a_second_upgrade_changes_nothing(
    pg_url: str,
) -> None:
    await upgrade_schema(pg_url)
    engine = create_engine(pg_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(ModelVersion).values(
                    version="v1", engine="local", manifest={"a": [1]}, metrics={}
                )
            )
        await upgrade_schema(pg_url)  # already at head: nothing to do, nothing lost
        async with engine.connect() as connection:
            differences = await connection.run_sync(_schema_differences)
            tables = await connection.run_sync(_table_names)
            revision = await connection.execute(text("SELECT version_num FROM alembic_version"))
            json_columns = await connection.execute(
                text(
                    "SELECT table_name, column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = 'public' AND data_type IN ('json', 'jsonb') "
                    "ORDER BY table_name, column_name"
                )
            )
            kept = await connection.execute(select(ModelVersion.version, ModelVersion.manifest))
            assert differences == []
            assert tables == [
                "alembic_version",
                "customers",
                "events",
                "impressions",
                "model_versions",
                "order_items",
                "orders",
                "products",
                "reviews",
            ]
            assert revision.all() == [("0002",)]
            assert json_columns.all() == [
                ("impressions", "context", "jsonb"),
                ("impressions", "items", "jsonb"),
                ("model_versions", "manifest", "jsonb"),
                ("model_versions", "metrics", "jsonb"),
                ("products", "specs", "jsonb"),
            ]
            assert kept.all() == [("v1", {"a": [1]})]
    finally:
        await engine.dispose()


async def test_demo_store_imports_with_exact_counts(demo_db: DemoDatabase) -> None:
    summary = demo_db.summary
    assert {name: (f.read, f.imported, f.rejected) for name, f in summary.files.items()} == {
        name: (count, count, 0) for name, count in DEMO_COUNTS.items()
    }
    assert summary.rejects == []
    assert summary.rejects_path.read_text() == ""
    # The summary names the database without its password.
    assert summary.database == make_url(demo_db.url).render_as_string(hide_password=True)
    assert "***" in summary.database
    for name, count in DEMO_COUNTS.items():
        assert await _scalar(demo_db.url, f"SELECT count(*) FROM {name}") == count


@dataclass(frozen=True)
class DatabaseBuild:
    summary: dict[str, Any]
    manifest: dict[str, Any]
    artifacts: Path


@pytest.fixture(scope="module")
def db_build(demo_db: DemoDatabase, tmp_path_factory: pytest.TempPathFactory) -> DatabaseBuild:
    """`recograph build --database-url` on the imported demo store (no evaluation)."""
    root = tmp_path_factory.mktemp("pg-artifacts")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(
            [
                "build",
                "--database-url",
                demo_db.url,
                "--artifacts",
                str(root),
                "--no-eval",
                "--json",
            ]
        )
    assert status == 0
    summary = json.loads(out.getvalue())
    manifest = json.loads((Path(summary["path"]) / "manifest.json").read_text())
    return DatabaseBuild(summary, manifest, root)


def test_the_build_reads_the_store_from_postgres(
    db_build: DatabaseBuild, demo_store: StoreData
) -> None:
    counts = db_build.summary["counts"]
    assert {name: counts[name] for name in DEMO_COUNTS} == DEMO_COUNTS
    assert db_build.manifest["data_fingerprint"] == data_fingerprint(demo_store)
    assert db_build.manifest["engine"] == "local"
    assert Path(db_build.summary["path"]).parent == db_build.artifacts


async def test_the_build_is_recorded_in_model_versions(
    db_build: DatabaseBuild, demo_db: DemoDatabase
) -> None:
    engine = create_engine(demo_db.url)
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(ModelVersion.version, ModelVersion.engine, ModelVersion.manifest)
                )
            ).all()
    finally:
        await engine.dispose()
    assert [(version, engine_) for version, engine_, _ in rows] == [
        (db_build.summary["version"], "local")
    ]
    recorded = rows[0][2]
    assert recorded["counts"] == db_build.summary["counts"]
    assert recorded["data_fingerprint"] == db_build.manifest["data_fingerprint"]


async def test_the_event_writer_persists_batches_and_counts_refused_rows(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    await upgrade_schema(pg_url)
    writer = EventWriter(pg_url, batch_size=50, flush_seconds=0.01)
    await writer.start()
    items = [{"product_id": 7, "position": 1, "score": 0.5, "reason_kind": "BOUGHT_TOGETHER"}]
    writer.submit(
        "impressions",
        impression_row(
            request_id="r-1",
            customer_id=12,
            session_id="s-1",
            model_version="v9",
            strategy="hybrid",
            page_type="CART",
            context={"cart": [7, 8], "nested": {"k": None}},
            items=items,
        ),
    )
    for i in range(120):
        writer.submit("events", {"type": "CLICK", "product_id": i, "request_id": "r-1"})
    await writer.stop()
    # The table's CHECK constraint refuses an unknown type: the batch is counted, not raised.
    refused = EventWriter(pg_url, flush_seconds=0.01)
    await refused.start()
    refused.submit("events", {"type": "REFUND", "product_id": 1})
    await refused.stop()

    assert writer.stats.written == {"impressions": 1, "events": 120}
    assert writer.stats.failed == 0
    assert refused.stats.written == {"impressions": 0, "events": 0}
    assert refused.stats.failed == 1
    assert "ck_events_type" in caplog.text  # PostgreSQL named the refusing constraint
    engine = create_engine(pg_url)
    try:
        async with engine.connect() as connection:
            impression = (await connection.execute(select(Impression.__table__))).one()
            events = (
                await connection.execute(
                    select(Event.type, Event.product_id, Event.quantity).order_by(Event.id)
                )
            ).all()
            jsonb = await connection.execute(
                text("SELECT count(*) FROM impressions WHERE context @> '{\"cart\": [8]}'")
            )
            assert jsonb.scalar_one() == 1
    finally:
        await engine.dispose()
    assert (impression.request_id, impression.customer_id, impression.page_type) == (
        "r-1",
        12,
        "CART",
    )
    assert impression.context == {"cart": [7, 8], "nested": {"k": None}}
    assert impression.items == items
    assert [tuple(e) for e in events] == [("CLICK", i, 1) for i in range(120)]


RECOMMEND = """query($c: Int) {
  recommendations(customerId: $c, limit: 4, sessionId: "s-9") {
    requestId modelVersion items { rank product { id } } } }"""
RECORD = """mutation($input: EventInput!) { recordEvent(input: $input) { accepted } }"""


async def test_the_server_logs_impressions_and_events_to_postgres(
    db_build: DatabaseBuild, demo_db: DemoDatabase, demo_store: StoreData
) -> None:
    """One database for the store and the log, artifacts built from that database."""
    settings = Settings(artifacts_dir=db_build.artifacts, database_url=demo_db.url)
    config = ServingConfig(reload_poll_seconds=0, event_flush_seconds=60, event_batch_size=1000)
    app = create_app(settings, config=config)
    customer = int(demo_store.orders["customer_id"].iloc[0])
    async with client_of(app) as client:
        body = {"query": RECOMMEND, "variables": {"c": customer}}
        reply = (await client.post("/graphql", json=body)).json()["data"]["recommendations"]
        event = {
            "type": "ADD_TO_CART",
            "customerId": customer,
            "productId": reply["items"][0]["product"]["id"],
            "requestId": reply["requestId"],
            "quantity": 2,
            "price": 9.5,
        }
        recorded = await client.post(
            "/graphql", json={"query": RECORD, "variables": {"input": event}}
        )
        assert recorded.json() == {"data": {"recordEvent": {"accepted": True}}}
    engine = create_engine(demo_db.url)
    try:
        async with engine.connect() as connection:
            impressions = (await connection.execute(select(Impression.__table__))).all()
            events = (await connection.execute(select(Event.__table__))).all()
            store_rows = {
                name: (
                    await connection.execute(select(func.count()).select_from(model.__table__))
                ).scalar_one()
                for name, model in STORE_TABLES.items()
            }
    finally:
        await engine.dispose()
    assert reply["modelVersion"] == db_build.summary["version"]
    assert [(i.request_id, i.customer_id, i.session_id, i.model_version) for i in impressions] == [
        (reply["requestId"], customer, "s-9", db_build.summary["version"])
    ]
    assert [(i["product_id"], i["rank"]) for i in impressions[0].items] == [
        (item["product"]["id"], item["rank"]) for item in reply["items"]
    ]
    assert [
        (e.type, e.customer_id, e.product_id, e.request_id, e.quantity, e.price) for e in events
    ] == [("ADD_TO_CART", customer, event["productId"], reply["requestId"], 2, 9.5)]
    assert store_rows == DEMO_COUNTS


async def test_single_store_rows_move_to_the_default_store(pg_url: str) -> None:
    """Migration 0002 on a database created at 0001 with rows in every table (in place on
    PostgreSQL: keys and foreign keys re-created with the store)."""
    await upgrade_schema(pg_url, "0001")
    rows = [
        "INSERT INTO customers VALUES (1, 'Ada', 'ada@x', '2024-01-01 00:00:00')",
        "INSERT INTO products VALUES (5, 's5', 'Mouse', 'B', 'Mice', 9.5, 'd', '{}', 3, false,"
        " 4.0, '2024-01-01 00:00:00')",
        "INSERT INTO orders VALUES (9, 1, 'completed', 9.5, '2024-01-02 00:00:00')",
        "INSERT INTO order_items VALUES (9, 5, 'Mouse', 1, 9.5, 'Mice')",
        "INSERT INTO reviews VALUES (3, 5, 1, 4, '2024-01-03 00:00:00')",
        "INSERT INTO model_versions VALUES ('v1', '2024-01-01 00:00:00', 'local', '{}', '{}')",
    ]
    engine = create_engine(pg_url)
    try:
        async with engine.begin() as connection:
            for row in rows:
                await connection.execute(text(row))
        await upgrade_schema(pg_url)
        async with engine.connect() as connection:
            tables = ("customers", "products", "orders", "order_items", "reviews")
            stores = {
                table: (await connection.execute(text(f"SELECT store FROM {table}"))).all()
                for table in (*tables, "model_versions")
            }
            differences = await connection.run_sync(_schema_differences)
    finally:
        await engine.dispose()
    assert stores == {table: [("default",)] for table in stores}
    assert differences == []
