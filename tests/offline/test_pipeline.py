"""The build as the CLI runs it (recograph.pipeline), on each database backend."""

from __future__ import annotations

from sqlalchemy import select

from recograph.db import create_engine
from recograph.models import ModelVersion
from recograph.pipeline import record_model_version


async def test_recording_a_version_again_updates_its_row(database_url: str) -> None:
    await record_model_version(database_url, "v1", "local", {"seed": 1, "metrics": {"ndcg": 0.1}})
    await record_model_version(database_url, "v2", "local", {"seed": 2})
    await record_model_version(database_url, "v1", "spark", {"seed": 3, "metrics": {"ndcg": 0.2}})

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            query = select(
                ModelVersion.version,
                ModelVersion.engine,
                ModelVersion.manifest,
                ModelVersion.metrics,
            ).order_by(ModelVersion.version)
            rows = (await connection.execute(query)).all()
    finally:
        await engine.dispose()
    assert [tuple(row) for row in rows] == [
        ("v1", "spark", {"seed": 3}, {"ndcg": 0.2}),
        ("v2", "local", {"seed": 2}, {}),
    ]
