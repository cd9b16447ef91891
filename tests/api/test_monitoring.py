"""``/metrics``: request counts and latencies per operation, strategies and variants, snapshot,
log writer and reloads, in a registry per app."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from recograph.online.config import ServingConfig
from recograph.online.variants import Experiment, Variant
from recograph.resolvers.monitoring import build_timestamp
from recograph.schema.operation import label_of
from recograph.serving.app import create_app
from recograph.settings import Settings
from recograph.snapshot import ModelSnapshot
from tests.conftest import REPO
from tests.serving_helpers import client_of

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def app_for(artifacts_root: Path) -> Starlette:
    settings = Settings(artifacts_dir=artifacts_root, database_url="")
    experiment = Experiment((Variant("everyone", 1.0),), salt="metrics")
    return create_app(
        settings,
        config=ServingConfig(reload_poll_seconds=0),
        experiment=experiment,
        playground=False,
    )


@pytest.fixture
async def client(artifacts_root: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = app_for(artifacts_root)
    async with client_of(app) as c:
        yield c


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def test_metrics_after_some_traffic(
    client: httpx.AsyncClient, snapshot: ModelSnapshot
) -> None:
    customer = int(snapshot.histories.user_ids[0])
    query = "query($c: Int) { recommendations(customerId: $c, limit: 3) { variant strategy } }"
    for _ in range(3):
        body = (
            await client.post("/graphql", json={"query": query, "variables": {"c": customer}})
        ).json()
        assert body["data"]["recommendations"]["variant"] == "everyone"
    strategy = body["data"]["recommendations"]["strategy"]
    explicit = "{ recommendations(limit: 2, strategy: POPULAR) { variant } }"
    body = (await client.post("/graphql", json={"query": explicit})).json()
    assert body["data"]["recommendations"]["variant"] is None
    await client.post("/graphql", json={"query": "{ modelInfo { version } categories { name } }"})
    await client.post("/graphql", json={"query": "{ product(id: -1) { name } }"})
    await client.post("/graphql", json={"query": "{ nonsense"})
    samples = await scrape(client)
    requests = "recograph_graphql_requests_total"
    assert value(samples, requests, operation="recommendations", type="query", status="ok") == 4
    assert value(samples, requests, operation="multiple", type="query", status="ok") == 1
    assert value(samples, requests, operation="product", type="query", status="error") == 1
    assert value(samples, requests, operation="invalid", type="unknown", status="error") == 1
    latency = "recograph_graphql_request_duration_seconds_count"
    assert value(samples, latency, operation="recommendations", type="query") == 4
    assert (
        value(
            samples,
            "recograph_graphql_request_duration_seconds_bucket",
            operation="recommendations",
            type="query",
            le="+Inf",
        )
        == 4
    )
    recommended = "recograph_recommendations_total"
    assert value(samples, recommended, strategy=strategy, variant="everyone") == 3
    assert value(samples, recommended, strategy="POPULAR", variant="none") == 1
    assert value(samples, "recograph_ready") == 1
    assert value(samples, "recograph_snapshot_info", version=snapshot.version) == 1
    built = build_timestamp(snapshot.manifest["created_at"])
    assert built is not None
    assert value(samples, "recograph_snapshot_build_timestamp_seconds") == built
    assert value(samples, "recograph_snapshot_age_seconds") > 0
    assert value(samples, "recograph_snapshot_loaded_timestamp_seconds") >= built
    # No database: rows are taken off the buffer and discarded, never written.
    assert value(samples, "recograph_event_queue_capacity") == 10_000
    assert 0 <= value(samples, "recograph_event_queue_depth") <= 4
    assert value(samples, "recograph_event_rows_written_total", table="impressions") == 0
    assert value(samples, "recograph_event_rows_dropped_total", reason="overflow") == 0
    assert value(samples, "recograph_reloads_total", outcome="success") == 1
    assert value(samples, "recograph_reloads_total", outcome="failure") == 0
    # The sample Grafana dashboard only uses metrics that exist.
    dashboard = json.loads((REPO / "docs" / "grafana-dashboard.json").read_text())
    expressions = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = {name for expr in expressions for name in re.findall(r"recograph_[a-z_]+", expr)}
    exposed = {name for name, _ in samples}
    assert len(used) >= 10
    assert used <= exposed, used - exposed


async def test_each_app_has_its_own_registry(artifacts_root: Path, tmp_path: Path) -> None:
    first, second = app_for(artifacts_root), app_for(tmp_path / "no-build")
    async with client_of(first) as a, client_of(second) as b:
        await a.post("/graphql", json={"query": "{ modelInfo { version } }"})
        await a.post("/graphql", json={"query": "{ modelInfo { version } }"})
        await b.post("/graphql", json={"query": "{ modelInfo { version } }"})
        one, two = await scrape(a), await scrape(b)
    requests = "recograph_graphql_requests_total"
    assert value(one, requests, operation="modelInfo", type="query", status="ok") == 2
    # The second app has no build: not ready, a failed reload, an error answer.
    assert value(two, requests, operation="modelInfo", type="query", status="error") == 1
    assert (requests, (("operation", "modelInfo"), ("status", "ok"), ("type", "query"))) not in two
    assert value(two, "recograph_ready") == 0
    assert value(two, "recograph_reloads_total", outcome="failure") == 1
    assert not any(name == "recograph_snapshot_info" for name, _ in two)


def test_operation_labels() -> None:
    from graphql import parse

    doc = parse("query A { modelInfo { version } } mutation B { reloadArtifacts { version } }")
    assert label_of(doc, "B") == ("reloadArtifacts", "mutation")
    assert label_of(doc, None) == ("modelInfo", "query")
    assert label_of(parse("{ __typename }"), None) == ("none", "query")
    assert label_of(None, None) == ("invalid", "unknown")
    assert build_timestamp("2026-11-27T12:01:24+00:00") == 1795780884.0
    assert build_timestamp("2026-11-27T12:01:24") == 1795780884.0
    assert build_timestamp("yesterday") is None
