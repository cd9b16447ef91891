"""Impressions and events, written to the database in batches off the request path.

Requests only append a row to a bounded in-memory buffer (`submit`, never awaits); one
background task writes the oldest rows in batches. The task sleeps until there is something
to do: the first row after an empty buffer wakes it, then it waits ``flush_seconds`` for the
batch to fill (a full batch wakes it at once); it never polls (it woke every 20 ms before:
≈ 13 ms of CPU a second for an idle server, ≈ 0.04 ms a request at 300 requests a second).
A row leaves the buffer only once its batch is committed, so while the database is
unavailable or locked rows wait and are written, in order, when it answers again (retried
with a growing pause up to `MAX_RETRY_SECONDS`).

Where rows go: a SQLite file is written with the standard library's ``sqlite3`` in one thread
of the writer's own (`SqliteSink`: multi-row INSERTs, one transaction a batch; the writer's
thread spends ≈ 22 µs of CPU on a storefront impression while requests keep the event loop
busy, where one ``executemany`` a batch took ≈ 33 and SQLAlchemy's async engine, through
aiosqlite and greenlets, more); any other URL (PostgreSQL) goes through a SQLAlchemy async
engine (`EngineSink`).

Overflow policy: the buffer holds at most ``queue_size`` rows; when it is full the *new* row
is refused (`submit` returns False, ``recordEvent`` answers ``accepted: false``) and counted
in ``overflow``, so a client always knows whether its event was kept and rows already kept are
never pushed out. A batch the database refuses for its content (a constraint, not an outage)
is written row by row and the rows it still refuses are dropped and counted in ``failed``.
`stop` keeps retrying for ``shutdown_seconds`` to write everything buffered; rows still
unwritten after that are counted in ``lost`` and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import sqlite3
import sys
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import orjson
from sqlalchemy import JSON, Column, DateTime, Table, event, insert
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine

from recograph import db
from recograph.models import Event, Impression, utcnow

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

TableName = Literal["impressions", "events"]
Row = tuple[TableName, dict[str, Any]]
_TABLES: dict[TableName, Table] = {
    "impressions": Impression.__table__,  # type: ignore[dict-item]
    "events": Event.__table__,  # type: ignore[dict-item]
}
# One Core INSERT per table, built once: every batch reuses the same statement object, so
# SQLAlchemy finds its compiled form in the cache at once; rows stay plain dicts (no ORM
# objects), one executemany per table and batch.
_INSERTS = {name: insert(table) for name, table in _TABLES.items()}
FIRST_RETRY_SECONDS = 0.05
MAX_RETRY_SECONDS = 2.0
NEVER = sys.maxsize  # a row count the buffer never reaches: only a timer or `stop` wakes
# Failures that say "the database is not there right now", not "this row is wrong" (a plain
# sqlite3 connection raises OperationalError for a lock held too long or a missing table).
_TRANSIENT = (
    OperationalError,
    sqlite3.OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeoutError,
    OSError,
    TimeoutError,
)


@dataclass
class WriterStats:
    """Counters of one writer, for /readyz and tests.

    ``queued``: rows accepted into the buffer; ``written``: rows committed per table;
    ``overflow``: rows refused because the buffer was full; ``failed``: rows the database
    refused for their content; ``retries``: write attempts that failed and will be retried;
    ``lost``: rows still buffered when shutdown gave up; ``buffered``: rows waiting now.
    """

    queued: int = 0
    written: dict[str, int] = field(default_factory=lambda: {"impressions": 0, "events": 0})
    overflow: int = 0
    failed: int = 0
    retries: int = 0
    lost: int = 0
    buffered: int = 0


def is_transient(error: BaseException) -> bool:
    """True when a write failed because the database is unavailable, locked or gone."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, _TRANSIENT)


class EventWriter:
    """Async batched writer of impression and event rows into ``database_url``.

    ``database_url=None`` keeps the buffer but discards rows (counted as written nowhere):
    useful for a server without a database.
    """

    def __init__(
        self,
        database_url: str | None,
        *,
        queue_size: int = 10_000,
        batch_size: int = 200,
        flush_seconds: float = 0.5,
        shutdown_seconds: float = 10.0,
        engine_factory: Callable[[str], AsyncEngine] | None = None,
    ) -> None:
        self.database_url = database_url
        self.queue_size = queue_size
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.shutdown_seconds = shutdown_seconds
        self._engine_factory = engine_factory
        self._buffer: deque[Row] = deque()
        self._sink: Sink | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # the background task's sleep (`_sleep`), ended early by `_wake`
        self._waiter: asyncio.Future[None] | None = None
        self._wake_at_rows = NEVER
        self._retry_seconds = 0.0
        # One writer at a time: `flush` and the background task must not take the same batch.
        self._write_lock = asyncio.Lock()
        self.stats = WriterStats()

    # ------------------------------------------------------------------ request side

    def submit(self, table: TableName, row: dict[str, Any]) -> bool:
        """Buffer one row without waiting; False (and ``overflow`` + 1) when the buffer is full."""
        if len(self._buffer) >= self.queue_size:
            self.stats.overflow += 1
            if self.stats.overflow == 1 or self.stats.overflow % 1000 == 0:
                logger.warning(
                    "log buffer full (%d rows): %d new rows refused so far",
                    self.queue_size,
                    self.stats.overflow,
                )
            return False
        if "created_at" not in row:  # `impression_row` sets it already
            row["created_at"] = utcnow()
        self._buffer.append((table, row))
        self.stats.queued += 1
        buffered = self.stats.buffered = len(self._buffer)
        if buffered >= self._wake_at_rows:
            self._wake()
        return True

    @property
    def buffered(self) -> int:
        """Rows accepted and not written yet."""
        return len(self._buffer)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self.database_url is not None:
            self._sink = open_sink(self.database_url, self._engine_factory)
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="recograph-event-writer")

    async def stop(self) -> None:
        """Write every buffered row (retrying for up to ``shutdown_seconds``), then release
        the database."""
        self._stopping = True
        self._wake()
        if self._task is not None:
            await self._task
            self._task = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.shutdown_seconds
        while self._buffer:
            if await self._write_next():
                continue
            if loop.time() >= deadline:
                break
            await asyncio.sleep(min(self._retry_seconds, max(0.0, deadline - loop.time())))
        if self._buffer:
            self.stats.lost += len(self._buffer)
            logger.error(
                "database still unavailable after %.1fs: %d log rows lost",
                self.shutdown_seconds,
                len(self._buffer),
            )
            self._buffer.clear()
            self.stats.buffered = 0
        if self._sink is not None:
            await self._sink.close()
            self._sink = None
        logger.info(
            "event writer stopped: %s written, %d refused (buffer full), %d failed, %d lost",
            self.stats.written,
            self.stats.overflow,
            self.stats.failed,
            self.stats.lost,
        )

    async def flush(self) -> bool:
        """Try to write everything buffered now; False when the database did not take it."""
        while self._buffer:
            if not await self._write_next():
                return False
        return True

    # ------------------------------------------------------------------ writer side

    async def _run(self) -> None:
        while not self._stopping:
            if not self._buffer:
                await self._sleep(None, wake_at_rows=1)
                continue
            if len(self._buffer) < self.batch_size:
                await self._sleep(self.flush_seconds, wake_at_rows=self.batch_size)
            if not await self._write_next():
                await self._sleep(self._retry_seconds, wake_at_rows=NEVER)

    async def _sleep(self, seconds: float | None, *, wake_at_rows: int) -> None:
        """Sleep for ``seconds`` (None: until woken), or until `submit` has buffered
        ``wake_at_rows`` rows, or until `stop`: one future and at most one timer, no task."""
        if self._stopping:
            return
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        self._wake_at_rows = wake_at_rows
        timer = None if seconds is None else loop.call_later(seconds, _resolve, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            self._wake_at_rows = NEVER
            if timer is not None:
                timer.cancel()

    def _wake(self) -> None:
        if self._waiter is not None:
            _resolve(self._waiter)

    async def _write_next(self) -> bool:
        """Write the oldest batch; True when it left the buffer (written or refused for its
        content), False when the database was unavailable and the batch stays."""
        async with self._write_lock:
            return await self._write_oldest()

    async def _write_oldest(self) -> bool:
        batch = list(itertools.islice(self._buffer, self.batch_size))
        if not batch:
            return True
        try:
            await self._insert(batch)
        except Exception as error:  # the log must never take the server down
            if is_transient(error):
                self.stats.retries += 1
                self._retry_seconds = min(
                    MAX_RETRY_SECONDS, max(FIRST_RETRY_SECONDS, 2 * self._retry_seconds)
                )
                if self.stats.retries == 1 or self.stats.retries % 100 == 0:
                    logger.warning(
                        "database unavailable (%s); %d log rows buffered, retrying in %.2fs",
                        _short(error),
                        len(self._buffer),
                        self._retry_seconds,
                    )
                return False
            logger.exception("the database refused a batch of %d log rows", len(batch))
            await self._insert_one_by_one(batch)
        else:
            self._count_written(batch)
        self._retry_seconds = 0.0
        for _ in batch:
            self._buffer.popleft()
        self.stats.buffered = len(self._buffer)
        return True

    async def _insert(self, batch: list[Row]) -> None:
        if self._sink is None:
            return
        by_table: dict[TableName, list[dict[str, Any]]] = {}
        for table, row in batch:
            by_table.setdefault(table, []).append(row)
        await self._sink.insert(by_table)

    async def _insert_one_by_one(self, batch: list[Row]) -> None:
        """After a refused batch: keep every row the database accepts on its own."""
        for row in batch:
            try:
                await self._insert([row])
            except Exception as error:
                self.stats.failed += 1
                logger.error("log row refused by the database: %s", _short(error))
            else:
                self._count_written([row])

    def _count_written(self, batch: list[Row]) -> None:
        if self._sink is None:
            return
        for table, _ in batch:
            self.stats.written[table] += 1


# An appending writer needs few cached pages; `db.create_engine` sizes SQLite's page cache for
# bulk imports (128 MiB), which a long-running server would fill with pages of the log it writes
# (RSS grew ~4 MB/min under `recograph bench load` at 100 req/s).
WRITER_CACHE_KIB = 4096
WRITER_CACHE_PRAGMA = "PRAGMA cache_size=-4096"  # a literal: no SQL is built by formatting


def _small_cache(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(WRITER_CACHE_PRAGMA)
    finally:
        cursor.close()


def _json_text(value: Any) -> str:
    """JSON columns as orjson writes them: the writer's rows cost about half the CPU of the
    standard library's encoder (the same JSON, without the spaces)."""
    return orjson.dumps(value).decode()


def writer_engine(url: str) -> AsyncEngine:
    """`db.create_engine` with a small SQLite page cache (WAL and busy timeout unchanged) and
    orjson for the JSON columns."""
    engine = db.create_engine(url, json_serializer=_json_text)
    if db.is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _small_cache)
    return engine


RowsByTable = dict[TableName, list[dict[str, Any]]]


class Sink(Protocol):
    """Where the writer's batches go: each `insert` is one transaction (all rows or none)."""

    async def insert(self, rows: RowsByTable) -> None: ...

    async def close(self) -> None: ...


def open_sink(url: str, engine_factory: Callable[[str], AsyncEngine] | None = None) -> Sink:
    """A plain ``sqlite3`` sink for a SQLite file (unless an engine factory is given), a
    SQLAlchemy engine for anything else."""
    path = db.sqlite_path(url)
    if path is not None and engine_factory is None:
        return SqliteSink(path)
    return EngineSink((engine_factory or writer_engine)(url))


class EngineSink:
    """Batches through a SQLAlchemy async engine (PostgreSQL, or any URL SQLAlchemy takes)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def insert(self, rows: RowsByTable) -> None:
        async with self.engine.begin() as connection:
            for table, table_rows in rows.items():
                complete = _COLUMNS[table].complete
                await connection.execute(_INSERTS[table], [complete(row) for row in table_rows])

    async def close(self) -> None:
        await self.engine.dispose()


def _none() -> None:
    return None


def _sqlite_datetime(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(" ", "microseconds")


def _column_default(column: Column[Any]) -> Callable[[], Any]:
    """The column's Python-side default as a function of nothing (None when it has none)."""
    default = column.default
    if default is None:
        return _none
    if default.is_callable:
        function = default.arg  # type: ignore[attr-defined]
        return lambda: function(None)
    constant = default.arg  # type: ignore[attr-defined]
    return lambda: constant


class Columns:
    """A table's columns as the writer fills them: every column but the autoincremented key,
    a missing value replaced by the column's default (SQLAlchemy's executemany would take
    the columns of the batch's first row for every row), and for SQLite each value stored
    as SQLAlchemy stores it (JSON as compact text, date-times as ``YYYY-MM-DD
    HH:MM:SS.ffffff``)."""

    def __init__(self, table: Table) -> None:
        columns = [c for c in table.columns if not (c.primary_key and c.autoincrement)]
        self.names = tuple(column.name for column in columns)
        self._defaults = {column.name: _column_default(column) for column in columns}
        encoders: list[tuple[int, Callable[[Any], Any]]] = []
        for index, column in enumerate(columns):
            if isinstance(column.type, JSON):
                encoders.append((index, _json_text))
            elif isinstance(column.type, DateTime):
                encoders.append((index, _sqlite_datetime))
        self._encoders = tuple(encoders)

    def complete(self, row: dict[str, Any]) -> dict[str, Any]:
        """``row`` with every column, defaults filled in."""
        defaults = self._defaults
        return {name: row[name] if name in row else defaults[name]() for name in self.names}

    def sqlite_values(self, row: dict[str, Any]) -> list[Any]:
        """The values of ``row`` in column order, as stored in SQLite."""
        defaults = self._defaults
        values = [row[name] if name in row else defaults[name]() for name in self.names]
        for index, encode in self._encoders:
            values[index] = encode(values[index])
        return values


_COLUMNS = {name: Columns(table) for name, table in _TABLES.items()}


class SqliteThread:
    """One plain ``sqlite3`` connection to a SQLite file, made and used only in a thread of its
    own (WAL, the busy timeout and a small page cache as `writer_engine` sets them): what the
    writer (`SqliteSink`) and the live purchase feeds (`recograph.online.live`) use instead of
    SQLAlchemy's async engine, whose aiosqlite thread hops and greenlets cost ≈ 1 ms of CPU a
    query where this costs tens of microseconds."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._connection: sqlite3.Connection | None = None

    async def run(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """``work(connection)`` in the connection's thread."""
        return await asyncio.get_running_loop().run_in_executor(
            self._thread, lambda: work(self._connect())
        )

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close)
        self._thread.shutdown(wait=True)

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)  # as `db.create_engine` does
            connection = sqlite3.connect(
                self.path,
                timeout=db.SQLITE_BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,  # transactions are begun and committed explicitly
                check_same_thread=False,  # made in the thread, used only there
            )
            try:
                db.set_sqlite_pragmas(connection)
                _small_cache(connection, None)
            except sqlite3.Error:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class SqliteSink:
    """Batches into a SQLite file with plain ``sqlite3`` (`SqliteThread`): multi-row INSERTs
    (`statement_chunks`) in one ``BEGIN IMMEDIATE`` transaction. A lock held past the
    timeout or a missing table raises ``sqlite3.OperationalError`` (retried), a refused row
    ``sqlite3.IntegrityError``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._sqlite = SqliteThread(path, "recograph-log")

    async def insert(self, rows: RowsByTable) -> None:
        await self._sqlite.run(lambda connection: _write(connection, rows))

    async def close(self) -> None:
        await self._sqlite.close()


def _write(connection: sqlite3.Connection, rows: RowsByTable) -> None:
    connection.execute("BEGIN IMMEDIATE")
    try:
        for table, table_rows in rows.items():
            columns = _COLUMNS[table]
            values = [columns.sqlite_values(row) for row in table_rows]
            for start, count in statement_chunks(len(values)):
                connection.execute(
                    _sqlite_insert_rows(table, count),
                    [value for row in values[start : start + count] for value in row],
                )
        connection.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")
        raise


# Rows go in as multi-row INSERTs of at most this many rows (a power of two): `sqlite3`
# releases the GIL around every statement step, and ``executemany`` steps once per row, so
# while requests kept the event loop busy every logged row waited for the GIL twice (in a
# test with one busy Python thread: 84 µs of CPU and 4 ms a row, against 10 µs idle); one
# statement per chunk waits once per chunk (14-20 µs a row under the same load).
MAX_ROWS_PER_STATEMENT = 128


def statement_chunks(n_rows: int) -> list[tuple[int, int]]:
    """(start, count) of consecutive chunks covering ``n_rows`` rows: full chunks of
    `MAX_ROWS_PER_STATEMENT`, then the binary digits of the rest (at most 8 statement
    shapes a table, each prepared once by ``sqlite3``'s statement cache)."""
    chunks = []
    start = 0
    count = MAX_ROWS_PER_STATEMENT
    while start < n_rows:
        while count > n_rows - start:
            count //= 2
        chunks.append((start, count))
        start += count
    return chunks


@functools.cache
def _sqlite_insert_rows(table: TableName, n_rows: int) -> str:
    """The SQLite INSERT of ``n_rows`` rows (``VALUES (...), (...)``), written by SQLAlchemy
    (no SQL is built by formatting here); its positional parameters are the rows'
    `Columns.sqlite_values`, one row after another."""
    columns = _COLUMNS[table]
    statement = insert(_TABLES[table]).values([dict.fromkeys(columns.names)] * n_rows)
    compiled = statement.compile(dialect=sqlite_dialect())
    expected = [f"{name}_m{row}" for row in range(n_rows) for name in columns.names]
    assert compiled.positiontup == expected
    return str(compiled)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:200]


def impression_row(
    *,
    request_id: str,
    customer_id: int | None,
    session_id: str | None,
    model_version: str,
    strategy: str,
    page_type: str | None,
    context: dict[str, Any],
    items: list[dict[str, Any]],
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """A row of the ``impressions`` table."""
    return {
        "request_id": request_id,
        "customer_id": customer_id,
        "session_id": session_id,
        "model_version": model_version,
        "strategy": strategy,
        "variant": None,
        "page_type": page_type,
        "context": context,
        "items": items,
        "created_at": created_at or utcnow(),
    }
