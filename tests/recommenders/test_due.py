"""Buy again when it's due, on a tiny store whose due dates are derived by hand.

Products: laptops 1 and 2 (a durable: nobody buys a laptop twice), inks 3 and 4. Everyone buys
a laptop on day 0 (odd customers laptop 1, even ones laptop 2).
- customers 1-4 buy ink 3 on days 0, 20 and 50 (gaps 20 and 30);
- customers 5-8 buy ink 4 on days 0 and 40 (gap 40);
- customer 9 buys ink 3 on days 0 and 10 (gap 10).

The ink category's 13 gaps, sorted: 10, 20×4, 30×4, 40×4. Quantiles (linear, as pandas):
10 % → 20, 25 % → 20, 50 % → 30, 75 % → 40, 90 % → 40. Laptops have no gap.
Customer 9's interval: (own gap 10 + 2 pseudo-gaps × median 30) / (1 + 2) = 70/3 days, so
ink 3 (last bought on day 10) is due on day 10 + 70/3 = day 33 8 h. The build's latest order
is day 50, so it was bought 40 days ago (6 weeks; the usual 20–40 days read 3–6 weeks).

Confidence, by hand: the store's re-buy rate is 9 re-buyers / 18 buyers who ordered again
(9 laptop buyers, 0 re-buys; 9 ink buyers, 9 re-buys) = 0.5; ink's same-product rate
(9 + 10 × 0.5) / (9 + 10) = 14/19; ink 3's propensity (5 + 10 × 14/19) / (5 + 10) = 47/57.
Customer 9 re-bought 1 product where the propensities predict 1 (laptop 1: 10 × (5/19) /
15 = 10/57, plus ink 3: 47/57), so their factor is 1; compounded over their 2 purchase dates:
1 − (10/57)² = 0.96922.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from recograph.build import fit_snapshot
from recograph.engine import Context, ReasonKind, Request, build_profile, due_items, recommend
from recograph.evaluation.evaluate import NO_POLICY
from recograph.recommenders import due
from recograph.recommenders.blend import PageType
from recograph.snapshot import ModelSnapshot
from tests.api.test_recommendations import run, services_for
from tests.engine.test_habits import PARAMS, START, pos, store, user

PRODUCTS = {1: "laptops", 2: "laptops", 3: "ink", 4: "ink"}
ORDERS = (
    [(c, 0, [1 + (c + 1) % 2, 3 if c <= 4 or c == 9 else 4]) for c in range(1, 10)]
    + [(c, day, [3]) for c in range(1, 5) for day in (20, 50)]
    + [(c, 40, [4]) for c in range(5, 9)]
    + [(9, 10, [3])]
)
INTERVAL = 70 / 3
CONFIDENCE = 1 - (10 / 57) ** 2


@pytest.fixture(scope="module")
def snapshot() -> ModelSnapshot:
    return fit_snapshot(store(PRODUCTS, ORDERS), PARAMS)


def test_the_interval_quantiles_are_learned_per_category(snapshot: ModelSnapshot) -> None:
    ink, laptops = (int(snapshot.catalogue.category[pos(snapshot, p)]) for p in (3, 1))
    repeat = snapshot.repeat
    assert repeat.gap_quantiles[ink].tolist() == pytest.approx([20, 20, 30, 40, 40])
    assert int(repeat.gaps[ink]) == 13
    assert repeat.gap_quantiles[laptops].tolist() == [0, 0, 0, 0, 0]
    assert int(repeat.gaps[laptops]) == 0


def test_a_due_date_is_the_last_purchase_plus_the_customer_paced_interval(
    snapshot: ModelSnapshot,
) -> None:
    profile = build_profile(snapshot, user(snapshot, 9))
    found = due_items(snapshot, profile)
    # the laptop is a durable: no due date; only ink 3 has one
    assert [d.position for d in found] == [pos(snapshot, 3)]
    (ink,) = found
    day = 86_400
    start = int(START.timestamp())
    assert ink.last_bought == start + 10 * day
    assert ink.interval_days == pytest.approx(INTERVAL)
    assert ink.due == start + 10 * day + round(INTERVAL * day)
    assert ink.own_gaps == 1
    assert ink.confidence == pytest.approx(CONFIDENCE, rel=1e-5)


def test_chance_soon_follows_the_interval_distribution_by_hand() -> None:
    quantiles = [20, 20, 30, 40, 40]
    # linear between quantiles: F(25) = 0.25 + 0.25 × (25 − 20) / (30 − 20)
    assert due.interval_cdf(25, quantiles) == pytest.approx(0.375)
    # exponential tail after 40 days with the median (30) as its scale
    assert due.interval_cdf(70, quantiles) == pytest.approx(1 - 0.1 * np.exp(-1.0))
    # c (F(t + h) − F(t)) / (1 − c F(t)) at the category's pace (interval = median)
    expected = 0.5 * (due.interval_cdf(55, quantiles) - 0.375) / (1 - 0.5 * 0.375)
    assert due.chance_soon(0.5, 25, quantiles, 30) == pytest.approx(expected)
    # a customer twice as slow: 50 days in their pace are 25 in the category's
    assert due.chance_soon(0.5, 50, quantiles, 60) == pytest.approx(
        0.5 * (due.interval_cdf(40, quantiles) - 0.375) / (1 - 0.5 * 0.375)
    )


def test_the_buy_again_reason_states_its_sources(snapshot: ModelSnapshot) -> None:
    result = recommend(snapshot, Request(user=user(snapshot, 9), limit=3), NO_POLICY)
    first = result.items[0]
    assert first.position == pos(snapshot, 3)
    reason = first.reason
    assert reason.kind is ReasonKind.BUY_AGAIN
    assert reason.text == (
        "You bought Product 3 6 weeks ago; they are usually replaced after 3–6 weeks"
    )
    assert (reason.metric, reason.value) == ("days since bought", 40.0)
    assert reason.evidence == (pos(snapshot, 3),)
    # the figures are the learned quantiles (25 %: 20 days, 75 %: 40 days) and 50 − 10 days
    low, high = due.usual_interval(
        snapshot.repeat, int(snapshot.catalogue.category[first.position])
    )
    assert (low, high) == (20.0, 40.0)
    # no other item is a re-buy, and no laptop comes back (a durable)
    assert all(i.reason.kind is not ReasonKind.BUY_AGAIN for i in result.items[1:])
    assert pos(snapshot, 1) not in [i.position for i in result.items]


def test_buy_again_is_for_home_and_account_pages_only(snapshot: ModelSnapshot) -> None:
    customer = user(snapshot, 9)
    for page in (PageType.HOME, PageType.ACCOUNT):
        request = Request(user=customer, limit=3, context=Context(page_type=page))
        items = recommend(snapshot, request, NO_POLICY).items
        assert items[0].reason.kind is ReasonKind.BUY_AGAIN, page
    for page in (PageType.PRODUCT, PageType.CART, PageType.CATEGORY, PageType.CHECKOUT):
        context = Context(current=pos(snapshot, 4), cart=(pos(snapshot, 4),), page_type=page)
        items = recommend(snapshot, Request(user=customer, limit=3, context=context)).items
        assert all(i.reason.kind is not ReasonKind.BUY_AGAIN for i in items), page


def test_due_soon_is_served_with_hand_derived_dates(snapshot: ModelSnapshot) -> None:
    query = (
        "query($id: Int!) { customer(id: $id) { dueSoon { product { id } lastBought dueDate "
        "confidence } } }"
    )
    data: dict[str, Any] = await_run(snapshot, query, id=9)
    (entry,) = data["customer"]["dueSoon"]
    start = datetime(2025, 1, 1, tzinfo=UTC)
    assert entry["product"]["id"] == 3
    assert _parse(entry["lastBought"]) == start + timedelta(days=10)
    assert _parse(entry["dueDate"]) == start + timedelta(days=10, seconds=round(INTERVAL * 86_400))
    assert entry["confidence"] == pytest.approx(CONFIDENCE, abs=1e-4)
    # customers 5-8 bought only a laptop and one ink twice, 40 days apart; their ink is due
    # on day 40 + (40 + 2 × 30) / 3 = day 73⅓, within 60 days of day 50
    later = await_run(snapshot, query, id=5)["customer"]["dueSoon"]
    assert [e["product"]["id"] for e in later] == [4]
    assert _parse(later[0]["dueDate"]) == start + timedelta(
        days=40, seconds=round(100 / 3 * 86_400)
    )


def await_run(snapshot: ModelSnapshot, query: str, **variables: Any) -> dict[str, Any]:
    import asyncio

    return asyncio.run(run(services_for(snapshot), query, **variables))


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
