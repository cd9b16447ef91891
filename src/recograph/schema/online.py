"""GraphQL types of ``onlineMetrics``: `recograph.online.metrics` results as plain objects."""

from __future__ import annotations

from datetime import datetime

import strawberry

from recograph.online import metrics as m
from recograph.schema.enums import EventType

OnlineGroupBy = strawberry.enum(m.GroupBy, name="OnlineGroupBy", description="Rows of the report.")
OnlineMetric = strawberry.enum(m.Metric, name="OnlineMetric", description="A compared metric.")


@strawberry.type(description="A proportion of units with its confidence interval.")
class RateEstimate:
    value: float
    low: float
    high: float
    successes: int
    trials: int
    design_effect: float = strawberry.field(
        description="Variance over visitors / binomial variance (≥ 1); widens the interval."
    )


@strawberry.type(description="An average with its confidence interval (null when undefined).")
class MeanEstimate:
    value: float
    low: float | None
    high: float | None
    total: float
    count: int


@strawberry.type(description="Online metrics of one group.")
class OnlineGroup:
    key: str = strawberry.field(description="Variant, strategy, reason… ('(none)' if unset).")
    impressions: int = strawberry.field(
        description="Recommendation responses; shown items when grouped by reason."
    )
    sessions: int
    visitors: int
    ctr: RateEstimate = strawberry.field(description="Share of impressions clicked.")
    add_to_cart_rate: RateEstimate
    conversion_rate: RateEstimate = strawberry.field(
        description="Share of impressions whose product was bought within the window."
    )
    purchases: int
    revenue: float
    revenue_per_session: MeanEstimate
    revenue_per_impression: MeanEstimate


@strawberry.type(description="A variant against the baseline on one metric.")
class OnlineComparison:
    metric: m.Metric
    baseline: str
    group: str
    baseline_value: float
    value: float
    difference: float
    difference_low: float | None
    difference_high: float | None
    relative_uplift: float | None = strawberry.field(description="value / baseline − 1.")
    test: str
    statistic: float | None
    p_value: float | None
    significant: bool = strawberry.field(description="p-value below alpha.")


@strawberry.type(description="Events of one type and how they were attributed.")
class EventAttribution:
    type: EventType
    total: int
    by_request: int = strawberry.field(description="Through the event's requestId.")
    by_visitor: int = strawberry.field(
        description="Same customer or session and product within the window (last touch)."
    )
    attributed: int


@strawberry.type(description="Online metrics computed from the impression and event logs.")
class OnlineMetrics:
    group_by: m.GroupBy
    since: datetime | None
    until: datetime | None
    window_hours: float
    alpha: float
    confidence: float
    baseline: str | None
    groups: list[OnlineGroup]
    comparisons: list[OnlineComparison]
    events: list[EventAttribution]


def _rate(rate: m.Rate) -> RateEstimate:
    return RateEstimate(
        value=rate.value,
        low=rate.low,
        high=rate.high,
        successes=rate.successes,
        trials=rate.trials,
        design_effect=rate.design_effect,
    )


def _mean(mean: m.Mean) -> MeanEstimate:
    return MeanEstimate(
        value=mean.value, low=mean.low, high=mean.high, total=mean.total, count=mean.count
    )


def online_metrics_view(report: m.OnlineReport) -> OnlineMetrics:
    """The report as GraphQL objects."""
    return OnlineMetrics(
        group_by=report.group_by,
        since=report.since,
        until=report.until,
        window_hours=report.window.total_seconds() / 3600,
        alpha=report.alpha,
        confidence=report.confidence,
        baseline=report.baseline,
        groups=[
            OnlineGroup(
                key=g.key,
                impressions=g.impressions,
                sessions=g.sessions,
                visitors=g.visitors,
                ctr=_rate(g.ctr),
                add_to_cart_rate=_rate(g.add_to_cart_rate),
                conversion_rate=_rate(g.conversion_rate),
                purchases=g.purchases,
                revenue=g.revenue,
                revenue_per_session=_mean(g.revenue_per_session),
                revenue_per_impression=_mean(g.revenue_per_impression),
            )
            for g in report.groups
        ],
        comparisons=[
            OnlineComparison(
                metric=c.metric,
                baseline=c.baseline,
                group=c.group,
                baseline_value=c.baseline_value,
                value=c.value,
                difference=c.difference,
                difference_low=c.difference_low,
                difference_high=c.difference_high,
                relative_uplift=c.relative_uplift,
                test=c.test,
                statistic=c.statistic,
                p_value=c.p_value,
                significant=c.significant,
            )
            for c in report.comparisons
        ],
        events=[
            EventAttribution(
                type=EventType(e.type),
                total=e.total,
                by_request=e.by_request,
                by_visitor=e.by_visitor,
                attributed=e.attributed,
            )
            for e in report.events
            if e.type in EventType.__members__
        ],
    )
