"""Hot reload: a new build swaps in under load, polling, live purchases (corrupt builds: see
tests/integration/test_faults.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from recograph import artifacts
from recograph.online.state import ReloadRefused, ServingState
from recograph.settings import Settings
from recograph.snapshot import ModelSnapshot
from tests.serving_helpers import app_client, graphql, private_root, publish_variant

TOKEN = "reload-token"
QUERY = """query($cart: [Int!]!) { recommendations(context: {cartProductIds: $cart}, limit: 5) {
  modelVersion items { product { id } reason { kind } } } }"""


@pytest.fixture
def root(artifacts_root: Path, tmp_path: Path) -> Path:
    return private_root(artifacts_root, tmp_path / "artifacts")


@pytest.fixture
async def client(root: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(Settings(artifacts_dir=root, database_url="", admin_token=TOKEN)) as c:
        yield c


async def post(client: httpx.AsyncClient, query: str, admin: bool = False, **variables: Any) -> Any:
    return await graphql(client, query, variables, token=TOKEN if admin else None)


async def test_reload_during_concurrent_requests_fails_none(
    client: httpx.AsyncClient, root: Path, snapshot: ModelSnapshot
) -> None:
    old = artifacts.current_version(root)
    cart = [int(snapshot.catalogue.item_ids[0]), int(snapshot.catalogue.item_ids[1])]
    publish_variant(root, "v-next")
    reload = "mutation { reloadArtifacts { version previousVersion changed } }"

    async def one(i: int) -> Any:
        return (
            await post(client, QUERY, cart=cart)
            if i != 20
            else await post(client, reload, admin=True)
        )

    results = await asyncio.gather(*(one(i) for i in range(60)))
    assert all("errors" not in r for r in results), [r for r in results if "errors" in r][:1]
    assert results[20]["data"]["reloadArtifacts"] == {
        "version": "v-next",
        "previousVersion": old,
        "changed": True,
    }
    versions = {
        r["data"]["recommendations"]["modelVersion"] for i, r in enumerate(results) if i != 20
    }
    assert versions <= {old, "v-next"}
    after = await post(client, QUERY, cart=cart)
    assert after["data"]["recommendations"]["modelVersion"] == "v-next"


async def test_polling_picks_up_a_new_build_and_reports_a_bad_one_once(
    root: Path,
) -> None:
    state = ServingState(root)
    first = await state.reload(reason="test")
    assert first.changed
    assert first.previous_version is None
    assert await state.poll_once() is None  # nothing new
    publish_variant(root, "v-polled")
    outcome = await state.poll_once()
    assert outcome is not None
    assert outcome.version == "v-polled"
    bad = publish_variant(root, "v-bad")
    (bad / artifacts.MANIFEST_FILE).write_text("{ not json")
    assert await state.poll_once() is None
    assert state.last_failure is not None
    assert "not valid JSON" in state.last_failure.message
    assert state.current is not None
    assert state.current.version == "v-polled"
    failure = state.last_failure
    assert await state.poll_once() is None  # the same refused build is not retried
    assert state.last_failure is failure
    with pytest.raises(ReloadRefused):
        await state.reload(reason="explicit")


def test_live_purchases_are_kept_per_customer_in_order() -> None:
    state = ServingState(Path("unused"))
    assert state.record_purchase(7, 100) == 1
    assert state.record_purchase(7, 200) == 2
    assert state.record_purchase(7, 100) == 2  # bought again: moves to the end
    assert state.live_purchases(7) == (200, 100)
    assert state.live_purchases(8) == ()
