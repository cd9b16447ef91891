"""``recograph bench load``: the request mix, the memory trend, the report, a short real run."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from recograph.cli import main
from recograph_lab.bench.load import (
    MIX,
    Catalogue,
    LoadReport,
    Outcome,
    format_report,
    make_request,
    pick_ids,
    rss_trend,
    schedule,
    was_logged,
)

IDS = Catalogue(customers=(10, 11), products=(1, 2, 3), rule_products=(2, 3))


def test_the_mix_follows_its_weights_and_is_reproducible() -> None:
    first = schedule(random.Random(1), 20_000)
    assert first == schedule(random.Random(1), 20_000)
    counts = Counter(first)
    for name, share in MIX.items():
        assert counts[name] / 20_000 == pytest.approx(share, abs=0.015)
    assert sum(MIX.values()) == pytest.approx(1.0)


def _ids(value: Any, key: str = "") -> list[tuple[str, int]]:
    """(key, id) of every integer under a key naming an id, anywhere in ``value``."""
    if isinstance(value, dict):
        return [found for k, v in value.items() for found in _ids(v, k)]
    if isinstance(value, list):
        return [found for v in value for found in _ids(v, key)]
    if isinstance(value, int) and key.lower().endswith(("id", "ids")):
        return [(key, value)]
    return []


def test_requests_use_only_the_picked_ids() -> None:
    rng = random.Random(3)
    for operation in MIX:
        seen = set()
        for _ in range(50):
            for key, value in _ids(make_request(rng, IDS, operation)["variables"]):
                seen.add(key)
                if key in ("customerId", "id"):
                    assert value in IDS.customers, (operation, key, value)
                elif key == "cartProductIds":
                    assert value in IDS.rule_products, (operation, key, value)
                else:
                    assert value in IDS.products, (operation, key, value)
        # every operation but the unfiltered rules list names something
        assert seen, operation
    with pytest.raises(ValueError, match="unknown operation"):
        make_request(rng, IDS, "teleport")


def test_pick_ids_reads_the_pick_query_answer() -> None:
    data = {
        "customers": {"edges": [{"node": {"id": 5, "orderCount": 2}}]},
        "products": {"edges": [{"node": {"id": 7}}, {"node": {"id": 8}}]},
        "associationRules": {
            "edges": [{"node": {"antecedentProducts": [{"id": 8}, {"id": 7}, {"id": 8}]}}]
        },
    }
    assert pick_ids(data) == Catalogue((5,), (7, 8), (8, 7))


def test_rss_trend_by_hand() -> None:
    # 10 MB/min growth after a warm-up that ends at t=4 (samples once a second).
    samples = [(0.0, 100.0), (1.0, 140.0), (2.0, 150.0), (3.0, 150.0), (4.0, 150.0)]
    samples += [(4.0 + k, 150.0 + k / 6) for k in range(1, 13)]
    trend = rss_trend(samples, warmup_seconds=4.0)
    assert trend.start_mb == 100.0
    assert trend.warm_mb == 150.0  # median of t in [3, 4]
    assert trend.end_mb == pytest.approx(150.0 + (11.5 / 6))  # median of t in [15, 16]
    assert trend.peak_mb == pytest.approx(152.0)
    assert trend.slope_mb_per_min == pytest.approx(10.0)
    assert trend.growth_mb == pytest.approx(11.5 / 6)
    assert rss_trend([], 1.0).growth_mb == 0.0


def test_report_counts_errors_throughput_and_the_memory_verdict() -> None:
    outcomes = [Outcome("recommendations", float(ms)) for ms in range(1, 100)]
    outcomes += [
        Outcome("recordEvent", 500.0, "http 500"),
        Outcome("similarProducts", 9.0, "transport"),
    ]
    report = LoadReport(
        seconds=10,
        rate=10,
        scheduled=102,
        skipped=1,
        elapsed=9.9,
        outcomes=outcomes,
        rss=rss_trend([(0.0, 100.0), (5.0, 120.0), (10.0, 160.0)], 5.0),
        max_rss_growth_mb=25,
    )
    data = report.to_dict()
    assert (data["completed"], data["errors"], data["skipped"]) == (101, 2, 1)
    assert data["error_kinds"] == {"http 500": 1, "transport": 1}
    assert data["throughput"] == pytest.approx(99 / 9.9)
    assert data["operations"]["recommendations"] == {
        "requests": 99,
        "errors": 0,
        "p50_ms": 50.0,
        "p99_ms": 99.0,  # nearest rank: the ceil(0.99 * 99) = 99th value
    }
    assert data["rss"]["growth_mb"] == 40.0
    assert not report.flat
    assert "GROWING (limit 25 MB)" in format_report(report)
    assert data["lost_rows"] == 0  # nothing counted yet


def test_accepted_rows_are_checked_against_the_stored_log() -> None:
    outcomes = [
        Outcome("recommendations", 1.0, logged=True),
        Outcome("recommendations+context", 1.0, logged=True),
        Outcome("recommendations", 1.0, "graphql"),
        Outcome("recordEvent", 1.0, logged=True),
        Outcome("recordEvent", 1.0, logged=False),  # refused: buffer full
        Outcome("similarProducts", 1.0),
    ]
    report = LoadReport(seconds=1, rate=6, scheduled=6, skipped=0, elapsed=1, outcomes=outcomes)
    assert report.accepted == {"impressions": 2, "events": 1}
    report.stored = {"impressions": 2, "events": 1}
    assert report.lost_rows == 0
    assert (
        "impressions accepted 2, stored after shutdown 2; events accepted 1, stored 1; 0 lost"
        in (format_report(report))
    )
    report.stored = {"impressions": 1, "events": 0}
    assert report.lost_rows == 2
    assert was_logged("recordEvent", {"recordEvent": {"accepted": False}}) is False
    assert was_logged("recordEvent", {"recordEvent": {"accepted": True}}) is True
    assert was_logged("recommendations+context", {"recommendations": {}}) is True
    assert was_logged("customerPage", {"customer": {}}) is False


@pytest.mark.slow
def test_a_short_real_run(
    artifacts_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "load.json"
    status = main(
        [
            "bench",
            "load",
            "--artifacts",
            str(artifacts_root),
            "--seconds",
            "3",
            "--rate",
            "20",
            "--max-rss-growth-mb",
            "200",
            "--json",
            str(out),
        ]
    )
    assert status == 0
    result = json.loads(out.read_text())
    assert result["scheduled"] == 60
    assert result["completed"] + result["skipped"] == 60
    assert result["errors"] == 0
    assert {name for name, op in result["operations"].items() if op["requests"]} == set(MIX)
    assert result["rss"]["end_mb"] > 50
    assert result["log"]["lost"] == 0
    assert result["accepted"]["events"] > 0
    assert result["stored_after_shutdown"] == result["accepted"]
    assert result["lost_rows"] == 0
    printed = capsys.readouterr().out
    assert "offered 20 req/s for 3 s: 60 scheduled" in printed
    assert "server RSS:" in printed
