"""``recograph bench load``: a storefront's traffic mix at a fixed offered rate, with memory watch.

The server runs in a child process on loopback (the ``recograph bench serve`` child: uvicorn,
one worker, a random free port, a temporary SQLite database for impressions and events) and
stops itself after a time budget. Requests are sent open-loop: request ``i`` is due at
``start + i / rate`` whatever the server does, and its latency is taken from that due time, so
queueing in a slow server shows. At most ``--max-in-flight`` requests are outstanding; a
request due while that many wait is counted as skipped (the server could not keep up). The run
is bounded by ``--seconds`` and ``--max-requests``.

The mix (weights in `MIX`) is what a shop's pages ask for: recommendations for a customer,
recommendations with a cart or product context (customers and anonymous visitors), similar
products, association rules, customer pages (orders and purchases), and recorded events.

The server's RSS is sampled every ``--sample-seconds`` with psutil. Memory counts as flat when
it grows by at most ``--max-rss-growth-mb`` between the end of the warm-up (the first
``--warmup`` share of the run) and the end. After the server has stopped, the rows in its log
are counted against the impressions and events it accepted. The command exits with status 1
when memory grew or an accepted row is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from recograph.progress import Progress, every, no_progress
from recograph.settings import Settings
from recograph.terminal import ProgressDisplay, console, help_description
from recograph_lab.bench.serve import JSON_HEADERS, bench_server, cpu_seconds, percentile

logger = logging.getLogger(__name__)

PRODUCT = "id name brand price inStock"
RECOMMEND = f"""
query Recommend($customerId: Int, $context: ContextInput, $sessionId: String) {{
  recommendations(customerId: $customerId, context: $context, limit: 10, sessionId: $sessionId) {{
    requestId modelVersion strategy
    items {{ rank score product {{ {PRODUCT} }} reason {{ kind text evidence {{ id name }} }} }}
  }}
}}"""
SIMILAR = f"""
query Similar($productId: Int!) {{
  similarProducts(productId: $productId, limit: 8) {{
    similarity sharedFeatures product {{ {PRODUCT} }} }}
}}"""
RULES = f"""
query Rules($productId: Int) {{
  associationRules(filter: {{level: PRODUCT, productId: $productId}}, first: 10) {{
    totalCount edges {{ node {{ lift confidence support
      antecedentProducts {{ id name }} consequentProducts {{ {PRODUCT} }} }} }} }}
}}"""
CUSTOMER = f"""
query CustomerPage($id: Int!) {{
  customer(id: $id) {{
    id name segment orderCount
    orders {{ id date status total lines {{ quantity price product {{ id name }} }} }}
    purchasedProducts {{ {PRODUCT} }}
  }}
}}"""
RECORD = """
mutation Record($input: EventInput!) {
  recordEvent(input: $input) { accepted livePurchases }
}"""
PICK = """
{ customers(first: 100) { edges { node { id orderCount } } }
  products(first: 100, filter: {inStock: true}) { edges { node { id } } }
  associationRules(first: 30, filter: {level: PRODUCT}) {
    edges { node { antecedentProducts { id } } } } }
"""

# Operation -> share of the requests.
MIX: dict[str, float] = {
    "recommendations": 0.25,
    "recommendations+context": 0.20,
    "similarProducts": 0.15,
    "associationRules": 0.10,
    "customerPage": 0.15,
    "recordEvent": 0.15,
}


@dataclass(frozen=True)
class Catalogue:
    """Ids picked from the served build, to make requests with."""

    customers: tuple[int, ...]
    products: tuple[int, ...]
    rule_products: tuple[int, ...]


def pick_ids(data: dict[str, Any]) -> Catalogue:
    """The ids of the PICK query's answer."""
    customers = tuple(e["node"]["id"] for e in data["customers"]["edges"])
    products = tuple(e["node"]["id"] for e in data["products"]["edges"])
    rule_products = tuple(
        dict.fromkeys(
            p["id"]
            for e in data["associationRules"]["edges"]
            for p in e["node"]["antecedentProducts"]
        )
    )
    return Catalogue(customers, products, rule_products or products)


def make_request(rng: random.Random, ids: Catalogue, operation: str) -> dict[str, Any]:
    """The JSON body of one request of ``operation`` with ids drawn from ``ids``."""
    if operation == "recommendations":
        return {"query": RECOMMEND, "variables": {"customerId": rng.choice(ids.customers)}}
    if operation == "recommendations+context":
        anonymous = rng.random() < 0.4
        if rng.random() < 0.5:
            context: dict[str, Any] = {
                "cartProductIds": rng.sample(
                    ids.rule_products, min(len(ids.rule_products), rng.randint(1, 3))
                ),
                "pageType": "CART",
            }
        else:
            context = {"currentProductId": rng.choice(ids.products), "pageType": "PRODUCT"}
        variables: dict[str, Any] = {"context": context}
        if anonymous:
            variables["sessionId"] = f"s-{rng.randrange(10_000)}"
        else:
            variables["customerId"] = rng.choice(ids.customers)
        return {"query": RECOMMEND, "variables": variables}
    if operation == "similarProducts":
        return {"query": SIMILAR, "variables": {"productId": rng.choice(ids.products)}}
    if operation == "associationRules":
        product = rng.choice(ids.rule_products) if rng.random() < 0.7 else None
        return {"query": RULES, "variables": {"productId": product}}
    if operation == "customerPage":
        return {"query": CUSTOMER, "variables": {"id": rng.choice(ids.customers)}}
    if operation == "recordEvent":
        kind = rng.choices(["CLICK", "ADD_TO_CART", "PURCHASE"], [0.7, 0.2, 0.1])[0]
        event = {
            "type": kind,
            "customerId": rng.choice(ids.customers),
            "productId": rng.choice(ids.products),
            "quantity": 1,
        }
        return {"query": RECORD, "variables": {"input": event}}
    raise ValueError(f"unknown operation {operation!r}")


def was_logged(operation: str, data: dict[str, Any]) -> bool:
    """Whether an answer of ``operation`` means a row was accepted for the server's log."""
    if operation == "recordEvent":
        return bool(data["recordEvent"]["accepted"])
    return operation.startswith("recommendations")


async def count_log_rows(database_url: str) -> dict[str, int]:
    """Rows in the impressions and events tables."""
    from sqlalchemy import func, select

    from recograph import db
    from recograph.models import Event, Impression

    engine = db.create_engine(database_url)
    try:
        async with engine.connect() as connection:
            counts = {
                name: int(
                    (await connection.execute(select(func.count()).select_from(table))).scalar_one()
                )
                for name, table in (("impressions", Impression), ("events", Event))
            }
    finally:
        await engine.dispose()
    return counts


def schedule(rng: random.Random, n: int) -> list[str]:
    """``n`` operations drawn from `MIX`."""
    names = list(MIX)
    return rng.choices(names, weights=[MIX[name] for name in names], k=n)


# ---------------------------------------------------------------------------- results


@dataclass(frozen=True)
class RssTrend:
    """Server memory over the run (MB): at the first sample, at the end of the warm-up, at the
    end, and the least-squares slope after the warm-up."""

    start_mb: float
    warm_mb: float
    end_mb: float
    peak_mb: float
    slope_mb_per_min: float

    @property
    def growth_mb(self) -> float:
        return self.end_mb - self.warm_mb


def rss_trend(samples: list[tuple[float, float]], warmup_seconds: float) -> RssTrend:
    """Trend of (seconds since start, RSS MB) samples. The warm-up level is the median of the
    samples in the last second of the warm-up (or the first sample after it), the end level
    the median of the last second, so one GC pause does not make a leak."""
    if not samples:
        return RssTrend(0.0, 0.0, 0.0, 0.0, 0.0)
    samples = sorted(samples)
    after = [s for s in samples if s[0] >= warmup_seconds] or samples[-1:]
    warm_window = [mb for t, mb in samples if warmup_seconds - 1.0 <= t <= warmup_seconds]
    end_window = [mb for t, mb in samples if t >= samples[-1][0] - 1.0]
    warm = _median(warm_window) if warm_window else after[0][1]
    slope = 0.0
    if len(after) >= 2:
        ts = [t for t, _ in after]
        ms = [mb for _, mb in after]
        t_mean, m_mean = sum(ts) / len(ts), sum(ms) / len(ms)
        var = sum((t - t_mean) ** 2 for t in ts)
        if var > 0:
            slope = 60 * sum((t - t_mean) * (m - m_mean) for t, m in after) / var
    return RssTrend(
        start_mb=samples[0][1],
        warm_mb=warm,
        end_mb=_median(end_window),
        peak_mb=max(mb for _, mb in samples),
        slope_mb_per_min=slope,
    )


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


@dataclass
class Outcome:
    """One request: its operation, latency from its due time, and how it went."""

    operation: str
    latency_ms: float
    error: str | None = None  # "http 5xx", "graphql", "transport"
    logged: bool = False  # the server accepted an impression or event row for its log


@dataclass
class LoadReport:
    seconds: float
    rate: float
    scheduled: int
    skipped: int
    elapsed: float
    outcomes: list[Outcome] = field(default_factory=list)
    rss: RssTrend = field(default_factory=lambda: RssTrend(0.0, 0.0, 0.0, 0.0, 0.0))
    server_cpu_ms: float = 0.0
    log: dict[str, Any] = field(default_factory=dict)
    max_rss_growth_mb: float = 25.0
    stored: dict[str, int] = field(default_factory=dict)  # rows in the log after shutdown

    @property
    def accepted(self) -> dict[str, int]:
        """Log rows the server accepted, by table (one impression per answered
        recommendations request, one event per accepted recordEvent)."""
        tables = {"recordEvent": "events"}
        counts = Counter(tables.get(o.operation, "impressions") for o in self.outcomes if o.logged)
        return {"impressions": counts["impressions"], "events": counts["events"]}

    @property
    def lost_rows(self) -> int:
        """Accepted rows missing from the log after the server stopped."""
        if not self.stored:
            return 0
        return sum(max(0, n - self.stored.get(t, 0)) for t, n in self.accepted.items())

    @property
    def completed(self) -> int:
        return len(self.outcomes)

    @property
    def errors(self) -> int:
        return sum(o.error is not None for o in self.outcomes)

    @property
    def throughput(self) -> float:
        ok = self.completed - self.errors
        return ok / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def flat(self) -> bool:
        return self.rss.growth_mb <= self.max_rss_growth_mb

    def latency(self, q: float, operation: str | None = None) -> float:
        values = sorted(
            o.latency_ms for o in self.outcomes if operation is None or o.operation == operation
        )
        return percentile(values, q)

    def to_dict(self) -> dict[str, Any]:
        per_op = {
            name: {
                "requests": sum(o.operation == name for o in self.outcomes),
                "errors": sum(o.operation == name and o.error is not None for o in self.outcomes),
                "p50_ms": self.latency(50, name),
                "p99_ms": self.latency(99, name),
            }
            for name in MIX
        }
        return {
            "seconds": self.seconds,
            "offered_rate": self.rate,
            "scheduled": self.scheduled,
            "completed": self.completed,
            "skipped": self.skipped,
            "errors": self.errors,
            "error_kinds": dict(Counter(o.error for o in self.outcomes if o.error)),
            "throughput": self.throughput,
            "p50_ms": self.latency(50),
            "p99_ms": self.latency(99),
            "operations": per_op,
            "rss": {**asdict(self.rss), "growth_mb": self.rss.growth_mb, "flat": self.flat},
            "server_cpu_ms_per_request": self.server_cpu_ms,
            "log": self.log,
            "accepted": self.accepted,
            "stored_after_shutdown": self.stored,
            "lost_rows": self.lost_rows,
        }


def format_report(report: LoadReport) -> str:
    """The text printed at the end of a run."""
    data = report.to_dict()
    rss = report.rss
    lines = [
        f"offered {report.rate:g} req/s for {report.seconds:g} s: {report.scheduled} scheduled, "
        f"{report.completed} completed, {report.skipped} skipped (server behind), "
        f"{report.errors} errors {data['error_kinds'] or ''}".rstrip(),
        f"throughput {report.throughput:.1f} req/s; latency from the due time: "
        f"p50 {report.latency(50):.2f} ms, p99 {report.latency(99):.2f} ms; "
        f"server CPU {report.server_cpu_ms:.2f} ms/request",
        f"{'operation':<24} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8}",
    ]
    for name, op in data["operations"].items():
        lines.append(
            f"{name:<24} {op['requests']:>8} {op['errors']:>6} {op['p50_ms']:>8.2f} "
            f"{op['p99_ms']:>8.2f}"
        )
    verdict = "flat" if report.flat else f"GROWING (limit {report.max_rss_growth_mb:g} MB)"
    lines.append(
        f"server RSS: {rss.start_mb:.1f} MB at start, {rss.warm_mb:.1f} MB after warm-up, "
        f"{rss.end_mb:.1f} MB at the end (peak {rss.peak_mb:.1f}); growth after warm-up "
        f"{rss.growth_mb:+.1f} MB, slope {rss.slope_mb_per_min:+.2f} MB/min: {verdict}"
    )
    if report.stored:
        accepted, stored = report.accepted, report.stored
        lines.append(
            f"log: impressions accepted {accepted['impressions']}, stored after shutdown "
            f"{stored.get('impressions', 0)}; events accepted {accepted['events']}, stored "
            f"{stored.get('events', 0)}; {report.lost_rows} lost"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------- the run


async def drive(
    base: str,
    ids: Catalogue,
    *,
    rate: float,
    seconds: float,
    max_requests: int,
    max_in_flight: int,
    seed: int,
    progress: Progress = no_progress,
) -> tuple[list[Outcome], int, int, float]:
    """Send the open-loop load; returns (outcomes, scheduled, skipped, elapsed seconds).
    ``progress`` hears "requests due" once a second of schedule."""
    rng = random.Random(seed)
    n = max(1, min(max_requests, int(rate * seconds)))
    tick = every(progress, "requests due", n, max(1, int(rate)))
    operations = schedule(rng, n)
    bodies = [json.dumps(make_request(rng, ids, op)).encode() for op in operations]
    limits = httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight)
    outcomes: list[Outcome] = []
    skipped = 0
    in_flight = 0
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30.0) as client:
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.05

        async def one(i: int, due: float) -> None:
            nonlocal in_flight
            error: str | None = None
            logged = False
            try:
                response = await client.post("/graphql", content=bodies[i], headers=JSON_HEADERS)
                if response.status_code != 200:
                    error = f"http {response.status_code}"
                else:
                    body = response.json()
                    error = "graphql" if "errors" in body else None
                    logged = error is None and was_logged(operations[i], body["data"])
            except httpx.HTTPError:
                error = "transport"
            finally:
                in_flight -= 1
            outcomes.append(Outcome(operations[i], (loop.time() - due) * 1000, error, logged))

        tasks: set[asyncio.Task[None]] = set()
        for i in range(n):
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - loop.time()))
            tick(i + 1)
            if in_flight >= max_in_flight:
                skipped += 1
                continue
            in_flight += 1
            task = asyncio.create_task(one(i, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
        elapsed = loop.time() - start
    return outcomes, n, skipped, elapsed


async def sample_rss(
    process: psutil.Process, every: float, samples: list[tuple[float, float]], stop: asyncio.Event
) -> None:
    started = time.monotonic()
    while not stop.is_set():
        try:
            samples.append((time.monotonic() - started, process.memory_info().rss / 2**20))
        except psutil.Error:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


async def measured(
    base: str,
    process: psutil.Process,
    ids: Catalogue,
    args: argparse.Namespace,
    progress: Progress = no_progress,
) -> LoadReport:
    samples: list[tuple[float, float]] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(process, args.sample_seconds, samples, stop))
    cpu_before = cpu_seconds(process)
    try:
        outcomes, scheduled, skipped, elapsed = await drive(
            base,
            ids,
            rate=args.rate,
            seconds=args.seconds,
            max_requests=args.max_requests,
            max_in_flight=args.max_in_flight,
            seed=args.seed,
            progress=progress,
        )
    finally:
        stop.set()
        await sampler
    cpu_used = cpu_seconds(process) - cpu_before
    async with httpx.AsyncClient(base_url=base, timeout=30.0) as client:
        log = (await client.get("/readyz")).json().get("log", {})
    return LoadReport(
        seconds=args.seconds,
        rate=args.rate,
        scheduled=scheduled,
        skipped=skipped,
        elapsed=elapsed,
        outcomes=outcomes,
        rss=rss_trend(samples, args.warmup * args.seconds),
        server_cpu_ms=1000 * cpu_used / max(1, len(outcomes)),
        log=log,
        max_rss_growth_mb=args.max_rss_growth_mb,
    )


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "load",
        help="a storefront traffic mix at a fixed offered rate (throughput, latency, memory)",
        description=help_description(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--artifacts", type=Path, help="artifact root (default: settings)")
    parser.add_argument("--seconds", type=float, default=60.0, help="duration of the load")
    parser.add_argument("--rate", type=float, default=100.0, help="offered requests per second")
    parser.add_argument("--max-requests", type=int, default=100_000, help="most requests sent")
    parser.add_argument("--max-in-flight", type=int, default=256, help="outstanding requests")
    parser.add_argument(
        "--warmup", type=float, default=0.25, help="share of the run before memory is compared"
    )
    parser.add_argument("--sample-seconds", type=float, default=0.5, help="RSS sampling period")
    parser.add_argument(
        "--max-rss-growth-mb",
        type=float,
        default=25.0,
        help="RSS growth after the warm-up above which the run fails (exit status 1)",
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the request mix")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from recograph import artifacts

    root = args.artifacts or Settings.from_env().artifacts_dir
    if artifacts.current_version(root) is None:
        logger.error("no published build in %s: run 'recograph build' first", root)
        return 1
    if args.seconds <= 0 or args.rate <= 0 or args.max_requests < 1 or args.max_in_flight < 1:
        logger.error("--seconds, --rate, --max-requests and --max-in-flight must be positive")
        return 2
    if not 0 <= args.warmup < 1:
        logger.error("--warmup is a share of the run, from 0 to below 1")
        return 2
    budget = args.seconds + 180
    with tempfile.TemporaryDirectory(prefix="recograph-load-") as tmp:
        with bench_server(root, Path(tmp), max_seconds=budget) as server:
            picked = httpx.post(f"{server.base}/graphql", json={"query": PICK}, timeout=30)
            ids = pick_ids(picked.json()["data"])
            print(
                f"load mix {', '.join(f'{k} {v:.0%}' for k, v in MIX.items())}; "
                f"{len(ids.customers)} customers, {len(ids.products)} products"
            )
            display = ProgressDisplay(console(sys.stderr))
            with display.live():
                report = asyncio.run(measured(server.base, server.process, ids, args, display))
        # the server flushed its log when it stopped (SIGTERM): every accepted row is stored
        report.stored = asyncio.run(count_log_rows(server.database_url))
    print(format_report(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    return 0 if report.flat and report.lost_rows == 0 else 1
