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
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import DateTime, Integer, Select, String, bindparam, func, select
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect

from recograph import db
from recograph.models import Event
from recograph.online.events import SqliteThread
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


class CompiledQuery:
    """A select compiled once for SQLite (``?`` parameters): its SQL and its parameters in
    order, each value its bound default unless given by name (`values`)."""

    def __init__(self, query: Select[Any]) -> None:
        compiled = query.compile(dialect=sqlite_dialect())
        self.sql = str(compiled)
        self._names = list(compiled.positiontup or ())
        self._defaults = dict(compiled.params)
        # each value stored as SQLAlchemy binds it (a date-time as SQLite text, for one)
        dialect = compiled.dialect
        self._processors = [compiled.binds[n].type.bind_processor(dialect) for n in self._names]

    def values(self, given: dict[str, Any]) -> list[Any]:
        values = [given[name] if name in given else self._defaults[name] for name in self._names]
        return [
            value if process is None else process(value)
            for value, process in zip(values, self._processors, strict=True)
        ]


class QueryReader(Protocol):
    """Where the feeds read: `rows` of a select with named parameter values."""

    async def rows(self, query: Select[Any], values: dict[str, Any]) -> Sequence[Any]: ...

    async def close(self) -> None: ...


class SqliteReader:
    """A SQLite file read with plain ``sqlite3`` in a thread of its own (`SqliteThread`): a
    poll costs ≈ 0.05 ms of CPU where SQLAlchemy's async engine took ≈ 0.95 (two feeds, two
    polls a second each: ≈ 4 ms of CPU a second in every worker, busy or idle)."""

    def __init__(self, path: Path) -> None:
        self._sqlite = SqliteThread(path, "recograph-live")
        self._compiled: dict[int, CompiledQuery] = {}

    async def rows(self, query: Select[Any], values: dict[str, Any]) -> Sequence[Any]:
        compiled = self._compiled.get(id(query))
        if compiled is None:  # the feeds keep their queries: compiled once each
            compiled = self._compiled[id(query)] = CompiledQuery(query)
        sql, parameters = compiled.sql, compiled.values(values)
        rows: list[Any] = await self._sqlite.run(lambda c: c.execute(sql, parameters).fetchall())
        return rows

    async def close(self) -> None:
        await self._sqlite.close()


class EngineReader:
    """Any other database through a SQLAlchemy async engine."""

    def __init__(self, url: str) -> None:
        self.engine = db.create_engine(url)

    async def rows(self, query: Select[Any], values: dict[str, Any]) -> Sequence[Any]:
        async with self.engine.connect() as connection:
            rows: Sequence[Any] = (await connection.execute(query, values)).all()
        return rows

    async def close(self) -> None:
        await self.engine.dispose()


def open_reader(url: str) -> QueryReader:
    path = db.sqlite_path(url)
    return EngineReader(url) if path is None else SqliteReader(path)


# the id after which rows are read, a parameter of every feed query
AFTER = bindparam("after", type_=Integer)
_MAX_ID = select(func.max(Event.__table__.c.id))


class _PolledFeed:
    """What both feeds share: one lazily opened reader, polled until told to stop; a
    subclass reads one batch in `poll_once` (how many rows it read)."""

    database_url: str
    what = "live purchases"
    _reader: QueryReader | None = None

    async def _rows(self, query: Select[Any], **values: Any) -> Sequence[Any]:
        if self._reader is None:
            self._reader = open_reader(self.database_url)
        return await self._reader.rows(query, values)

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
        if self._reader is not None:
            await self._reader.close()
            self._reader = None


_EVENTS = Event.__table__
_PURCHASES = (
    _EVENTS.c.id > AFTER,
    _EVENTS.c.type == "PURCHASE",
    _EVENTS.c.customer_id.is_not(None),
)
# a store's purchases after an id; the id the purchases since the build come after
_STORE_PURCHASES = (
    select(_EVENTS.c.id, _EVENTS.c.customer_id, _EVENTS.c.product_id)
    .where(*_PURCHASES, _EVENTS.c.store == bindparam("store", type_=String))
    .order_by(_EVENTS.c.id)
    .limit(BATCH)
)
_MAX_ID_BEFORE = _MAX_ID.where(_EVENTS.c.created_at < bindparam("since", type_=DateTime))
# every named store's purchases after an id
_NAMED_PURCHASES = (
    select(_EVENTS.c.id, _EVENTS.c.store, _EVENTS.c.customer_id, _EVENTS.c.product_id)
    .where(*_PURCHASES, _EVENTS.c.store != DEFAULT_STORE)
    .order_by(_EVENTS.c.id)
    .limit(BATCH)
)


class LivePurchaseFeed(_PolledFeed):
    """Polls the events table for purchases made through any process."""

    def __init__(self, state: ServingState, database_url: str, store: str = DEFAULT_STORE) -> None:
        self.state = state
        self.database_url = database_url
        self.store = store  # only this store's purchases: another store's ids mean nothing
        self.last_id: int | None = None
        self.applied = 0
        self._reader = None

    async def _start_id(self) -> int:
        """The id after which purchases are new to this process."""
        since = _build_time(self.state)
        if since is None:
            rows = await self._rows(_MAX_ID)
        else:
            rows = await self._rows(_MAX_ID_BEFORE, since=since)
        return int(rows[0][0] or 0)

    async def poll_once(self) -> int:
        """Record every purchase logged since the last poll; returns how many."""
        if self.last_id is None:
            self.last_id = await self._start_id()
        rows = await self._rows(_STORE_PURCHASES, after=self.last_id, store=self.store)
        for row_id, customer_id, product_id in rows:
            self.state.record_purchase(int(customer_id), int(product_id))
            self.last_id = int(row_id)
        self.applied += len(rows)
        return len(rows)

    async def catch_up(self) -> int:
        """Read every purchase since the build at once (a store loaded on first use); the
        reader is closed afterwards. Returns how many were applied."""
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
        self._reader = None

    async def poll_once(self) -> int:
        """Pass on every named store's purchase logged since the last poll; returns how many
        rows were read."""
        if self.last_id is None:
            self.last_id = int((await self._rows(_MAX_ID))[0][0] or 0)
        rows = await self._rows(_NAMED_PURCHASES, after=self.last_id)
        for row_id, store, customer_id, product_id in rows:
            state = self.states(str(store))
            if state is not None:
                state.record_purchase(int(customer_id), int(product_id))
                self.applied += 1
            self.last_id = int(row_id)
        return len(rows)
