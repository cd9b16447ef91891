"""The tiny store's build (tests/tiny_store.py), once per module of the engine's tests."""

from __future__ import annotations

import pytest

from recograph.build import build_artifacts
from recograph.snapshot import ModelSnapshot, load_snapshot
from tests.tiny_store import TINY_PARAMS, tiny_store


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> ModelSnapshot:
    root = tmp_path_factory.mktemp("tiny-artifacts")
    build_artifacts(tiny_store(), root, TINY_PARAMS, evaluate=False)
    return load_snapshot(root)
