"""Fixtures shared by the suite: the demo store, generated once, and one build of it; and an
empty database per test on each backend (``database_url``).

Tests that only read the session fixtures must not modify them; tests that need a store or
artifacts of their own make them in ``tmp_path``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from recograph.build import BuildParams, BuildResult, build_artifacts
from recograph.dataset import StoreData
from recograph.snapshot import ModelSnapshot, load_snapshot
from tests.pg import fresh_database, requires_postgres

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The TechHeaven demo store at scale 1, seed 42 (the exact counts of the issue)."""
    from recograph_lab.demo.generator import generate_store

    out = tmp_path_factory.mktemp("techheaven")
    generate_store(out, seed=42, scale=1.0)
    return out


@pytest.fixture(scope="session")
def demo_store(demo_dir: Path) -> StoreData:
    from recograph.io.reader import read_store

    result = read_store(demo_dir)
    assert result.rejects == [], result.rejects[:3]
    return result.data


@pytest.fixture(scope="session")
def demo_build(demo_store: StoreData, tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    """One evaluated build of the demo store, published to its own artifact root."""
    root = tmp_path_factory.mktemp("artifacts")
    return build_artifacts(demo_store, root, BuildParams(seed=42), evaluate=True)


@pytest.fixture(scope="session")
def artifacts_root(demo_build: BuildResult) -> Path:
    assert demo_build.path is not None
    return demo_build.path.parent


@pytest.fixture(scope="session")
def snapshot(artifacts_root: Path) -> ModelSnapshot:
    return load_snapshot(artifacts_root)


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, requires_postgres])]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of this test's own, once per backend: SQLite always, PostgreSQL when
    a server is given (`tests.pg`). A test that takes it runs on both; nothing in it may
    depend on the backend."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    else:
        yield from fresh_database()
