"""Complements vs substitutes (``relatedProducts``): a hand-made fixture worked out on paper,
the GraphQL field on the demo build, and precision against the demo store's planted bundles.

The fixture (positions; A, B, C laptops, M a mouse, S a sleeve, D a keyboard), 7 completed
orders: o0 {A, M}, o1 {A, M, S}, o2 {A, B}, o3 {C}, o4 {S}, o5 {M}, o6 {A, D}. So A is in 4
orders, M in 3, S in 2, B, C and D in 1:

- A => M: 2 orders, confidence 2/4, lift (2/4)/(3/7) = 7/6;
- A => D: 1 order, confidence 1/4, lift (1/4)/(1/7) = 7/4;
- A => S: confidence 1/4, lift (1/4)/(2/7) = 7/8 — not above 1, so not a complement;
- A => B: lift 7/4 but B is alike (content similarity 0.625), so not a complement;
- {A, M} => S has a two-item antecedent: not a rule of A alone.

Content similarity (symmetric): A–B 0.625, A–C 0.5, A–M 0.125 (below the 0.2 of "alike").
Co-purchase rate A–B = 1 / (4 + 1 − 1) = 0.25 (too often together to substitute), A–C = 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from recograph.api import build_schema
from recograph.build import BuildResult
from recograph.catalogue import Catalogue
from recograph.recommenders import intent
from recograph.recommenders.intent import Intent, Related
from recograph.recommenders.rules import baskets_matrix, mine_rules
from recograph.resolvers.context import RequestContext
from recograph.snapshot import ModelSnapshot
from tests.api.test_recommendations import first_in, services_for

A, B, C, M, S, D = range(6)
ORDERS = [[A, M], [A, M, S], [A, B], [C], [S], [M], [A, D]]


def _baskets() -> intent.OrderBaskets:
    order_ids = [o for o, items in enumerate(ORDERS) for _ in items]
    items = [i for basket in ORDERS for i in basket]
    return intent.OrderBaskets.of(baskets_matrix(order_ids, items, 6))


def _similarity() -> sp.csr_matrix:
    pairs = [(A, B, 0.625), (A, C, 0.5), (A, M, 0.125)]
    rows = [p[0] for p in pairs] + [p[1] for p in pairs]
    cols = [p[1] for p in pairs] + [p[0] for p in pairs]
    values = [p[2] for p in pairs] * 2
    return sp.csr_matrix((np.array(values, dtype=np.float32), (rows, cols)), shape=(6, 6))


def _fixture() -> tuple[Any, sp.csr_matrix, intent.OrderBaskets]:
    baskets = _baskets()
    rules = mine_rules(baskets.orders, min_support=0.1, min_confidence=0.0, max_len=3, min_len=2)
    return rules, _similarity(), baskets


def test_complements_are_rules_of_the_seed_with_lift_above_one_and_not_alike() -> None:
    rules, similarity, _ = _fixture()
    found = intent.complements(A, intent.ComplementTable.of(rules, similarity))
    assert [(r.position, r.intent) for r in found] == [
        (D, Intent.COMPLEMENTARY),
        (M, Intent.COMPLEMENTARY),
    ]
    assert found[0].lift == pytest.approx(7 / 4)
    assert found[0].confidence == pytest.approx(1 / 4)
    assert found[1].lift == pytest.approx(7 / 6)
    assert found[1].confidence == pytest.approx(2 / 4)
    # The evidence is the rule's own numbers, not a recomputation.
    for r in found:
        assert r.rule is not None
        assert list(rules.antecedent(r.rule)) == [A]
        assert list(rules.consequent(r.rule)) == [r.position]
        assert r.similarity is None
        assert r.co_purchase_rate is None


def test_substitutes_are_alike_and_rarely_bought_together() -> None:
    _, similarity, baskets = _fixture()
    assert intent.substitutes(A, similarity, baskets) == [
        Related(position=C, intent=Intent.SUBSTITUTE, similarity=0.5, co_purchase_rate=0.0)
    ]
    rates = intent.co_purchase_rates(baskets, A, [B, C, M, S])
    np.testing.assert_allclose(rates, [1 / 4, 0.0, 2 / 5, 1 / 5])


def test_any_alternates_complement_and_substitute_then_the_rest() -> None:
    rules, similarity, baskets = _fixture()
    table = intent.ComplementTable.of(rules, similarity)
    found = intent.related(A, table, similarity, baskets, Intent.ANY, limit=10)
    assert [r.position for r in found] == [D, C, M]
    assert [r.position for r in intent.related(A, table, similarity, baskets, Intent.ANY, 2)] == [
        D,
        C,
    ]


def _table_rows(rules: Any, similarity: sp.csr_matrix, seed: int) -> list[Any]:
    """The complements of ``seed`` worked out rule by rule, as the definition says (the
    reference the vectorised `ComplementTable` is checked against): rules {seed} => {item}
    with lift above 1 whose item's similarity to the seed is below the alike threshold, by
    lift, confidence (descending), then position."""
    threshold = intent.IntentThresholds().alike_min_similarity
    found = []
    for rule in range(len(rules)):
        antecedent, consequent = list(rules.antecedent(rule)), list(rules.consequent(rule))
        if antecedent != [seed] or len(consequent) != 1 or not rules.lift[rule] > 1.0:
            continue
        item = int(consequent[0])
        if similarity[seed, item] >= threshold:
            continue
        found.append((rule, item, float(rules.lift[rule]), float(rules.confidence[rule])))
    return sorted(found, key=lambda row: (-row[2], -row[3], row[1]))


def test_complement_table_holds_each_seeds_complements_in_order() -> None:
    rules, similarity, _ = _fixture()
    table = intent.ComplementTable.of(rules, similarity)
    assert [item for _, item, _, _ in table.rows(A)] == [D, M]
    for seed in range(6):
        assert table.rows(seed) == _table_rows(rules, similarity, seed)


def test_a_complement_table_without_rules_is_empty() -> None:
    similarity = _similarity()
    none = mine_rules(_baskets().orders, min_support=0.9, min_confidence=0.0, min_len=2)
    assert len(none) == 0
    table = intent.ComplementTable.of(none, similarity)
    assert all(table.rows(seed) == [] for seed in range(6))


def test_the_snapshots_complement_table_equals_complements_for_every_product(
    snapshot: ModelSnapshot,
) -> None:
    rules, similarity = snapshot.product_rules, snapshot.content.similarity
    found = 0
    for seed in range(snapshot.n_items):
        rows = snapshot.complements.rows(seed)
        assert rows == _table_rows(rules, similarity, seed)
        found += len(rows)
    assert found > 0


def test_completed_baskets_come_from_completed_orders_only(snapshot: ModelSnapshot) -> None:
    h = snapshot.histories
    baskets = intent.completed_baskets(h, snapshot.n_items)
    completed = int((h.order_status == "completed").sum())
    assert baskets.orders.shape == (completed, snapshot.n_items)
    assert int(baskets.items.nnz) == sum(
        len(set(h.order_items(o).tolist()))
        for o in range(len(h.order_ids))
        if h.order_status[o] == "completed"
    )


def _catalogue(categories: list[str]) -> Catalogue:
    names = np.array(sorted(set(categories)))
    n = len(categories)
    text = np.array([""] * n)
    return Catalogue(
        item_ids=np.arange(1, n + 1, dtype=np.int64),
        sku=text,
        name=text,
        brand=text,
        category=np.searchsorted(names, categories).astype(np.int32),
        category_names=names,
        price=np.ones(n),
        cost=np.ones(n),
        stock=np.ones(n, dtype=np.int64),
        promoted=np.zeros(n, dtype=np.bool_),
        created_at=np.zeros(n, dtype=np.int64),
        description=text,
        specs_json=text,
    )


def test_planted_precision_counts_planted_pairs_either_way_round() -> None:
    """Seeds are A, B, C (Laptops) and M (Wireless Mice). Complements: A -> [D, M] (1 of 2
    planted), M -> [A (7/6, conf 2/3), S (7/6, conf 1/3)] (1 of 2); B and C have none.
    Substitutes: A -> [C], C -> [A] (same category); B's only look-alike, A, is bought with it
    (rate 0.25) and M has none."""
    rules, similarity, baskets = _fixture()
    laptops, mice = "Laptops", "Wireless Mice"
    catalogue = _catalogue([laptops, laptops, laptops, mice, "Laptop Sleeves", "Keyboards"])
    report = intent.planted_precision(catalogue, rules, similarity, baskets, [(laptops, mice)], k=5)
    assert report["all"] == {
        "seeds": 4,
        "complement_precision": 0.5,
        "complement_coverage": 0.5,
        "substitute_precision": 1.0,
        "substitute_coverage": 0.5,
    }
    assert report["laptops"] == {
        "seeds": 3,
        "complement_precision": 0.5,
        "complement_coverage": pytest.approx(1 / 3),
        "substitute_precision": 1.0,
        "substitute_coverage": pytest.approx(2 / 3),
    }


def test_precision_is_none_when_no_seed_has_an_item() -> None:
    """Seeds S and D: S's complement is M (S => M lift 7/6), D's is A (D => A lift 7/4), both
    outside the planted pair, so precision 0; neither has a look-alike, so no substitute
    precision at all (None, not 0). The laptops entry is A, B, C whatever the pairs: A's
    complements D and M are not planted here (0), A and C substitute each other (1)."""
    rules, similarity, baskets = _fixture()
    catalogue = _catalogue(["Laptops"] * 3 + ["Wireless Mice", "Laptop Sleeves", "Keyboards"])
    report = intent.planted_precision(
        catalogue, rules, similarity, baskets, [("Laptop Sleeves", "Keyboards")]
    )
    assert report["all"] == {
        "seeds": 2,
        "complement_precision": 0.0,
        "complement_coverage": 1.0,
        "substitute_precision": None,
        "substitute_coverage": 0.0,
    }
    assert intent.summary_line({"k": 5, **report}) == (
        "related products vs planted categories, precision@5: complementary 0.00 "
        "(laptops 0.00), substitute – (laptops 1.00), 2 seed products"
    )


RELATED = """
query($p: Int!, $intent: RelatedIntent! = ANY, $limit: Int! = 10) {
  relatedProducts(productId: $p, intent: $intent, limit: $limit) {
    product { id category } intent lift confidence similarity coPurchaseRate
  }
}
"""
RULES = """
query($p: Int!) {
  associationRules(filter: {productId: $p}, first: 100) {
    edges { node { antecedentProducts { id } consequentProducts { id } lift confidence } }
  }
}
"""
SIMILAR = (
    "query($p: Int!) { similarProducts(productId: $p, limit: 50) { product { id } similarity } }"
)


async def _execute(snapshot: ModelSnapshot, query: str, **variables: Any) -> Any:
    services = services_for(snapshot)
    context = RequestContext(services=services, loaded=services.state.current)
    return await build_schema().execute(query, variable_values=variables, context_value=context)


async def _data(snapshot: ModelSnapshot, query: str, **variables: Any) -> dict[str, Any]:
    result = await _execute(snapshot, query, **variables)
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


async def test_related_products_evidence_equals_its_sources(snapshot: ModelSnapshot) -> None:
    laptop = first_in(snapshot, "Laptops")
    data = await _data(snapshot, RELATED, p=laptop, intent="COMPLEMENTARY", limit=5)
    complements = data["relatedProducts"]
    assert complements, "the best-selling laptop has planted complements"
    rules = await _data(snapshot, RULES, p=laptop)
    own = {
        e["node"]["consequentProducts"][0]["id"]: e["node"]
        for e in rules["associationRules"]["edges"]
        if [p["id"] for p in e["node"]["antecedentProducts"]] == [laptop]
    }
    for item in complements:
        assert item["intent"] == "COMPLEMENTARY"
        assert item["similarity"] is None
        assert item["coPurchaseRate"] is None
        rule = own[item["product"]["id"]]
        assert (item["lift"], item["confidence"]) == (rule["lift"], rule["confidence"])
        assert item["product"]["category"] != "Laptops"

    data = await _data(snapshot, RELATED, p=laptop, intent="SUBSTITUTE", limit=5)
    substitutes = data["relatedProducts"]
    assert len(substitutes) == 5
    similar = {
        s["product"]["id"]: s["similarity"]
        for s in (await _data(snapshot, SIMILAR, p=laptop))["similarProducts"]
    }
    h = snapshot.histories

    def orders_with(product_id: int) -> set[int]:
        position = snapshot.catalogue.index.position(product_id)
        assert position is not None
        return orders_of.get(position, set())

    orders_of: dict[int, set[int]] = {}
    for o in range(len(h.order_ids)):
        if h.order_status[o] == "completed":
            for bought in h.order_items(o).tolist():
                orders_of.setdefault(int(bought), set()).add(o)
    seed_orders = orders_with(laptop)
    for item in substitutes:
        assert item["intent"] == "SUBSTITUTE"
        assert item["lift"] is None
        assert item["confidence"] is None
        assert item["similarity"] == similar[item["product"]["id"]]
        other = orders_with(item["product"]["id"])
        union = seed_orders | other
        expected = len(seed_orders & other) / len(union) if union else 0.0
        assert item["coPurchaseRate"] == pytest.approx(expected)

    data = await _data(snapshot, RELATED, p=laptop, limit=4)
    assert [i["intent"] for i in data["relatedProducts"]] == [
        "COMPLEMENTARY",
        "SUBSTITUTE",
        "COMPLEMENTARY",
        "SUBSTITUTE",
    ]


@pytest.mark.parametrize(
    ("variables", "code", "message"),
    [
        ({"p": 987654}, "NOT_FOUND", "unknown product id 987654 in productId"),
        ({"limit": 0}, "BAD_INPUT", "limit must be between 1 and 100, got 0"),
    ],
)
async def test_related_products_bad_input_is_a_coded_error(
    snapshot: ModelSnapshot, variables: dict[str, Any], code: str, message: str
) -> None:
    variables = {"p": first_in(snapshot, "Laptops"), **variables}
    result = await _execute(snapshot, RELATED, **variables)
    assert result.errors is not None
    assert [e.message for e in result.errors] == [message]
    assert result.errors[0].extensions is not None
    assert result.errors[0].extensions["code"] == code


def test_build_report_holds_precision_against_planted_categories(
    demo_build: BuildResult,
) -> None:
    """Measured on the demo store (seed 42): laptops' complements and substitutes are all of
    planted categories (1.0); over all 120 seeds of planted categories, complements 0.49 (the
    rest are real but unplanted patterns, e.g. brand follow-ups) and substitutes 1.0."""
    intents = demo_build.manifest["metrics"]["intents"]
    assert intents["k"] == 5
    assert intents["laptops"]["seeds"] == 12
    assert intents["laptops"]["complement_precision"] >= 0.9
    assert intents["laptops"]["substitute_precision"] >= 0.9
    assert intents["all"]["complement_precision"] >= 0.4
    assert intents["all"]["substitute_precision"] >= 0.9
    assert intents["all"]["substitute_coverage"] >= 0.9
