"""``recograph bench scale``: build cost per engine and serving latency as the store grows.

For each scale (1×, 10× and 100× the demo store by default, and 1,000× for the Spark engine)
the store is generated once, then each engine builds it in a child process measured like
``recograph bench build`` (`recograph_lab.bench.build.measure_build`: time and peak RSS per step,
the whole process tree, so Spark's JVM counts), and the server answers the ``bench serve``
recommendations query on each build's artifacts, one request at a time, for p50/p95/p99
latency and server CPU per request.

Everything is bounded: a scale is only attempted when the engine finished the one before and
the time and memory predicted from the sizes measured so far (a power law through the last
two, linear from a single one) fit in ``--max-build-seconds``, the remaining ``--budget-minutes``
and the memory available; builds are stopped at those limits anyway. The server listens on
loopback only and stops itself. The Spark engine is skipped, with the reason, when
``recograph.spark`` cannot be imported (pyspark or Java missing).

Writes ``bench-scale.md``, ``bench-scale.json`` and ``bench-scale.png`` to ``--reports``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import math
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from recograph_lab.bench import serve
from recograph_lab.bench.build import (
    MB,
    BuildRun,
    StoreInfo,
    cost_table,
    ensure_store,
    markdown_table,
    measure_build,
    memory_limit_mb,
    number_cell,
    parse_scales,
    progress,
    scale_label,
    store_table,
    work_folder,
    write_reports,
)

logger = logging.getLogger(__name__)

ENGINES = ("local", "spark")
DEFAULT_SCALES = "1,10,100"
DEFAULT_SPARK_SCALES = "1,10,100,1000"
MEMORY_SHARE = 0.8  # of the memory available when the benchmark starts


@dataclass(frozen=True)
class Latency:
    """Serving one engine's build of one store: the recommendations query, sequentially."""

    engine: str
    scale: float
    status: str
    requests: int = 0
    errors: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    cpu_ms: float | None = None  # server CPU time per request (user + system)
    ready_seconds: float | None = None  # process start to /readyz (snapshot loaded)
    server_mb: float | None = None  # server RSS after the requests


@dataclass(frozen=True)
class Plan:
    """Limits every build and server of one benchmark run must stay within."""

    max_build_seconds: float
    deadline: float  # time.monotonic() after which nothing new starts
    memory_limit_mb: float

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


# ---------------------------------------------------------------------------- decisions


def spark_problem() -> str | None:
    """Why the Spark engine cannot run here, or None when ``recograph.spark`` imports."""
    try:
        importlib.import_module("recograph.spark")
    except ImportError as exc:
        return f"Spark engine unavailable: {exc}"
    return None


def predict(runs: Sequence[BuildRun], scale: float) -> tuple[float, float] | None:
    """Seconds and peak MB expected at ``scale`` from an engine's finished smaller builds.

    Through the last two sizes a power law (exponent at least 1 for time, 0 for memory);
    from one size, linear in the scale. None without a finished build to go on.
    """
    done = sorted(
        (
            (r.scale, r.total_seconds, r.peak_mb)
            for r in runs
            if r.ok and r.scale < scale and r.total_seconds and r.peak_mb
        ),
        key=lambda point: point[0],
    )
    if not done:
        return None
    last_scale, last_seconds, last_mb = done[-1]
    growth = scale / last_scale
    time_exponent, memory_exponent = 1.0, 1.0
    if len(done) >= 2:
        before_scale, before_seconds, before_mb = done[-2]
        step = math.log(last_scale / before_scale)
        time_exponent = max(1.0, math.log(last_seconds / before_seconds) / step)
        memory_exponent = max(0.0, math.log(last_mb / before_mb) / step)
    return last_seconds * growth**time_exponent, last_mb * growth**memory_exponent


def skip_reason(runs: Sequence[BuildRun], scale: float, plan: Plan) -> str | None:
    """Why an engine should not attempt ``scale`` given its earlier runs, or None."""
    unfinished = [r for r in runs if r.scale < scale and not r.ok]
    if unfinished:
        first = min(unfinished, key=lambda r: r.scale)
        outcome = "was skipped" if first.status.startswith("skipped") else "did not finish"
        return f"skipped: the {scale_label(first.scale)} build {outcome}"
    expected = predict(runs, scale)
    if expected is None:
        return None
    seconds, peak_mb = expected
    if peak_mb > plan.memory_limit_mb:
        limit_gb = plan.memory_limit_mb / 1024
        return f"skipped: predicted peak {peak_mb / 1024:.1f} GB > {limit_gb:.1f} GB"
    limit = min(plan.max_build_seconds, plan.remaining())
    if seconds > limit:
        return f"skipped: predicted {seconds / 60:.0f} min > the {limit / 60:.0f} min allowed"
    return None


# ---------------------------------------------------------------------------- serving


def measure_serving(
    run: BuildRun, work: Path, *, requests: int, seconds: float, ready_timeout: float = 600.0
) -> Latency:
    """Latency of the recommendations query on ``run``'s artifacts (concurrency 1)."""
    if run.artifacts is None:
        return Latency(run.engine, run.scale, "no artifacts")
    root = Path(run.artifacts).parent
    folder = work / f"serve-{run.engine}-{run.scale:g}"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with serve.bench_server(
            root,
            folder,
            max_seconds=ready_timeout + seconds + 120,
            ready_timeout=ready_timeout,
            quiet=True,
        ) as server:
            base, process, ready = server.base, server.process, server.ready_seconds
            _, body, check = serve.benchmark_request(base, timeout=60)
            if check.status_code != 200 or "errors" in check.json():
                return Latency(run.engine, run.scale, f"query failed: {check.text[:200]}")
            cpu_before = serve.cpu_seconds(process)
            result = asyncio.run(serve.httpx_level(f"{base}/graphql", body, 1, seconds, requests))
            cpu = (serve.cpu_seconds(process) - cpu_before) / max(result.requests, 1)
            server_mb = process.memory_info().rss / MB
    except (RuntimeError, httpx.HTTPError, OSError, KeyError, psutil.Error) as exc:
        return Latency(run.engine, run.scale, f"failed: {exc}")
    return Latency(
        run.engine,
        run.scale,
        "ok",
        requests=result.requests,
        errors=result.errors,
        p50_ms=result.p50_ms,
        p95_ms=result.p95_ms,
        p99_ms=result.p99_ms,
        cpu_ms=cpu * 1000,
        ready_seconds=ready,
        server_mb=server_mb,
    )


# ---------------------------------------------------------------------------- report


def latency_table(latencies: Sequence[Latency]) -> str:
    header = [
        "engine",
        "scale",
        "status",
        "requests",
        "errors",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "server CPU ms/req",
        "ready s",
        "server MB",
    ]
    rows = [
        [
            item.engine,
            scale_label(item.scale),
            item.status,
            str(item.requests),
            str(item.errors),
            number_cell(item.p50_ms, 1),
            number_cell(item.p95_ms, 1),
            number_cell(item.p99_ms, 1),
            number_cell(item.cpu_ms, 1),
            number_cell(item.ready_seconds, 1),
            number_cell(item.server_mb, 0),
        ]
        for item in sorted(latencies, key=lambda x: (x.engine, x.scale))
    ]
    return markdown_table(header, rows, left=(0, 2))


def summary_table(runs: Sequence[BuildRun]) -> str:
    """One row per engine and scale: status, build time and peak memory."""
    header = ["engine", "scale", "status", "build s", "peak MB"]
    rows = [
        [
            run.engine,
            scale_label(run.scale),
            run.status,
            number_cell(run.total_seconds, 1),
            number_cell(run.peak_mb, 0),
        ]
        for run in sorted(runs, key=lambda r: (r.engine, r.scale))
    ]
    return markdown_table(header, rows, left=(0, 2))


def machine() -> dict[str, Any]:
    """What the figures were measured on, load included (the machine may be shared)."""
    memory = psutil.virtual_memory()
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(memory.total / 1024**3, 1),
        "available_gb": round(memory.available / 1024**3, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }


def render_report(
    stores: Sequence[StoreInfo],
    runs: Sequence[BuildRun],
    latencies: Sequence[Latency],
    notes: Sequence[str],
    host: dict[str, Any],
) -> str:
    parts = [
        "# recograph bench scale",
        "",
        f"{host['cpus']} CPUs, {host['memory_gb']} GB memory ({host['available_gb']} GB "
        f"available), load average {host['load_average'][0]} at the start; evaluation off.",
        "",
        store_table(stores, runs),
        "",
        "## Builds",
        "",
        summary_table(runs),
    ]
    for engine in dict.fromkeys(r.engine for r in runs):
        measured = [r for r in runs if r.engine == engine and r.steps]
        if not measured:
            continue
        parts += [
            "",
            f"### {engine} engine: seconds per step",
            "",
            cost_table(measured, "seconds"),
            "",
            f"### {engine} engine: peak RSS MB per step (process tree)",
            "",
            cost_table(measured, "peak_mb"),
        ]
    parts += [
        "",
        "## Serving: recommendations (limit 10, customer + 2-product cart), one at a time",
        "",
        latency_table(latencies) if latencies else "no build to serve",
    ]
    if notes:
        parts += ["", "## Notes", "", *(f"- {note}" for note in notes)]
    return "\n".join(parts) + "\n"


PLOTTED_STEPS = 4  # per engine, the steps that cost most at the largest scale


def _heaviest_steps(done: Sequence[BuildRun], count: int) -> list[str]:
    """The ``count`` steps taking longest in the largest finished build, present in all."""
    common = set.intersection(*({s.name for s in r.steps} for r in done))
    largest = sorted(done[-1].steps, key=lambda s: s.seconds, reverse=True)
    return [s.name for s in largest if s.name in common][:count]


def plot(runs: Sequence[BuildRun], latencies: Sequence[Latency], path: Path) -> None:
    """Build time (total and heaviest steps), peak memory and serving latency against the
    store's scale, log-log, one colour per engine."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    figure, (time_ax, memory_ax, latency_ax) = plt.subplots(1, 3, figsize=(17, 5.5))
    engines = list(dict.fromkeys(r.engine for r in runs))
    markers = ("v", "^", "<", ">", "d", "p")
    for index, engine in enumerate(engines):
        colour = f"C{index}"
        done = sorted((r for r in runs if r.engine == engine and r.ok), key=lambda r: r.scale)
        if not done:
            continue
        scales = [r.scale for r in done]
        time_ax.plot(
            scales,
            [r.total_seconds for r in done],
            "o-",
            color=colour,
            lw=2.5,
            label=f"{engine}: total",
        )
        for marker, name in zip(markers, _heaviest_steps(done, PLOTTED_STEPS), strict=False):
            values = [next(s.seconds for s in r.steps if s.name == name) for r in done]
            time_ax.plot(
                scales,
                values,
                f"{marker}--",
                color=colour,
                lw=1,
                alpha=0.6,
                label=f"{engine}: {name}",
            )
        memory_ax.plot(scales, [r.peak_mb for r in done], "o-", color=colour, lw=2.5, label=engine)
        served = sorted(
            (x for x in latencies if x.engine == engine and x.status == "ok"),
            key=lambda x: x.scale,
        )
        if served:
            xs = [x.scale for x in served]
            latency_ax.plot(
                xs, [x.p50_ms for x in served], "o-", color=colour, label=f"{engine} build: p50"
            )
            latency_ax.plot(
                xs,
                [x.p99_ms for x in served],
                "s--",
                color=colour,
                alpha=0.6,
                label=f"{engine} build: p99",
            )
    titles = (
        (time_ax, "build time (s)"),
        (memory_ax, "build peak RSS, process tree (MB)"),
        (latency_ax, "recommendations latency, sequential (ms)"),
    )
    plain = ticker.FuncFormatter(lambda value, _: f"{value:g}")
    measured = sorted({r.scale for r in runs if r.ok})
    for ax, title in titles:
        ax.set_xscale("log")
        ax.set_yscale("log")
        if measured:
            ax.set_xticks(measured)
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.yaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xlabel("store scale (× demo)")
        ax.set_title(title)
        ax.grid(True, which="major", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


# ---------------------------------------------------------------------------- command


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "scale",
        help="build time/memory per engine and step, and serving latency, at 1x-1000x",
        description=(
            "Generate demo stores at growing scales, build each with every engine in a measured "
            "child process (time and peak RSS per step, a JVM included) and time the "
            "recommendations query on each build. Bounded in time and memory; loopback only."
        ),
    )
    parser.add_argument(
        "--scales", default=DEFAULT_SCALES, help="local engine scales (default 1,10,100)"
    )
    parser.add_argument(
        "--spark-scales",
        default=DEFAULT_SPARK_SCALES,
        help="Spark engine scales (default 1,10,100,1000), each tried only when predicted to fit",
    )
    parser.add_argument(
        "--engines",
        default=",".join(ENGINES),
        help="engines, in the order they run at each scale (default local,spark)",
    )
    parser.add_argument("--spark-master", default="local[2]", help="Spark master URL")
    parser.add_argument("--seed", type=int, default=42, help="generator and build seed")
    parser.add_argument("--requests", type=int, default=300, help="most serving requests per build")
    parser.add_argument("--seconds", type=float, default=15.0, help="longest serving run per build")
    parser.add_argument(
        "--max-build-seconds", type=float, default=1200.0, help="stop a build after this long"
    )
    parser.add_argument(
        "--budget-minutes",
        type=float,
        default=60.0,
        help="start nothing new after this long (the run in progress finishes)",
    )
    parser.add_argument(
        "--stores",
        type=_stores,
        metavar="N|DIR",
        help="a number N: serve N small stores with different seeds from one process (load "
        "time, memory per store, p50/p99 over a request mix; see recograph_lab.bench.stores); a "
        "folder: keep and reuse the generated catalogue-scale stores there",
    )
    parser.add_argument(
        "--store-scale",
        type=float,
        default=0.05,
        help="with --stores N: each store's size, a fraction of the demo store (default 0.05)",
    )
    parser.add_argument(
        "--distinct-builds",
        type=int,
        metavar="K",
        help="with --stores N: build only K stores, each published under N/K names (separate "
        "copies; default: N builds)",
    )
    parser.add_argument(
        "--reports", type=Path, default=Path("reports"), help="folder for bench-scale.*"
    )
    parser.set_defaults(handler=run)


def _stores(text: str) -> int | Path:
    """``--stores``: a whole number is a store count, anything else a folder (``./20`` for a
    folder named 20)."""
    if text.isdigit():
        count = int(text)
        if count < 1:
            raise argparse.ArgumentTypeError("--stores takes at least 1 store")
        return count
    return Path(text)


def run_several_stores(args: argparse.Namespace) -> int:
    """``--stores N``: the multi-store benchmark, printed as its report."""
    from recograph_lab.bench.stores import render, run_stores

    if args.distinct_builds is not None and args.distinct_builds < 1:
        logger.error("--distinct-builds must be at least 1")
        return 2
    with work_folder(None) as (_, scratch):
        result = run_stores(
            args.stores,
            builds=args.distinct_builds,
            scale=args.store_scale,
            seed=args.seed,
            requests=args.requests,
            seconds=args.seconds,
            work=scratch,
            reports=args.reports,
        )
    print(render(result))
    return 0


def _engine_scales(args: argparse.Namespace) -> dict[str, tuple[float, ...]]:
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown or not engines:
        raise ValueError(f"--engines takes local and/or spark, got {args.engines!r}")
    sources = {"local": args.scales, "spark": args.spark_scales}
    return {engine: tuple(sorted(set(parse_scales(sources[engine])))) for engine in engines}


def run(args: argparse.Namespace) -> int:
    if isinstance(args.stores, int):
        return run_several_stores(args)
    try:
        plan_scales = _engine_scales(args)
    except ValueError as exc:
        logger.error("%s", exc)
        return 2
    if args.requests < 1 or args.seconds <= 0 or args.max_build_seconds <= 0:
        logger.error("--requests, --seconds and --max-build-seconds must be positive")
        return 2
    host = machine()
    plan = Plan(
        max_build_seconds=args.max_build_seconds,
        deadline=time.monotonic() + args.budget_minutes * 60,
        memory_limit_mb=memory_limit_mb(MEMORY_SHARE),
    )
    notes: list[str] = []
    if "spark" in plan_scales and (problem := spark_problem()) is not None:
        notes.append(f"spark engine skipped: {problem}")
        del plan_scales["spark"]
    stores: list[StoreInfo] = []
    runs: list[BuildRun] = []
    latencies: list[Latency] = []
    all_scales = sorted({s for scales in plan_scales.values() for s in scales})
    with work_folder(args.stores) as (store_root, scratch):
        store_root.mkdir(parents=True, exist_ok=True)
        for scale in all_scales:
            engines = [e for e, scales in plan_scales.items() if scale in scales]
            reasons = {
                e: skip_reason([r for r in runs if r.engine == e], scale, plan) for e in engines
            }
            if plan.remaining() <= 0:
                reasons = {e: "skipped: time budget used up" for e in engines}
            todo = [e for e in engines if reasons[e] is None]
            for engine in engines:
                if reasons[engine] is not None:
                    runs.append(BuildRun(engine, scale, str(reasons[engine])))
                    notes.append(f"{engine} {scale_label(scale)}: {reasons[engine]}")
            if not todo:
                continue
            progress(f"scale {scale:g}: generating the store")
            store = ensure_store(store_root, scale, args.seed)
            stores.append(store)
            for engine in todo:
                progress(f"scale {scale:g}: {engine} build")
                limit = min(plan.max_build_seconds, max(plan.remaining(), 60.0))
                result = measure_build(
                    store,
                    scratch,
                    engine=engine,
                    seed=args.seed,
                    max_seconds=limit,
                    memory_limit_mb=plan.memory_limit_mb,
                    spark_master=args.spark_master,
                )
                runs.append(result)
                progress(f"scale {scale:g}: {engine} build {result.status}")
                if not result.ok:
                    notes.append(f"{engine} {scale_label(scale)}: {result.status}")
                    continue
                progress(f"scale {scale:g}: serving the {engine} build")
                latencies.append(
                    measure_serving(result, scratch, requests=args.requests, seconds=args.seconds)
                )
    markdown = render_report(stores, runs, latencies, notes, host)
    print(markdown, end="")
    data = {
        "benchmark": "scale",
        "seed": args.seed,
        "machine": host,
        "memory_limit_mb": round(plan.memory_limit_mb),
        "stores": [{**asdict(s), "path": None} for s in stores],
        "runs": [r.to_dict() for r in runs],
        "serving": [asdict(x) for x in latencies],
        "notes": notes,
    }
    paths = write_reports(args.reports, "bench-scale", markdown, data)
    png = args.reports / "bench-scale.png"
    try:
        plot(runs, latencies, png)
        paths.append(png)
    except ImportError as exc:  # matplotlib comes with the dev extra only
        logger.warning("no plot: %s", exc)
    print(f"\nwritten: {', '.join(str(p) for p in paths)}", file=sys.stderr)
    # Skipped and stopped builds are results of a bounded benchmark; failures are not.
    failed = [r for r in runs if r.status.startswith("failed")]
    return 1 if failed or any(x.status != "ok" for x in latencies) else 0
