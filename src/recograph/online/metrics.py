"""Online metrics from impressions and the events attributed to them, per group, with
confidence intervals, and variants compared against a baseline with significance tests.

The unit is a logged response (an *impression*); grouped by reason it is a shown item (an
impression of one product with one reason), so the table reads "which signal earns its
place". Per unit: clicked (at least one attributed click), added to cart, converted (at least
one attributed purchase, i.e. a recommended product bought within the window) and revenue
(price × quantity of those purchases).

- rates (CTR, add-to-cart, conversion): Wilson intervals; variants compared with the
  two-proportion z-test (design-effect corrected, see `recograph.online.stats`);
- revenue per session: Student-t interval over sessions; Welch's t-test between variants;
- revenue per impression: a ratio with a delta-method (per visitor) normal interval; z-test.

Revenue intervals of a group are cut at 0 (revenue is never negative); intervals of
differences are not.

Only variants are compared: they are randomised, so a difference is the variant's doing.
Strategies, reasons, page types and model versions are not randomised (a strategy follows
the customer's history), so their rows describe but are not tested.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from recograph.core.errors import RecographError
from recograph.models import EVENT_TYPES
from recograph.online import stats
from recograph.online.attribution import EventLog, ImpressionLog, Via, attribute
from recograph.online.stats import Floats

NO_VALUE = "(none)"
CONTROL = "control"
DEFAULT_WINDOW = timedelta(hours=24)


class GroupBy(StrEnum):
    VARIANT = "variant"
    STRATEGY = "strategy"
    REASON = "reason"
    MODEL_VERSION = "model_version"
    PAGE_TYPE = "page_type"


class Metric(StrEnum):
    CTR = "ctr"
    ADD_TO_CART_RATE = "add_to_cart_rate"
    CONVERSION_RATE = "conversion_rate"
    REVENUE_PER_SESSION = "revenue_per_session"
    REVENUE_PER_IMPRESSION = "revenue_per_impression"


RATE_METRICS = (Metric.CTR, Metric.ADD_TO_CART_RATE, Metric.CONVERSION_RATE)


@dataclass(frozen=True)
class Rate:
    """A proportion of units with its interval; ``design_effect`` ≥ 1 widens it."""

    successes: int
    trials: int
    value: float
    low: float
    high: float
    design_effect: float


@dataclass(frozen=True)
class Mean:
    """An average (``total / count``) with its interval (None when undefined)."""

    total: float
    count: int
    value: float
    low: float | None
    high: float | None


@dataclass(frozen=True)
class GroupMetrics:
    key: str
    impressions: int  # units: responses, or shown items when grouped by reason
    sessions: int
    visitors: int
    ctr: Rate
    add_to_cart_rate: Rate
    conversion_rate: Rate
    purchases: int
    revenue: float
    revenue_per_session: Mean
    revenue_per_impression: Mean

    def value(self, metric: Metric) -> float:
        found: Rate | Mean = getattr(self, metric.value)
        return found.value


@dataclass(frozen=True)
class Comparison:
    """``group`` against ``baseline`` on one metric: difference, relative uplift, test."""

    metric: Metric
    baseline: str
    group: str
    baseline_value: float
    value: float
    difference: float
    difference_low: float | None
    difference_high: float | None
    relative_uplift: float | None
    test: str
    statistic: float | None
    p_value: float | None
    significant: bool


@dataclass(frozen=True)
class EventCounts:
    """Events of one type in the period, and how many were attributed (and how)."""

    type: str
    total: int
    by_request: int
    by_visitor: int

    @property
    def attributed(self) -> int:
        return self.by_request + self.by_visitor


@dataclass(frozen=True)
class OnlineReport:
    group_by: GroupBy
    window: timedelta
    alpha: float
    confidence: float
    baseline: str | None
    groups: tuple[GroupMetrics, ...]
    comparisons: tuple[Comparison, ...]
    events: tuple[EventCounts, ...]
    since: datetime | None = None
    until: datetime | None = None

    def group(self, key: str) -> GroupMetrics:
        for found in self.groups:
            if found.key == key:
                return found
        raise KeyError(key)

    def comparison(self, group: str, metric: Metric) -> Comparison:
        for found in self.comparisons:
            if found.group == group and found.metric is metric:
                return found
        raise KeyError((group, metric))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (dates as ISO strings, the window in hours)."""
        return {
            "group_by": self.group_by.value,
            "since": None if self.since is None else self.since.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
            "window_hours": self.window.total_seconds() / 3600,
            "alpha": self.alpha,
            "confidence": self.confidence,
            "baseline": self.baseline,
            "groups": [asdict(g) for g in self.groups],
            "comparisons": [{**asdict(c), "metric": c.metric.value} for c in self.comparisons],
            "events": [{**asdict(e), "attributed": e.attributed} for e in self.events],
        }


class UnknownBaseline(RecographError, ValueError):
    """The requested baseline is not one of the compared groups."""


@dataclass
class _Unit:
    group: str
    visitor: str
    session: str
    clicked: bool = False
    carted: bool = False
    purchases: int = 0
    revenue: float = 0.0


@dataclass
class _Group:
    """A group's units summarised per visitor and per session (the arrays tests need)."""

    metrics: GroupMetrics
    per_visitor: dict[str, Floats] = field(default_factory=dict)
    session_revenue: Floats = field(default_factory=lambda: np.zeros(0))
    revenue_variance: float = 0.0


def online_metrics(
    impressions: Sequence[ImpressionLog],
    events: Sequence[EventLog],
    *,
    group_by: GroupBy = GroupBy.VARIANT,
    window: timedelta = DEFAULT_WINDOW,
    baseline: str | None = None,
    alpha: float = 0.05,
    confidence: float = 0.95,
    since: datetime | None = None,
    until: datetime | None = None,
) -> OnlineReport:
    """Attribute ``events`` to ``impressions``, then compute every group's metrics and, when
    grouped by variant, compare each variant with the baseline (``control`` when present,
    else the first variant by name). Raises `UnknownBaseline` for a baseline not found."""
    if not 0 < alpha < 1 or not 0 < confidence < 1:
        raise ValueError("alpha and confidence must be between 0 and 1")
    units, unit_of = _units(impressions, group_by)
    credits = attribute(impressions, events, window)
    counts = {kind: [0, 0, 0] for kind in EVENT_TYPES}
    for event in events:
        counts.setdefault(event.type, [0, 0, 0])[0] += 1
    for credit in credits:
        event = events[credit.event]
        item = event.product_id if group_by is GroupBy.REASON else -1
        unit = units[unit_of[(credit.impression, item)]]
        counts[event.type][1 if credit.via is Via.REQUEST else 2] += 1
        if event.type == "CLICK":
            unit.clicked = True
        elif event.type == "ADD_TO_CART":
            unit.carted = True
        elif event.type == "PURCHASE":
            unit.purchases += 1
            unit.revenue += event.revenue
    by_group: dict[str, list[_Unit]] = defaultdict(list)
    for unit in units:
        by_group[unit.group].append(unit)
    groups = {key: _summarise(key, members, confidence) for key, members in by_group.items()}
    comparable = sorted(k for k in groups if k != NO_VALUE) if group_by is GroupBy.VARIANT else []
    chosen = _baseline(comparable, baseline)
    comparisons: list[Comparison] = []
    if chosen is not None:
        for key in comparable:
            if key != chosen:
                comparisons.extend(_compare(groups[chosen], groups[key], alpha, confidence))
    order = sorted(groups, key=lambda k: (k != chosen, k == NO_VALUE, k))
    return OnlineReport(
        group_by=group_by,
        window=window,
        alpha=alpha,
        confidence=confidence,
        baseline=chosen,
        groups=tuple(groups[k].metrics for k in order),
        comparisons=tuple(comparisons),
        events=tuple(EventCounts(kind, *values) for kind, values in counts.items()),
        since=since,
        until=until,
    )


def _group_key(impression: ImpressionLog, group_by: GroupBy) -> str:
    value = {
        GroupBy.VARIANT: impression.variant,
        GroupBy.STRATEGY: impression.strategy,
        GroupBy.MODEL_VERSION: impression.model_version,
        GroupBy.PAGE_TYPE: impression.page_type,
    }[group_by]
    return value or NO_VALUE


def _units(
    impressions: Sequence[ImpressionLog], group_by: GroupBy
) -> tuple[list[_Unit], dict[tuple[int, int], int]]:
    """One unit per impression (key ``(i, -1)``), or per shown item (``(i, product_id)``)."""
    units: list[_Unit] = []
    unit_of: dict[tuple[int, int], int] = {}
    for index, impression in enumerate(impressions):
        if group_by is GroupBy.REASON:
            for item in impression.items:
                unit_of[(index, item.product_id)] = len(units)
                units.append(_Unit(item.reason or NO_VALUE, impression.visitor, impression.session))
        else:
            unit_of[(index, -1)] = len(units)
            units.append(
                _Unit(_group_key(impression, group_by), impression.visitor, impression.session)
            )
    return units, unit_of


def _summarise(key: str, units: list[_Unit], confidence: float) -> _Group:
    visitors: dict[str, int] = {}
    sessions: dict[str, int] = {}
    for unit in units:
        visitors.setdefault(unit.visitor, len(visitors))
        sessions.setdefault(unit.session, len(sessions))
    v = np.fromiter((visitors[u.visitor] for u in units), dtype=np.int64, count=len(units))
    s = np.fromiter((sessions[u.session] for u in units), dtype=np.int64, count=len(units))
    columns = {
        "n": np.ones(len(units)),
        "clicked": np.fromiter((u.clicked for u in units), dtype=np.float64, count=len(units)),
        "carted": np.fromiter((u.carted for u in units), dtype=np.float64, count=len(units)),
        "converted": np.fromiter(
            (u.purchases > 0 for u in units), dtype=np.float64, count=len(units)
        ),
        "revenue": np.fromiter((u.revenue for u in units), dtype=np.float64, count=len(units)),
    }
    per_visitor = {name: _sum_by(v, values, len(visitors)) for name, values in columns.items()}
    session_revenue = _sum_by(s, columns["revenue"], len(sessions))
    n = len(units)
    revenue = float(columns["revenue"].sum())
    revenue_variance = stats.clustered_ratio_variance(per_visitor["revenue"], per_visitor["n"])
    z = stats.z_quantile(confidence)
    half = z * math.sqrt(revenue_variance)
    session_interval = stats.mean_interval(session_revenue, confidence)
    metrics = GroupMetrics(
        key=key,
        impressions=n,
        sessions=len(sessions),
        visitors=len(visitors),
        ctr=_rate(per_visitor["clicked"], per_visitor["n"], confidence),
        add_to_cart_rate=_rate(per_visitor["carted"], per_visitor["n"], confidence),
        conversion_rate=_rate(per_visitor["converted"], per_visitor["n"], confidence),
        purchases=sum(u.purchases for u in units),
        revenue=revenue,
        revenue_per_session=Mean(
            total=revenue,
            count=len(sessions),
            value=revenue / len(sessions),
            low=None if session_interval is None else max(0.0, session_interval.low),
            high=None if session_interval is None else session_interval.high,
        ),
        revenue_per_impression=Mean(
            total=revenue,
            count=n,
            value=revenue / n,
            low=max(0.0, revenue / n - half),
            high=revenue / n + half,
        ),
    )
    return _Group(metrics, per_visitor, session_revenue, revenue_variance)


def _sum_by(index: npt.NDArray[np.int64], values: Floats, size: int) -> Floats:
    return np.asarray(np.bincount(index, weights=values, minlength=size), dtype=np.float64)


def _rate(successes: Floats, trials: Floats, confidence: float) -> Rate:
    x, n = float(successes.sum()), float(trials.sum())
    deff = stats.design_effect(successes, trials)
    interval = stats.wilson_interval(x / deff, n / deff, confidence)
    return Rate(round(x), round(n), x / n, interval.low, interval.high, deff)


def _baseline(keys: list[str], requested: str | None) -> str | None:
    if requested is not None:
        if requested not in keys:
            raise UnknownBaseline(
                f"baseline {requested!r} is not one of the variants ({', '.join(keys) or 'none'})"
            )
        return requested
    if len(keys) < 2:
        return None
    return CONTROL if CONTROL in keys else keys[0]


def _compare(base: _Group, other: _Group, alpha: float, confidence: float) -> list[Comparison]:
    a, b = base.metrics, other.metrics
    out: list[Comparison] = []
    for metric in RATE_METRICS:
        ra: Rate = getattr(a, metric.value)
        rb: Rate = getattr(b, metric.value)
        test = stats.two_proportion_ztest(
            ra.successes,
            ra.trials,
            rb.successes,
            rb.trials,
            deff1=ra.design_effect,
            deff2=rb.design_effect,
        )
        interval = stats.rate_difference_interval(
            ra.value,
            ra.trials / ra.design_effect,
            rb.value,
            rb.trials / rb.design_effect,
            confidence,
        )
        out.append(_comparison(metric, a, b, "two-proportion z-test", test, interval, alpha))
    welch = stats.welch_test(base.session_revenue, other.session_revenue)
    welch_ci = stats.welch_interval(base.session_revenue, other.session_revenue, confidence)
    out.append(
        _comparison(Metric.REVENUE_PER_SESSION, a, b, "Welch t-test", welch, welch_ci, alpha)
    )
    per_impression = stats.normal_difference_test(
        a.revenue_per_impression.value,
        base.revenue_variance,
        b.revenue_per_impression.value,
        other.revenue_variance,
    )
    half = stats.z_quantile(confidence) * math.sqrt(base.revenue_variance + other.revenue_variance)
    diff = b.revenue_per_impression.value - a.revenue_per_impression.value
    out.append(
        _comparison(
            Metric.REVENUE_PER_IMPRESSION,
            a,
            b,
            "z-test (delta method)",
            per_impression,
            None if half == 0 else stats.Interval(diff - half, diff + half),
            alpha,
        )
    )
    return out


def _comparison(
    metric: Metric,
    a: GroupMetrics,
    b: GroupMetrics,
    name: str,
    test: stats.TestResult | None,
    interval: stats.Interval | None,
    alpha: float,
) -> Comparison:
    base, value = a.value(metric), b.value(metric)
    return Comparison(
        metric=metric,
        baseline=a.key,
        group=b.key,
        baseline_value=base,
        value=value,
        difference=value - base,
        difference_low=None if interval is None else interval.low,
        difference_high=None if interval is None else interval.high,
        relative_uplift=None if base == 0 else value / base - 1,
        test=name,
        statistic=None if test is None else test.statistic,
        p_value=None if test is None else test.p_value,
        significant=test is not None and test.p_value < alpha,
    )
