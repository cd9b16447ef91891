"""Hot reload: a new build swaps in under load, a corrupt one is refused, live purchases."""

from __future__ import annotations

import asyncio
import gc
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from recograph import artifacts
from recograph.serving.app import create_app
from recograph.serving.config import ServingConfig
from recograph.serving.state import ReloadRefused, ServingState
from recograph.settings import Settings
from recograph.snapshot import ModelSnapshot

TOKEN = "reload-token"
QUERY = """query($cart: [Int!]!) { recommendations(context: {cartProductIds: $cart}, limit: 5) {
  modelVersion items { product { id } reason { kind } } } }"""


def copy_root(artifacts_root: Path, destination: Path) -> Path:
    """A private artifact root holding the current build of the shared one."""
    version = artifacts.current_version(artifacts_root)
    assert version is not None
    destination.mkdir()
    shutil.copytree(artifacts_root / version, destination / version)
    artifacts.set_current(destination, version)
    return destination


def publish_copy(root: Path, new_version: str) -> Path:
    """Publish the current build again under another version name."""
    current = artifacts.current_version(root)
    assert current is not None
    target = root / new_version
    shutil.copytree(root / current, target)
    manifest_path = target / artifacts.MANIFEST_FILE
    manifest = json.loads(manifest_path.read_text())
    manifest["version"] = new_version
    manifest_path.write_text(json.dumps(manifest))
    artifacts.set_current(root, new_version)
    return target


@pytest.fixture
def root(artifacts_root: Path, tmp_path: Path) -> Path:
    return copy_root(artifacts_root, tmp_path / "artifacts")


@pytest.fixture
async def client(root: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(artifacts_dir=root, database_url="", admin_token=TOKEN)
    app = create_app(settings, config=ServingConfig(reload_poll_seconds=0))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


async def post(client: httpx.AsyncClient, query: str, admin: bool = False, **variables: Any) -> Any:
    headers = {"authorization": f"Bearer {TOKEN}"} if admin else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200
    return response.json()


async def test_reload_during_concurrent_requests_fails_none(
    client: httpx.AsyncClient, root: Path, snapshot: ModelSnapshot
) -> None:
    old = artifacts.current_version(root)
    cart = [int(snapshot.catalogue.item_ids[0]), int(snapshot.catalogue.item_ids[1])]
    publish_copy(root, "v-next")
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


# numpy's np.load leaks the file handle of a truncated .npz (BadZipFile is raised after it
# hands the handle to NpzFile); the ResourceWarning is numpy's, not the server's.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_corrupt_build_is_refused_and_the_old_one_keeps_serving(
    client: httpx.AsyncClient, root: Path
) -> None:
    old = artifacts.current_version(root)
    broken = publish_copy(root, "v-broken")
    arrays = broken / artifacts.ARRAYS_FILE
    data = arrays.read_bytes()
    arrays.write_bytes(data[: len(data) // 2])
    body = await post(client, "mutation { reloadArtifacts { version } }", admin=True)
    gc.collect()  # surface the leaked handle's warning inside this test
    error = body["errors"][0]
    assert error["extensions"]["code"] == "UNAVAILABLE"
    assert error["message"].startswith("build refused, still serving the previous one")
    served = await post(client, QUERY, cart=[])
    assert served["data"]["recommendations"]["modelVersion"] == old
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    report = ready.json()
    assert report["version"] == old
    assert "v-broken" in report["lastReloadError"]["message"]


async def test_polling_picks_up_a_new_build_and_reports_a_bad_one_once(
    root: Path,
) -> None:
    state = ServingState(root)
    first = await state.reload(reason="test")
    assert first.changed
    assert first.previous_version is None
    assert await state.poll_once() is None  # nothing new
    publish_copy(root, "v-polled")
    outcome = await state.poll_once()
    assert outcome is not None
    assert outcome.version == "v-polled"
    bad = publish_copy(root, "v-bad")
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
