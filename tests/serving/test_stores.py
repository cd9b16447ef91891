"""Several stores in one deployment (issue 17), through the CLI and the HTTP API.

Two demo stores with different seeds and scales (their product and customer ids overlap, the
products and people behind them differ) are generated, imported into one database and built
with the CLI, then served by one app: every answer of a store names only its own products and
customers, each admin token works on its own store only, a corrupt build of one store is
refused while the others serve, and loaded stores stay under the memory budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.engine import Connection

from recograph import artifacts, db
from recograph.cli import main
from recograph.models import Base
from recograph.online.config import ServingConfig
from recograph.serving.app import create_app
from recograph.settings import Settings
from recograph.stores import list_stores, store_dir
from tests.serving_helpers import STRONG_TOKEN, client_of, metric_values, publish_variant

TOKENS = {"shop-a": "shop-a-admin-token-0123456789", "shop-b": "shop-b-admin-token-0123456789"}
ORIGINS = {"shop-b": "https://b.example"}
STORES = {"shop-a": (1, 0.1), "shop-b": (2, 0.2)}  # name -> (seed, scale)


class Deployment:
    def __init__(self, root: Path, data: Path, url: str, stores_file: Path) -> None:
        self.root = root
        self.data = data
        self.url = url
        self.stores_file = stores_file

    def names(self, store: str, file: str, key: str) -> dict[int, str]:
        rows = json.loads((self.data / store / f"{file}.json").read_text())
        return {int(row[key]): str(row["name"]) for row in rows}


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    base = tmp_path_factory.mktemp("stores")
    data, root = base / "data", base / "artifacts"
    url = f"sqlite+aiosqlite:///{base / 'shops.db'}"
    for store, (seed, scale) in STORES.items():
        argv = ["demo-data", "--store", store, "--seed", str(seed), "--scale", str(scale)]
        assert main([*argv, "--out", str(data)]) == 0
        assert (
            main(["import", "--data", str(data / store), "--store", store, "--database-url", url])
            == 0
        )
    for store in STORES:
        argv = ["build", "--database-url", url, "--store", store, "--artifacts", str(root)]
        assert main([*argv, "--no-eval"]) == 0
    stores_file = base / "stores.json"
    stores_file.write_text(
        json.dumps(
            {
                "shop-a": {"admin_token": TOKENS["shop-a"]},
                "shop-b": {
                    "admin_token": TOKENS["shop-b"],
                    "cors_origins": [ORIGINS["shop-b"]],
                    "variants": [{"name": "b-popular", "share": 1.0, "strategy": "POPULAR"}],
                },
            }
        )
    )
    return Deployment(root, data, url, stores_file)


def private_copy(deployment: Deployment, destination: Path) -> Path:
    """The deployment's artifact root copied, for tests that publish or break builds."""
    shutil.copytree(deployment.root, destination)
    return destination


@contextlib.asynccontextmanager
async def serve(
    deployment: Deployment,
    root: Path | None = None,
    config: ServingConfig | None = None,
    **overrides: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    values: dict[str, Any] = {
        "artifacts_dir": root or deployment.root,
        "database_url": "",
        "admin_token": STRONG_TOKEN,
        "stores_file": deployment.stores_file,
    }
    settings = Settings(**(values | overrides))
    config = config or ServingConfig(reload_poll_seconds=0, live_poll_seconds=0)
    app = create_app(settings, config=config)
    async with client_of(app) as client:
        yield client


async def post(
    client: httpx.AsyncClient, store: str, query: str, token: str | None = None
) -> httpx.Response:
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    return await client.post(f"/stores/{store}/graphql", json={"query": query}, headers=headers)


async def data(client: httpx.AsyncClient, store: str, query: str) -> dict[str, Any]:
    response = await post(client, store, query)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]
    return result


def test_cli_lays_out_two_stores_side_by_side(deployment: Deployment) -> None:
    assert list_stores(deployment.root) == ["shop-a", "shop-b"]
    for store in STORES:
        assert artifacts.current_version(store_dir(deployment.root, store)) is not None
    assert not (deployment.root / artifacts.CURRENT_FILE).exists()  # no default store here
    path = db.sqlite_path(deployment.url)
    assert path is not None
    with sqlite3.connect(path) as conn:
        counts = dict(conn.execute("SELECT store, count(*) FROM customers GROUP BY store"))
        versions = sorted(row[0] for row in conn.execute("SELECT store FROM model_versions"))
    assert counts == {"shop-a": 100, "shop-b": 200}  # 1,000 customers x scale
    assert versions == ["shop-a", "shop-b"]
    assert len(json.loads((deployment.data / "shop-b" / "customers.json").read_text())) == 200


def test_a_bad_store_name_is_refused_by_each_command(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ["import", "--data", str(deployment.data / "shop-a"), "--store", "Shop A"],
        ["build", "--data", str(deployment.data / "shop-a"), "--store", "../x"],
        ["demo-data", "--store", "UPPER"],
    ):
        assert main(argv) == 2
        assert "invalid store name" in capsys.readouterr().err


async def test_every_answer_names_only_its_own_stores_products_and_customers(
    deployment: Deployment,
) -> None:
    query = """{
      customer(id: 1) { id name }
      products(first: 100) { edges { node { id name } } }
      recommendations(customerId: 1, limit: 10) { items { product { id name } } }
      associationRules(first: 50) { edges { node { antecedentProducts { id name }
                                                   consequentProducts { id name } } } }
      similarProducts(productId: 1, limit: 5) { product { id name } }
    }"""
    async with serve(deployment) as client:
        answers = {store: await data(client, store, query) for store in STORES}
        # customer 150 exists in shop-b (200 customers), never in shop-a (100)
        missing = (await post(client, "shop-a", "{ customer(id: 150) { name } }")).json()
        found = await data(client, "shop-b", "{ customer(id: 150) { name } }")
    for store, answer in answers.items():
        products = deployment.names(store, "products", "id")
        customers = deployment.names(store, "customers", "customer_id")
        assert answer["customer"] == {"id": 1, "name": customers[1]}
        named = [edge["node"] for edge in answer["products"]["edges"]]
        named += [item["product"] for item in answer["recommendations"]["items"]]
        named += [item["product"] for item in answer["similarProducts"]]
        for edge in answer["associationRules"]["edges"]:
            named += edge["node"]["antecedentProducts"] + edge["node"]["consequentProducts"]
        assert len(named) > 100
        assert all(product["name"] == products[product["id"]] for product in named)
    a_names = deployment.names("shop-a", "products", "id")
    b_names = deployment.names("shop-b", "products", "id")
    assert sum(a_names[i] != b_names[i] for i in a_names) > 200  # same ids, other products
    assert answers["shop-a"]["customer"] != answers["shop-b"]["customer"]
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert found["customer"]["name"] == deployment.names("shop-b", "customers", "customer_id")[150]


async def test_each_admin_token_works_only_on_its_own_store(deployment: Deployment) -> None:
    reload = "mutation { reloadArtifacts { version } }"
    async with serve(deployment) as client:
        outcomes = {
            (store, owner): (await post(client, store, reload, token)).json()
            for store in STORES
            for owner, token in [*TOKENS.items(), ("default", STRONG_TOKEN)]
        }
    for (store, owner), body in outcomes.items():
        if store == owner:
            version = artifacts.current_version(deployment.root / store)
            assert body["data"]["reloadArtifacts"]["version"] == version
        else:
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", (store, owner)


async def test_cors_origins_are_per_store(deployment: Deployment) -> None:
    preflight = {"origin": ORIGINS["shop-b"], "access-control-request-method": "POST"}
    async with serve(deployment) as client:
        on_b = await client.options("/stores/shop-b/graphql", headers=preflight)
        on_a = await client.options("/stores/shop-a/graphql", headers=preflight)
    assert on_b.headers.get("access-control-allow-origin") == ORIGINS["shop-b"]
    assert "access-control-allow-origin" not in on_a.headers


async def test_a_corrupt_store_is_refused_while_the_others_serve_and_new_stores_appear(
    deployment: Deployment, tmp_path: Path
) -> None:
    root = private_copy(deployment, tmp_path / "root")
    query = "{ modelInfo { version } }"
    async with serve(deployment, root) as client:
        assert (await post(client, "shop-c", query)).status_code == 404
        shutil.copytree(root / "shop-a", root / "shop-c")  # a new store, no restart
        version = artifacts.current_version(root / "shop-c")
        assert (await data(client, "shop-c", query))["modelInfo"]["version"] == version
        shutil.copytree(root / "shop-a", root / "shop-d")
        broken = root / "shop-d" / str(artifacts.current_version(root / "shop-d"))
        (broken / "arrays.npz").write_bytes(b"not a zip file")
        refused = await post(client, "shop-d", query)
        served = {store: await data(client, store, query) for store in ("shop-a", "shop-b")}
        listing = (await client.get("/stores")).json()
    assert refused.status_code == 503
    assert refused.json()["errors"][0]["extensions"]["code"] == "STORE_UNAVAILABLE"
    assert "shop-d" in refused.json()["errors"][0]["message"]
    for store, answer in served.items():
        assert answer["modelInfo"]["version"] == artifacts.current_version(root / store)
    by_store = {row["store"]: row for row in listing["stores"]}
    assert by_store["shop-d"]["loaded"] is False
    assert "shop-d" in by_store["shop-d"]["error"]
    assert by_store["shop-c"]["loaded"] is True


async def test_reload_is_per_store(deployment: Deployment, tmp_path: Path) -> None:
    root = private_copy(deployment, tmp_path / "root")
    query = "{ modelInfo { version } }"
    reload = "mutation { reloadArtifacts { version previousVersion changed } }"
    async with serve(deployment, root) as client:
        before = {store: await data(client, store, query) for store in STORES}
        publish_variant(root / "shop-a", "20991231T000000000000Z")
        reloaded = (await post(client, "shop-a", reload, TOKENS["shop-a"])).json()
        after = {store: await data(client, store, query) for store in STORES}
    assert reloaded["data"]["reloadArtifacts"] == {
        "version": "20991231T000000000000Z",
        "previousVersion": before["shop-a"]["modelInfo"]["version"],
        "changed": True,
    }
    assert after["shop-a"]["modelInfo"]["version"] == "20991231T000000000000Z"
    assert after["shop-b"] == before["shop-b"]


async def test_stores_are_unloaded_least_recently_used_first_beyond_the_budget(
    deployment: Deployment,
) -> None:
    query = "{ modelInfo { version } }"
    async with serve(deployment, store_memory_mb=3) as client:
        await data(client, "shop-a", query)
        first = (await client.get("/stores")).json()
        await data(client, "shop-b", query)
        second = (await client.get("/stores")).json()
        await data(client, "shop-a", query)  # loaded again, shop-b goes
        third = (await client.get("/stores")).json()
        metrics = (await client.get("/metrics")).text

    def loaded(listing: dict[str, Any]) -> dict[str, int]:
        return {row["store"]: row["memoryBytes"] for row in listing["stores"] if row["loaded"]}

    sizes = loaded(first) | loaded(second)
    budget = 3 * 2**20
    assert all(0 < size <= budget for size in sizes.values())
    assert sizes["shop-a"] + sizes["shop-b"] > budget  # both do not fit
    assert set(loaded(first)) == {"shop-a"}
    assert set(loaded(second)) == {"shop-b"}
    assert set(loaded(third)) == {"shop-a"}
    assert third["loadedBytes"] == sizes["shop-a"]
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
    }
    assert samples[("recograph_store_evictions_total", ())] == 2
    assert samples[("recograph_store_memory_bytes", (("store", "shop-a"),))] == sizes["shop-a"]
    assert ("recograph_store_memory_bytes", (("store", "shop-b"),)) not in samples


async def test_logged_events_and_impressions_carry_their_store(
    deployment: Deployment, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'logs.db'}"
    await db.upgrade_schema(url)
    event = (
        "mutation { recordEvent(input: {type: PURCHASE, customerId: 1, productId: 5}) "
        "{ accepted livePurchases } }"
    )
    async with serve(deployment, database_url=url) as client:
        receipts = [await data(client, "shop-b", event) for _ in range(2)]
        await data(client, "shop-a", "{ recommendations(customerId: 2, limit: 3) { strategy } }")
        history = "{ customer(id: 1) { id } }"
        assert (await post(client, "shop-a", history)).status_code == 200
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            events = (await conn.execute(text("SELECT store, type FROM events"))).all()
            impressions = (await conn.execute(text("SELECT store FROM impressions"))).all()
    finally:
        await engine.dispose()
    assert [r["recordEvent"]["accepted"] for r in receipts] == [True, True]
    assert events == [("shop-b", "PURCHASE"), ("shop-b", "PURCHASE")]
    assert impressions == [("shop-a",)]


def _differences(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migration_moves_single_store_rows_to_the_default_store(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    await db.upgrade_schema(url, "0001")
    engine = db.create_engine(url)
    rows = [
        "INSERT INTO customers VALUES (1, 'Ada', 'ada@x', '2024-01-01 00:00:00')",
        "INSERT INTO products VALUES (5, 's5', 'Mouse', 'B', 'Mice', 9.5, 'd', '{}', 3, 0, 4.0,"
        " '2024-01-01 00:00:00')",
        "INSERT INTO orders VALUES (9, 1, 'completed', 9.5, '2024-01-02 00:00:00')",
        "INSERT INTO order_items VALUES (9, 5, 'Mouse', 1, 9.5, 'Mice')",
        "INSERT INTO reviews VALUES (3, 5, 1, 4, '2024-01-03 00:00:00')",
        "INSERT INTO events (created_at, type, customer_id, product_id, quantity) "
        "VALUES ('2024-01-04 00:00:00', 'CLICK', 1, 5, 1)",
        "INSERT INTO model_versions VALUES ('v1', '2024-01-01 00:00:00', 'local', '{}', '{}')",
    ]
    try:
        async with engine.begin() as conn:
            for row in rows:
                await conn.execute(text(row))
    finally:
        await engine.dispose()
    await db.upgrade_schema(url)
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            tables = ("customers", "products", "orders", "order_items", "reviews", "events")
            stores = {
                table: (await conn.execute(text(f"SELECT store FROM {table}"))).all()
                for table in (*tables, "model_versions")
            }
            orders = (await conn.execute(text("SELECT * FROM orders"))).all()
            differences = await conn.run_sync(_differences)
            violations = (await conn.execute(text("PRAGMA foreign_key_check"))).all()
    finally:
        await engine.dispose()
    assert stores == {table: [("default",)] for table in stores}
    assert orders == [("default", 9, 1, "completed", 9.5, "2024-01-02 00:00:00")]
    assert differences == []
    assert violations == []


def test_demo_data_writes_several_stores_with_consecutive_seeds(tmp_path: Path) -> None:
    assert (
        main(
            ["demo-data", "--stores", "2", "--seed", "7", "--scale", "0.1", "--out", str(tmp_path)]
        )
        == 0
    )
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["shop-001", "shop-002"]
    truth = [json.loads((tmp_path / n / "ground_truth.json").read_text()) for n in written]
    assert [t.get("seed") for t in truth] == [7, 8]


async def test_variants_and_metrics_are_per_store(deployment: Deployment) -> None:
    query = "{ recommendations(customerId: 3, limit: 3) { variant strategy } }"
    async with serve(deployment) as client:
        answers = {store: await data(client, store, query) for store in STORES}
        metrics = {store: (await client.get(f"/stores/{store}/metrics")).text for store in STORES}
    assert answers["shop-a"]["recommendations"]["variant"] is None
    assert answers["shop-b"]["recommendations"] == {"variant": "b-popular", "strategy": "POPULAR"}

    def recommendations(text: str) -> dict[tuple[str, ...], float]:
        return metric_values(text, "recograph_recommendations_total", "strategy", "variant")

    assert recommendations(metrics["shop-b"]) == {("POPULAR", "b-popular"): 1.0}
    assert list(recommendations(metrics["shop-a"]).values()) == [1.0]
    assert ("POPULAR", "b-popular") not in recommendations(metrics["shop-a"])


async def test_each_store_has_its_playground_and_the_listing_names_every_store(
    deployment: Deployment,
) -> None:
    async with serve(deployment) as client:
        page = await client.get("/stores/shop-b/")
        script = await client.get("/stores/shop-b/static/js/header.js")
        listing = (await client.get("/stores")).json()
    assert page.status_code == 200
    assert 'id="store-picker"' in page.text
    assert "renderStorePicker" in script.text
    assert [row["store"] for row in listing["stores"]] == ["shop-a", "shop-b"]
    assert [row["loaded"] for row in listing["stores"]] == [False, False]  # loaded on first use


async def test_a_named_stores_purchases_reach_other_processes_of_that_store_only(
    deployment: Deployment, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'live.db'}"
    await db.upgrade_schema(url)
    fast = ServingConfig(reload_poll_seconds=0, live_poll_seconds=0.05, event_flush_seconds=0.05)
    purchase = (
        "mutation { recordEvent(input: {type: PURCHASE, customerId: 7, productId: 11}) "
        "{ livePurchases } }"
    )
    click = (
        "mutation { recordEvent(input: {type: CLICK, customerId: 7, productId: 12}) "
        "{ livePurchases } }"
    )

    async def live_count(client: httpx.AsyncClient, store: str) -> int:
        count: int = (await data(client, store, click))["recordEvent"]["livePurchases"]
        return count

    async with (
        serve(deployment, database_url=url, config=fast) as first,
        serve(deployment, database_url=url, config=fast) as second,
    ):
        before = {store: await live_count(second, store) for store in STORES}  # both loaded
        await data(first, "shop-b", purchase)
        seen = 0
        for _ in range(100):  # up to ~5 s: written after 0.05 s, read back every 0.05 s
            seen = await live_count(second, "shop-b")
            if seen:
                break
            await asyncio.sleep(0.05)
        other = await live_count(second, "shop-a")
    async with serve(deployment, database_url=url, config=fast) as third:
        caught_up = {store: await live_count(third, store) for store in STORES}
    assert before == {"shop-a": 0, "shop-b": 0}
    assert seen == 1
    assert other == 0
    assert caught_up == {"shop-a": 0, "shop-b": 1}
