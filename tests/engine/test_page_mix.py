"""Page mixes (issue 18): a product page leads with substitutes, a cart page with complements.

Checked through the public API on the demo store: the first items of `recommendations` on each
page are the page's related products (`relatedProducts`) with the same evidence figures.
"""

from __future__ import annotations

from typing import Any

import pytest

from recograph import engine
from recograph.recommenders.blend import PageType
from recograph.snapshot import ModelSnapshot
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
    shown = [r["product"] for r in related if r["product"]["inStock"]]
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


async def test_a_product_page_leads_with_its_substitutes_when_enabled(
    snapshot: ModelSnapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Off by default (engine.PAGE_MIX_PAGES: it lowered the simulated click-through).
    monkeypatch.setattr(engine, "PAGE_MIX_PAGES", (*engine.PAGE_MIX_PAGES, PageType.PRODUCT))
    laptop = first_in(snapshot, "Laptops")
    context = {"pageType": "PRODUCT", "currentProductId": laptop}
    await _lead(snapshot, "SUBSTITUTE", context, laptop)


async def test_a_cart_page_leads_with_the_cart_s_complements(snapshot: ModelSnapshot) -> None:
    laptop = first_in(snapshot, "Laptops")
    context = {"pageType": "CART", "cartProductIds": [laptop]}
    await _lead(snapshot, "COMPLEMENTARY", context, laptop)
