"""Online metrics on a hand-made log: attribution, rates, revenue, intervals and tests, with
every expected value worked out by hand in the comments."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pytest
from scipy import stats as scipy_stats

from recograph.online import stats
from recograph.online.attribution import EventLog, ImpressionLog, ShownItem
from recograph.online.metrics import GroupBy, Metric, UnknownBaseline, online_metrics

T0 = datetime(2026, 12, 1, 10, 0, 0)
Z = 1.959963984540054


def at(**delta: float) -> datetime:
    return T0 + timedelta(**delta)


def imp(
    request_id: str,
    when: datetime,
    customer: int | None,
    session: str | None,
    variant: str | None,
    strategy: str,
    items: list[tuple[int, str]],
) -> ImpressionLog:
    return ImpressionLog(
        request_id=request_id,
        created_at=when,
        customer_id=customer,
        session_id=session,
        model_version="v1" if request_id != "r8" else "v2",
        strategy=strategy,
        variant=variant,
        page_type="HOME" if customer != 2 else "CART",
        items=tuple(ShownItem(p, rank, reason) for rank, (p, reason) in enumerate(items, 1)),
    )


IMPRESSIONS = [
    imp("r1", T0, 1, "s1", "control", "POPULAR", [(101, "POPULAR"), (102, "POPULAR")]),
    imp("r2", at(minutes=1), 2, "s2", "control", "POPULAR", [(101, "POPULAR"), (103, "PROMOTED")]),
    imp("r3", at(minutes=2), 2, "s2", "control", "POPULAR", [(104, "POPULAR")]),
    imp("r4", at(minutes=3), 3, "s3", "control", "POPULAR", [(102, "POPULAR")]),
    imp("r5", T0, 4, "s4", "hybrid", "HYBRID", [(105, "BOUGHT_TOGETHER"), (106, "SIMILAR_TO")]),
    imp("r6", T0, 5, "s5", "hybrid", "HYBRID", [(105, "BOUGHT_TOGETHER")]),
    imp("r7", T0, None, "a1", "hybrid", "HYBRID", [(107, "SIMILAR_TO")]),
    imp("r8", T0, 6, "s6", None, "CONTENT", [(101, "CUSTOMERS_LIKE_YOU")]),
    imp("r9", at(minutes=30), 1, "s1b", "control", "POPULAR", [(102, "POPULAR")]),
]


def ev(
    kind: str,
    when: datetime,
    customer: int | None,
    product: int,
    request: str | None = None,
    *,
    session: str | None = None,
    price: float | None = None,
    quantity: int = 1,
) -> EventLog:
    return EventLog(when, kind, customer, session, product, request, quantity, price)


EVENTS = [
    ev("CLICK", at(seconds=10), 1, 101, "r1"),  # E1 -> r1 by request
    ev("CLICK", at(seconds=20), 1, 101, "r1"),  # E2 -> r1 again (still one clicked impression)
    ev("ADD_TO_CART", at(seconds=30), 1, 101, "r1"),  # E3 -> r1
    ev("PURCHASE", at(hours=1), 1, 101, price=10.0, quantity=2),  # E4 -> r1 by visitor, 20
    ev("CLICK", at(seconds=90), 2, 103, "r2"),  # E5 -> r2
    ev("PURCHASE", at(days=2), 2, 104, price=8.0),  # E6: r3 is 2 days old: outside 24 h
    ev("PURCHASE", at(minutes=5), 3, 999, price=1.0),  # E7: never shown
    ev("CLICK", at(minutes=1), 4, 105, "r5"),  # E8 -> r5
    ev("PURCHASE", at(minutes=5), 4, 105, "r5", price=50.0),  # E9 -> r5 by request
    ev("PURCHASE", at(minutes=10), 5, 105, "unknown", price=50.0),  # E10 -> r6 by visitor
    ev("CLICK", at(minutes=1), None, 107, session="a1"),  # E11 -> r7 by anonymous session
    ev("CLICK", at(minutes=3), 2, 101, "r3"),  # E12: r3 did not show 101 -> r2 by visitor
    ev("PURCHASE", at(minutes=40), 1, 102, price=5.0),  # E15: last touch is r9, not r1
]


def test_grouped_by_variant_exact_values() -> None:
    report = online_metrics(IMPRESSIONS, EVENTS)
    assert [g.key for g in report.groups] == ["control", "hybrid", "(none)"]
    assert report.baseline == "control"
    control = report.group("control")
    # r1 clicked+carted+bought (20), r2 clicked, r3 nothing, r4 nothing, r9 bought (5).
    assert (control.impressions, control.visitors, control.sessions) == (5, 3, 4)
    assert (control.ctr.successes, control.ctr.trials, control.ctr.value) == (2, 5, 0.4)
    assert (control.add_to_cart_rate.successes, control.add_to_cart_rate.value) == (1, 0.2)
    assert (control.conversion_rate.successes, control.conversion_rate.value) == (2, 0.4)
    assert (control.purchases, control.revenue) == (2, 25.0)
    assert control.revenue_per_session.value == 25 / 4
    assert control.revenue_per_impression.value == 5.0
    # CTR per visitor: c1 1/2, c2 1/2, c3 0/1; residuals 0.2, 0.2, -0.4: clustered variance
    # 0.24/25 is below the binomial 0.4*0.6/5, so the design effect stays 1: plain Wilson
    # 2/5 = (0.1176, 0.7693).
    assert control.ctr.design_effect == 1.0
    assert (control.ctr.low, control.ctr.high) == pytest.approx((0.117621, 0.769276), abs=1e-6)
    # Conversion per visitor: c1 2/2, c2 0/2, c3 0/1; residuals 1.2, -0.8, -0.4: variance
    # 2.24/25 = 0.0896 against 0.048: design effect 28/15, Wilson on n = 5 * 15/28.
    assert control.conversion_rate.design_effect == pytest.approx(28 / 15)
    n_eff = 5 * 15 / 28
    centre = (0.4 + Z**2 / (2 * n_eff)) / (1 + Z**2 / n_eff)
    half = Z * math.sqrt(0.4 * 0.6 / n_eff + Z**2 / (4 * n_eff**2)) / (1 + Z**2 / n_eff)
    assert control.conversion_rate.low == pytest.approx(centre - half)
    assert control.conversion_rate.high == pytest.approx(centre + half)
    # Revenue per session: sessions s1 20, s1b 5, s2 0, s3 0: mean 6.25, sd 9.46485,
    # t(3) 3.182446 -> 6.25 ± 15.0607, cut at 0 (revenue is never negative).
    assert control.revenue_per_session.low == 0.0
    assert control.revenue_per_session.high == pytest.approx(6.25 + 15.060684, abs=1e-5)
    # Revenue per impression, per visitor: c1 25/2, c2 0/2, c3 0/1; residuals 15, -10, -5:
    # variance 350/25 = 14 -> 5 ± 1.96 * sqrt(14) = 5 ± 7.3335, cut at 0.
    assert control.revenue_per_impression.low == 0.0
    assert control.revenue_per_impression.high == pytest.approx(5 + Z * math.sqrt(14))
    hybrid = report.group("hybrid")
    # r5 clicked and bought (50), r6 bought by visitor (50), r7 clicked anonymously.
    assert (hybrid.impressions, hybrid.visitors, hybrid.sessions) == (3, 3, 3)
    assert (hybrid.ctr.successes, hybrid.conversion_rate.successes) == (2, 2)
    assert hybrid.add_to_cart_rate.successes == 0
    assert (hybrid.revenue, hybrid.revenue_per_session.value) == (100.0, 100 / 3)
    assert hybrid.conversion_rate.design_effect == pytest.approx(1.0)
    # Per visitor 50, 50, 0 around 33.33: variance (2 * 16.67² + 33.33²) / 9 = 5000/27.
    assert hybrid.revenue_per_impression.low == pytest.approx(100 / 3 - Z * math.sqrt(5000 / 27))
    none = report.group("(none)")
    assert (none.impressions, none.ctr.successes, none.revenue) == (1, 0, 0.0)


def test_event_attribution_counts() -> None:
    report = online_metrics(IMPRESSIONS, EVENTS)
    counts = {e.type: (e.total, e.by_request, e.by_visitor) for e in report.events}
    # Clicks: E1 E2 E5 E8 by request, E11 E12 by visitor. Purchases: E9 by request, E4 E10
    # E15 by visitor, E6 (too late) and E7 (never shown) unattributed.
    assert counts == {"CLICK": (6, 4, 2), "ADD_TO_CART": (1, 1, 0), "PURCHASE": (6, 1, 3)}


def test_variants_compared_with_the_baseline() -> None:
    report = online_metrics(IMPRESSIONS, EVENTS)
    assert {c.group for c in report.comparisons} == {"hybrid"}
    ctr = report.comparison("hybrid", Metric.CTR)
    # Pooled 4/8: z = (2/3 - 2/5) / sqrt(0.25 * (1/5 + 1/3)) = 0.730297, p = 0.465209.
    z = (2 / 3 - 2 / 5) / math.sqrt(0.25 * (1 / 5 + 1 / 3))
    assert ctr.statistic == pytest.approx(z)
    assert ctr.statistic == pytest.approx(0.730297, abs=1e-6)
    assert ctr.p_value == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert ctr.relative_uplift == pytest.approx((2 / 3) / 0.4 - 1)
    assert ctr.difference == pytest.approx(2 / 3 - 0.4)
    assert not ctr.significant
    conversion = report.comparison("hybrid", Metric.CONVERSION_RATE)
    # Rao–Scott: the control's design effect 28/15 inflates its share of the variance.
    z = (2 / 3 - 2 / 5) / math.sqrt(0.25 * (28 / 15 / 5 + 1 / 3))
    assert conversion.statistic == pytest.approx(z)
    assert conversion.statistic == pytest.approx(0.634441, abs=1e-6)
    per_session = report.comparison("hybrid", Metric.REVENUE_PER_SESSION)
    # Welch: means 33.33 vs 6.25, variances 833.33/3 and 89.583/4: t = 1.563205, df = 2.3254.
    va, vb = (268.75 / 3) / 4, (5000 / 6) / 3
    t = (100 / 3 - 6.25) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / 3 + vb**2 / 2)
    assert per_session.test == "Welch t-test"
    assert per_session.statistic == pytest.approx(t)
    assert per_session.statistic == pytest.approx(1.563205, abs=1e-6)
    assert per_session.p_value == pytest.approx(2 * scipy_stats.t.sf(t, df))
    welch = scipy_stats.ttest_ind([50, 50, 0], [20, 5, 0, 0], equal_var=False)
    assert per_session.p_value == pytest.approx(welch.pvalue)
    per_impression = report.comparison("hybrid", Metric.REVENUE_PER_IMPRESSION)
    # Hybrid per visitor 50, 50, 0 around 33.33: variance (2 * 16.67² + 33.33²) / 9 = 185.19.
    z = (100 / 3 - 5) / math.sqrt(14 + 5000 / 27)
    assert per_impression.statistic == pytest.approx(z)
    assert per_impression.p_value == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert per_impression.significant  # p = 0.0447 < 0.05
    assert per_impression.difference_low == pytest.approx(
        100 / 3 - 5 - Z * math.sqrt(14 + 5000 / 27)
    )


def test_per_reason_attribution() -> None:
    report = online_metrics(IMPRESSIONS, EVENTS, group_by=GroupBy.REASON)
    rows = {
        g.key: (
            g.impressions,
            g.ctr.successes,
            g.add_to_cart_rate.successes,
            g.conversion_rate.successes,
            g.revenue,
        )
        for g in report.groups
    }
    assert rows == {
        # shown items: r1 101 102, r2 101, r3 104, r4 102, r9 102
        "POPULAR": (6, 2, 1, 2, 25.0),
        "PROMOTED": (1, 1, 0, 0, 0.0),
        "BOUGHT_TOGETHER": (2, 1, 0, 2, 100.0),
        "SIMILAR_TO": (2, 1, 0, 0, 0.0),
        "CUSTOMERS_LIKE_YOU": (1, 0, 0, 0, 0.0),
    }
    assert report.comparisons == ()  # reasons are not randomised: described, not tested


def test_other_groupings_window_and_baseline() -> None:
    by_strategy = online_metrics(IMPRESSIONS, EVENTS, group_by=GroupBy.STRATEGY)
    assert {g.key: g.impressions for g in by_strategy.groups} == {
        "POPULAR": 5,
        "HYBRID": 3,
        "CONTENT": 1,
    }
    by_page = online_metrics(IMPRESSIONS, EVENTS, group_by=GroupBy.PAGE_TYPE)
    assert {g.key: g.impressions for g in by_page.groups} == {"HOME": 7, "CART": 2}
    by_model = online_metrics(IMPRESSIONS, EVENTS, group_by=GroupBy.MODEL_VERSION)
    assert {g.key: g.impressions for g in by_model.groups} == {"v1": 8, "v2": 1}
    # A 3-day window also credits E6 (8.00, product 104) to r3.
    wide = online_metrics(IMPRESSIONS, EVENTS, window=timedelta(days=3)).group("control")
    assert (wide.conversion_rate.successes, wide.revenue) == (3, 33.0)
    flipped = online_metrics(IMPRESSIONS, EVENTS, baseline="hybrid")
    assert [g.key for g in flipped.groups][:2] == ["hybrid", "control"]
    assert flipped.comparison("control", Metric.CTR).statistic == pytest.approx(-0.730297, 1e-5)
    with pytest.raises(UnknownBaseline, match="'nope' is not one of the variants"):
        online_metrics(IMPRESSIONS, EVENTS, baseline="nope")


def test_wilson_and_z_test_against_textbook_values() -> None:
    # Wilson 95% for 10/100 is (0.0552, 0.1744) in every table.
    interval = stats.wilson_interval(10, 100)
    assert (interval.low, interval.high) == pytest.approx((0.055229, 0.174366), abs=1e-6)
    assert stats.wilson_interval(0, 10).low == 0.0
    # 45/100 against 30/100: pooled 0.375, z = -0.15 / sqrt(0.375 * 0.625 * 0.02) = -2.19089.
    test = stats.two_proportion_ztest(45, 100, 30, 100)
    assert test is not None
    assert test.statistic == pytest.approx(-2.190890, abs=1e-6)
    assert test.p_value == pytest.approx(0.028459, abs=1e-6)
    assert stats.two_proportion_ztest(0, 10, 0, 12) is None
    # Clustered data: 2 visitors with 3/3 and 0/3 successes: variance (1.5² + 1.5²)/36 =
    # 0.125 against 0.25/6: design effect 3.
    deff = stats.design_effect(np.array([3.0, 0.0]), np.array([3.0, 3.0]))
    assert deff == pytest.approx(3.0)
