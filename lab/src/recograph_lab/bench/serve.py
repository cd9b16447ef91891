"""``recograph bench serve``: GraphQL recommendations against a plain JSON endpoint, same run.

For each store (``--store NAME=ROOT``, repeatable; ``--artifacts ROOT`` is the store "demo")
the server runs in a child process (uvicorn with ``--workers`` forked workers, as
``recograph serve`` runs them; loopback, a random free port) that stops itself after a time
budget. It serves ``/graphql`` and ``/plain``, a bare Starlette endpoint of the same app and
workers returning the exact bytes of the benchmarked GraphQL response. Each endpoint is driven
at every concurrency level for at most ``--seconds`` (and, with the httpx driver, at most
``--requests``), with wrk when it is installed and an async httpx client otherwise; then
GraphQL is driven open-loop at ``--offered`` fractions of its best rate (by `KeepAlivePool`, a
client far cheaper than httpx, so the server and not the driver is what queues). The report gives
requests/s, p50/p95/p99 latency, server CPU ms per request (every worker counted), the
GraphQL/plain throughput ratio, and the RSS and USS (private memory: what a worker adds) of
each worker; the latency against offered load is plotted next to ``--json`` (or ``--plot``).

The query is ``recommendations`` with limit 10, each item with product fields, reason and
contributions, for a different customer on every request and a cart of two products: a fixed
sequence of request bodies (every customer with an order, up to 1,000, in id order, each with
the products of one product rule as the cart, the rules taken in turn), which every driver
sends in turn from the first. ``/plain`` ignores the body and always returns the bytes of the
first body's GraphQL answer (the same size and shape as every other answer).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import psutil

from recograph.settings import Settings
from recograph.terminal import ProgressDisplay, console, help_description

logger = logging.getLogger(__name__)

QUERY = """
query Bench($customerId: Int, $cart: [Int!]!) {
  recommendations(customerId: $customerId, limit: 10,
                  context: {cartProductIds: $cart, pageType: CART}) {
    requestId modelVersion strategy explanation
    items {
      rank score
      product { id name brand category price inStock }
      reason { kind text metric value evidence { id name } }
      contributions { signal score weight }
    }
  }
}
"""

PICK_QUERY = """
query Pick($after: String) {
  customers(first: 100, after: $after) {
    edges { node { id orderCount purchasedProducts { id } } }
    pageInfo { hasNextPage endCursor } }
  associationRules(first: 100, filter: {level: PRODUCT}) {
    edges { node { antecedentProducts { id } consequentProducts { id } } } }
  products(first: 2, filter: {inStock: true}) { edges { node { id } } } }
"""
MAX_CUSTOMERS = 1000  # distinct customers in the request sequence (each sent in turn)


@dataclass(frozen=True)
class Result:
    endpoint: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    target_rate: float | None = None  # paced runs only
    server_cpu_ms: float | None = None  # server process CPU time per request
    store: str = "demo"
    offered_fraction: float | None = None  # paced runs: target rate / best closed-loop rate

    def with_cpu(self, cpu_seconds: float) -> Result:
        return replace(self, server_cpu_ms=cpu_seconds * 1000 / max(self.requests, 1))

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @classmethod
    def from_latencies(
        cls,
        endpoint: str,
        concurrency: int,
        latencies: list[float],
        errors: int,
        seconds: float,
        target_rate: float | None = None,
    ) -> Result:
        """A level's result from its latencies (ms, any order)."""
        ordered = sorted(latencies)
        return cls(
            endpoint,
            concurrency,
            len(ordered),
            errors,
            seconds,
            percentile(ordered, 50),
            percentile(ordered, 95),
            percentile(ordered, 99),
            target_rate=target_rate,
        )


JSON_HEADERS = {"content-type": "application/json"}


async def post_ok(client: httpx.AsyncClient, url: str, body: bytes) -> bool:
    """POST one request; True when it was answered with status 200."""
    try:
        response = await client.post(url, content=body, headers=JSON_HEADERS)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="GraphQL recommendations vs a plain JSON endpoint (req/s, latency)",
        description=help_description(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--artifacts", type=Path, help="artifact root (default: settings)")
    parser.add_argument(
        "--store",
        action="append",
        default=[],
        metavar="NAME=ROOT",
        help="a store's artifact root, repeatable (e.g. demo=artifacts x100=var/x100/artifacts)",
    )
    parser.add_argument(
        "--workers", default="1", help="server worker processes: a number or 'auto' (one per core)"
    )
    parser.add_argument(
        "--offered",
        default="0.25,0.5,0.75",
        help="open-loop GraphQL rates as fractions of the best measured rate, comma-separated",
    )
    parser.add_argument("--plot", type=Path, help="latency vs offered load (PNG)")
    parser.add_argument("--concurrency", default="1,16,64", help="levels, comma-separated")
    parser.add_argument("--seconds", type=float, default=8.0, help="longest run per level")
    parser.add_argument("--requests", type=int, default=20_000, help="most requests per level")
    parser.add_argument(
        "--driver", choices=("auto", "wrk", "httpx"), default="auto", help="load generator"
    )
    parser.add_argument(
        "--no-paced",
        dest="paced",
        action="store_false",
        help="skip the open-loop GraphQL runs (--offered)",
    )
    parser.add_argument(
        "--weights",
        metavar="CF,CONTENT,RULES,POPULARITY",
        help="serve every request with these blend weights (an A/B variant with every "
        "visitor, RECOGRAPH_VARIANTS): what a request costs with every signal on, where a "
        "build's chosen weights leave some at 0",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.set_defaults(handler=run)


# ---------------------------------------------------------------------------- child server


def _child(argv: list[str]) -> int:
    """The server process: the app plus /plain, with ``--workers`` forked workers as
    ``recograph serve`` runs them; exits by itself after --max-seconds."""
    import signal

    import uvicorn

    from recograph.commands.serve import serve_forked, uvicorn_config

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--payload", type=Path, required=True)
    parser.add_argument("--max-seconds", type=float, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    config = uvicorn_config(
        lambda: _bench_app(args.payload), host="127.0.0.1", port=args.port, log_level="warning"
    )
    if args.workers > 1:
        signal.signal(signal.SIGALRM, lambda *_: os.kill(os.getpid(), signal.SIGTERM))
        signal.alarm(max(1, round(args.max_seconds)))
        return serve_forked(config, args.workers, Path(Settings.from_env().artifacts_dir))
    server = uvicorn.Server(config)
    timer = threading.Timer(args.max_seconds, lambda: setattr(server, "should_exit", True))
    timer.daemon = True
    timer.start()
    server.run()
    return 0


def _bench_app(payload_file: Path) -> Any:
    """The served app with ``/plain``: the bytes of ``payload_file``, read once."""
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from recograph.online.config import ServingConfig
    from recograph.serving.app import create_app

    payload: list[bytes] = []

    async def plain(_: Request) -> Response:
        if not payload:
            payload.append(payload_file.read_bytes())
        return Response(payload[0], media_type="application/json")

    return create_app(
        Settings.from_env(),
        config=ServingConfig.from_env(),
        extra_routes=[Route("/plain", plain, methods=["GET", "POST"])],
        freeze_gc=True,  # as `recograph serve` runs it (`create_app_from_env`)
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(base: str, process: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    """Poll ``/readyz`` until 200; raise when the process exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"bench server exited with status {process.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("bench server did not become ready in time")


@dataclass(frozen=True)
class BenchServer:
    """A running bench server: its base URL, its process, and how long it took to be ready."""

    base: str
    process: psutil.Process
    ready_seconds: float
    database_url: str  # where the server logs impressions and events


@contextmanager
def bench_server(
    root: Path,
    work: Path,
    *,
    max_seconds: float,
    ready_timeout: float = 120.0,
    payload: Path | None = None,
    quiet: bool = False,
    workers: int = 1,
) -> Iterator[BenchServer]:
    """The child server on the build in ``root``, on loopback, with a fresh SQLite database in
    ``work`` for impressions and events; stopped on exit (and by itself after
    ``max_seconds``). ``payload`` is the file ``/plain`` returns."""
    from recograph import db

    database_url = f"sqlite+aiosqlite:///{work / 'bench.db'}"
    asyncio.run(db.upgrade_schema(database_url))
    port = free_port()
    env = {
        **os.environ,
        "RECOGRAPH_ARTIFACTS": str(root),
        "RECOGRAPH_DATABASE_URL": database_url,
        "RECOGRAPH_RELOAD_POLL_SECONDS": "0",
    }
    command = [
        sys.executable,
        "-m",
        "recograph_lab.bench.serve",
        "--port",
        str(port),
        "--payload",
        str(payload or work / "payload.json"),
        "--max-seconds",
        str(max_seconds),
        "--workers",
        str(workers),
    ]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL if quiet else None)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process, timeout=ready_timeout)
        if workers > 1:  # every forked worker answers /readyz only once it has loaded
            _wait_workers(base, process, workers, ready_timeout)
        yield BenchServer(
            base, psutil.Process(process.pid), time.perf_counter() - started, database_url
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_workers(
    base: str, process: subprocess.Popen[bytes], workers: int, timeout: float
) -> None:
    """Wait until ``workers`` worker processes run, then for a ready answer from each new
    connection (the kernel spreads them over the workers)."""
    deadline = time.monotonic() + timeout
    parent = psutil.Process(process.pid)
    while len(parent.children()) < workers and time.monotonic() < deadline:
        time.sleep(0.2)
    ready = 0
    while ready < 4 * workers and time.monotonic() < deadline:
        try:
            ok = httpx.get(f"{base}/readyz", timeout=2.0).status_code == 200
        except httpx.TransportError:
            ok = False
        ready = ready + 1 if ok else 0
        time.sleep(0.05)


def worker_processes(process: psutil.Process) -> list[psutil.Process]:
    """The processes answering requests: the forked workers, or the server itself."""
    children = process.children()
    return children or [process]


def worker_memory(process: psutil.Process) -> list[tuple[float, float]]:
    """(RSS, USS) in MB of each worker, first started first. USS is the memory only that
    worker holds: what one more worker costs (shared pages, such as the mapped model and the
    imports a forked worker shares with its parent, count in RSS but not in USS)."""
    out: list[tuple[float, float]] = []
    for worker in sorted(worker_processes(process), key=lambda p: p.create_time()):
        info = worker.memory_full_info()
        out.append((info.rss / 2**20, info.uss / 2**20))
    return out


def pick_variables(
    base: str, max_customers: int = MAX_CUSTOMERS, client: httpx.Client | None = None
) -> list[dict[str, Any]]:
    """The benchmark's request variables, read from the server itself: every customer with an
    order (in id order, at most ``max_customers``; all customers when none has one), each
    with a cart of two products, the products of the store's product rules in turn; when the
    store has no such rule (a large store whose rules fall under the minimum support), two
    products the next customer bought, so the carts vary as the customers do (`buyer_carts`)."""
    customers: list[dict[str, Any]] = []
    carts: list[list[int]] = []
    after: str | None = None
    with contextlib.nullcontext(client) if client else httpx.Client(timeout=30) as http:
        while sum(c["orderCount"] >= 1 for c in customers) < max_customers:
            payload = {"query": PICK_QUERY, "variables": {"after": after}}
            data = http.post(f"{base}/graphql", json=payload).json()["data"]
            connection = data["customers"]
            customers += [e["node"] for e in connection["edges"]]
            if not carts:
                carts = rule_carts(data)
            if not connection["pageInfo"]["hasNextPage"]:
                break
            after = connection["pageInfo"]["endCursor"]
    buyers = [c["id"] for c in customers if c["orderCount"] >= 1] or [c["id"] for c in customers]
    buyers = buyers[:max_customers]
    if len(carts) == 1 and not data["associationRules"]["edges"]:
        carts = buyer_carts(customers) or carts
    return [
        {"customerId": customer, "cart": carts[i % len(carts)]} for i, customer in enumerate(buyers)
    ]


def buyer_carts(customers: list[dict[str, Any]]) -> list[list[int]]:
    """Carts of two products a customer bought (their first two purchased products), one per
    customer with two, starting from the second such customer: request ``i`` then carries
    what another customer bought, not the products its own customer owns."""
    carts = [
        [p["id"] for p in c["purchasedProducts"][:2]]
        for c in customers
        if len(c["purchasedProducts"]) >= 2
    ]
    return carts[1:] + carts[:1]


def rule_carts(data: dict[str, Any]) -> list[list[int]]:
    """Carts of two distinct products, one per product rule: the first two of its
    antecedents then consequents, no cart twice; the first two in-stock products when there
    is no such rule."""
    carts: list[list[int]] = []
    for edge in data["associationRules"]["edges"]:
        rule = edge["node"]
        ids = [p["id"] for p in rule["antecedentProducts"] + rule["consequentProducts"]]
        cart = list(dict.fromkeys(ids))[:2]
        if len(cart) == 2 and cart not in carts:
            carts.append(cart)
    if not carts:
        carts.append([e["node"]["id"] for e in data["products"]["edges"]][:2])
    return carts


def request_bodies(variables: list[dict[str, Any]]) -> list[bytes]:
    """The JSON body of each benchmark request, in the order the drivers send them."""
    return [json.dumps({"query": QUERY, "variables": v}).encode() for v in variables]


class BodyCycle:
    """The request bodies in turn, from the first, wrapping around: one shared sequence for
    every connection of a run, so consecutive requests are for different customers."""

    def __init__(self, bodies: Sequence[bytes]) -> None:
        if not bodies:
            raise ValueError("no request bodies")
        self.bodies = list(bodies)
        self.sent = 0

    def next(self) -> bytes:
        body = self.bodies[self.sent % len(self.bodies)]
        self.sent += 1
        return body


def benchmark_requests(
    base: str, timeout: float = 30.0, check: int = 20
) -> tuple[list[dict[str, Any]], list[bytes], httpx.Response]:
    """The benchmarked requests for this server: their variables, their bodies, and the
    answer to the first (served by ``/plain``); the first ``check`` bodies are answered once
    before timing, and a failing one is returned as the answer, so the caller stops."""
    variables = pick_variables(base)
    bodies = request_bodies(variables)
    first: httpx.Response | None = None
    for body in bodies[: max(1, check)]:
        response = httpx.post(
            f"{base}/graphql", content=body, headers=JSON_HEADERS, timeout=timeout
        )
        first = first or response
        if response.status_code != 200 or "errors" in response.json():
            return variables, bodies, response
    assert first is not None
    return variables, bodies, first


def benchmark_request(
    base: str, timeout: float = 30.0
) -> tuple[dict[str, Any], bytes, httpx.Response]:
    """One benchmarked request (the first of `benchmark_requests`): its variables, its body
    and its answer."""
    variables = pick_variables(base)[0]
    body = request_bodies([variables])[0]
    response = httpx.post(f"{base}/graphql", content=body, headers=JSON_HEADERS, timeout=timeout)
    return variables, body, response


# ---------------------------------------------------------------------------- drivers


def percentile(sorted_ms: list[float], q: float) -> float:
    if not sorted_ms:
        return 0.0
    rank = max(0, min(len(sorted_ms) - 1, round(q / 100 * len(sorted_ms) + 0.5) - 1))
    return sorted_ms[rank]


def _cycle(body: bytes | Sequence[bytes]) -> BodyCycle:
    return BodyCycle([body] if isinstance(body, bytes) else body)


async def httpx_level(
    url: str,
    body: bytes | Sequence[bytes],
    concurrency: int,
    seconds: float,
    max_requests: int,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Result:
    """Closed loop: ``concurrency`` clients, each sending the next body as soon as its last
    request was answered (``body``: one, or the sequence sent in turn; ``transport``: a
    test's in-process app instead of the network)."""
    bodies = _cycle(body)
    latencies: list[float] = []
    errors = 0
    issued = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30.0, transport=transport) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors, issued
            while issued < max_requests and time.perf_counter() < deadline:
                issued += 1
                started = time.perf_counter()
                ok = await post_ok(client, url, bodies.next())
                latencies.append((time.perf_counter() - started) * 1000)
                errors += not ok

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return Result.from_latencies(url.rsplit("/", 1)[-1], concurrency, latencies, errors, elapsed)


class KeepAlivePool:
    """HTTP/1.1 POSTs over pooled keep-alive loopback connections, each request's bytes made
    once: the open-loop runs' client. httpx spends about a millisecond of CPU a request, as much
    as the server on this 2-core machine, so an open-loop run at half the server's best rate
    measured the driver's backlog (p50 of seconds), not the server."""

    def __init__(self, url: str, bodies: Sequence[bytes]) -> None:
        parsed = httpx.URL(url)
        self.host, self.port = parsed.host, parsed.port or 80
        head = f"POST {parsed.raw_path.decode()} HTTP/1.1\r\nhost: {self.host}\r\n"
        head += "content-type: application/json\r\n"
        self.requests = [
            (head + f"content-length: {len(body)}\r\n\r\n").encode() + body for body in bodies
        ]
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0

    async def post_ok(self, index: int) -> bool:
        """Send request ``index`` (cycled); True when answered with status 200. A pooled
        connection the server closed while it was idle (uvicorn's keep-alive timeout, 5 s)
        is retried once on a new connection, as HTTP clients do: that is the driver's stale
        connection, not an error of the server."""
        request = self.requests[index % len(self.requests)]
        if self.idle:
            reader, writer = self.idle.pop()
            status = await self._exchange(reader, writer, request)
            if status is not None:
                return status == 200
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self.opened += 1
        return await self._exchange(reader, writer, request) == 200

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
    ) -> int | None:
        """The response's status (0 for a broken response), or None when the connection was
        closed before the first byte of a response."""
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
        except asyncio.IncompleteReadError as error:
            writer.close()
            return None if not error.partial else 0
        except ConnectionResetError:
            writer.close()
            return None
        except (OSError, ValueError, IndexError):
            writer.close()
            return 0
        self.idle.append((reader, writer))
        return status

    async def aclose(self) -> None:
        idle, self.idle = self.idle, []
        for _, writer in idle:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _paced_level(
    url: str, body: bytes | Sequence[bytes], rate: float, seconds: float
) -> Result:
    """Open-loop load: one request every 1/rate s whatever the server does; latency is taken
    from the scheduled send time, so a stalled server cannot hide its queueing."""
    pool = KeepAlivePool(url, _cycle(body).bodies)
    latencies: list[float] = []
    errors = 0
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    n = max(1, int(rate * seconds))

    async def one(i: int) -> None:
        nonlocal errors
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - loop.time()))
        ok = await pool.post_ok(i)
        latencies.append((loop.time() - scheduled) * 1000)
        errors += not ok

    began = time.perf_counter()
    try:
        await asyncio.gather(*(one(i) for i in range(n)))
    finally:
        await pool.aclose()
    elapsed = time.perf_counter() - began
    return Result.from_latencies("paced", 0, latencies, errors, elapsed, target_rate=rate)


_WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bodies = { {bodies} }
local threads = 0
local sent = 0
function setup(thread)
  thread:set("offset", threads)
  threads = threads + 1
end
function init(args)
  sent = math.floor((offset or 0) * #bodies / 2)
end
request = function()
  sent = sent % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[sent])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def wrk_script(bodies: Sequence[bytes]) -> str:
    """wrk's Lua script: the bodies sent in turn (each of wrk's two threads from its own half
    of the sequence) and a machine-readable summary line."""
    quoted = ", ".join(f"[==[{body.decode()}]==]" for body in bodies)
    return _WRK_SCRIPT.replace("{bodies}", quoted)


def _wrk_level(
    wrk: str, url: str, body: bytes | Sequence[bytes], concurrency: int, seconds: float
) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(wrk_script(_cycle(body).bodies))
    try:
        completed = subprocess.run(
            [
                wrk,
                f"-t{min(2, concurrency)}",
                f"-c{concurrency}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        )
    finally:
        os.unlink(script.name)
    line = next(x for x in completed.stdout.splitlines() if x.startswith("RESULT "))
    requests, duration_us, p50, p95, p99, errors = (int(v) for v in line.split()[1:])
    return Result(
        url.rsplit("/", 1)[-1],
        concurrency,
        requests,
        errors,
        duration_us / 1e6,
        p50 / 1000,
        p95 / 1000,
        p99 / 1000,
    )


# ---------------------------------------------------------------------------- report


def cpu_seconds(process: psutil.Process) -> float:
    """User + system CPU time of the server so far, its worker processes included: unlike
    wall-clock rates, it does not depend on what else the machine is running."""
    total = 0.0
    for member in [process, *process.children(recursive=True)]:
        try:
            times = member.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


REST_SECONDS = 3.0


def rest_cpu_ms_per_second(
    process: psutil.Process, seconds: float = REST_SECONDS, settle: float = 1.0
) -> float:
    """The server's CPU per second of wall time while nothing is asked of it (after
    ``settle`` seconds for the writer to flush what earlier requests logged): background
    work every worker pays whatever its traffic (at 500 requests a second, 10 ms a second
    is 0.02 ms a request)."""
    time.sleep(settle)
    before = cpu_seconds(process)
    time.sleep(seconds)
    return (cpu_seconds(process) - before) * 1000 / seconds


def report(results: list[Result]) -> str:
    """The table and the throughput ratios, as printed."""
    lines = [
        f"{'endpoint':<9} {'conc':>4} {'requests':>9} {'errors':>6} {'req/s':>9} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'cpu ms/req':>10}"
    ]
    for r in results:
        if r.endpoint == "paced":
            continue
        cpu = "" if r.server_cpu_ms is None else f"{r.server_cpu_ms:.2f}"
        lines.append(
            f"{r.endpoint:<9} {r.concurrency:>4} {r.requests:>9} {r.errors:>6} {r.rate:>9.0f} "
            f"{r.p50_ms:>8.2f} {r.p95_ms:>8.2f} {r.p99_ms:>8.2f} {cpu:>10}"
        )
    for r in results:
        if r.endpoint == "paced":
            fraction = 0.5 if r.offered_fraction is None else r.offered_fraction
            share = "half" if fraction == 0.5 else f"{fraction:.0%} of"
            lines.append(
                f"graphql paced at {r.target_rate or 0:.0f} req/s ({share} the best rate): "
                f"p50 {r.p50_ms:.2f} ms, p95 {r.p95_ms:.2f} ms, p99 {r.p99_ms:.2f} ms, "
                f"{r.errors} errors"
            )
    by_key = {(r.endpoint, r.concurrency): r for r in results}
    for (endpoint, concurrency), result in by_key.items():
        plain = by_key.get(("plain", concurrency))
        if endpoint == "graphql" and plain is not None and plain.rate > 0:
            cpu = ""
            if result.server_cpu_ms and plain.server_cpu_ms:
                cpu = (
                    f" (server CPU per request: {result.server_cpu_ms / plain.server_cpu_ms:.1f}x)"
                )
            lines.append(
                f"concurrency {concurrency}: GraphQL/plain throughput ratio "
                f"{result.rate / plain.rate:.2f}{cpu}"
            )
    return "\n".join(lines)


def parse_stores(args: argparse.Namespace, default: Path) -> dict[str, Path]:
    """NAME -> artifact root from ``--store`` and ``--artifacts`` (the store "demo")."""
    stores: dict[str, Path] = {}
    if args.artifacts is not None or not args.store:
        stores["demo"] = args.artifacts or default
    for spec in args.store:
        name, sep, root = spec.partition("=")
        if not sep or not name or not root:
            raise ValueError(f"--store expects NAME=ROOT, got {spec!r}")
        stores[name] = Path(root)
    return stores


def _fractions(text: str) -> list[float]:
    values = [float(v) for v in text.split(",") if v.strip()]
    if any(not 0 < v <= 2 for v in values):
        raise ValueError("--offered fractions must be in (0, 2]")
    return values


@dataclass(frozen=True)
class StoreRun:
    """One store's results and the memory of its workers after the runs."""

    store: str
    results: list[Result]
    memory: list[tuple[float, float]]  # (RSS MB, USS MB) per worker


def bench_store(
    name: str,
    root: Path,
    args: argparse.Namespace,
    wrk: str | None,
    workers: int,
    fractions: list[float],
) -> StoreRun | None:
    from recograph.commands.serve import server_stack

    levels = [int(v) for v in args.concurrency.split(",") if v.strip()]
    paced_seconds = min(args.seconds, 10.0)
    budget = 2 * len(levels) * (args.seconds + 15) + len(fractions) * (paced_seconds + 15) + 120
    with (
        tempfile.TemporaryDirectory(prefix="recograph-bench-") as tmp,
        bench_server(root, Path(tmp), max_seconds=budget, workers=workers) as server,
    ):
        payload_file = Path(tmp) / "payload.json"
        base = server.base
        variables, bodies, response = benchmark_requests(base)
        if response.status_code != 200 or "errors" in response.json():
            logger.error("%s: benchmark query failed: %s", name, response.text[:500])
            return None
        payload_file.write_bytes(response.content)
        if httpx.post(f"{base}/plain", content=bodies[0]).content != response.content:
            logger.error("plain endpoint does not return the GraphQL payload")
            return None
        carts = {tuple(v["cart"]) for v in variables}
        print(
            f"store {name} ({root}): recommendations, limit 10, {len(variables)} customers in "
            f"turn (customer {variables[0]['customerId']} first), {len(carts)} carts of two "
            f"(first {variables[0]['cart']}); {len(response.content)} bytes in the first "
            f"answer, which /plain returns; {workers} worker(s) on {server_stack()}; driver "
            f"{'wrk' if wrk else 'httpx'}, {args.seconds:g}s per level"
        )
        idle = rest_cpu_ms_per_second(server.process)
        print(
            f"server at rest: {idle:.1f} ms of CPU a second (what runs without requests: the "
            "event writer, the live purchase feeds, pollers)"
        )
        body = bodies
        results: list[Result] = []
        display = ProgressDisplay(console(sys.stderr))
        runs = [(c, e) for c in levels for e in ("graphql", "plain")]
        with display.live():
            for done, (concurrency, endpoint) in enumerate(runs, start=1):
                url = f"{base}/{endpoint}"
                cpu_before = cpu_seconds(server.process)
                if wrk:
                    result = _wrk_level(wrk, url, body, concurrency, args.seconds)
                else:
                    result = asyncio.run(
                        httpx_level(url, body, concurrency, args.seconds, args.requests)
                    )
                result = replace(result, store=name)
                result = result.with_cpu(cpu_seconds(server.process) - cpu_before)
                results.append(result)
                logger.info("%s", result)
                display("levels x endpoints", done, len(runs))
        if args.paced:
            best = max(r.rate for r in results if r.endpoint == "graphql")
            for fraction in fractions:
                cpu_before = cpu_seconds(server.process)
                paced = asyncio.run(
                    _paced_level(f"{base}/graphql", body, best * fraction, paced_seconds)
                )
                paced = replace(paced, store=name, offered_fraction=fraction)
                results.append(paced.with_cpu(cpu_seconds(server.process) - cpu_before))
        memory = worker_memory(server.process)
    return StoreRun(name, results, memory)


def memory_report(memory: list[tuple[float, float]]) -> str:
    parts = [
        f"worker {i + 1}: RSS {rss:.0f} MB, USS {uss:.0f} MB" for i, (rss, uss) in enumerate(memory)
    ]
    return "memory after the runs: " + "; ".join(parts)


def plot(runs: list[StoreRun], path: Path) -> None:
    """p50 and p99 against offered GraphQL load (open-loop runs), one colour per store."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    for index, run in enumerate(runs):
        paced = sorted(
            (r for r in run.results if r.endpoint == "paced"), key=lambda r: r.target_rate or 0
        )
        if not paced:
            continue
        colour = f"C{index}"
        rates = [r.target_rate or 0 for r in paced]
        axis.plot(rates, [r.p50_ms for r in paced], "o-", color=colour, label=f"{run.store} p50")
        axis.plot(rates, [r.p99_ms for r in paced], "s--", color=colour, label=f"{run.store} p99")
    axis.set_xlabel("offered load (GraphQL requests/s, open loop)")
    axis.set_ylabel("latency (ms)")
    axis.set_yscale("log")
    axis.set_title("recograph bench serve: latency against offered load")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


VARIANTS_VARIABLE = "RECOGRAPH_VARIANTS"


def weights_variant(weights: str) -> str:
    """One A/B variant with every visitor, serving ``weights`` ("cf,content,rules,popularity")
    as `recograph.online.variants` reads it; ValueError on anything but four numbers ≥ 0."""
    wrong = ValueError(f"--weights takes four numbers >= 0, not all 0: {weights!r}")
    try:
        values = [float(v) for v in weights.split(",")]
    except ValueError:
        raise wrong from None
    if len(values) != 4 or min(values) < 0 or sum(values) <= 0:
        raise wrong
    names = ("cf", "content", "rules", "popularity")
    variant = {
        "name": "bench-weights",
        "share": 1.0,
        "weights": dict(zip(names, values, strict=True)),
    }
    return json.dumps([variant])


def run(args: argparse.Namespace) -> int:
    from recograph import artifacts
    from recograph.commands.serve import cores

    settings = Settings.from_env()
    try:
        stores = parse_stores(args, settings.artifacts_dir)
        levels = [int(v) for v in args.concurrency.split(",") if v.strip()]
        fractions = _fractions(args.offered)
        workers = cores() if args.workers.strip().lower() == "auto" else int(args.workers)
        if args.weights is not None:
            os.environ[VARIANTS_VARIABLE] = weights_variant(args.weights)
            print(f"every request served with weights {args.weights} ({VARIANTS_VARIABLE})")
    except ValueError as exc:
        logger.error("%s", exc)
        return 2
    if not levels or min(levels) < 1 or args.seconds <= 0 or args.requests < 1 or workers < 1:
        logger.error("concurrency levels, --seconds, --requests and --workers must be positive")
        return 2
    for name, root in stores.items():
        if artifacts.current_version(root) is None:
            logger.error("store %s: no published build in %s: run 'recograph build'", name, root)
            return 1
    wrk = shutil.which("wrk") if args.driver in ("auto", "wrk") else None
    if args.driver == "wrk" and wrk is None:
        logger.error("--driver wrk: wrk is not installed")
        return 1
    runs: list[StoreRun] = []
    for name, root in stores.items():
        done = bench_store(name, root, args, wrk, workers, fractions)
        if done is None:
            return 1
        runs.append(done)
        print(report(done.results))
        print(memory_report(done.memory))
    results = [r for done in runs for r in done.results]
    if args.json is not None:
        rows = [{**r.__dict__, "rate": r.rate} for r in results]
        memory = {done.store: [{"rss_mb": a, "uss_mb": b} for a, b in done.memory] for done in runs}
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
        args.json.with_suffix(".memory.json").write_text(json.dumps(memory, indent=2) + "\n")
    plot_path = args.plot or (None if args.json is None else args.json.with_suffix(".png"))
    if plot_path is not None and args.paced:
        plot(runs, plot_path)
        print(f"plot: {plot_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_child(sys.argv[1:]))
