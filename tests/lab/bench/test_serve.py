"""``recograph bench serve``: the report's arithmetic, and one short real run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recograph.cli import main
from recograph_lab.bench.serve import Result, report


def test_report_prints_rates_percentiles_and_ratios() -> None:
    results = [
        Result("graphql", 16, 1000, 0, 2.0, 10.0, 20.0, 30.0).with_cpu(1.5),
        Result("plain", 16, 4000, 0, 2.0, 1.0, 2.0, 3.0).with_cpu(1.2),
        Result("paced", 0, 250, 0, 1.0, 4.0, 5.0, 6.5, target_rate=250.0),
    ]
    text = report(results).splitlines()
    assert text[1].split() == [
        *("graphql", "16", "1000", "0", "500", "10.00", "20.00", "30.00", "1.50"),
    ]
    assert text[2].split() == ["plain", "16", "4000", "0", "2000", "1.00", "2.00", "3.00", "0.30"]
    assert text[3] == (
        "graphql paced at 250 req/s (half the best rate): "
        "p50 4.00 ms, p95 5.00 ms, p99 6.50 ms, 0 errors"
    )
    assert text[4] == (
        "concurrency 16: GraphQL/plain throughput ratio 0.25 (server CPU per request: 5.0x)"
    )


@pytest.mark.slow
def test_a_short_real_run(
    artifacts_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    status = main(
        [
            "bench",
            "serve",
            "--artifacts",
            str(artifacts_root),
            "--concurrency",
            "2",
            "--seconds",
            "1",
            "--requests",
            "50",
            "--driver",
            "httpx",
            "--json",
            str(out),
        ]
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert "GraphQL/plain throughput ratio" in printed
    rows = json.loads(out.read_text())
    assert [(r["endpoint"], r["concurrency"]) for r in rows] == [
        ("graphql", 2),
        ("plain", 2),
        ("paced", 0),
    ]
    assert all(r["errors"] == 0 for r in rows)
    assert all(0 < r["requests"] <= 50 for r in rows[:2])
    # one worker's memory, and the latency-vs-offered-load plot beside the JSON
    memory = json.loads(out.with_suffix(".memory.json").read_text())
    assert list(memory) == ["demo"]
    assert len(memory["demo"]) == 1
    assert 0 < memory["demo"][0]["uss_mb"] <= memory["demo"][0]["rss_mb"]
    assert out.with_suffix(".png").read_bytes().startswith(b"\x89PNG")
