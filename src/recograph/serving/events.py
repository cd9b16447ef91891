"""Impressions and events, written to the database in batches off the request path.

Requests only put a row on a bounded in-memory queue (`submit`, never awaits); one background
task takes rows off it and inserts them in batches. When the queue is full the row is dropped
and counted in ``overflow`` rather than slowing responses down. `stop` writes everything
still queued, so a clean shutdown loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from recograph import db
from recograph.models import Event, Impression, utcnow

logger = logging.getLogger(__name__)

TableName = Literal["impressions", "events"]
_TABLES: dict[TableName, Table] = {
    "impressions": Impression.__table__,  # type: ignore[dict-item]
    "events": Event.__table__,  # type: ignore[dict-item]
}
IDLE_POLL_SECONDS = 0.02


@dataclass
class WriterStats:
    """Counters of one writer, for /readyz and tests."""

    queued: int = 0
    written: dict[str, int] = field(default_factory=lambda: {"impressions": 0, "events": 0})
    overflow: int = 0
    failed: int = 0


class EventWriter:
    """Async batched writer of impression and event rows into ``database_url``.

    ``database_url=None`` keeps the queue but discards rows (counted as written nowhere):
    useful for a server without a database.
    """

    def __init__(
        self,
        database_url: str | None,
        *,
        queue_size: int = 10_000,
        batch_size: int = 200,
        flush_seconds: float = 0.5,
        engine_factory: Callable[[str], AsyncEngine] = db.create_engine,
    ) -> None:
        self.database_url = database_url
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self._engine_factory = engine_factory
        self._queue: asyncio.Queue[tuple[TableName, dict[str, Any]]] = asyncio.Queue(queue_size)
        self._engine: AsyncEngine | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.stats = WriterStats()

    # ------------------------------------------------------------------ request side

    def submit(self, table: TableName, row: dict[str, Any]) -> bool:
        """Queue one row without waiting; False (and ``overflow`` + 1) when the queue is full."""
        row.setdefault("created_at", utcnow())
        try:
            self._queue.put_nowait((table, row))
        except asyncio.QueueFull:
            self.stats.overflow += 1
            if self.stats.overflow == 1 or self.stats.overflow % 1000 == 0:
                logger.warning("log queue full: %d rows dropped so far", self.stats.overflow)
            return False
        self.stats.queued += 1
        return True

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self.database_url is not None:
            self._engine = self._engine_factory(self.database_url)
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="recograph-event-writer")

    async def stop(self) -> None:
        """Write every queued row, then release the database."""
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self._flush_all()
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
        logger.info(
            "event writer stopped: %s written, %d dropped (queue full), %d failed",
            self.stats.written,
            self.stats.overflow,
            self.stats.failed,
        )

    async def flush(self) -> None:
        """Write what is queued now (tests, and shutdown)."""
        await self._flush_all()

    # ------------------------------------------------------------------ writer side

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            if self._queue.empty():
                await self._wait(IDLE_POLL_SECONDS)
                continue
            deadline = loop.time() + self.flush_seconds
            while (
                self._queue.qsize() < self.batch_size
                and loop.time() < deadline
                and not self._stopping.is_set()
            ):
                await self._wait(min(IDLE_POLL_SECONDS, max(0.0, deadline - loop.time())))
            await self._write(self._take(self.batch_size))

    async def _wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    def _take(self, limit: int) -> list[tuple[TableName, dict[str, Any]]]:
        batch: list[tuple[TableName, dict[str, Any]]] = []
        while len(batch) < limit:
            try:
                batch.append(self._queue.get_nowait())
            except asyncio.QueueEmpty:
                break
        return batch

    async def _flush_all(self) -> None:
        while not self._queue.empty():
            await self._write(self._take(self.batch_size))

    async def _write(self, batch: list[tuple[TableName, dict[str, Any]]]) -> None:
        if not batch:
            return
        by_table: dict[TableName, list[dict[str, Any]]] = {}
        for table, row in batch:
            by_table.setdefault(table, []).append(row)
        if self._engine is None:
            return
        try:
            async with self._engine.begin() as connection:
                for table, rows in by_table.items():
                    await connection.execute(insert(_TABLES[table]), rows)
        except Exception:  # the log must never take the server down
            self.stats.failed += len(batch)
            logger.exception("could not write %d log rows", len(batch))
            return
        for table, rows in by_table.items():
            self.stats.written[table] += len(rows)


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
