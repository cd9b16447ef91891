"""An `OnlineReport` as plain text: one line per group, then each variant against the baseline."""

from __future__ import annotations

from collections.abc import Sequence

from recograph.online.metrics import (
    RATE_METRICS,
    Comparison,
    GroupBy,
    GroupMetrics,
    Mean,
    Metric,
    OnlineReport,
    Rate,
)

METRIC_LABELS: dict[Metric, str] = {
    Metric.CTR: "CTR",
    Metric.ADD_TO_CART_RATE: "add-to-cart rate",
    Metric.CONVERSION_RATE: "conversion",
    Metric.REVENUE_PER_SESSION: "revenue / session",
    Metric.REVENUE_PER_IMPRESSION: "revenue / impression",
}
EVENT_LABELS = {"CLICK": "clicks", "ADD_TO_CART": "add-to-carts", "PURCHASE": "purchases"}


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def render(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [render(header), "  ".join("-" * w for w in widths), *(render(r) for r in rows)]


def _rate(rate: Rate) -> str:
    return f"{rate.value:.2%} [{rate.low:.2%}, {rate.high:.2%}]"


def _money(mean: Mean) -> str:
    if mean.low is None or mean.high is None:
        return f"{mean.value:.2f}"
    return f"{mean.value:.2f} [{mean.low:.2f}, {mean.high:.2f}]"


def _value(metric: Metric, value: float) -> str:
    return f"{value:.2%}" if metric in RATE_METRICS else f"{value:.2f}"


def _difference(c: Comparison) -> str:
    if c.metric in RATE_METRICS:
        text = f"{c.difference * 100:+.2f} pp"
        if c.difference_low is not None and c.difference_high is not None:
            text += f" [{c.difference_low * 100:+.2f}, {c.difference_high * 100:+.2f}]"
        return text
    text = f"{c.difference:+.2f}"
    if c.difference_low is not None and c.difference_high is not None:
        text += f" [{c.difference_low:+.2f}, {c.difference_high:+.2f}]"
    return text


def _verdict(c: Comparison, alpha: float) -> str:
    if c.p_value is None:
        return "-"
    return f"{c.p_value:.4f}" + (f" < {alpha:g}" if c.significant else "")


def format_report(report: OnlineReport) -> str:
    """The report as aligned text (what ``recograph report online`` prints)."""
    start = "the start" if report.since is None else report.since.isoformat(sep=" ")
    end = "now" if report.until is None else report.until.isoformat(sep=" ")
    hours = report.window.total_seconds() / 3600
    unit = "shown items" if report.group_by is GroupBy.REASON else "impressions"
    lines = [
        f"Online metrics from {start} to {end}, by {report.group_by.value.replace('_', ' ')}; "
        f"attribution window {hours:g} h; {report.confidence:.0%} intervals",
        "",
    ]
    if not report.groups:
        lines.append("no impressions in this period")
    else:
        lines += _table(
            [
                report.group_by.value,
                unit,
                "sessions",
                "visitors",
                "CTR",
                "add-to-cart",
                "conversion",
                "revenue",
                "revenue/session",
                "revenue/impression",
            ],
            [_group_row(g) for g in report.groups],
        )
    if report.comparisons:
        for group in dict.fromkeys(c.group for c in report.comparisons):
            rows = [c for c in report.comparisons if c.group == group]
            lines += ["", f"{group} against {report.baseline} (baseline):"]
            lines += _table(
                ["metric", str(report.baseline), group, "difference", "uplift", "test", "p"],
                [
                    [
                        METRIC_LABELS[c.metric],
                        _value(c.metric, c.baseline_value),
                        _value(c.metric, c.value),
                        _difference(c),
                        "-" if c.relative_uplift is None else f"{c.relative_uplift:+.1%}",
                        c.test,
                        _verdict(c, report.alpha),
                    ]
                    for c in rows
                ],
            )
    elif report.group_by is GroupBy.VARIANT and len(report.groups) > 1:
        lines += ["", "fewer than two variants with impressions: nothing to compare"]
    lines += ["", _events_line(report)]
    return "\n".join(lines) + "\n"


def _group_row(g: GroupMetrics) -> list[str]:
    return [
        g.key,
        f"{g.impressions:,}",
        f"{g.sessions:,}",
        f"{g.visitors:,}",
        _rate(g.ctr),
        _rate(g.add_to_cart_rate),
        _rate(g.conversion_rate),
        f"{g.revenue:,.2f}",
        _money(g.revenue_per_session),
        _money(g.revenue_per_impression),
    ]


def _events_line(report: OnlineReport) -> str:
    parts = [
        f"{e.total:,} {EVENT_LABELS.get(e.type, e.type)} ({e.attributed:,} attributed: "
        f"{e.by_request:,} by request id, {e.by_visitor:,} by visitor and product)"
        for e in report.events
    ]
    return "events: " + "; ".join(parts)
