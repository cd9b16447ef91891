"""Adding a CF model is one module and one registry line (issue 15): a model registered here,
in the test alone, is fitted by the build, stored in and loaded from the artifacts, scored by
the evaluation and served by name, with no other module knowing it.

The model is "most co-bought": for each pair of products, how many customers bought both;
a history scores each product by its co-purchases with the history's products. On the tiny
store (see tests/tiny_store.py; the canceled order o9 does not count) the pairs are laptop +
mouse (c1, c2: 2), laptop + keyboard (c3: 1) and headphones + amp (c4, c5: 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pytest
import scipy.sparse as sp

from recograph import engine
from recograph.build import StepTimer, build_artifacts, fit_snapshot
from recograph.core.vocabulary import SignalName, Strategy
from recograph.recommenders import registry
from recograph.recommenders.codec import ArrayCoded, sparse
from recograph.recommenders.protocol import (
    CFEvidence,
    CFProfile,
    CFRequest,
    Positions,
    largest_terms,
)
from recograph.recommenders.registry import CFEntry, ModelParams
from recograph.snapshot import load_snapshot
from tests.tiny_store import (
    AMP,
    HEADPHONES,
    KEYBOARD,
    LAPTOP,
    MOUSE,
    TINY_PARAMS,
    tiny_store,
)

NAME = "co_bought"


@dataclass(frozen=True)
class CoBought(ArrayCoded):
    """Customers who bought each pair of products (symmetric, zero diagonal)."""

    ARRAY_PREFIX: ClassVar[str] = f"{NAME}."
    pairs: sp.csr_matrix = field(metadata=sparse())

    # Sparse scores: two-stage ranking takes its `support`, no stored per-customer lists.
    STORED_LISTS: ClassVar[bool] = False

    def score(self, request: CFRequest) -> npt.NDArray[np.float32]:
        return np.asarray(self.pairs.T @ request.history, dtype=np.float32).ravel()

    def _sparse_scores(self, profile: CFProfile) -> sp.csr_matrix:
        history = sp.csr_matrix(
            (profile.values, profile.items, [0, len(profile.items)]),
            shape=(1, self.pairs.shape[0]),
        )
        return sp.csr_matrix(history @ self.pairs)

    def score_at(self, profile: CFProfile, positions: Positions) -> npt.NDArray[np.float32]:
        return np.asarray(self._sparse_scores(profile)[:, positions].toarray(), np.float32).ravel()

    def support(self, profile: CFProfile) -> tuple[Positions, npt.NDArray[np.float64]]:
        row = self._sparse_scores(profile)
        row.sort_indices()
        keep = row.data > 0
        return row.indices[keep].astype(np.int64), row.data[keep].astype(np.float64)

    def customer_scores(self, interactions: sp.csr_matrix, users: Positions) -> None:
        return None

    def evidence(self, profile: CFProfile, items: Positions) -> list[CFEvidence | None]:
        figures = self.pairs[profile.items][:, items].toarray().T.astype(np.float64)
        terms = figures * profile.values.astype(np.float64)
        return largest_terms(profile.items, terms, figures, "customers who bought both")


def fit_co_bought(matrix: sp.csr_matrix, params: ModelParams) -> CoBought:
    bought = (sp.csr_matrix(matrix) > 0).astype(np.float32)
    pairs = sp.csr_matrix(bought.T @ bought)
    pairs.setdiag(0)
    pairs.eliminate_zeros()
    return CoBought(pairs=pairs)


@pytest.fixture
def with_co_bought(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry with one more line, for this test only (monkeypatch restores it)."""
    entry = CFEntry(NAME, CoBought, fit_co_bought)
    monkeypatch.setattr(registry, "CF_REGISTRY", (*registry.CF_REGISTRY, entry))


def _position(product_id: int) -> int:
    return product_id - 1  # the tiny store's products are 1..7, positions in id order


def _expected_pairs() -> list[list[float]]:
    expected = np.zeros((7, 7))
    for a, b, customers in ((LAPTOP, MOUSE, 2), (LAPTOP, KEYBOARD, 1), (HEADPHONES, AMP, 2)):
        expected[_position(a), _position(b)] = expected[_position(b), _position(a)] = customers
    result: list[list[float]] = expected.tolist()
    return result


@pytest.mark.usefixtures("with_co_bought")
def test_the_build_fits_a_registered_model_as_one_more_step() -> None:
    timer = StepTimer()
    snapshot = fit_snapshot(tiny_store(), TINY_PARAMS, timer=timer)
    model: Any = snapshot.cf_model(NAME)
    assert isinstance(model, CoBought)
    assert model.pairs.toarray().tolist() == _expected_pairs()
    assert list(snapshot.cf) == ["item_knn", "user_knn", "svd", "als", "ease", NAME]
    assert NAME in timer.timings


@pytest.mark.usefixtures("with_co_bought")
def test_a_registered_model_is_stored_loaded_evaluated_and_served_by_name(tmp_path: Path) -> None:
    result = build_artifacts(tiny_store(), tmp_path, TINY_PARAMS)
    assert result.path is not None
    assert result.report is not None
    assert NAME in result.report.results  # scored alone, as every CF model is
    with np.load(result.path / "arrays.npz") as stored:
        names = list(stored.files)
    ours = [name for name in names if name.startswith(f"{NAME}.")]
    assert ours == [f"{NAME}.pairs.{part}" for part in ("data", "indices", "indptr", "shape")]
    last_ease = max(i for i, name in enumerate(names) if name.startswith("ease."))
    assert names.index(ours[0]) == last_ease + 1  # registry order is artifact order

    loaded = load_snapshot(tmp_path)
    model: Any = loaded.cf_model(NAME)
    assert isinstance(model, CoBought)
    assert model.pairs.toarray().tolist() == _expected_pairs()

    # c3 bought laptop and keyboard: the mouse (2 co-purchases with the laptop) is the only
    # product left with a co-purchase score (laptop and keyboard are filtered as bought).
    c3 = loaded.histories.index.position(3)
    answer = engine.recommend(
        loaded,
        engine.Request(user=c3, strategy=Strategy.COLLABORATIVE, cf_models=((NAME, 1.0),)),
    )
    cf = {item.position: item.contributions[0] for item in answer.items}
    assert answer.items[0].position == _position(MOUSE)
    assert {position for position, c in cf.items() if c.score > 0} == {_position(MOUSE)}
    assert cf[_position(MOUSE)].signal is SignalName.CF
    assert cf[_position(MOUSE)].score == 1.0  # normalised: the best co-purchase score
    assert not {_position(LAPTOP), _position(KEYBOARD)} & set(cf)
