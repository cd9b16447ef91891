"""``recograph bench build``: time and peak memory of every build step as the store grows.

For each scale F (1, 10 and 100 by default) the demo generator writes a store F× the demo
size, and the build runs on it in a child process so that the memory measured is the build's
own. In the child a thread samples the resident memory (RSS) of the child's process tree, a
JVM included when the Spark engine runs, every ``SAMPLE_SECONDS``; a step's peak is the
highest sample taken while it ran, collected when the build's ``on_step`` callback reports
the step's end. The whole build's peak also takes the kernel's high-water mark
(``ru_maxrss``), which sampling can miss. Steps are written to a file as they end, so a build
stopped for its time or memory limit still reports what it finished.

The report gives seconds and peak MB per step and scale, and each scale's ratio to the
baseline (scale 1 when measured, else the smallest): a ratio near F means linear growth.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from recograph.terminal import ProgressDisplay, console

logger = logging.getLogger(__name__)

DEFAULT_SCALES = (1.0, 10.0, 100.0)
SAMPLE_SECONDS = 0.05
POLL_SECONDS = 0.25
MB = 1024 * 1024
READ_STEP = "read"
TOTAL = "total"
START = "at start"  # the child with its libraries loaded, before reading the store


# ---------------------------------------------------------------------------- results


@dataclass(frozen=True)
class StepCost:
    """One build step: wall seconds and the highest RSS (MB) of the process tree during it."""

    name: str
    seconds: float
    peak_mb: float


@dataclass(frozen=True)
class StoreInfo:
    """A generated store: where it is, its row counts and how long generating it took."""

    path: Path
    scale: float
    rows: dict[str, int]
    generate_seconds: float


@dataclass(frozen=True)
class BuildRun:
    """One measured build. ``status`` is ``ok``, or why it stopped or did not run."""

    engine: str
    scale: float
    status: str
    steps: list[StepCost] = field(default_factory=list)
    total_seconds: float | None = None
    peak_mb: float | None = None
    start_mb: float | None = None
    version: str | None = None
    artifacts: str | None = None
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_scales(text: str) -> tuple[float, ...]:
    """``"1,10,100"`` → (1.0, 10.0, 100.0); raises ValueError for anything not positive."""
    scales = []
    for part in text.split(","):
        if not part.strip():
            continue
        value = float(part)
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"scales must be positive numbers, got {part.strip()!r}")
        scales.append(value)
    if not scales:
        raise ValueError("no scale given")
    return tuple(scales)


def scale_label(scale: float) -> str:
    return f"{scale:g}×"


# ---------------------------------------------------------------------------- stores


def ensure_store(root: Path, scale: float, seed: int) -> StoreInfo:
    """The demo store at ``scale`` under ``root``, generated unless a complete one is there.

    A store counts as complete when its summary file (written last) exists, so an
    interrupted generation is redone rather than measured.
    """
    from recograph.io.reader import STORE_FILES
    from recograph_lab.demo.generator import generate_store

    path = root / f"store-{scale:g}-seed{seed}"
    summary_file = root / f"store-{scale:g}-seed{seed}.json"
    if summary_file.exists():
        raw = json.loads(summary_file.read_text())
        return StoreInfo(path, scale, raw["rows"], raw["generate_seconds"])
    if path.exists():
        shutil.rmtree(path)
    summary = generate_store(path, seed=seed, scale=scale)
    rows = {name: summary.counts[name] for name in STORE_FILES}
    seconds = round(summary.seconds, 3)
    summary_file.write_text(json.dumps({"rows": rows, "generate_seconds": seconds}) + "\n")
    return StoreInfo(path, scale, rows, seconds)


# ---------------------------------------------------------------------------- memory


def tree_rss(process: psutil.Process) -> int:
    """Resident bytes of ``process`` and all its descendants (0 for those already gone)."""
    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    return total


class RssSampler:
    """Samples a process tree's RSS in a daemon thread; `mark` gives the peak since the last."""

    def __init__(self, process: psutil.Process, interval: float = SAMPLE_SECONDS) -> None:
        self._process = process
        self._interval = interval
        self._lock = threading.Lock()
        self._since_mark = 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def sample(self) -> int:
        rss = tree_rss(self._process)
        with self._lock:
            self._since_mark = max(self._since_mark, rss)
            self.peak = max(self.peak, rss)
        return rss

    def mark(self) -> int:
        """The highest sample since the previous mark (a fresh one included); then reset."""
        self.sample()
        with self._lock:
            peak, self._since_mark = self._since_mark, 0
        return peak

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.sample()

    def __enter__(self) -> RssSampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


# ---------------------------------------------------------------------------- child


def _child(argv: list[str]) -> int:
    """The measured process: read the store, build, write one JSON line per finished step."""
    parser = argparse.ArgumentParser(prog="recograph_lab.bench.build")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--artifacts", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--engine", choices=("local", "spark"), default="local")
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--evaluate", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    from recograph.build import BuildParams
    from recograph.engines import build_with_engine
    from recograph.io.reader import read_store

    with args.report.open("a", encoding="utf-8") as report, RssSampler(psutil.Process()) as rss:

        def write(record: dict[str, Any]) -> None:
            report.write(json.dumps(record) + "\n")
            report.flush()

        def on_step(name: str, seconds: float) -> None:
            write({"step": name, "seconds": seconds, "peak_mb": rss.mark() / MB})

        start_mb = rss.mark() / MB
        write({"start_mb": start_mb})
        started = time.perf_counter()
        read_started = time.perf_counter()
        data = read_store(args.data).data
        on_step(READ_STEP, time.perf_counter() - read_started)
        result = build_with_engine(
            data,
            args.artifacts,
            BuildParams(seed=args.seed),
            engine=args.engine,
            spark_master=args.spark_master,
            evaluate=args.evaluate,
            on_step=on_step,
        )
        total = time.perf_counter() - started
        own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
        write(
            {
                "done": True,
                "total_seconds": total,
                "peak_mb": max(rss.peak, own_peak) / MB,
                "version": result.version,
                "artifacts": str(result.path) if result.path else None,
            }
        )
    return 0


def _read_report(path: Path) -> tuple[list[StepCost], dict[str, Any]]:
    steps: list[StepCost] = []
    final: dict[str, Any] = {}
    if not path.exists():
        return steps, final
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        if "start_mb" in record:
            final["start_mb"] = record["start_mb"]
        elif record.get("done"):
            final.update(record)
        else:
            steps.append(StepCost(record["step"], record["seconds"], record["peak_mb"]))
    return steps, final


def _kill_tree(process: subprocess.Popen[bytes]) -> None:
    """Kill the child and everything it started (a JVM outlives a killed Python parent)."""
    try:
        members = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        members = []
    for member in members:
        try:
            member.kill()
        except psutil.Error:
            continue
    process.kill()
    process.wait()


def measure_build(
    store: StoreInfo,
    work_dir: Path,
    *,
    engine: str = "local",
    evaluate: bool = False,
    seed: int = 42,
    max_seconds: float = 3600.0,
    memory_limit_mb: float | None = None,
    spark_master: str = "local[2]",
) -> BuildRun:
    """Build ``store`` in a child process and collect its per-step costs.

    The child is stopped (with its whole process tree) after ``max_seconds`` or when the
    tree's RSS exceeds ``memory_limit_mb``; the run then reports the steps it finished.
    Artifacts are published under ``work_dir/artifacts-<engine>-<scale>``.
    """
    tag = f"{engine}-{store.scale:g}"
    report = work_dir / f"steps-{tag}.jsonl"
    report.unlink(missing_ok=True)
    artifacts_root = work_dir / f"artifacts-{tag}"
    command = [
        sys.executable,
        "-m",
        "recograph_lab.bench.build",
        "--data",
        str(store.path),
        "--artifacts",
        str(artifacts_root),
        "--report",
        str(report),
        "--engine",
        engine,
        "--spark-master",
        spark_master,
        "--seed",
        str(seed),
    ]
    if evaluate:
        command.append("--evaluate")
    log = work_dir / f"child-{tag}.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        status = _supervise(process, max_seconds, memory_limit_mb)
    steps, final = _read_report(report)
    if status == "ok" and not final.get("done"):
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
        status = f"failed (exit {process.returncode}): {tail[0][:200]}"
    return BuildRun(
        engine=engine,
        scale=store.scale,
        status=status,
        steps=steps,
        total_seconds=final.get("total_seconds"),
        peak_mb=final.get("peak_mb") or (max(s.peak_mb for s in steps) if steps else None),
        start_mb=final.get("start_mb"),
        version=final.get("version"),
        artifacts=final.get("artifacts"),
        rows=store.rows,
    )


def _supervise(
    process: subprocess.Popen[bytes], max_seconds: float, memory_limit_mb: float | None
) -> str:
    """Wait for the child; kill it past its time or memory limit. Returns the run's status."""
    deadline = time.monotonic() + max_seconds
    watched = psutil.Process(process.pid)
    while process.poll() is None:
        if time.monotonic() > deadline:
            _kill_tree(process)
            return f"stopped after {max_seconds:g} s"
        if memory_limit_mb is not None and tree_rss(watched) / MB > memory_limit_mb:
            _kill_tree(process)
            return f"stopped above {memory_limit_mb / 1024:.1f} GB"
        time.sleep(POLL_SECONDS)
    return "ok"


# ---------------------------------------------------------------------------- report


def markdown_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], left: Sequence[int] = (0,)
) -> str:
    """A GitHub Markdown table: the ``left`` columns (text) left-aligned, numbers right."""
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            str(c).ljust(w) if i in left else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = ["-" * w if i in left else "-" * (w - 1) + ":" for i, w in enumerate(widths)]
    return "\n".join([line(header), "| " + " | ".join(rule) + " |", *(line(r) for r in rows)])


def baseline_scale(scales: Sequence[float]) -> float:
    """Scale 1 when measured, else the smallest."""
    return 1.0 if 1.0 in scales else min(scales)


def step_names(runs: Sequence[BuildRun]) -> list[str]:
    """Every step reported by any run, in the order they ran."""
    names: dict[str, None] = {}
    for run in runs:
        for step in run.steps:
            names.setdefault(step.name)
    return list(names)


def number_cell(value: float | None, digits: int) -> str:
    """A table cell: the value with thousands separators, or – when unknown."""
    return "–" if value is None else f"{value:,.{digits}f}"


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or base is None or base <= 0:
        return "–"
    return f"{value / base:,.1f}×"


def cost_table(runs: Sequence[BuildRun], metric: str) -> str:
    """Per step (rows) and scale (columns): seconds or peak MB, then ratios to the baseline.

    ``metric`` is ``"seconds"`` or ``"peak_mb"``; the last row is the whole build, and the
    memory table starts with the process's RSS before it read the store.
    """
    runs = sorted(runs, key=lambda r: r.scale)
    scales = [r.scale for r in runs]
    base = baseline_scale(scales)
    unit = "s" if metric == "seconds" else "MB"
    digits = 2 if metric == "seconds" else 0
    others = [s for s in scales if s != base]
    header = [
        "step",
        *(f"{scale_label(s)} {unit}" for s in scales),
        *(f"{scale_label(s)}/{scale_label(base)}" for s in others),
    ]
    by_scale = {r.scale: {s.name: getattr(s, metric) for s in r.steps} for r in runs}
    names = [*step_names(runs), TOTAL]
    for run in runs:
        by_scale[run.scale][TOTAL] = run.total_seconds if metric == "seconds" else run.peak_mb
        if metric == "peak_mb":
            by_scale[run.scale][START] = run.start_mb
    if metric == "peak_mb":
        names.insert(0, START)
    rows = []
    for name in names:
        values = [by_scale[s].get(name) for s in scales]
        rows.append(
            [
                name,
                *(number_cell(v, digits) for v in values),
                *(_ratio(by_scale[s].get(name), by_scale[base].get(name)) for s in others),
            ]
        )
    return markdown_table(header, rows)


def store_table(stores: Sequence[StoreInfo], runs: Sequence[BuildRun]) -> str:
    """The stores measured: their rows, generation time and each run's status."""
    status = {(r.engine, r.scale): r.status for r in runs}
    engines = list(dict.fromkeys(r.engine for r in runs))
    header = ["scale", "products", "customers", "orders", "order lines", "generated s"]
    header += [f"{engine} build" for engine in engines]
    rows = []
    for store in sorted(stores, key=lambda s: s.scale):
        rows.append(
            [
                scale_label(store.scale),
                f"{store.rows['products']:,}",
                f"{store.rows['customers']:,}",
                f"{store.rows['orders']:,}",
                f"{store.rows['order_items']:,}",
                f"{store.generate_seconds:.1f}",
                *(status.get((engine, store.scale), "–") for engine in engines),
            ]
        )
    return markdown_table(header, rows, left=[0, *range(6, len(header))])


def render_report(
    stores: Sequence[StoreInfo], runs: Sequence[BuildRun], *, evaluate: bool, seed: int
) -> str:
    """The Markdown report: the stores, then time and memory per step and scale."""
    parts = [
        f"# recograph bench build (local engine, seed {seed}, evaluation "
        f"{'on' if evaluate else 'off'})",
        "",
        store_table(stores, runs),
        "",
        "## Time per step (seconds; ratio to the baseline scale)",
        "",
        cost_table(runs, "seconds"),
        "",
        f"## Peak memory per step (RSS MB of the build's process tree, sampled every "
        f"{SAMPLE_SECONDS:g} s; it includes what earlier steps still hold; total = the "
        "kernel's high-water mark)",
        "",
        cost_table(runs, "peak_mb"),
    ]
    return "\n".join(parts) + "\n"


# ---------------------------------------------------------------------------- command


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "build",
        help="build time and peak memory per step at 1x, 10x, 100x the demo store",
        description=(
            "Generate demo stores at several scales and build each in a child process, "
            "reporting every step's time and peak memory and their growth against scale 1."
        ),
    )
    parser.add_argument(
        "--scale",
        type=float,
        action="append",
        help="a scale to measure (repeatable); default 1, 10 and 100",
    )
    parser.add_argument("--scales", help="scales as a comma-separated list, e.g. 1,10")
    parser.add_argument("--seed", type=int, default=42, help="generator and build seed")
    parser.add_argument(
        "--eval", action="store_true", help="include the evaluation (validation + test fits)"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=3600.0, help="stop a build after this long"
    )
    parser.add_argument(
        "--stores",
        type=Path,
        help="keep generated stores here and reuse them (default: a temporary folder)",
    )
    parser.add_argument(
        "--reports", type=Path, default=Path("reports"), help="folder for bench-build.md/.json"
    )
    parser.set_defaults(handler=run)


def requested_scales(args: argparse.Namespace) -> tuple[float, ...]:
    """Scales from ``--scale`` and ``--scales`` (sorted, deduplicated), default 1, 10, 100."""
    scales = list(args.scale or [])
    if args.scales:
        scales += parse_scales(args.scales)
    for value in scales:
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"scales must be positive numbers, got {value:g}")
    return tuple(sorted(set(scales))) or DEFAULT_SCALES


def memory_limit_mb(fraction: float = 0.8) -> float:
    """Builds are stopped above this share of the memory available now (the machine may be
    shared: its total would not protect the other processes)."""
    return psutil.virtual_memory().available * fraction / MB


@contextmanager
def work_folder(stores: Path | None) -> Iterator[tuple[Path, Path]]:
    """(stores folder, scratch folder); temporary ones are deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="recograph-bench-") as tmp:
        scratch = Path(tmp)
        if stores is None:
            yield scratch / "stores", scratch
        else:
            yield stores, scratch


def write_reports(folder: Path, name: str, markdown: str, data: dict[str, Any]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    md, js = folder / f"{name}.md", folder / f"{name}.json"
    md.write_text(markdown, encoding="utf-8")
    js.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    return [md, js]


def progress(text: str) -> None:
    """A progress line on stderr (the report itself goes to stdout)."""
    print(text, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    try:
        scales = requested_scales(args)
    except ValueError as exc:
        logger.error("%s", exc)
        return 2
    stores: list[StoreInfo] = []
    runs: list[BuildRun] = []
    limit = memory_limit_mb()
    display = ProgressDisplay(console(sys.stderr))
    with work_folder(args.stores) as (store_root, scratch), display.live():
        store_root.mkdir(parents=True, exist_ok=True)
        for done, scale in enumerate(scales, start=1):
            progress(f"scale {scale:g}: generating the store")
            store = ensure_store(store_root, scale, args.seed)
            stores.append(store)
            progress(f"scale {scale:g}: building ({store.rows['order_items']:,} order lines)")
            result = measure_build(
                store,
                scratch,
                evaluate=args.eval,
                seed=args.seed,
                max_seconds=args.max_seconds,
                memory_limit_mb=limit,
            )
            runs.append(result)
            progress(
                f"scale {scale:g}: {result.status}, {number_cell(result.total_seconds, 1)} s, "
                f"peak {number_cell(result.peak_mb, 0)} MB"
            )
            display("builds (one per scale)", done, len(scales))
    markdown = render_report(stores, runs, evaluate=args.eval, seed=args.seed)
    print(markdown, end="")
    data = {
        "benchmark": "build",
        "seed": args.seed,
        "evaluate": args.eval,
        "sample_seconds": SAMPLE_SECONDS,
        "baseline_scale": baseline_scale(scales),
        "stores": [{**asdict(s), "path": None} for s in stores],
        "runs": [r.to_dict() for r in runs],
    }
    paths = write_reports(args.reports, "bench-build", markdown, data)
    print(f"\nwritten: {', '.join(str(p) for p in paths)}", file=sys.stderr)
    # A build stopped at its limit is a result (the size is impractical); a crash is not.
    return 1 if any(r.status.startswith("failed") for r in runs) else 0


if __name__ == "__main__":
    raise SystemExit(_child(sys.argv[1:]))
