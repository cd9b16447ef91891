"""Compiled known documents and automatic persisted queries, against the general path.

The differential test sends every document the playground (src/recograph/playground/static/js)
builds, the README's, and the storefront documents of ``recograph bench serve`` and issue 13,
with variables (errors included), to two apps over the same build: one with the compiled path
(operation plans, `recograph.schema.compiled_operation`, where a document qualifies), one with
``compiled_documents=False`` (strawberry's general path only). Status, headers and the bytes
of the body must be equal; request ids are drawn from the same sequence for both, and the one
value that differs by construction, ``loadedAt`` (when each app loaded the build), is set
aside.
"""

from __future__ import annotations

import re
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pytest

from recograph.online.config import ServingConfig
from recograph.resolvers.pagination import encode_shown
from recograph.schema.compiled import document_hash
from recograph.serving.app import create_app
from recograph.settings import Settings
from recograph.snapshot import ModelSnapshot
from recograph_lab.bench.serve import QUERY as BENCH_QUERY
from tests.serving_helpers import client_of

PRODUCT_FIELDS = "id name brand category price inStock promoted createdAt"  # api.js
ITEM_FIELDS = """rank score
  product { id name category price inStock promoted }
  reason { kind text metric value features evidence { id name } }
  contributions { signal score weight }"""
STRATEGIES = ["HYBRID", "COLLABORATIVE", "CONTENT", "RULES", "POPULAR"]

# views/playground.js QUERY, as its template builds it.
PLAYGROUND = (
    "query Playground($customer: Int, $context: ContextInput, $weights: WeightsInput) {\n  "
    + "\n  ".join(
        f"{s.lower()}: recommendations(customerId: $customer, context: $context,\n"
        f'    strategy: {s}, limit: 10, sessionId: "playground"'
        f"{', weights: $weights' if s == 'HYBRID' else ''}) {{ ...Ranked }}"
        for s in STRATEGIES
    )
    + "\n}\nfragment Ranked on Recommendations { strategy explanation segment "
    + f"weights {{ signal weight }} items {{ {ITEM_FIELDS} }} }}"
)
CUSTOMER = """query($id: Int!) { customer(id: $id) { id name createdAt segment orderCount
  dueSoon { product { id name category price } lastBought dueDate confidence }
  orders { id date status total lines { quantity product { id name category } } } } }"""
JOURNEY = """query Journey($customer: Int, $context: ContextInput, $strategy: Strategy!, \
$weights: WeightsInput) {
  recommendationJourney(customerId: $customer, context: $context, strategy: $strategy, \
weights: $weights, limit: 10) {
    requestId modelVersion strategy explanation businessRules
    profile { customerId segment orderCount purchasedProducts { id name category } \
recentProducts { id name category } livePurchases { id name } }
    similarCustomers { customerId name similarity }
    weights { signal weight }
    candidates { signal weight candidates { score product { id name category } } }
    filtered { rule product { id name category } }
    ranking { rank score product { id name category price inStock promoted } reason { kind text }
      contributions { signal score weight } } } }"""
RULES_PAGE = """query Rules($filter: RuleFilter, $order: RuleOrder!, $first: Int!, $after: String) {
  associationRules(filter: $filter, orderBy: $order, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id level antecedents consequents support confidence lift leverage \
conviction count
      antecedentProducts { id category } consequentProducts { id category } } } } }"""
RULES_POINTS = """query RulePoints($filter: RuleFilter, $order: RuleOrder!, $first: Int!, \
$after: String) {
  associationRules(filter: $filter, orderBy: $order, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id support confidence lift } } } }"""
SIMILAR = f"""query($id: Int!, $limit: Int!) {{
  product(id: $id) {{ {PRODUCT_FIELDS} sku description stock specs {{ key value }} }}
  similarProducts(productId: $id, limit: $limit) {{ similarity sharedFeatures \
product {{ {PRODUCT_FIELDS} }} }} }}"""
NEWEST = """query($first: Int!, $after: String) { products(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } \
edges { node { id name category createdAt } } } }"""
CATEGORY_PRODUCTS = (
    "query($filter: ProductFilter) { products(filter: $filter, first: 16) "
    "{ totalCount edges { node { id name } } } }"
)
TIMELINE = """query Timeline($customer: Int!, $limit: Int!) {
  customerTimeline(customerId: $customer, limit: $limit) {
    totalHits
    customer { id name segment orderCount createdAt }
    entries { segment strategy explanation hitRate
      order { id date status total lines { quantity product { id name category } } }
      hits { id }
      recommendations { rank score product { id name category } reason { kind text } } } } }"""
TOGETHER = """query Together($ids: [Int!]!) {
  frequentlyBoughtTogether(productIds: $ids, limit: 12) {
    support confidence lift
    product { id name brand category price inStock promoted }
    becauseOf { id name } } }"""
SUGGESTIONS = """{ associationRules(filter: {level: PRODUCT, minConfidence: 0.2}, orderBy: COUNT, \
first: 12) {
  edges { node { antecedentProducts { id name } } } } }"""
CUSTOMER_PAGE = """query($after: String) { customers(first: 100, after: $after) {
         pageInfo { hasNextPage endCursor } edges { node { id name segment orderCount } } } }"""
PRODUCT_SEARCH = (
    f"query($filter: ProductFilter) {{ products(filter: $filter, first: 8) "
    f"{{ edges {{ node {{ {PRODUCT_FIELDS} }} }} }} }}"
)
CUSTOMER_SEARCH = (
    "query($search: String) { customers(search: $search, first: 8) "
    "{ edges { node { id name segment orderCount } } } }"
)
CATEGORIES = "{ categories { name productCount inStockCount } }"
PRODUCT = f"query($id: Int!) {{ product(id: $id) {{ {PRODUCT_FIELDS} }} }}"
MODEL_INFO = """{ modelInfo { version buildTime loadedAt products customers
      productRules categoryRules metrics } }"""
# README.md: its GraphQL blocks and the documents its prose and curl example show.
README_RELATED = """{ relatedProducts(productId: 153, limit: 4) {
    intent product { name category } lift confidence similarity coPurchaseRate } }"""
README_DUE = "{ customer(id: 30) { dueSoon { product { name } lastBought dueDate confidence } } }"
README_PAGE = """query {
  recommendations(customerId: 7, limit: 4, exclude: [24]) {
    explanation
    items { rank score outOfScoreOrder product { id name }
            reason { kind text metric value ruleLevel ruleId evidenceCategories } }
    pageInfo { hasNextPage endCursor }
  }
}"""
README_NEXT_PAGE = """query($after: String) {
  recommendations(customerId: 7, limit: 4, exclude: [24], after: $after) {
    explanation
    items { rank score outOfScoreOrder product { id name }
            reason { kind text metric value ruleLevel ruleId evidenceCategories } }
    pageInfo { hasNextPage endCursor }
  }
}"""
README_MODEL = "{ modelInfo { version } }"
README_MODEL_BLEND = "{ modelInfo { blend segments { segment definition } } }"
README = [README_RELATED, README_DUE, README_PAGE, README_MODEL, README_MODEL_BLEND]

STOREFRONT = """query Storefront($customerId: Int, $cart: [Int!]!) {
  recommendations(customerId: $customerId, limit: 10, context: {cartProductIds: $cart}) {
    items { product { id name category price brand } score reason { kind text } } } }"""


# Every argument of `recommendations`, from variables and as literals: the arguments the
# compiled path converts itself (`recograph.schema.direct`) must reach the resolver as
# strawberry's conversion gives them.
EVERY_ARGUMENT = """query Every($customer: Int, $context: ContextInput, $limit: Int!, \
$strategy: Strategy!, $weights: WeightsInput, $filters: RecommendationFilters, \
$session: String, $exclude: [Int!], $after: String) {
  recommendations(customerId: $customer, context: $context, limit: $limit, strategy: $strategy,
      weights: $weights, filters: $filters, sessionId: $session, exclude: $exclude,
      after: $after) {
    strategy explanation segment weights { signal weight }
    items { rank score product { id category inStock } reason { kind text value } }
    pageInfo { hasNextPage endCursor } } }"""


def literal_arguments(product: int, category: str) -> str:
    return f"""{{ recommendations(customerId: 1, limit: 5, strategy: CONTENT,
      context: {{pageType: PRODUCT, currentProductId: {product}, viewedProductIds: [{product}]}},
      weights: {{cf: 1, content: 2}}, filters: {{inStockOnly: false, categories: ["{category}"]}},
      exclude: []) {{ strategy items {{ rank product {{ id category }} reason {{ kind }} }} }} }}"""


def heat_query(ids: list[int]) -> str:
    """views/similarity.js heatQuery."""
    parts = [
        f"p{i}: similarProducts(productId: {pid}, limit: 20) {{ similarity product {{ id }} }}"
        for i, pid in enumerate(ids)
    ]
    return "{ " + " ".join(parts) + " }"


def cases(snapshot: ModelSnapshot) -> list[tuple[str, dict[str, Any]]]:
    """(document, variables) for every document above, with ids of the demo build."""
    ids = [int(i) for i in snapshot.catalogue.item_ids[:3]]
    orders = np.diff(snapshot.histories.user_order_indptr)
    regular = int(snapshot.histories.user_ids[int(orders.argmax())])
    category = str(snapshot.catalogue.category_names[0])
    context = {"cartProductIds": ids[:2], "pageType": "CART"}
    weights = {"cf": 1.0, "content": 0.5, "rules": 2.0, "popularity": 0.1}
    return [
        (PLAYGROUND, {"customer": regular, "context": context, "weights": weights}),
        (PLAYGROUND, {"customer": None, "context": None, "weights": None}),
        (CUSTOMER, {"id": regular}),
        (JOURNEY, {"customer": regular, "context": context, "strategy": "HYBRID"}),
        (RULES_PAGE, {"filter": {"level": "PRODUCT"}, "order": "LIFT", "first": 20}),
        (RULES_POINTS, {"filter": None, "order": "CONFIDENCE", "first": 100, "after": None}),
        (SIMILAR, {"id": ids[0], "limit": 12}),
        (NEWEST, {"first": 100, "after": None}),
        (CATEGORY_PRODUCTS, {"filter": {"category": category}}),
        (heat_query(ids), {}),
        (TIMELINE, {"customer": regular, "limit": 10}),
        (TOGETHER, {"ids": ids[:2]}),
        (SUGGESTIONS, {}),
        (CUSTOMER_PAGE, {"after": None}),
        (PRODUCT_SEARCH, {"filter": {"search": "a"}}),
        (CUSTOMER_SEARCH, {"search": "a"}),
        (CATEGORIES, {}),
        (PRODUCT, {"id": ids[1]}),
        (MODEL_INFO, {}),
        (BENCH_QUERY, {"customerId": regular, "cart": ids[:2]}),
        (STOREFRONT, {"customerId": regular, "cart": ids[:2]}),
        # errors go through the compiled path too: an unknown product, a bad limit
        (PRODUCT, {"id": -5}),
        (TIMELINE, {"customer": regular, "limit": 0}),
        # variables that do not coerce: the same error from both
        (PRODUCT, {"id": "seven"}),
        *every_argument_cases(snapshot, regular, ids, category),
    ]


def every_argument_cases(
    snapshot: ModelSnapshot, regular: int, ids: list[int], category: str
) -> list[tuple[str, dict[str, Any]]]:
    """`EVERY_ARGUMENT` with every input shape, its literal form, and refused inputs."""
    full = {
        "customer": regular,
        "context": {
            "cartProductIds": ids[:1],
            "currentProductId": ids[1],
            "pageType": "PRODUCT",
            "currentCategory": category,
            "viewedProductIds": ids,
        },
        "limit": 7,
        "strategy": "HYBRID",
        "weights": {"cf": 1.0, "rules": 0.5},
        "filters": {"excludePurchased": False, "inStockOnly": False, "categories": [category]},
        "session": "s-1",
        "exclude": ids[2:],
        "after": encode_shown(ids[:1]),
    }
    bare = {"limit": 3, "strategy": "POPULAR"}
    return [
        (EVERY_ARGUMENT, full),
        (EVERY_ARGUMENT, bare),
        (EVERY_ARGUMENT, {**bare, "context": {}, "filters": {}, "weights": {"content": 1}}),
        (literal_arguments(ids[0], category), {}),
        # refused by the resolver: negative weight, unknown cart product, unknown category
        (EVERY_ARGUMENT, {**bare, "weights": {"cf": -1.0}}),
        (EVERY_ARGUMENT, {**bare, "context": {"cartProductIds": [-3]}}),
        (EVERY_ARGUMENT, {**bare, "filters": {"categories": ["no such category"]}}),
        # refused by coercion: an enum value that does not exist, a field of the wrong type
        (EVERY_ARGUMENT, {**bare, "strategy": "FASTEST"}),
        (EVERY_ARGUMENT, {**bare, "context": {"pageType": 3}}),
    ]


def _app_settings(root: Path) -> Settings:
    return Settings(artifacts_dir=root, database_url="", admin_token="")


@pytest.fixture
async def clients(
    artifacts_root: Path,
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, Any]]:
    """(compiled, general) clients over the same build, and the compiled app."""
    compiled_app = create_app(
        _app_settings(artifacts_root), config=ServingConfig(reload_poll_seconds=0)
    )
    general_app = create_app(
        _app_settings(artifacts_root),
        config=ServingConfig(reload_poll_seconds=0, compiled_documents=False),
    )
    async with (
        client_of(compiled_app) as compiled,
        client_of(general_app) as general,
    ):
        yield compiled, general, compiled_app


def _normalised(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: "<varies>" if k in ("requestId", "loadedAt") else _normalised(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_normalised(v) for v in value]
    return value


async def _post(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/graphql", content=orjson.dumps(body), headers=_JSON)


_JSON = {"content-type": "application/json"}


async def test_every_playground_and_storefront_document_answers_as_the_general_path(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient, Any], snapshot: ModelSnapshot
) -> None:
    compiled, general, app = clients
    documents = app.state.documents
    for query, variables in cases(snapshot):
        body = {"query": query, "variables": variables}
        fast = await _post(compiled, body)
        slow = await _post(general, body)
        assert fast.status_code == slow.status_code == 200, (query, fast.text)
        assert fast.headers["x-recograph-model-version"] == snapshot.version
        assert slow.headers["x-recograph-model-version"] == snapshot.version
        assert _normalised(fast.json()) == _normalised(slow.json()), query
        # the same document again: answered from the compiled entry
        again = await _post(compiled, body)
        assert _normalised(again.json()) == _normalised(fast.json())
    distinct = {(q, None) for q, _ in cases(snapshot)}
    assert documents.compilations == len(distinct)
    assert documents.hits >= len(cases(snapshot))


# The item, reason and contribution fields read from the engine's own objects (ItemSource,
# ReasonSource, RecommendationsSource): aliases, a fragment, __typename at every level, a
# partial product selected twice, and the lazily made weights and cursor.
SOURCES = """query Sources($customerId: Int) {
  first: recommendations(customerId: $customerId, limit: 4) {
    __typename requestId variant modelVersion
    page: pageInfo { __typename endCursor }
    shares: weights { __typename signal }
    items { ...Item again: product { inStock price } }
  }
}
fragment Item on RecommendedItem {
  __typename place: rank outOfScoreOrder product { __typename category }
  reason { __typename kind why: text evidence { __typename id } features evidenceCategories
           ruleLevel ruleId }
  contributions { __typename signal share: weight }
}"""


def byte_cases(snapshot: ModelSnapshot) -> list[tuple[str, dict[str, Any] | None]]:
    """`cases`, the README's documents, and errors: an unknown customer, bad arguments, null
    and missing variables, a cursor that is not one."""
    ids = [int(i) for i in snapshot.catalogue.item_ids[:3]]
    orders = np.diff(snapshot.histories.user_order_indptr)
    regular = int(snapshot.histories.user_ids[int(orders.argmax())])
    bare = {"limit": 3, "strategy": "POPULAR"}
    return [
        *cases(snapshot),
        *((query, {}) for query in README),
        (README_NEXT_PAGE, {"after": encode_shown(ids[:2])}),
        (README_NEXT_PAGE, {"after": "not a cursor"}),
        (STOREFRONT, {"customerId": None, "cart": []}),
        (STOREFRONT, {"customerId": 10**9, "cart": ids[:1]}),  # not in the build: a new visitor
        (STOREFRONT, {"customerId": regular, "cart": None}),
        (STOREFRONT, None),
        (SOURCES, {"customerId": regular}),
        (SOURCES, {"customerId": None}),
        (BENCH_QUERY, {"customerId": regular, "cart": [ids[0], "x"]}),
        (TIMELINE, {"customer": -1, "limit": 10}),
        (CUSTOMER, {"id": -1}),
        (EVERY_ARGUMENT, {**bare, "limit": 0}),
        (EVERY_ARGUMENT, {**bare, "limit": None}),
        (EVERY_ARGUMENT, {**bare, "exclude": [-1]}),
    ]


class _RequestIds:
    """Request ids from a counter the test restarts before each request, so both apps give a
    request the same id."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return uuid.UUID(int=self.count).hex


_LOADED_AT = re.compile(rb'"loadedAt":"[^"]*"')


async def test_every_document_answers_with_the_bytes_status_and_headers_of_the_general_path(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient, Any],
    snapshot: ModelSnapshot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compiled, general, app = clients
    ids = _RequestIds()
    monkeypatch.setattr("recograph.resolvers.context.new_request_id", ids)
    planned = 0
    for query, variables in byte_cases(snapshot):
        body = {"query": query, "variables": variables}
        answers = []
        for client in (compiled, general):
            ids.count = 0
            answers.append(await _post(client, body))
        fast, slow = answers
        assert fast.status_code == slow.status_code, query
        assert _LOADED_AT.sub(b"", fast.content) == _LOADED_AT.sub(b"", slow.content), (
            query,
            variables,
            fast.content[:400],
            slow.content[:400],
        )
        for answer in answers:
            assert int(answer.headers.pop("content-length")) == len(answer.content)
        assert dict(fast.headers) == dict(slow.headers), query
        entry = app.state.documents.get(query, None)
        planned += entry is not None and entry.plan is not None
    # the storefront, playground and README documents run by operation plans
    assert planned >= len(byte_cases(snapshot)) - 8


async def test_root_fields_of_compiled_documents_are_resolved_directly(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient, Any], snapshot: ModelSnapshot
) -> None:
    """One direct resolver call per root field of a compiled query; the general path and
    introspection fields never count."""
    compiled, general, app = clients
    calls = app.state.documents.executor_class.direct_calls
    ids = [int(i) for i in snapshot.catalogue.item_ids[:3]]
    cases = [
        ({"query": BENCH_QUERY, "variables": {"customerId": None, "cart": ids[:2]}}, 1),
        ({"query": heat_query(ids)}, 3),
        ({"query": "{ __typename categories { name } }"}, 1),
    ]
    for body, expected in cases:
        before = calls[0]
        assert "errors" not in (await _post(compiled, body)).json()
        assert calls[0] - before == expected, body
    before = calls[0]
    await _post(general, cases[0][0])
    assert calls[0] == before


async def test_a_successful_answer_keeps_the_bytes_of_the_general_path(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient, Any], snapshot: ModelSnapshot
) -> None:
    """Without per-request values the bytes themselves are equal (orjson, same key order)."""
    compiled, general, _ = clients
    body = {"query": PRODUCT, "variables": {"id": int(snapshot.catalogue.item_ids[0])}}
    assert (await _post(compiled, body)).content == (await _post(general, body)).content


async def test_invalid_documents_and_limits_answer_as_before(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient, Any],
) -> None:
    compiled, general, app = clients
    too_many_aliases = "{ " + " ".join(f"a{i}: categories {{ name }}" for i in range(40)) + " }"
    for query in ("{ nope }", "{ categories ", too_many_aliases, "{ categories { nope } }"):
        fast = await _post(compiled, {"query": query})
        slow = await _post(general, {"query": query})
        assert fast.status_code == slow.status_code
        assert fast.json() == slow.json()
        assert fast.json()["errors"][0]["extensions"]["code"] in (
            "GRAPHQL_VALIDATION_FAILED",
            "GRAPHQL_PARSE_FAILED",
        )
    # a refused document is remembered as such: a second send compiles nothing new
    before = app.state.documents.compilations
    await _post(compiled, {"query": "{ nope }"})
    assert app.state.documents.compilations == before


async def test_mutations_over_get_are_still_refused(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient, Any],
) -> None:
    compiled, general, _ = clients
    query = "mutation { reloadArtifacts { version } }"
    fast = await compiled.get("/graphql", params={"query": query})
    slow = await general.get("/graphql", params={"query": query})
    assert fast.status_code == slow.status_code == 400
    assert fast.json() == slow.json()


async def test_automatic_persisted_queries_over_post_and_get(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient, Any], snapshot: ModelSnapshot
) -> None:
    compiled, general, _ = clients
    product_id = int(snapshot.catalogue.item_ids[2])
    sha = document_hash(PRODUCT)
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha}}
    variables = {"id": product_id}
    expected = (await _post(general, {"query": PRODUCT, "variables": variables})).json()

    # 1. the hash alone, unknown: the client is asked for the document
    unknown = await _post(compiled, {"variables": variables, "extensions": extensions})
    assert unknown.status_code == 200
    assert unknown.json() == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }
    # 2. hash and document: answered and remembered
    full = await _post(
        compiled, {"query": PRODUCT, "variables": variables, "extensions": extensions}
    )
    assert full.json() == expected
    # 3. the hash alone now works, over POST and over GET
    by_hash = await _post(compiled, {"variables": variables, "extensions": extensions})
    assert by_hash.json() == expected
    params = {
        "variables": orjson.dumps(variables).decode(),
        "extensions": orjson.dumps(extensions).decode(),
    }
    by_get = await compiled.get("/graphql?" + urllib.parse.urlencode(params))
    assert by_get.status_code == 200
    assert by_get.json() == expected
    # a document that does not match its hash is refused
    wrong = await _post(
        compiled,
        {"query": CATEGORIES, "extensions": extensions},
    )
    assert wrong.status_code == 400
    assert wrong.json()["errors"][0]["message"] == "provided sha does not match query"
    # an unsupported protocol version
    other = {"persistedQuery": {"version": 2, "sha256Hash": sha}}
    refused = await _post(compiled, {"extensions": other})
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_SUPPORTED"


async def test_batches_and_graphiql_stay_on_the_general_path(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient, Any],
) -> None:
    compiled, general, _ = clients
    batch = [{"query": CATEGORIES}, {"query": "{ nope }"}]
    fast = await compiled.post("/graphql", content=orjson.dumps(batch), headers=_JSON)
    slow = await general.post("/graphql", content=orjson.dumps(batch), headers=_JSON)
    assert (fast.status_code, fast.json()) == (slow.status_code, slow.json())
    page = await compiled.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
