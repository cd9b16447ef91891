"""`recograph bench scale`: a tiny run through the CLI (structure, never timings), and the
rules that decide which sizes an engine attempts."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from recograph.cli import main
from recograph_lab.bench import scale
from recograph_lab.bench.build import BuildRun, StepCost
from recograph_lab.bench.scale import Plan, predict, skip_reason
from tests.lab.bench.test_build import FIT_STEPS, _number, _tables

LOCAL_STEPS = ["read", *FIT_STEPS, "publish"]


def test_tiny_run_reports_builds_serving_and_the_skipped_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whether or not pyspark is installed, the Spark engine is reported as unavailable here.
    monkeypatch.setattr(scale, "spark_problem", lambda: "Spark engine unavailable: test")
    reports = tmp_path / "reports"
    argv = ["bench", "scale", "--scales", "0.1", "--spark-scales", "0.1"]
    argv += ["--requests", "5", "--seconds", "5", "--reports", str(reports)]

    assert main(argv) == 0

    out = capsys.readouterr().out
    assert out == (reports / "bench-scale.md").read_text()
    stores, builds, seconds, memory, serving = _tables(out)
    assert stores[0] == [
        "scale",
        "products",
        "customers",
        "orders",
        "order lines",
        "generated s",
        "local build",
    ]
    assert stores[1][:5] == ["0.1×", "291", "100", "500", "1,500"]
    assert builds[0] == ["engine", "scale", "status", "build s", "peak MB"]
    assert [row[:3] for row in builds[1:]] == [["local", "0.1×", "ok"]]
    assert [row[0] for row in seconds[1:]] == [*LOCAL_STEPS, "total"]
    assert [row[0] for row in memory[1:]] == ["at start", *LOCAL_STEPS, "total"]
    for row in seconds[1:] + memory[1:]:
        assert _number(row[1]) >= 0, row
    assert serving[0] == [
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
    assert [row[:5] for row in serving[1:]] == [["local", "0.1×", "ok", "5", "0"]]
    assert out.endswith("## Notes\n\n- spark engine skipped: Spark engine unavailable: test\n")

    data = json.loads((reports / "bench-scale.json").read_text())
    [run] = data["runs"]
    assert (run["engine"], run["scale"], run["status"]) == ("local", 0.1, "ok")
    assert [step["name"] for step in run["steps"]] == LOCAL_STEPS
    [served] = data["serving"]
    assert served["p50_ms"] <= served["p95_ms"] <= served["p99_ms"]
    assert data["notes"] == ["spark engine skipped: Spark engine unavailable: test"]
    assert (reports / "bench-scale.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _run(scale_: float, seconds: float, peak_mb: float, status: str = "ok") -> BuildRun:
    return BuildRun("local", scale_, status, [StepCost("fit", seconds, peak_mb)], seconds, peak_mb)


def test_predictions_follow_the_growth_measured_so_far() -> None:
    assert predict([], 10) is None
    # One size: linear in the scale.
    assert predict([_run(1, 2.0, 100.0)], 10) == pytest.approx((20.0, 1000.0))
    # Two sizes: time grew as scale², memory as scale^log10(2); extrapolated from the last.
    runs = [_run(1, 2.0, 200.0), _run(10, 200.0, 400.0)]
    assert predict(runs, 100) == pytest.approx((20_000.0, 800.0))
    # Time never predicted to grow slower than linearly, memory may stay flat.
    flat = [_run(1, 5.0, 300.0), _run(10, 6.0, 300.0)]
    assert predict(flat, 100) == pytest.approx((60.0, 300.0))


def test_an_engine_skips_sizes_that_would_not_fit() -> None:
    plan = Plan(max_build_seconds=1200, deadline=time.monotonic() + 3600, memory_limit_mb=8192)
    small = [_run(1, 2.0, 8.0)]
    assert skip_reason(small, 10, plan) is None
    assert skip_reason(small, 1000, plan) == "skipped: predicted 33 min > the 20 min allowed"
    assert skip_reason(small, 1100, plan) == "skipped: predicted peak 8.6 GB > 8.0 GB"
    big = [_run(1, 2.0, 1024.0)]
    assert skip_reason(big, 10, plan) == "skipped: predicted peak 10.0 GB > 8.0 GB"
    stopped = [_run(1, 2.0, 100.0), _run(10, 1200.0, 500.0, "stopped after 1200 s")]
    assert skip_reason(stopped, 100, plan) == "skipped: the 10× build did not finish"
    skipped = [_run(1, 2.0, 100.0), BuildRun("local", 10, "skipped: predicted 99 min")]
    assert skip_reason(skipped, 100, plan) == "skipped: the 10× build was skipped"


def test_stores_takes_a_count_or_keeps_its_folder_meaning() -> None:
    assert scale._stores("20") == 20
    assert scale._stores("var/bench-stores") == Path("var/bench-stores")
    assert scale._stores("./20") == Path("20")


def test_several_stores_are_built_and_served_from_one_process(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    argv = ["bench", "scale", "--stores", "2", "--distinct-builds", "1", "--store-scale", "0.05"]
    assert main([*argv, "--requests", "20", "--seconds", "20", "--reports", str(reports)]) == 0
    result = json.loads((reports / "bench-stores-2.json").read_text())
    assert (result["stores"], result["distinct_builds"]) == (2, 1)
    assert result["requests"] == 20
    assert result["errors"] == 0
    assert result["loaded_at_end"] == 3  # both named stores and the default one
    assert result["evictions"] == 0
    assert result["model_bytes_per_store"] > 0
    assert result["p50_ms"] <= result["p99_ms"]
    expected_ratio = result["p50_ms"] / result["single_store_p50_ms"]  # of rounded figures
    assert result["p50_ratio"] == pytest.approx(expected_ratio, abs=0.011)
    assert "| stores | 2 |" in (reports / "bench-stores-2.md").read_text()
