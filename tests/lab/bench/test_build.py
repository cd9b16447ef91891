"""`recograph bench build`: tiny runs through the CLI (structure only, never timings) and the
report tables on hand-made measurements."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recograph.cli import main
from recograph_lab.bench.build import (
    BuildRun,
    StepCost,
    cost_table,
    ensure_store,
    measure_build,
    parse_scales,
)

FIT_STEPS = [
    "catalogue",
    "interactions",
    "rules",
    "item_knn",
    "user_knn",
    "svd",
    "als",
    "ease",
    "content",
    "popularity",
]
EVALUATED_STEPS = ["read", "validation", "evaluation", *FIT_STEPS, "publish"]


def _tables(markdown: str) -> list[list[list[str]]]:
    """Each Markdown table of the report as rows of cells (header first, rule dropped)."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            if not all(set(cell) <= {"-", ":"} for cell in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def _number(cell: str) -> float:
    return float(cell.replace(",", "").rstrip("×"))


def test_tiny_run_reports_every_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reports = tmp_path / "reports"
    argv = ["bench", "build", "--scale", "0.1", "--eval", "--reports", str(reports)]

    assert main([*argv, "--stores", str(tmp_path / "stores")]) == 0

    out = capsys.readouterr().out
    assert out == (reports / "bench-build.md").read_text()
    assert out.startswith("# recograph bench build (local engine, seed 42, evaluation on)\n")
    stores, seconds, memory = _tables(out)
    assert stores == [
        ["scale", "products", "customers", "orders", "order lines", "generated s", "local build"],
        ["0.1×", "291", "100", "500", "1,500", stores[1][5], "ok"],
    ]
    assert seconds[0] == ["step", "0.1× s"]
    assert [row[0] for row in seconds[1:]] == [*EVALUATED_STEPS, "total"]
    assert memory[0] == ["step", "0.1× MB"]
    assert [row[0] for row in memory[1:]] == ["at start", *EVALUATED_STEPS, "total"]
    for row in seconds[1:] + memory[1:]:
        assert _number(row[1]) >= 0, row

    data = json.loads((reports / "bench-build.json").read_text())
    assert data["baseline_scale"] == 0.1
    [run] = data["runs"]
    assert (run["engine"], run["scale"], run["status"]) == ("local", 0.1, "ok")
    assert [step["name"] for step in run["steps"]] == EVALUATED_STEPS
    assert run["peak_mb"] >= max(step["peak_mb"] for step in run["steps"])
    assert Path(run["artifacts"]).name == run["version"]
    assert data["stores"][0]["rows"] == {
        "products": 291,
        "customers": 100,
        "orders": 500,
        "order_items": 1500,
        "reviews": 500,
    }


def test_a_kept_store_is_reused_and_a_build_past_its_time_is_stopped(tmp_path: Path) -> None:
    store = ensure_store(tmp_path, 0.1, seed=3)
    products = store.path / "products.json"
    written = products.stat().st_mtime_ns

    again = ensure_store(tmp_path, 0.1, seed=3)

    assert again == store
    assert products.stat().st_mtime_ns == written
    run = measure_build(store, tmp_path, max_seconds=0.0)
    assert (run.status, run.steps, run.total_seconds) == ("stopped after 0 s", [], None)


def test_bad_scales_are_refused() -> None:
    assert main(["bench", "build", "--scales", "1,0"]) == 2
    with pytest.raises(ValueError, match="positive"):
        parse_scales("1,-2")
    assert parse_scales("10, 1,") == (10.0, 1.0)


def test_cost_tables_give_values_and_ratios_to_scale_one() -> None:
    def run(scale: float, read: float, fit: float, peak: float) -> BuildRun:
        steps = [StepCost("read", read, peak / 2), StepCost("fit", fit, peak)]
        return BuildRun("local", scale, "ok", steps, read + fit, peak, 100.0)

    runs = [run(10, 2.0, 30.0, 400.0), run(1, 0.5, 1.5, 200.0), run(0.5, 0.25, 1.0, 150.0)]

    assert cost_table(runs, "seconds").splitlines() == [
        "| step  | 0.5× s | 1× s | 10× s | 0.5×/1× | 10×/1× |",
        "| ----- | -----: | ---: | ----: | ------: | -----: |",
        "| read  |   0.25 | 0.50 |  2.00 |    0.5× |   4.0× |",
        "| fit   |   1.00 | 1.50 | 30.00 |    0.7× |  20.0× |",
        "| total |   1.25 | 2.00 | 32.00 |    0.6× |  16.0× |",
    ]
    failed = BuildRun("local", 10, "stopped after 5 s", [StepCost("read", 2.0, 200.0)])
    assert cost_table([runs[1], failed], "peak_mb").splitlines() == [
        "| step     | 1× MB | 10× MB | 10×/1× |",
        "| -------- | ----: | -----: | -----: |",
        "| at start |   100 |      – |      – |",
        "| read     |   100 |    200 |   2.0× |",
        "| fit      |   200 |      – |      – |",
        "| total    |   200 |      – |      – |",
    ]
