"""Variants through the API (response, impression log, business rules) and ``onlineMetrics``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from recograph import db
from recograph.models import Impression
from recograph.online.config import ServingConfig
from recograph.online.variants import Experiment, Variant
from recograph.serving.app import create_app
from recograph.settings import Settings
from recograph.snapshot import ModelSnapshot
from tests.serving_helpers import client_of

TOKEN = "a-long-random-admin-token"
EXPERIMENT = Experiment(
    (Variant("control", 0.5, strategy=None, promoted_slots=()), Variant("hybrid", 0.5)),
    salt="api-test",
)
RECOMMEND = """query($c: Int, $s: String) {
  recommendations(customerId: $c, sessionId: $s, limit: 4, context: {pageType: HOME}) {
    requestId variant strategy items { rank reason { kind } product { id price } } } }"""
RECORD = "mutation($input: EventInput!) { recordEvent(input: $input) { accepted } }"
METRICS = """query($g: OnlineGroupBy!, $w: Float!, $b: String) {
  onlineMetrics(groupBy: $g, windowHours: $w, baseline: $b) {
    groupBy baseline windowHours
    groups { key impressions visitors ctr { successes trials value low high } }
    comparisons { metric group baseline value baselineValue pValue significant test }
    events { type total byRequest byVisitor attributed } } }"""


async def post(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def logged(artifacts_root: Path, tmp_path: Path, snapshot: ModelSnapshot) -> str:
    """A database with one HOME impression for each of 24 customers and a click on the first
    item of every hybrid impression."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'online.db'}"
    await db.upgrade_schema(url)
    app = create_app(
        Settings(artifacts_dir=artifacts_root, database_url=url),
        config=ServingConfig(reload_poll_seconds=0),
        experiment=EXPERIMENT,
        playground=False,
    )
    async with client_of(app) as client:
        for customer in snapshot.histories.user_ids[:24].tolist():
            body = await post(client, RECOMMEND, c=customer, s=f"s-{customer}")
            served = body["data"]["recommendations"]
            expected = EXPERIMENT.assign(customer, None)
            assert expected is not None
            assert served["variant"] == expected.name
            kinds = [item["reason"]["kind"] for item in served["items"]]
            if served["variant"] == "control":
                assert "PROMOTED" not in kinds  # the variant reserves no promoted slot
                continue
            first = served["items"][0]["product"]
            event = {
                "type": "CLICK",
                "customerId": customer,
                "productId": first["id"],
                "requestId": served["requestId"],
                "sessionId": f"s-{customer}",
            }
            assert (await post(client, RECORD, input=event))["data"]["recordEvent"]["accepted"]
    return url


async def test_variants_are_logged_and_reported(
    logged: str, artifacts_root: Path, snapshot: ModelSnapshot
) -> None:
    engine = db.create_engine(logged)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(select(Impression.__table__))).all()
    finally:
        await engine.dispose()
    assert len(rows) == 24
    for row in rows:
        variant = EXPERIMENT.assign(row.customer_id, None)
        assert variant is not None
        assert row.variant == variant.name
    hybrid = sum(row.variant == "hybrid" for row in rows)
    assert 0 < hybrid < 24
    app = create_app(
        Settings(artifacts_dir=artifacts_root, database_url=logged),
        config=ServingConfig(reload_poll_seconds=0),
        experiment=EXPERIMENT,
        playground=False,
    )
    async with client_of(app) as client:
        body = await post(client, METRICS, g="VARIANT", w=24.0)
        report = body["data"]["onlineMetrics"]
        assert report["groupBy"] == "VARIANT"
        assert report["baseline"] == "control"
        groups = {g["key"]: g for g in report["groups"]}
        assert groups["hybrid"]["impressions"] == hybrid
        assert groups["hybrid"]["ctr"]["successes"] == hybrid
        assert groups["control"]["impressions"] == 24 - hybrid
        assert groups["control"]["ctr"]["successes"] == 0
        ctr = next(c for c in report["comparisons"] if c["metric"] == "CTR")
        assert (ctr["group"], ctr["value"], ctr["baselineValue"]) == ("hybrid", 1.0, 0.0)
        assert ctr["significant"] is True
        assert ctr["test"] == "two-proportion z-test"
        clicks = next(e for e in report["events"] if e["type"] == "CLICK")
        assert clicks == {
            "type": "CLICK",
            "total": hybrid,
            "byRequest": hybrid,
            "byVisitor": 0,
            "attributed": hybrid,
        }
        by_reason = (await post(client, METRICS, g="REASON", w=1.0))["data"]["onlineMetrics"]
        assert sum(g["impressions"] for g in by_reason["groups"]) == sum(
            len(row.items) for row in rows
        )
        assert by_reason["comparisons"] == []
        bad = await post(client, METRICS, g="VARIANT", w=0.0)
        assert bad["errors"][0]["extensions"]["code"] == "BAD_INPUT"
        bad = await post(client, METRICS, g="VARIANT", w=24.0, b="nope")
        assert "baseline 'nope' is not one of the variants" in bad["errors"][0]["message"]


async def test_anonymous_events_need_a_session(
    artifacts_root: Path, snapshot: ModelSnapshot
) -> None:
    app = create_app(
        Settings(artifacts_dir=artifacts_root, database_url=""),
        config=ServingConfig(reload_poll_seconds=0),
        experiment=EXPERIMENT,
        playground=False,
    )
    product = int(snapshot.catalogue.item_ids[0])
    async with client_of(app) as client:
        served = await post(client, RECOMMEND, c=None, s="visitor-1")
        expected = EXPERIMENT.assign(None, "visitor-1")
        assert expected is not None
        assert served["data"]["recommendations"]["variant"] == expected.name
        receipt = """mutation($input: EventInput!) {
          recordEvent(input: $input) { customerId livePurchases } }"""
        event = {"type": "PURCHASE", "productId": product, "sessionId": "visitor-1"}
        body = await post(client, receipt, input=event)
        assert body["data"]["recordEvent"] == {"customerId": None, "livePurchases": 0}
        body = await post(client, receipt, input={"type": "CLICK", "productId": product})
        assert body["errors"][0]["extensions"]["code"] == "BAD_INPUT"
        assert "input.sessionId is required" in body["errors"][0]["message"]


async def test_online_metrics_access(artifacts_root: Path, logged: str) -> None:
    production = Settings(
        artifacts_dir=artifacts_root, database_url=logged, production=True, admin_token=TOKEN
    )
    without_db = Settings(artifacts_dir=artifacts_root, database_url="")
    for settings, headers, code in (
        (production, {}, "FORBIDDEN"),
        (production, {"authorization": f"Bearer {TOKEN}"}, None),
        (without_db, {}, "UNAVAILABLE"),
    ):
        app = create_app(settings, config=ServingConfig(reload_poll_seconds=0), playground=False)
        async with client_of(app, headers) as client:
            body = await post(client, "{ onlineMetrics { groups { key } } }")
        if code is None:
            assert {g["key"] for g in body["data"]["onlineMetrics"]["groups"]} == {
                "control",
                "hybrid",
            }
        else:
            assert body["errors"][0]["extensions"]["code"] == code
