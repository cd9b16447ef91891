"""Reading the serving logs (``impressions`` and ``events``) for a period from the database.

Impressions are those created in ``[since, until)``; events are read up to ``until`` plus the
attribution window, so a purchase made shortly after the period still counts for the
impression that led to it. Everything is read into memory: fine for days to weeks of a
store's traffic; a warehouse is the place for years.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncEngine

from recograph import db
from recograph.models import Event, Impression
from recograph.models.tables import DEFAULT_STORE
from recograph.online.attribution import EventLog, ImpressionLog, ShownItem

IMPRESSIONS = Impression.__table__
EVENTS = Event.__table__


async def read_logs(
    engine: AsyncEngine,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    window: timedelta = timedelta(hours=24),
    store: str = DEFAULT_STORE,
) -> tuple[list[ImpressionLog], list[EventLog]]:
    """``store``'s impressions of the period and the events that may be attributed to them,
    by time (another store's rows never mix in: its ids name other products)."""
    impressions = (
        select(IMPRESSIONS)
        .where(IMPRESSIONS.c.store == store)
        .order_by(IMPRESSIONS.c.created_at, IMPRESSIONS.c.id)
    )
    events = (
        select(EVENTS).where(EVENTS.c.store == store).order_by(EVENTS.c.created_at, EVENTS.c.id)
    )
    impressions = _between(impressions, IMPRESSIONS.c.created_at, since, until)
    events = _between(events, EVENTS.c.created_at, since, None if until is None else until + window)
    async with engine.connect() as connection:
        impression_rows = (await connection.execute(impressions)).mappings().all()
        event_rows = (await connection.execute(events)).mappings().all()
    return [impression_log(r) for r in impression_rows], [event_log(r) for r in event_rows]


async def read_logs_from(
    url: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    window: timedelta = timedelta(hours=24),
    store: str = DEFAULT_STORE,
) -> tuple[list[ImpressionLog], list[EventLog]]:
    """`read_logs` with an engine of its own for ``url`` (disposed afterwards)."""
    engine = db.create_engine(url)
    try:
        return await read_logs(engine, since=since, until=until, window=window, store=store)
    finally:
        await engine.dispose()


def _between(
    query: Select[Any], column: Any, since: datetime | None, until: datetime | None
) -> Select[Any]:
    if since is not None:
        query = query.where(column >= since)
    if until is not None:
        query = query.where(column < until)
    return query


def impression_log(row: Mapping[Any, Any]) -> ImpressionLog:
    """An ``impressions`` row; items written as ``rank``/``reason`` (or the older
    ``position``/``reason_kind``)."""
    items = tuple(
        ShownItem(
            product_id=int(item["product_id"]),
            rank=int(item.get("rank", item.get("position", 0))),
            reason=item.get("reason", item.get("reason_kind")),
        )
        for item in row["items"] or ()
    )
    return ImpressionLog(
        request_id=str(row["request_id"]),
        created_at=row["created_at"],
        customer_id=row["customer_id"],
        session_id=row["session_id"],
        model_version=str(row["model_version"]),
        strategy=str(row["strategy"]),
        variant=row["variant"],
        page_type=row["page_type"],
        items=items,
    )


def event_log(row: Mapping[Any, Any]) -> EventLog:
    return EventLog(
        created_at=row["created_at"],
        type=str(row["type"]),
        customer_id=row["customer_id"],
        session_id=row["session_id"],
        product_id=int(row["product_id"]),
        request_id=row["request_id"],
        quantity=int(row["quantity"]),
        price=None if row["price"] is None else float(row["price"]),
    )
