"""Impressions and events reach the database, batched, and nothing queued is lost on shutdown."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from recograph import db
from recograph.models import Event, Impression
from recograph.online.config import ServingConfig
from recograph.online.events import (
    EventWriter,
    TableName,
    impression_row,
    statement_chunks,
    writer_engine,
)
from recograph.serving.app import create_app
from recograph.settings import Settings
from recograph.snapshot import ModelSnapshot
from tests.serving_helpers import client_of

RECOMMEND = """query($c: Int, $cart: [Int!]!) {
  recommendations(customerId: $c, context: {cartProductIds: $cart, pageType: CART},
                  limit: 4, sessionId: "s-1") { requestId items { rank product { id } } } }"""
RECORD = """mutation($input: EventInput!) { recordEvent(input: $input) { accepted } }"""


async def test_impressions_and_events_are_in_the_database_after_shutdown(
    artifacts_root: Path, tmp_path: Path, snapshot: ModelSnapshot
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}"
    await db.upgrade_schema(url)
    settings = Settings(artifacts_dir=artifacts_root, database_url=url)
    # A long flush interval: rows are still queued when shutdown starts.
    config = ServingConfig(reload_poll_seconds=0, event_flush_seconds=60, event_batch_size=1000)
    app = create_app(settings, config=config)
    customer = int(snapshot.histories.user_ids[3])
    cart = [int(snapshot.catalogue.item_ids[0])]
    responses = []
    async with client_of(app) as client:
        for _ in range(3):
            body = {"query": RECOMMEND, "variables": {"c": customer, "cart": cart}}
            responses.append((await client.post("/graphql", json=body)).json())
        recommended = responses[0]["data"]["recommendations"]["items"][0]["product"]["id"]
        request_id = responses[0]["data"]["recommendations"]["requestId"]
        for kind in ("CLICK", "PURCHASE"):
            event = {
                "type": kind,
                "customerId": customer,
                "productId": recommended,
                "requestId": request_id,
                "quantity": 2,
                "price": 19.5,
            }
            reply = await client.post(
                "/graphql", json={"query": RECORD, "variables": {"input": event}}
            )
            assert reply.json() == {"data": {"recordEvent": {"accepted": True}}}
        assert app.state.services.events.stats.written == {"impressions": 0, "events": 0}
    engine = db.create_engine(url)
    try:
        async with engine.connect() as connection:
            impressions = (await connection.execute(select(Impression.__table__))).all()
            events = (await connection.execute(select(Event.__table__))).all()
    finally:
        await engine.dispose()
    assert [row.request_id for row in impressions] == [
        r["data"]["recommendations"]["requestId"] for r in responses
    ]
    first = impressions[0]
    assert first.customer_id == customer
    assert first.session_id == "s-1"
    assert first.model_version == snapshot.version
    assert first.page_type == "CART"
    assert first.context["cart"] == cart
    assert [(i["product_id"], i["rank"]) for i in first.items] == [
        (i["product"]["id"], i["rank"]) for i in responses[0]["data"]["recommendations"]["items"]
    ]
    assert [(e.type, e.product_id, e.request_id, e.quantity, e.price) for e in events] == [
        ("CLICK", recommended, request_id, 2, 19.5),
        ("PURCHASE", recommended, request_id, 2, 19.5),
    ]


async def test_full_queue_drops_and_counts_instead_of_waiting() -> None:
    writer = EventWriter(None, queue_size=2)
    accepted = [writer.submit("events", {"type": "CLICK"}) for _ in range(3)]
    assert accepted == [True, True, False]
    assert writer.stats.overflow == 1
    assert writer.buffered == 2
    await writer.start()
    await writer.stop()
    assert writer.buffered == 0
    assert writer.stats.lost == 0


async def test_a_database_that_never_answers_is_counted_as_lost_at_shutdown(
    tmp_path: Path,
) -> None:
    # The file exists but has no tables: every insert fails as if the database were away.
    writer = EventWriter(
        f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}", flush_seconds=0, shutdown_seconds=0.2
    )
    await writer.start()
    writer.submit("events", {"type": "CLICK", "product_id": 1})
    await writer.stop()
    assert writer.stats.retries >= 1
    assert writer.stats.lost == 1
    assert writer.stats.failed == 0
    assert writer.stats.written["events"] == 0


async def test_a_row_the_database_refuses_is_dropped_and_the_rest_written(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'refuse.db'}"
    await db.upgrade_schema(url)
    writer = EventWriter(url, flush_seconds=60)
    await writer.start()
    writer.submit("events", {"type": "CLICK", "product_id": 1, "quantity": 1})
    writer.submit("events", {"type": "TELEPORT", "product_id": 2, "quantity": 1})  # CHECK fails
    writer.submit("events", {"type": "PURCHASE", "product_id": 3, "quantity": 1})
    await writer.stop()
    assert writer.stats.failed == 1
    assert writer.stats.written["events"] == 2
    engine = db.create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(select(Event.product_id).order_by(Event.id))).all()
    finally:
        await engine.dispose()
    assert [row[0] for row in rows] == [1, 3]


@pytest.mark.parametrize("rows", [1, 450])
async def test_batches_are_written_in_order(tmp_path: Path, rows: int) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'batch.db'}"
    await db.upgrade_schema(url)
    writer = EventWriter(url, batch_size=200, flush_seconds=0.01)
    await writer.start()
    for i in range(rows):
        writer.submit("events", {"type": "CLICK", "product_id": i, "quantity": 1})
    await writer.stop()
    assert writer.stats.written["events"] == rows
    engine = db.create_engine(url)
    try:
        async with engine.connect() as connection:
            ids = (await connection.execute(select(Event.product_id).order_by(Event.id))).all()
    finally:
        await engine.dispose()
    assert [row[0] for row in ids] == list(range(rows))


MIXED_ROWS: list[tuple[TableName, dict[str, Any]]] = [
    (
        "impressions",
        impression_row(
            request_id="r-1",
            customer_id=None,
            session_id="s-1",
            model_version="v1",
            strategy="hybrid",
            page_type=None,
            context={"cart": [1, 2], "nested": {"k": None}},
            items=[{"product_id": 1, "rank": 1, "score": 0.5, "reason": "BOUGHT_TOGETHER"}],
            created_at=datetime(2026, 1, 2, 3, 4, 5),
        )
        | {"store": "north", "variant": "b"},
    ),
    ("events", {"type": "CLICK", "product_id": 3, "created_at": datetime(2026, 1, 2, 3, 4, 5, 7)}),
    (  # more keys than the batch's first event: none of them may be lost
        "events",
        {
            "type": "PURCHASE",
            "product_id": 4,
            "quantity": 2,
            "price": 1.5,
            "customer_id": 9,
            "request_id": "r-1",
            "store": "north",
            "created_at": datetime(2026, 1, 2, 3, 4, 6),
        },
    ),
]


async def _stored_raw(path: Path, engine_factory: Any) -> dict[str, list[tuple[Any, ...]]]:
    url = f"sqlite+aiosqlite:///{path}"
    await db.upgrade_schema(url)
    writer = EventWriter(url, engine_factory=engine_factory)
    await writer.start()
    for table, row in MIXED_ROWS:
        writer.submit(table, dict(row))
    await writer.stop()
    assert writer.stats.written == {"impressions": 1, "events": 2}
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return {
            table: connection.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
            for table in ("impressions", "events")
        }


async def test_the_sqlite_writer_stores_what_sqlalchemy_stores(tmp_path: Path) -> None:
    plain = await _stored_raw(tmp_path / "plain.db", None)  # sqlite3 in the writer's thread
    through_engine = await _stored_raw(tmp_path / "engine.db", writer_engine)
    assert plain == through_engine
    assert [row[1:] for row in plain["events"]] == [
        ("2026-01-02 03:04:05.000007", "CLICK", None, None, 3, None, 1, None, "default"),
        ("2026-01-02 03:04:06.000000", "PURCHASE", 9, None, 4, "r-1", 2, 1.5, "north"),
    ]
    impression = plain["impressions"][0]
    assert impression[2] == "2026-01-02 03:04:05.000000"
    assert orjson.loads(impression[9]) == {"cart": [1, 2], "nested": {"k": None}}


@pytest.mark.parametrize(
    ("rows", "chunks"),
    [
        (0, []),
        (1, [(0, 1)]),
        (7, [(0, 4), (4, 2), (6, 1)]),
        (200, [(0, 128), (128, 64), (192, 8)]),
        (300, [(0, 128), (128, 128), (256, 32), (288, 8), (296, 4)]),
    ],
)
def test_a_batch_is_written_as_multi_row_inserts_of_power_of_two_sizes(
    rows: int, chunks: list[tuple[int, int]]
) -> None:
    assert statement_chunks(rows) == chunks
