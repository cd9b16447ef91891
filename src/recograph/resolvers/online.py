"""``onlineMetrics``: the online report over the server's own log database.

It reads every impression of the period (and the events that may follow them), so it is a
staff query: in production (``RECOGRAPH_PRODUCTION``) it needs the admin bearer token. Rows
still in the writer's buffer are not in the database yet and are not counted.
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import UTC, datetime, timedelta
from typing import Annotated

import strawberry
from sqlalchemy.exc import SQLAlchemyError

from recograph.online.logs import read_logs_from
from recograph.online.metrics import GroupBy, UnknownBaseline, online_metrics
from recograph.resolvers.context import RequestContext
from recograph.schema.errors import BadInput, Forbidden, Unavailable
from recograph.schema.online import OnlineMetrics, online_metrics_view

logger = logging.getLogger(__name__)

Info = strawberry.Info[RequestContext, None]
MAX_WINDOW_HOURS = 24 * 90


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


async def online_metrics_resolver(
    info: Info,
    since: Annotated[
        datetime | None, strawberry.argument(description="Start (inclusive), UTC.")
    ] = None,
    until: Annotated[
        datetime | None, strawberry.argument(description="End (exclusive), UTC; now if null.")
    ] = None,
    group_by: GroupBy = GroupBy.VARIANT,
    window_hours: Annotated[
        float, strawberry.argument(description="Attribution window after an impression.")
    ] = 24.0,
    baseline: Annotated[
        str | None, strawberry.argument(description="Variant to compare with (control).")
    ] = None,
    alpha: Annotated[float, strawberry.argument(description="Significance level.")] = 0.05,
) -> OnlineMetrics:
    """CTR, add-to-cart, conversion and revenue per group; variants tested against the
    baseline."""
    ctx = info.context
    settings = ctx.services.settings
    if settings.production and not ctx.admin:
        raise Forbidden("onlineMetrics needs the admin bearer token in production")
    if not (math.isfinite(window_hours) and 0 < window_hours <= MAX_WINDOW_HOURS):
        raise BadInput(
            f"windowHours must be in (0, {MAX_WINDOW_HOURS}], got {window_hours}",
            argument="windowHours",
        )
    if not 0 < alpha < 1:
        raise BadInput(f"alpha must be between 0 and 1, got {alpha}", argument="alpha")
    start, end = _naive_utc(since), _naive_utc(until)
    if start is not None and end is not None and start >= end:
        raise BadInput("since must be before until", argument="since")
    if not settings.database_url:
        raise Unavailable("this server logs no impressions (no database configured)")
    window = timedelta(hours=window_hours)
    try:
        impressions, events = await read_logs_from(
            settings.database_url,
            since=start,
            until=end,
            window=window,
            store=info.context.services.store,
        )
    except SQLAlchemyError as exc:
        logger.error("onlineMetrics: cannot read the logs: %s", exc)
        raise Unavailable("the log database cannot be read") from None
    try:
        report = await asyncio.to_thread(
            online_metrics,
            impressions,
            events,
            group_by=group_by,
            window=window,
            baseline=baseline,
            alpha=alpha,
            since=start,
            until=end,
        )
    except UnknownBaseline as exc:
        raise BadInput(str(exc), argument="baseline") from None
    return online_metrics_view(report)
