"""Live purchases reach every process through the events table (issue 13, item 4)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from recograph import db
from recograph.online.config import ServingConfig
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
