"""Live purchases reach every process through the events table (issue 13, item 4)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from recograph import db
from recograph.online import live
from recograph.online.config import ServingConfig
from recograph.online.events import EventWriter
from recograph.online.live import LivePurchaseFeed
from recograph.serving.app import create_app
from recograph.settings import Settings
from recograph.snapshot import ModelSnapshot
from tests.serving_helpers import client_of

RECORD = (
    """mutation($input: EventInput!) { recordEvent(input: $input) { accepted livePurchases } }"""
)
LIVE = """query($c: Int) { recommendationJourney(customerId: $c, limit: 5) {
  profile { livePurchases { id } } } }"""


async def _post(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def test_a_purchase_recorded_by_one_server_counts_in_another(
    artifacts_root: Path, tmp_path: Path, snapshot: ModelSnapshot
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    await db.upgrade_schema(url)
    settings = Settings(artifacts_dir=artifacts_root, database_url=url)
    # polling by hand (live_poll_seconds=0 starts no background task) keeps the test exact
    config = ServingConfig(reload_poll_seconds=0, live_poll_seconds=0, event_flush_seconds=0.05)
    first, second = create_app(settings, config=config), create_app(settings, config=config)
    customer = int(snapshot.histories.user_ids[3])
    bought = int(snapshot.catalogue.item_ids[np.argmax(snapshot.catalogue.stock)])
    async with (
        client_of(first) as a,
        client_of(second) as b,
    ):
        feed = LivePurchaseFeed(second.state.services.state, url)
        assert await feed.poll_once() == 0  # nothing bought since the build
        before = await _post(b, LIVE, c=customer)
        assert before["recommendationJourney"]["profile"]["livePurchases"] == []

        event = {"type": "PURCHASE", "customerId": customer, "productId": bought}
        receipt = await _post(a, RECORD, input=event)
        assert receipt["recordEvent"] == {"accepted": True, "livePurchases": 1}
        await first.state.services.events.flush()  # what the writer does within 50 ms

        assert await feed.poll_once() == 1
        after = await _post(b, LIVE, c=customer)
        assert after["recommendationJourney"]["profile"]["livePurchases"] == [{"id": bought}]
        assert await feed.poll_once() == 0  # each row once
        # a click is not a purchase
        await _post(a, RECORD, input={**event, "type": "CLICK"})
        await first.state.services.events.flush()
        assert await feed.poll_once() == 0
        await feed.close()


async def test_the_background_feed_delivers_within_about_a_second(
    artifacts_root: Path, tmp_path: Path, snapshot: ModelSnapshot
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    await db.upgrade_schema(url)
    settings = Settings(artifacts_dir=artifacts_root, database_url=url)
    config = ServingConfig(reload_poll_seconds=0)  # defaults: flush 0.5 s, live poll 0.5 s
    first, second = create_app(settings, config=config), create_app(settings, config=config)
    customer = int(snapshot.histories.user_ids[5])
    bought = int(snapshot.catalogue.item_ids[7])
    async with (
        client_of(first) as a,
        second.router.lifespan_context(second),
    ):
        event = {"type": "PURCHASE", "customerId": customer, "productId": bought}
        await _post(a, RECORD, input=event)
        state = second.state.services.state
        for _ in range(100):  # up to 10 s on a loaded machine; about 1 s when idle
            if state.live_purchases(customer):
                break
            await asyncio.sleep(0.1)
        assert state.live_purchases(customer) == (bought,)


async def test_the_sqlite_reader_reads_what_the_sqlalchemy_engine_reads(tmp_path: Path) -> None:
    """The feeds' queries through plain sqlite3 (their compiled SQL and bound values, a
    date-time bound as SQLAlchemy binds it) and through SQLAlchemy's engine: the same rows."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'events.db'}"
    await db.upgrade_schema(url)
    writer = EventWriter(url)
    await writer.start()
    start = datetime(2026, 12, 4, 12, 0, 0)
    rows = [
        ("PURCHASE", 1, 10, "default", start),
        ("CLICK", 2, 11, "default", start + timedelta(seconds=1)),
        ("PURCHASE", 3, 12, "other", start + timedelta(seconds=2)),
        ("PURCHASE", None, 13, "default", start + timedelta(seconds=3)),
        ("PURCHASE", 5, 14, "default", start + timedelta(seconds=4, microseconds=5)),
    ]
    for kind, customer, product, store, at in rows:
        event = {"type": kind, "customer_id": customer, "product_id": product, "quantity": 1}
        writer.submit("events", event | {"store": store, "created_at": at})
    await writer.stop()
    queries: list[tuple[Any, dict[str, Any]]] = [
        (live._MAX_ID, {}),
        (live._MAX_ID_BEFORE, {"since": start + timedelta(seconds=2)}),
        (live._MAX_ID_BEFORE, {"since": start}),
        (live._STORE_PURCHASES, {"after": 0, "store": "default"}),
        (live._STORE_PURCHASES, {"after": 1, "store": "other"}),
        (live._NAMED_PURCHASES, {"after": 0}),
    ]
    sqlite_reader = live.open_reader(url)
    engine_reader = live.EngineReader(url)
    assert isinstance(sqlite_reader, live.SqliteReader)
    try:
        for query, values in queries:
            expected = [tuple(row) for row in await engine_reader.rows(query, values)]
            assert [tuple(row) for row in await sqlite_reader.rows(query, values)] == expected
        store_rows = await sqlite_reader.rows(
            live._STORE_PURCHASES, {"after": 0, "store": "default"}
        )
        assert [tuple(row) for row in store_rows] == [(1, 1, 10), (5, 5, 14)]
        assert (await sqlite_reader.rows(live._MAX_ID_BEFORE, {"since": start}))[0][0] is None
    finally:
        await sqlite_reader.close()
        await engine_reader.close()
