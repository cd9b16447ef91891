"""Page mixes (issue 18): a product page leads with substitutes, a cart page with complements.

Checked through the public API on the demo store: the first items of `recommendations` on each
page are the page's related products (`relatedProducts`) with the same evidence figures, as
many as the build chose for the store (`BlendConfig.page_leads`, recorded in the manifest's
``validation.page_leads`` by the lead rule, `page_mix.largest_within_one_se`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from recograph.build import BuildResult
from recograph.engine import Context, ReasonKind, Request, recommend
from recograph.evaluation import page_mix
from recograph.recommenders import intent
from recograph.recommenders.blend import PageType
from recograph.recommenders.candidates import Ranking
from recograph.snapshot import DEFAULT_PAGE_LEADS, BlendConfig, ModelSnapshot
from tests.api.test_recommendations import first_in, run, services_for

RELATED = """query($p: Int!, $intent: RelatedIntent!) {
  relatedProducts(productId: $p, intent: $intent, limit: 5) {
    product { id inStock category } lift similarity } }"""
PAGE = """query($ctx: ContextInput) {
  recommendations(context: $ctx, limit: 10) {
    items { product { id category } reason { kind metric value evidence { id } ruleLevel } } } }"""


async def _lead(snapshot: ModelSnapshot, intent: str, context: dict[str, Any], seed: int) -> None:
    services = services_for(snapshot)
    related = (await run(services, RELATED, p=seed, intent=intent))["relatedProducts"]
    figure = {r["product"]["id"]: r["similarity"] or r["lift"] for r in related}
    lead = snapshot.blend.page_lead(PageType(context["pageType"]))
    shown = [r["product"] for r in related if r["product"]["inStock"]][:lead]
    assert shown, "the seed has related products in stock"
    items = (await run(services, PAGE, ctx=context))["recommendations"]["items"]
    # a promoted slot (the default business rule, rank 3) is store policy and may hold one
    promoted = {i["product"]["id"] for i in items if i["reason"]["kind"] == "PROMOTED"}
    # at most three of one category (the default per-category cap) lead the list
    per_category: dict[str, int] = {}
    for product in shown:
        if product["id"] not in promoted:
            category = product["category"]
            per_category[category] = min(per_category.get(category, 0) + 1, 3)
    expected = sum(per_category.values())
    assert expected > 0
    lead = [i for i in items if i["product"]["id"] not in promoted][:expected]
    assert {i["product"]["id"] for i in lead} <= set(figure), intent
    for item in lead:
        reason = item["reason"]
        assert reason["value"] == figure[item["product"]["id"]], item
        assert [e["id"] for e in reason["evidence"]][:1] == [seed]
        if intent == "SUBSTITUTE":
            assert (reason["kind"], reason["metric"]) == ("SIMILAR_TO", "similarity")
        else:
            assert (reason["kind"], reason["metric"], reason["ruleLevel"]) == (
                "BOUGHT_TOGETHER",
                "lift",
                "PRODUCT",
            )


def _leading(snapshot: ModelSnapshot, page: PageType, lead: int) -> ModelSnapshot:
    """The demo build as a build that chose ``lead`` related products for ``page`` serves it."""
    leads = {**snapshot.blend.page_leads, page: lead}
    return replace(snapshot, blend=replace(snapshot.blend, page_leads=leads))


async def test_a_product_page_leads_with_its_substitutes_when_the_build_chose_a_lead(
    snapshot: ModelSnapshot,
) -> None:
    laptop = first_in(snapshot, "Laptops")
    context = {"pageType": "PRODUCT", "currentProductId": laptop}
    lead = snapshot.blend.page_lead(PageType.PRODUCT)
    # the demo build's own choice when it led, else a build that chose three
    await _lead(
        snapshot if lead else _leading(snapshot, PageType.PRODUCT, 3), "SUBSTITUTE", context, laptop
    )


async def test_a_cart_page_leads_with_the_cart_s_complements(snapshot: ModelSnapshot) -> None:
    laptop = first_in(snapshot, "Laptops")
    context = {"pageType": "CART", "cartProductIds": [laptop]}
    await _lead(snapshot, "COMPLEMENTARY", context, laptop)


def test_the_lead_rule_serves_the_largest_lead_within_one_se_of_the_best() -> None:
    # lead 0: mean 0.5, std 0.5774, SE 0.2887; lead 2: 0.25 (within); lead 5: 0 (not)
    values = {
        0: np.array([1.0, 1.0, 0.0, 0.0]),
        2: np.array([1.0, 0.0, 0.0, 0.0]),
        5: np.array([0.0, 0.0, 0.0, 0.0]),
    }
    assert page_mix.largest_within_one_se(values) == (2, 0, [0, 2])
    # equal means: the larger lead is the best, and chosen
    tied = {0: np.array([1.0, 0.0]), 3: np.array([0.0, 1.0])}
    assert page_mix.largest_within_one_se(tied) == (3, 3, [0, 3])
    # no spread at all: only the best itself is within
    exact = {0: np.array([0.5, 0.5]), 5: np.array([0.25, 0.25])}
    assert page_mix.largest_within_one_se(exact) == (0, 0, [0])


def test_too_few_replayed_pages_keep_the_default_leads(snapshot: ModelSnapshot) -> None:
    leads, record = page_mix.choose_page_leads(snapshot, [])
    assert leads == dict(DEFAULT_PAGE_LEADS)
    assert [(c.page, c.outcome, c.lead) for c in record] == [
        (PageType.PRODUCT, "too few", 0),
        (PageType.CART, "too few", 5),
        (PageType.CHECKOUT, "follows", 5),
    ]


def test_the_demo_build_serves_the_leads_its_manifest_records(demo_build: BuildResult) -> None:
    served = BlendConfig.from_dict(demo_build.manifest["blend"])
    record = {c["page"]: c for c in demo_build.manifest["validation"]["page_leads"]}
    assert set(record) == {"PRODUCT", "CART", "CHECKOUT"}
    for page in (PageType.PRODUCT, PageType.CART):
        choice = record[page.value]
        assert choice["outcome"] == "chosen"
        assert served.page_lead(page) == choice["lead"]
        scores = {int(k): v for k, v in choice["ndcg@10"].items()}
        assert sorted(scores) == list(page_mix.LEAD_CANDIDATES)
        assert len({v["users"] for v in scores.values()}) == 1  # the same replayed pages
        best = scores[choice["best"]]
        assert best["ndcg@10"] == max(v["ndcg@10"] for v in scores.values())
        within = [
            k for k, v in scores.items() if v["ndcg@10"] >= best["ndcg@10"] - best["standard_error"]
        ]
        assert choice["within_one_se"] == within
        assert choice["lead"] == max(within)
    # product pages also record the replay on the bought product's own page, not deciding
    cost = record["PRODUCT"]["on_bought_page"]["ndcg@10"]
    assert sorted(int(k) for k in cost) == list(page_mix.LEAD_CANDIDATES)
    assert "on_bought_page" not in record["CART"]
    assert record["CHECKOUT"]["follows"] == "CART"
    assert served.page_lead(PageType.CHECKOUT) == served.page_lead(PageType.CART)


def test_product_and_cart_leads_are_the_same_on_both_ranking_paths(snapshot: ModelSnapshot) -> None:
    leading = _leading(snapshot, PageType.PRODUCT, 3)
    full = replace(leading, ranking=Ranking.FULL)
    two_stage = replace(leading, ranking=Ranking.TWO_STAGE)
    laptops = snapshot.catalogue.category_position("Laptops")
    seeds = np.flatnonzero(snapshot.catalogue.category == laptops)[:6].tolist()
    for seed in seeds:
        for context in (
            Context(current=seed, page_type=PageType.PRODUCT),
            Context(cart=(seed,), page_type=PageType.CART),
        ):
            request = Request(user=3, context=context, limit=8)
            one, two = recommend(full, request), recommend(two_stage, request)
            assert two.ranking is Ranking.TWO_STAGE
            assert two.items == one.items, context
    # and the product page's lead is its substitutes, with their similarity as the reason
    page = Context(current=seeds[0], page_type=PageType.PRODUCT)
    shown = recommend(two_stage, Request(context=page, in_stock_only=False))
    alike = {
        r.position
        for r in intent.substitutes(seeds[0], snapshot.content.similarity, snapshot.order_baskets)
    }
    first = [i for i in shown.items if i.reason.kind is not ReasonKind.PROMOTED][:3]
    assert all(i.position in alike and i.reason.kind is ReasonKind.SIMILAR_TO for i in first)
