"""``recograph report online`` on a database holding the hand-made log of
tests/online/test_metrics.py."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from recograph import db
from recograph.cli import main
from recograph.commands.report import parse_time
from recograph.models import Event, Impression
from tests.online.test_metrics import EVENTS, IMPRESSIONS, T0


async def _fill(url: str) -> None:
    await db.upgrade_schema(url)
    engine = db.create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(Impression.__table__),
                [
                    {
                        "request_id": i.request_id,
                        "created_at": i.created_at,
                        "customer_id": i.customer_id,
                        "session_id": i.session_id,
                        "model_version": i.model_version,
                        "strategy": i.strategy,
                        "variant": i.variant,
                        "page_type": i.page_type,
                        "context": {},
                        "items": [
                            {"product_id": s.product_id, "rank": s.rank, "reason": s.reason}
                            for s in i.items
                        ],
                    }
                    for i in IMPRESSIONS
                ],
            )
            await connection.execute(
                insert(Event.__table__),
                [
                    {
                        "created_at": e.created_at,
                        "type": e.type,
                        "customer_id": e.customer_id,
                        "session_id": e.session_id,
                        "product_id": e.product_id,
                        "request_id": e.request_id,
                        "quantity": e.quantity,
                        "price": e.price,
                    }
                    for e in EVENTS
                ],
            )
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def log_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('log') / 'log.db'}"
    asyncio.run(_fill(url))
    return url


def test_text_report_by_variant(log_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "online", "--database-url", log_url]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("Online metrics from the start to now, by variant")
    control = next(line for line in lines if line.startswith("control "))
    # 5 impressions, 4 sessions, 3 visitors, CTR 2/5 with Wilson (11.76%, 76.93%).
    assert control.split()[:4] == ["control", "5", "4", "3"]
    assert "40.00% [11.76%, 76.93%]" in control
    assert "25.00" in control
    assert "hybrid against control (baseline):" in out
    ctr = next(line for line in lines if line.startswith("CTR "))
    assert "+26.67 pp" in ctr
    assert "+66.7%" in ctr
    assert "0.4652" in ctr  # the hand-worked p of test_online_metrics
    per_impression = next(line for line in lines if line.startswith("revenue / impression"))
    assert "0.0447 < 0.05" in per_impression
    assert lines[-1] == (
        "events: 6 clicks (6 attributed: 4 by request id, 2 by visitor and product); "
        "1 add-to-carts (1 attributed: 1 by request id, 0 by visitor and product); "
        "6 purchases (4 attributed: 1 by request id, 3 by visitor and product)"
    )


def test_json_period_and_grouping(log_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    since = (T0 + timedelta(minutes=15)).isoformat()
    argv = ["report", "online", "--database-url", log_url, "--since", since, "--json"]
    assert main(argv) == 0
    body = json.loads(capsys.readouterr().out)
    # Only r9 (10:30) is in the period; its purchase of product 102 (5.00) is credited.
    assert body["since"] == "2026-12-01T10:15:00"
    assert [(g["key"], g["impressions"], g["revenue"]) for g in body["groups"]] == [
        ("control", 1, 5.0)
    ]
    assert body["comparisons"] == []
    argv = ["report", "online", "--database-url", log_url, "--group-by", "reason", "--json"]
    assert main(argv) == 0
    body = json.loads(capsys.readouterr().out)
    by_reason = {g["key"]: (g["impressions"], g["revenue"]) for g in body["groups"]}
    assert by_reason["BOUGHT_TOGETHER"] == (2, 100.0)
    assert body["window_hours"] == 24.0


def test_bad_input(log_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "online", "--database-url", log_url, "--baseline", "nope"]) == 2
    assert "baseline 'nope' is not one of the variants (control, hybrid)" in capsys.readouterr().err
    assert main(["report", "online", "--database-url", log_url, "--since", "yesterday"]) == 2
    assert "--since/--until" in capsys.readouterr().err
    missing = f"sqlite+aiosqlite:///{tmp_path / 'none.db'}"
    assert main(["report", "online", "--database-url", missing]) == 2
    assert "no database at" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()


def test_parse_time() -> None:
    now = datetime(2026, 12, 10, 12, 0)
    assert parse_time("2026-12-01", now) == datetime(2026, 12, 1)
    assert parse_time("2026-12-01T10:00:00+02:00", now) == datetime(2026, 12, 1, 8, 0)
    assert parse_time("2026-12-01T10:00:00Z", now) == datetime(2026, 12, 1, 10, 0)
    assert parse_time("7d", now) == datetime(2026, 12, 3, 12, 0)
    assert parse_time("12h", now) == datetime(2026, 12, 10, 0, 0)
