"""The per-request engine on the hand-made tiny store (tests/tiny_store.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from recograph.core.segments import SegmentThresholds
from recograph.core.vocabulary import (
    FilterRule,
    PageType,
    ReasonKind,
    Segment,
    SignalName,
    Strategy,
    Weights,
)
from recograph.engine import BusinessRules, Context, Request, recommend, segment_definitions
from recograph.evaluation.evaluate import NO_POLICY, evaluate_cart_completion
from recograph.evaluation.split import CartCase
from recograph.snapshot import BlendConfig, ModelSnapshot, load_snapshot
from tests.tiny_store import (
    AMP,
    CABLE,
    HEADPHONES,
    KEYBOARD,
    LAPTOP,
    MOUSE,
    SPARE_MOUSE,
)


def pos(snapshot: ModelSnapshot, product_id: int) -> int:
    position = snapshot.catalogue.index.position(product_id)
    assert position is not None
    return position


def ids(snapshot: ModelSnapshot, positions: list[int]) -> list[int]:
    return [int(snapshot.catalogue.item_ids[p]) for p in positions]


def user(snapshot: ModelSnapshot, customer_id: int) -> int:
    position = snapshot.histories.index.position(customer_id)
    assert position is not None
    return position


def test_laptop_in_cart_brings_its_mouse_with_the_rule_and_its_lift(tiny: ModelSnapshot) -> None:
    request = Request(
        context=Context(cart=(pos(tiny, LAPTOP),), page_type=PageType.CART),
        strategy=Strategy.RULES,
    )
    result = recommend(tiny, request, NO_POLICY)
    first = result.items[0]
    assert ids(tiny, [first.position]) == [MOUSE]
    assert first.reason.kind is ReasonKind.BOUGHT_TOGETHER
    assert first.reason.evidence == (pos(tiny, LAPTOP),)
    assert first.reason.metric == "lift"
    assert first.reason.value == pytest.approx(16 / 9)
    assert first.reason.text == "Bought together with Aero 14 Laptop (lift 1.8)"


def test_tuned_history_weights_serve_pages_without_products_and_the_page_keeps_its_say(
    tiny: ModelSnapshot,
) -> None:
    # As if --tune had found collaborative filtering alone best from history (no page context).
    tuned = dataclasses.replace(
        tiny,
        blend=BlendConfig(
            weights={segment: Weights(cf=1.0) for segment in Segment},
            thresholds=tiny.blend.thresholds,
            cf_models=tiny.blend.cf_models,
        ),
    )
    headphones_buyer = user(tuned, 7)
    home = recommend(tuned, Request(user=headphones_buyer), NO_POLICY)
    assert home.explanation == (
        "light history (1 order, 1 product; light means 1–2 orders and fewer than 8 products): "
        "collaborative filtering 100%"
    )
    assert {c.signal for i in home.items for c in i.contributions} == {SignalName.CF}
    cart = Context(cart=(pos(tuned, LAPTOP),), page_type=PageType.CART)
    page = recommend(tuned, Request(user=headphones_buyer, context=cart), NO_POLICY)
    # the light context weights (seed: content 0.5, rules 0.5) shifted for the cart page
    assert page.explanation == (
        "light history (1 order, 1 product; light means 1–2 orders and fewer than 8 products)"
        " and the products on the page: "
        "bought-together rules 68%, content 32%"
    )
    assert ids(tuned, [page.items[0].position]) == [MOUSE]
    assert page.items[0].reason.kind is ReasonKind.BOUGHT_TOGETHER


def test_rule_scores_are_confidences_of_the_fired_rules(tiny: ModelSnapshot) -> None:
    request = Request(context=Context(cart=(pos(tiny, AMP),)), strategy=Strategy.RULES)
    result = recommend(tiny, request, NO_POLICY)
    by_id = dict(zip(ids(tiny, [i.position for i in result.items]), result.items, strict=True))
    # amp → headphones has confidence 1 (the maximum), so its normalised rules score is 1.
    rules_contribution = {c.signal.value: c.score for c in by_id[HEADPHONES].contributions}
    assert rules_contribution["rules"] == pytest.approx(1.0)
    assert by_id[HEADPHONES].reason.value == pytest.approx(8 / 3)


def test_new_customer_without_context_gets_popularity_and_says_why(tiny: ModelSnapshot) -> None:
    result = recommend(tiny, Request(user=user(tiny, 9)), NO_POLICY)
    assert result.strategy is Strategy.POPULAR
    assert result.segment is Segment.NEW
    assert result.explanation == "no purchase history: trending now"
    assert {item.reason.kind for item in result.items} <= {ReasonKind.TRENDING}
    # Trending: the most recent purchases weigh most; every listed item has a score ordering.
    scores = [item.score for item in result.items]
    assert scores == sorted(scores, reverse=True)


def test_category_page_explains_popularity_in_that_category(tiny: ModelSnapshot) -> None:
    mice = tiny.catalogue.category_position("Wireless Mice")
    request = Request(context=Context(category=mice, page_type=PageType.CATEGORY))
    result = recommend(tiny, request, NO_POLICY)
    assert result.explanation.endswith("popular in Wireless Mice")


def test_purchased_in_cart_current_and_out_of_stock_never_appear(tiny: ModelSnapshot) -> None:
    request = Request(
        user=user(tiny, 1),  # bought laptop and mouse
        context=Context(cart=(pos(tiny, AMP),), current=pos(tiny, HEADPHONES)),
        limit=10,
        explain=True,
    )
    result = recommend(tiny, request, NO_POLICY)
    shown = set(ids(tiny, [i.position for i in result.items]))
    assert shown.isdisjoint({LAPTOP, MOUSE, AMP, HEADPHONES, SPARE_MOUSE})
    assert shown == {KEYBOARD, CABLE}
    assert result.trace is not None
    removed = {int(tiny.catalogue.item_ids[p]): rule for p, rule in result.trace.filtered}
    assert removed[HEADPHONES] is FilterRule.CURRENT_PRODUCT
    assert removed[AMP] is FilterRule.IN_CART
    assert removed[MOUSE] is FilterRule.PURCHASED
    assert removed[SPARE_MOUSE] is FilterRule.OUT_OF_STOCK


def test_out_of_stock_allowed_when_the_filter_is_off(tiny: ModelSnapshot) -> None:
    request = Request(in_stock_only=False, exclude_purchased=False, limit=7)
    shown = ids(tiny, [i.position for i in recommend(tiny, request, NO_POLICY).items])
    assert sorted(shown) == [1, 2, 3, 4, 5, 6, 7]


def test_promoted_product_takes_its_reserved_slot(tiny: ModelSnapshot) -> None:
    request = Request(context=Context(cart=(pos(tiny, LAPTOP),)), limit=4)
    result = recommend(tiny, request, BusinessRules(promoted_positions=(2,)))
    assert ids(tiny, [result.items[1].position]) == [CABLE]
    assert result.items[1].reason.kind is ReasonKind.PROMOTED
    assert [item.rank for item in result.items] == [1, 2, 3, 4]


def test_category_cap_holds_back_the_third_of_a_category(tiny: ModelSnapshot) -> None:
    request = Request(in_stock_only=False, exclude_purchased=False, limit=7)
    result = recommend(tiny, request, BusinessRules(promoted_positions=(), max_per_category=1))
    categories = [int(tiny.catalogue.category[i.position]) for i in result.items]
    assert len(categories) == len(set(categories)) == 6  # two mice share one category


def test_a_live_purchase_changes_the_next_answer(tiny: ModelSnapshot) -> None:
    customer = user(tiny, 9)
    before = recommend(tiny, Request(user=customer, strategy=Strategy.RULES), NO_POLICY)
    after = recommend(
        tiny,
        Request(user=customer, strategy=Strategy.RULES, live_purchases=(pos(tiny, LAPTOP),)),
        NO_POLICY,
    )
    assert pos(tiny, LAPTOP) in [i.position for i in before.items]
    after_ids = ids(tiny, [i.position for i in after.items])
    assert LAPTOP not in after_ids
    assert after_ids[0] == MOUSE
    assert after.segment is Segment.LIGHT


def test_history_before_a_date_ignores_later_orders(tiny: ModelSnapshot) -> None:
    customer = user(tiny, 1)
    first_order = tiny.histories.orders_of(customer)[0]
    request = Request(user=customer, before=int(tiny.histories.order_date[first_order]))
    result = recommend(tiny, request, NO_POLICY)
    assert result.profile.items.size == 0
    assert result.segment is Segment.NEW


def test_same_request_same_answer(tiny: ModelSnapshot) -> None:
    request = Request(user=user(tiny, 3), context=Context(cart=(pos(tiny, AMP),)))
    first, second = recommend(tiny, request), recommend(tiny, request)
    assert first.items == second.items
    assert (first.strategy, first.explanation) == (second.strategy, second.explanation)


def test_artifacts_round_trip(tiny: ModelSnapshot, tmp_path: Path) -> None:
    from recograph import artifacts

    published = artifacts.publish(tiny.to_arrays(), dict(tiny.manifest), tmp_path, version="v1")
    again = load_snapshot(published)
    for name, array in tiny.to_arrays().items():
        assert again.to_arrays()[name].tolist() == array.tolist(), name


def test_cart_completion_scores_an_order_replayed_as_a_cart(tiny: ModelSnapshot) -> None:
    # A new customer puts the laptop in the cart; the order's other product was the mouse.
    case = CartCase(order_id=99, customer_id=9, anchor=LAPTOP, targets=frozenset({MOUSE}))
    unknown = CartCase(order_id=98, customer_id=9, anchor=999, targets=frozenset({MOUSE}))
    report = evaluate_cart_completion(tiny, [case, unknown], seed=0)
    assert report.users == 1  # a product the snapshot does not know cannot be in a cart
    rules = report.results["rules"].row("new")
    assert rules.users == 1
    # laptop → mouse is the rule with the highest confidence: rank 1 of 5 shown
    assert rules.metrics["ndcg@10"] == 1.0
    assert rules.metrics["hit_rate@5"] == 1.0
    assert rules.metrics["precision@5"] == pytest.approx(1 / 5)
    assert set(report.results) == {
        "random",
        "popularity",
        "collaborative",
        "content",
        "rules",
        "hybrid (context weights)",
    }


def test_excluded_products_never_show_and_the_trace_names_the_rule(tiny: ModelSnapshot) -> None:
    cart = Context(cart=(pos(tiny, LAPTOP),), page_type=PageType.CART)
    request = Request(context=cart, strategy=Strategy.RULES, exclude=(pos(tiny, MOUSE),))
    result = recommend(tiny, dataclasses.replace(request, explain=True), NO_POLICY)
    assert MOUSE not in ids(tiny, [i.position for i in result.items])
    assert result.trace is not None
    removed = {int(tiny.catalogue.item_ids[p]): rule for p, rule in result.trace.filtered}
    assert removed[MOUSE] is FilterRule.EXCLUDED
    # A next page: ranks continue after the offset.
    page = recommend(tiny, dataclasses.replace(request, rank_offset=4, limit=2), NO_POLICY)
    assert [i.rank for i in page.items] == [5, 6]


@pytest.mark.parametrize(
    ("thresholds", "expected"),
    [
        (
            SegmentThresholds(1, 3, 8),
            ("no orders", "1–2 orders and fewer than 8 products", "3+ orders or 8+ products"),
        ),
        (SegmentThresholds(1, 2, None), ("no orders", "1 order", "2+ orders")),
        (
            SegmentThresholds(2, 4, 5),
            (
                "fewer than 2 orders and fewer than 5 products",
                "2–3 orders and fewer than 5 products",
                "4+ orders or 5+ products",
            ),
        ),
    ],
)
def test_segment_definitions_follow_the_thresholds(
    thresholds: SegmentThresholds, expected: tuple[str, str, str]
) -> None:
    words = segment_definitions(thresholds)
    assert (words[Segment.NEW], words[Segment.LIGHT], words[Segment.REGULAR]) == expected
