"""Live purchases shared by every worker and server process, through the events table.

``recordEvent(PURCHASE)`` counts at once in the process that received it
(`ServingState.record_purchase`) and is written to the ``events`` table by the batched
`EventWriter` (within ``RECOGRAPH_EVENT_FLUSH_SECONDS``, 0.5 s by default). Every process polls
that table (`LivePurchaseFeed`, every ``RECOGRAPH_LIVE_POLL_SECONDS``, 0.5 s by default) for
purchases it has not seen, by increasing id, and records them in its own overlay; so a purchase
reaches every worker on the host and every server sharing the database within about a second,
with nothing but one indexed range query per poll. Recording a purchase twice (the receiving
process sees its own row come back) changes nothing but its place in the customer's list.

At start a process reads the purchases logged since the build it serves was created, so a
worker started (or restarted) after a purchase knows it too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from recograph import db
from recograph.models import Event
from recograph.online.state import ServingState
from recograph.stores import DEFAULT_STORE

logger = logging.getLogger(__name__)

BATCH = 5000


def _build_time(state: ServingState) -> datetime | None:
    loaded = state.current
    if loaded is None:
        return None
    raw = loaded.snapshot.manifest.get("created_at")
    try:
        moment = datetime.fromisoformat(str(raw))
    except ValueError:
        return None
    return moment.replace(tzinfo=None)  # the table stores naive UTC


class _PolledFeed:
    """What both feeds share: one lazily created database engine, polled until told to stop;
    a subclass reads one batch in `poll_once` (how many rows it read)."""

    database_url: str
    what = "live purchases"
    _engine: AsyncEngine | None = None

    def _connect(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = db.create_engine(self.database_url)
        return self._engine

    async def poll_once(self) -> int:
        raise NotImplementedError

    async def run(self, seconds: float) -> None:
        """Poll forever; a failed poll (database away) is logged and retried."""
        while True:
            try:
                while await self.poll_once() == BATCH:
                    pass
            except Exception as error:  # the feed must never take the server down
                logger.warning("reading %s failed: %s", self.what, error)
            await asyncio.sleep(seconds)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None


class LivePurchaseFeed(_PolledFeed):
    """Polls the events table for purchases made through any process."""

    def __init__(self, state: ServingState, database_url: str, store: str = DEFAULT_STORE) -> None:
        self.state = state
        self.database_url = database_url
        self.store = store  # only this store's purchases: another store's ids mean nothing
        self.last_id: int | None = None
        self.applied = 0
        self._engine: AsyncEngine | None = None

    async def _start_id(self) -> int:
        """The id after which purchases are new to this process."""
        since = _build_time(self.state)
        table = Event.__table__
        async with self._connect().connect() as connection:
            if since is None:
                value = await connection.scalar(select(func.max(table.c.id)))
            else:
                value = await connection.scalar(
                    select(func.max(table.c.id)).where(table.c.created_at < since)
                )
        return int(value or 0)

    async def poll_once(self) -> int:
        """Record every purchase logged since the last poll; returns how many."""
        if self.last_id is None:
            self.last_id = await self._start_id()
        table = Event.__table__
        query = (
            select(table.c.id, table.c.customer_id, table.c.product_id)
            .where(
                table.c.id > self.last_id,
                table.c.store == self.store,
                table.c.type == "PURCHASE",
                table.c.customer_id.is_not(None),
            )
            .order_by(table.c.id)
            .limit(BATCH)
        )
        async with self._connect().connect() as connection:
            rows = (await connection.execute(query)).all()
        for row_id, customer_id, product_id in rows:
            self.state.record_purchase(int(customer_id), int(product_id))
            self.last_id = int(row_id)
        self.applied += len(rows)
        return len(rows)

    async def catch_up(self) -> int:
        """Read every purchase since the build at once (a store loaded on first use); the
        engine is closed afterwards. Returns how many were applied."""
        try:
            while await self.poll_once() == BATCH:
                pass
        finally:
            await self.close()
        return self.applied


class NamedStoresFeed(_PolledFeed):
    """Purchases of every loaded named store, in one query per poll whatever their number.

    A store loaded later first catches up on its own purchases since its build
    (`LivePurchaseFeed.catch_up`); from then on this feed, started with the process, passes
    it each new purchase of that store (``states(store)`` gives its state, None when it is not
    loaded: the purchase is read again from the table if it is loaded later)."""

    what = "live purchases of the named stores"

    def __init__(self, states: Callable[[str], ServingState | None], database_url: str) -> None:
        self.states = states
        self.database_url = database_url
        self.last_id: int | None = None
        self.applied = 0
        self._engine: AsyncEngine | None = None

    async def poll_once(self) -> int:
        """Pass on every named store's purchase logged since the last poll; returns how many
        rows were read."""
        table = Event.__table__
        async with self._connect().connect() as connection:
            if self.last_id is None:
                self.last_id = int(await connection.scalar(select(func.max(table.c.id))) or 0)
            query = (
                select(table.c.id, table.c.store, table.c.customer_id, table.c.product_id)
                .where(
                    table.c.id > self.last_id,
                    table.c.store != DEFAULT_STORE,
                    table.c.type == "PURCHASE",
                    table.c.customer_id.is_not(None),
                )
                .order_by(table.c.id)
                .limit(BATCH)
            )
            rows = (await connection.execute(query)).all()
        for row_id, store, customer_id, product_id in rows:
            state = self.states(str(store))
            if state is not None:
                state.record_purchase(int(customer_id), int(product_id))
                self.applied += 1
            self.last_id = int(row_id)
        return len(rows)
