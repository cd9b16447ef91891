"""The app over HTTP in process (httpx.ASGITransport): health, errors, switches, catalogue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from recograph.online.config import ServingConfig
from recograph.serving.app import create_app
from recograph.settings import Settings
from recograph.snapshot import ModelSnapshot
from tests.serving_helpers import client_of

TOKEN = "s3cret-token"


def app_for(artifacts_root: Path, **overrides: Any) -> Starlette:
    settings = Settings(
        artifacts_dir=artifacts_root, database_url="", admin_token=TOKEN, **overrides
    )
    return create_app(settings, config=ServingConfig(reload_poll_seconds=0))


@pytest.fixture
async def client(artifacts_root: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = app_for(artifacts_root)
    async with client_of(app) as c:
        yield c


async def gql(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


def error_of(body: dict[str, Any]) -> dict[str, Any]:
    assert body.get("errors"), body
    error: dict[str, Any] = body["errors"][0]
    return error


async def test_health_and_readiness(client: httpx.AsyncClient, snapshot: ModelSnapshot) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] is True
    assert body["version"] == snapshot.version
    assert body["lastReloadError"] is None


async def test_not_ready_without_a_build(tmp_path: Path) -> None:
    app = app_for(tmp_path / "nothing")
    async with client_of(app) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert "no published build" in ready.json()["lastReloadError"]["message"]
        body = await gql(client, "{ modelInfo { version } }")
        error = error_of(body)
        assert error["extensions"]["code"] == "UNAVAILABLE"
        assert "no model is loaded yet" in error["message"]


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        (
            "{ recommendations(limit: 0) { requestId } }",
            "BAD_INPUT",
            "limit must be between 1 and 100, got 0",
        ),
        (
            "{ recommendations(limit: 101) { requestId } }",
            "BAD_INPUT",
            "limit must be between 1 and 100, got 101",
        ),
        (
            "{ recommendations(customerId: -5) { requestId } }",
            "BAD_INPUT",
            "customerId must be a positive id, got -5",
        ),
        (
            "{ recommendations(context: {cartProductIds: [1, 987654]}) { requestId } }",
            "NOT_FOUND",
            "unknown product id(s) 987654 in context.cartProductIds",
        ),
        (
            '{ recommendations(context: {currentCategory: "Rockets"}) { requestId } }',
            "NOT_FOUND",
            "unknown category 'Rockets' in context.currentCategory",
        ),
        (
            "{ recommendations(weights: {cf: -1, rules: 1}) { requestId } }",
            "BAD_INPUT",
            "weights must not be negative (cf)",
        ),
        ("{ product(id: 987654) { name } }", "NOT_FOUND", "unknown product id 987654 in id"),
        ('{ products(after: "garbage") { totalCount } }', "BAD_INPUT", "is not a product cursor"),
        ("{ products(first: 500) { totalCount } }", "BAD_INPUT", "first must be between 1 and 100"),
        (
            "{ associationRules(filter: {level: CATEGORY, productId: 1}) { totalCount } }",
            "BAD_INPUT",
            "filter.productId needs level PRODUCT",
        ),
        ("mutation { reloadArtifacts { version } }", "FORBIDDEN", "needs the admin bearer token"),
    ],
)
async def test_bad_input_gets_a_typed_error(
    client: httpx.AsyncClient, query: str, code: str, message: str
) -> None:
    error = error_of(await gql(client, query))
    assert error["extensions"]["code"] == code
    assert message in error["message"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "{ recommendations(context: {pageType: SHOP}) { requestId } }",
            "Value 'SHOP' does not exist in 'PageType' enum.",
        ),
        (
            '{ recommendations(context: {cartProductIds: ["x"]}) { requestId } }',
            'Int cannot represent non-integer value: "x"',
        ),
        ("{ recommendations { nonsense } }", "Cannot query field 'nonsense'"),
    ],
)
async def test_malformed_queries_keep_their_validation_message(
    client: httpx.AsyncClient, query: str, message: str
) -> None:
    error = error_of(await gql(client, query))
    assert message in error["message"]


async def test_unparseable_body_is_a_400_not_a_500(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


async def test_admin_sees_email_others_do_not(
    client: httpx.AsyncClient, snapshot: ModelSnapshot
) -> None:
    customer = int(snapshot.histories.user_ids[0])
    query = "query($id: Int!) { customer(id: $id) { id email } }"
    anonymous = await gql(client, query, id=customer)
    assert anonymous["data"]["customer"] == {"id": customer, "email": None}
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": {"id": customer}},
        headers={"authorization": f"Bearer {TOKEN}"},
    )
    email = str(snapshot.histories.user_email[0])
    assert response.json()["data"]["customer"] == {"id": customer, "email": email}


async def test_admin_reload_with_token(client: httpx.AsyncClient, snapshot: ModelSnapshot) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "mutation { reloadArtifacts { version previousVersion changed } }"},
        headers={"authorization": f"Bearer {TOKEN}"},
    )
    assert response.json()["data"]["reloadArtifacts"] == {
        "version": snapshot.version,
        "previousVersion": snapshot.version,
        "changed": False,
    }
    wrong = await client.post(
        "/graphql",
        json={"query": "mutation { reloadArtifacts { version } }"},
        headers={"authorization": "Bearer nope"},
    )
    assert error_of(wrong.json())["extensions"]["code"] == "FORBIDDEN"


async def test_graphiql_and_introspection_switch_off(artifacts_root: Path) -> None:
    for enabled in (True, False):
        app = app_for(artifacts_root, graphiql=enabled, introspection=enabled)
        async with client_of(app) as client:
            page = await client.get("/graphql", headers={"accept": "text/html"})
            assert (page.status_code == 200 and "graphiql" in page.text.lower()) is enabled
            body = await gql(client, "{ __schema { queryType { name } } }")
            assert ("errors" not in body) is enabled


async def test_request_body_limit(artifacts_root: Path) -> None:
    app = app_for(artifacts_root, max_body_bytes=200)
    async with client_of(app) as client:
        response = await client.post("/graphql", json={"query": "{ categories { name } }" * 20})
        assert response.status_code == 413


async def test_catalogue_queries(client: httpx.AsyncClient, snapshot: ModelSnapshot) -> None:
    catalogue = snapshot.catalogue
    laptops = catalogue.category_position("Laptops")
    n_laptops = int((catalogue.category == laptops).sum())
    page1 = await gql(
        client,
        """{ products(filter: {category: "Laptops"}, first: 3) {
               totalCount pageInfo { hasNextPage endCursor } edges { node { id category } } } }""",
    )
    products = page1["data"]["products"]
    assert products["totalCount"] == n_laptops
    assert {e["node"]["category"] for e in products["edges"]} == {"Laptops"}
    ids = [e["node"]["id"] for e in products["edges"]]
    assert ids == sorted(ids)
    page2 = await gql(
        client,
        """query($after: String) { products(filter: {category: "Laptops"}, first: 3,
               after: $after) { edges { node { id } } } }""",
        after=products["pageInfo"]["endCursor"],
    )
    more = [e["node"]["id"] for e in page2["data"]["products"]["edges"]]
    assert more
    assert min(more) > max(ids)
    categories = (await gql(client, "{ categories { name productCount } }"))["data"]
    assert len(categories["categories"]) == catalogue.n_categories
    assert sum(c["productCount"] for c in categories["categories"]) == len(catalogue)


async def test_rules_and_neighbours(client: httpx.AsyncClient, snapshot: ModelSnapshot) -> None:
    rules = snapshot.product_rules
    top = int(snapshot.catalogue.item_ids[rules.antecedent(0)[0]])
    body = await gql(
        client,
        """query($p: Int!) {
             similarProducts(productId: $p, limit: 3) { product { id } similarity sharedFeatures }
             frequentlyBoughtTogether(productIds: [$p], limit: 3) {
               product { id } support confidence lift becauseOf { id } }
             associationRules(first: 2, orderBy: LIFT) {
               totalCount edges { node { id lift antecedentProducts { id } } } }
             categoryRules: associationRules(filter: {level: CATEGORY}, first: 1) {
               edges { node { antecedents consequents antecedentProducts { id } } } }
           }""",
        p=top,
    )
    data = body["data"]
    similar = data["similarProducts"]
    assert len(similar) == 3
    assert [s["similarity"] for s in similar] == sorted(
        (s["similarity"] for s in similar), reverse=True
    )
    together = data["frequentlyBoughtTogether"]
    assert together
    assert all(t["becauseOf"] == [{"id": top}] for t in together)
    assert [t["lift"] for t in together] == sorted((t["lift"] for t in together), reverse=True)
    ranked = data["associationRules"]
    assert ranked["totalCount"] == len(rules)
    assert ranked["edges"][0]["node"]["lift"] == pytest.approx(float(rules.lift.max()))
    category_rule = data["categoryRules"]["edges"][0]["node"]
    assert category_rule["antecedentProducts"] == []
    assert set(category_rule["antecedents"]) <= {str(c) for c in snapshot.catalogue.category_names}


async def test_model_info(client: httpx.AsyncClient, snapshot: ModelSnapshot) -> None:
    info = (
        await gql(
            client, "{ modelInfo { version buildTime products customers metrics parameters } }"
        )
    )["data"]["modelInfo"]
    assert info["version"] == snapshot.version
    assert info["products"] == snapshot.n_items
    assert info["customers"] == len(snapshot.histories)
    assert info["metrics"] == snapshot.manifest.get("metrics", {})
