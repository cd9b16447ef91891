#!/usr/bin/env python
"""Where a storefront request's server CPU goes, in process: the whole ASGI request and the
engine alone.

``python scripts/profile_request.py --artifacts ROOT [--requests N] [--profile engine|app]
[--compare-direct]``
drives the served app (``create_app`` with its lifespan, the event writer logging into a
throwaway SQLite database, the compiled-document path) by direct ASGI calls, without an HTTP
client or server in the profile, with the benchmark's storefront query (`recograph bench
serve`: recommendations, limit 10, product fields, reason, contributions, a cart of two) for
a different customer on every request. It prints the process CPU per request of the whole
request and of `engine.recommend` alone on the same requests, and with ``--profile`` the
cProfile top functions (cumulative and own time) of one of them.

CPU is process time (every thread: aiosqlite's writer thread included), so the figure does
not depend on how busy the machine is; but on this shared 2-core machine the CPU a run takes
still varies by up to 1.7x with what else runs (caches and cores shared), the engine and the
rest alike. So ``engine.recommend`` is timed inside the same runs (its thread's CPU, around each
call the resolver makes) and "the rest" is the whole minus the engine of the very same run:
taking the best app run and the best engine run from separate runs, as before, made the rest
swing between 0.4 and 0.9 ms. The figures are those of the least disturbed of ``--repeat``
runs, with the rest's share of the whole (steady within a few percent) as a check.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import dataclasses
import io
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from recograph import db, engine
from recograph.online.config import ServingConfig
from recograph.serving.app import create_app
from recograph.settings import Settings
from recograph_lab.bench.serve import QUERY  # the storefront document `bench serve` sends


def _bodies(app: Any, n: int) -> list[bytes]:
    """``n`` request bodies: customers in turn (every customer of the build, cycled), each
    with a cart of two products that vary with the customer."""
    loaded = app.state.services.state.current
    snapshot = loaded.snapshot
    customers = snapshot.histories.user_ids.tolist()
    products = snapshot.catalogue.item_ids.tolist()
    bodies = []
    for i in range(n):
        cart = [products[(7 * i) % len(products)], products[(7 * i + 3) % len(products)]]
        variables = {"customerId": customers[i % len(customers)], "cart": cart}
        bodies.append(orjson.dumps({"query": QUERY, "variables": variables}))
    return bodies


def graphql_post_scope(body: bytes) -> dict[str, Any]:
    """The ASGI scope of a JSON POST /graphql carrying ``body`` (loopback client and server)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def _call(app: Callable[..., Awaitable[None]], body: bytes) -> bytes:
    """One POST /graphql through the ASGI app; the response body."""
    scope = graphql_post_scope(body)
    sent = False
    chunks: list[bytes] = []
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    if status != 200:
        raise RuntimeError(f"status {status}: {b''.join(chunks)[:300]!r}")
    return b"".join(chunks)


async def _app_run(app: Any, bodies: list[bytes]) -> float:
    """CPU seconds for the bodies, one after another, letting the writer run in between."""
    started = time.process_time()
    for body in bodies:
        answer = await _call(app, body)
        if b'"errors"' in answer:
            raise RuntimeError(answer[:300].decode())
        await asyncio.sleep(0)  # the event writer's turn, as between two HTTP requests
    await app.state.services.events.flush()
    return time.process_time() - started


@contextlib.contextmanager
def _engine_timed() -> Iterator[list[float]]:
    """``engine.recommend`` (as the resolver calls it) timed: the CPU seconds of the calling
    thread inside it, summed into the list yielded (one element)."""
    spent = [0.0]
    recommend = engine.recommend

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return recommend(*args, **kwargs)
        finally:
            spent[0] += time.thread_time() - started

    engine.recommend = timed
    try:
        yield spent
    finally:
        engine.recommend = recommend


@dataclasses.dataclass(frozen=True)
class Split:
    """One run's CPU per request (ms): the whole request and the engine inside it."""

    whole: float
    engine: float

    @property
    def rest(self) -> float:
        return self.whole - self.engine


async def _split_run(app: Any, bodies: list[bytes]) -> Split:
    """One run of the bodies, its CPU split between the engine and the rest."""
    with _engine_timed() as spent:
        whole = await _app_run(app, bodies)
    n = len(bodies)
    return Split(whole / n * 1e3, spent[0] / n * 1e3)


def _best_split(runs: list[Split]) -> str:
    """The least disturbed run (least whole CPU), and the rest's median share of the whole."""
    best = min(runs, key=lambda r: r.whole)
    share = statistics.median(r.rest / r.whole for r in runs)
    return (
        f"whole request {best.whole:.3f} ms CPU, engine.recommend {best.engine:.3f} ms, "
        f"the rest {best.rest:.3f} ms (the rest's share, median of the runs: {share:.0%})"
    )


def _engine_requests(app: Any, bodies: list[bytes]) -> list[engine.Request]:
    """The engine requests the app makes for ``bodies`` (parsed as the resolver parses)."""
    from recograph.core.vocabulary import PageType
    from recograph.resolvers.recommendations import parse_request
    from recograph.schema.inputs import ContextInput

    loaded = app.state.services.state.current
    requests = []
    for body in bodies:
        variables = orjson.loads(body)["variables"]
        context = ContextInput(cart_product_ids=variables["cart"], page_type=PageType.CART)
        parsed = parse_request(
            loaded,
            customer_id=variables["customerId"],
            live_ids=(),
            context=context,
            limit=10,
            strategy=engine.Strategy.HYBRID,
            weights=None,
            filters=None,
        )
        requests.append(parsed.request)
    return requests


def _engine_run(app: Any, requests: list[engine.Request]) -> float:
    services = app.state.services
    snapshot = services.state.current.snapshot
    business = services.config.business_rules
    started = time.process_time()
    for request in requests:
        engine.recommend(snapshot, request, business)
    return time.process_time() - started


async def _compare_direct(app: Any, bodies: list[bytes], repeat: int) -> str:
    """The whole request three ways, interleaved in this process (the figures share the
    machine's load): graphql-core's execute with strawberry's resolver wrapper, graphql-core's
    execute with direct root resolvers, and the compiled operation plan (the default)."""
    documents = app.state.documents
    direct = documents.executor_class
    plain = app.state.schema.execution_context_class
    variants = {
        "execute + strawberry resolver wrapper": (plain, False),
        "execute + direct root resolvers": (direct, False),
        "operation plan": (direct, True),
    }
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    try:
        for _ in range(repeat):
            for name, (executor, plans) in variants.items():
                documents.executor_class, documents.run_plans = executor, plans
                cpu[name].append(await _app_run(app, bodies))
    finally:
        documents.executor_class, documents.run_plans = direct, True
    n = len(bodies)
    best = {name: min(values) / n * 1e3 for name, values in cpu.items()}
    return "whole request CPU, best of {}: {}".format(
        repeat, ", ".join(f"{name} {ms:.3f} ms" for name, ms in best.items())
    )


def _top(profile: cProfile.Profile, n: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.strip_dirs()
    stats.sort_stats("cumulative").print_stats(n)
    stats.sort_stats("tottime").print_stats(n)
    return out.getvalue()


async def main_async(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="recograph-profile-") as tmp:
        database_url = f"sqlite+aiosqlite:///{Path(tmp) / 'profile.db'}"
        await db.upgrade_schema(database_url)
        settings = Settings.from_env(
            {"RECOGRAPH_ARTIFACTS": str(args.artifacts), "RECOGRAPH_DATABASE_URL": database_url}
        )
        if args.no_database:
            settings = dataclasses.replace(settings, database_url="")
        config = ServingConfig(reload_poll_seconds=0, live_poll_seconds=0)
        app = create_app(settings, config=config, playground=False, freeze_gc=True)
        async with app.router.lifespan_context(app):
            bodies = _bodies(app, args.requests)
            await _app_run(app, bodies[: min(200, len(bodies))])  # warm: compile, plans, views
            runs = [await _split_run(app, bodies) for _ in range(args.repeat)]
            print(
                f"{len(bodies)} storefront requests (different customers), best of "
                f"{args.repeat} runs: {_best_split(runs)}"
            )
            if args.compare_direct:
                print(await _compare_direct(app, bodies, args.repeat))
            if args.profile is not None:
                profile = cProfile.Profile()
                if args.profile == "app":
                    profile.enable()
                    await _app_run(app, bodies)
                    profile.disable()
                else:
                    requests = _engine_requests(app, bodies)
                    profile.enable()
                    _engine_run(app, requests)
                    profile.disable()
                print(_top(profile, args.top))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--artifacts", type=Path, required=True, help="artifact root")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", choices=("app", "engine"))
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument(
        "--no-database",
        action="store_true",
        help="log impressions nowhere (the writer's cost left out)",
    )
    parser.add_argument(
        "--compare-direct",
        action="store_true",
        help="also time the compiled path without its operation plans and without direct root "
        "resolvers, interleaved",
    )
    args = parser.parse_args(argv)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
