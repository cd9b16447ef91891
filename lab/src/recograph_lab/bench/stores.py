"""``recograph bench scale --stores N``: N small stores served from one process.

N demo stores with different seeds (``--seed``, ``--seed``+1, ...; ``--store-scale`` of the demo
store each) are generated and built (no evaluation) under one artifact root; the first is also
published as the default store so the server reports ready. One ``recograph serve`` child
process (loopback, `recograph_lab.bench.serve.bench_server`) then serves them all:

- load time: the first request of each store (it loads the build), one store after another;
- memory: the server's RSS before the first store and after all are loaded (per store: the
  difference over N), and the bytes of model arrays each store reports on ``/stores``;
- latency: a request mix spread over the stores (uniformly random store, customer and kind:
  recommendations for a customer, a product page, a customer look-up) at concurrency 1,
  p50/p99 over every request, against the baseline of the same mix on the default store
  alone, the two interleaved request by request.

``--distinct-builds K`` (default N) builds only K stores and publishes each build under
ceil(N / K) store names (separate copies, so each store still loads its own arrays): the
load, memory and latency figures stay per store, only the build time is saved. The report
says when it was used.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from recograph import artifacts
from recograph.stores import store_dir
from recograph_lab.bench import serve
from recograph_lab.bench.build import MB
from recograph_lab.commands.demo_data import store_names

logger = logging.getLogger(__name__)

MIX = (
    "query($c: Int!) { recommendations(customerId: $c, limit: 10) { items { product { id } } } }",
    "query($p: Int!) { recommendations(context: {currentProductId: $p, pageType: PRODUCT}, "
    "limit: 10) { items { product { id } } } }",
    "query($c: Int!) { customer(id: $c) { id name } }",
)


@dataclass(frozen=True)
class StoresResult:
    """What one multi-store run measured."""

    stores: int
    distinct_builds: int
    store_scale: float
    build_seconds: float
    rss_before_mb: float
    rss_loaded_mb: float
    rss_per_store_mb: float
    model_bytes_per_store: float  # mean of /stores memoryBytes
    load_p50_ms: float
    load_max_ms: float
    load_total_seconds: float
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    single_store_p50_ms: float  # baseline: the same mix on the default store alone
    single_store_p99_ms: float
    p50_ratio: float  # many stores / one store
    p99_ratio: float
    loaded_at_end: int
    evictions: int


def prepare(root: Path, data: Path, count: int, builds: int, seed: int, scale: float) -> float:
    """Generate and build the stores (reused when ``root`` already holds them); seconds."""
    from recograph.build import build_artifacts
    from recograph.io.reader import read_store
    from recograph_lab.demo.generator import generate_store

    started = time.perf_counter()
    names = store_names(count)
    for index in range(builds):
        name = names[index]
        if artifacts.current_version(store_dir(root, name)) is None:
            generate_store(data / name, seed=seed + index, scale=scale)
            build_artifacts(read_store(data / name).data, store_dir(root, name), evaluate=False)
            logger.warning("built store %d/%d (%s)", index + 1, builds, name)
    for index, name in enumerate(names[builds:], start=builds):
        target = store_dir(root, name)
        if artifacts.current_version(target) is None:
            shutil.copytree(store_dir(root, names[index % builds]), target)
    first = store_dir(root, names[0])
    version = artifacts.current_version(first)
    if artifacts.current_version(root) is None and version is not None:
        shutil.copytree(first / version, root / version)
        artifacts.set_current(root, version)
    return time.perf_counter() - started


def _percentile(values: list[float], q: float) -> float:
    return serve.percentile(sorted(values), q)


def _mix(
    client: httpx.Client,
    base: str,
    names: Sequence[str],
    rng: random.Random,
    requests: int,
    seconds: float,
) -> tuple[list[float], int, list[float], int]:
    """The request mix, one request at a time, alternating between a uniformly random named
    store and the baseline, the default store alone (``/graphql``), so that both see the same
    machine; latencies in ms and failed answers of each."""
    spread: list[float] = []
    alone: list[float] = []
    failed = [0, 0]
    deadline = time.perf_counter() + seconds
    while len(spread) < requests and time.perf_counter() < deadline:
        for group, path in enumerate((f"/stores/{rng.choice(names)}/graphql", "/graphql")):
            query = MIX[rng.randrange(len(MIX))]
            variables = {"c": rng.randint(1, 40), "p": rng.randint(1, 291)}
            used = {k: v for k, v in variables.items() if f"${k}" in query}
            began = time.perf_counter()
            answer = client.post(f"{base}{path}", json={"query": query, "variables": used})
            (spread if group == 0 else alone).append((time.perf_counter() - began) * 1000)
            failed[group] += answer.status_code != 200 or "errors" in answer.json()
    return spread, failed[0], alone, failed[1]


def measure(
    root: Path, work: Path, count: int, *, requests: int, seconds: float, seed: int
) -> dict[str, Any]:
    """Serve every store from one child process and measure; raw figures."""
    names = store_names(count)
    rng = random.Random(seed)
    with serve.bench_server(root, work, max_seconds=seconds * 4 + 600, quiet=True) as server:
        base, process = server.base, server.process
        rss_before = process.memory_info().rss / MB
        loads: list[float] = []
        with httpx.Client(timeout=120) as client:
            started = time.perf_counter()
            for name in names:
                began = time.perf_counter()
                response = client.post(
                    f"{base}/stores/{name}/graphql", json={"query": "{ modelInfo { version } }"}
                )
                loads.append((time.perf_counter() - began) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"store {name} did not load: {response.text[:200]}")
            load_total = time.perf_counter() - started
            rss_loaded = process.memory_info().rss / MB
            listing = client.get(f"{base}/stores").json()["stores"]
            model_bytes = [row["memoryBytes"] for row in listing if row["store"] in names]
            latencies, errors, single, single_errors = _mix(
                client, base, names, rng, requests, seconds
            )
            metrics = client.get(f"{base}/metrics").text
            loaded_at_end = sum(
                1 for row in client.get(f"{base}/stores").json()["stores"] if row["loaded"]
            )
    evictions = next(
        (
            float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith("recograph_store_evictions_total")
        ),
        0.0,
    )
    return {
        "rss_before_mb": rss_before,
        "rss_loaded_mb": rss_loaded,
        "loads": loads,
        "load_total": load_total,
        "model_bytes": [b for b in model_bytes if b is not None],
        "latencies": latencies,
        "errors": errors,
        "single": single,
        "single_errors": single_errors,
        "loaded_at_end": loaded_at_end,
        "evictions": int(evictions),
    }


def run_stores(
    count: int,
    *,
    builds: int | None,
    scale: float,
    seed: int,
    requests: int,
    seconds: float,
    work: Path,
    reports: Path,
) -> StoresResult:
    """The whole multi-store benchmark; writes ``bench-stores-<N>.json`` and ``.md``."""
    distinct = min(count, builds or count)
    root = work / f"stores-{count}-{distinct}-{scale:g}-{seed}"
    build_seconds = prepare(root / "artifacts", root / "data", count, distinct, seed, scale)
    serving = work / f"serve-stores-{count}"
    serving.mkdir(parents=True, exist_ok=True)
    raw = measure(root / "artifacts", serving, count, requests=requests, seconds=seconds, seed=seed)
    model_bytes = raw["model_bytes"]
    result = StoresResult(
        stores=count,
        distinct_builds=distinct,
        store_scale=scale,
        build_seconds=round(build_seconds, 1),
        rss_before_mb=round(raw["rss_before_mb"], 1),
        rss_loaded_mb=round(raw["rss_loaded_mb"], 1),
        rss_per_store_mb=round((raw["rss_loaded_mb"] - raw["rss_before_mb"]) / count, 3),
        model_bytes_per_store=round(sum(model_bytes) / max(len(model_bytes), 1)),
        load_p50_ms=round(_percentile(raw["loads"], 50), 1),
        load_max_ms=round(max(raw["loads"]), 1),
        load_total_seconds=round(raw["load_total"], 2),
        requests=len(raw["latencies"]),
        errors=raw["errors"] + raw["single_errors"],
        p50_ms=round(_percentile(raw["latencies"], 50), 2),
        p99_ms=round(_percentile(raw["latencies"], 99), 2),
        single_store_p50_ms=round(_percentile(raw["single"], 50), 2),
        single_store_p99_ms=round(_percentile(raw["single"], 99), 2),
        p50_ratio=round(_percentile(raw["latencies"], 50) / _percentile(raw["single"], 50), 2),
        p99_ratio=round(_percentile(raw["latencies"], 99) / _percentile(raw["single"], 99), 2),
        loaded_at_end=raw["loaded_at_end"],
        evictions=raw["evictions"],
    )
    reports.mkdir(parents=True, exist_ok=True)
    (reports / f"bench-stores-{count}.json").write_text(json.dumps(asdict(result), indent=2))
    (reports / f"bench-stores-{count}.md").write_text(render(result))
    return result


def render(result: StoresResult) -> str:
    """The report: one table of figures, and how the stores were made."""
    rows = [(key, value) for key, value in asdict(result).items()]
    lines = [
        f"# {result.stores} stores served by one process",
        "",
        f"{result.distinct_builds} distinct builds (demo store, scale {result.store_scale:g}, "
        f"consecutive seeds)"
        + (
            ", each published under several store names (separate copies)"
            if result.distinct_builds < result.stores
            else ""
        )
        + ".",
        "",
        "| figure | value |",
        "|---|---:|",
        *(f"| {key} | {value} |" for key, value in rows),
        "",
    ]
    return "\n".join(lines)
