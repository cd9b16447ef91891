"""A PostgreSQL server for tests: one fresh database per test, dropped afterwards.

The server comes from ``RECOGRAPH_TEST_POSTGRES_URL`` (``make test`` starts a throwaway one
through ``scripts/test_services.sh``); its database is only used to reach the server, tests
work in databases of their own created next to it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

URL_VARIABLE = "RECOGRAPH_TEST_POSTGRES_URL"
SERVER_URL = os.environ.get(URL_VARIABLE, "")

requires_postgres = pytest.mark.skipif(
    not SERVER_URL,
    reason=f"{URL_VARIABLE} is not set; run the tests through `make test` (or "
    "`bash scripts/test_services.sh .venv/bin/pytest`), which starts a throwaway PostgreSQL",
)

T = TypeVar("T")


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on a loop of its own in another thread.

    Fixtures use this so that they work the same for sync and async tests, whatever event
    loop pytest-asyncio has set on the main thread.
    """
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _admin(statement: str) -> None:
    # CREATE/DROP DATABASE cannot run in a transaction: autocommit on the server's own db.
    admin = make_url(SERVER_URL).set(database="postgres")
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def database_url(name: str) -> str:
    """The URL of database ``name`` on the test server, password included."""
    return make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)


def fresh_database(prefix: str = "recograph_test") -> Iterator[str]:
    """Create an empty database, yield its URL, drop it (closing leftover connections)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    run_sync(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield database_url(name)
    finally:
        run_sync(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
