"""What every collaborative-filtering model shares, on tiny matrices whose answers are known by
construction: the checkerboard ranking, zeros without evidence, arrays that round-trip. Each
model's own figures are in test_item_knn, test_user_knn, test_svd, test_als and test_ease."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from recograph.recommenders.als import (
    ALSModel,
    fit_als,
    fold_in_als,
    score_als,
    score_als_vector,
)
from recograph.recommenders.ease import EASEModel, fit_ease, score_ease
from recograph.recommenders.item_knn import (
    ItemKNN,
    fit_item_knn,
    score_item_knn,
)
from recograph.recommenders.svd import SVDModel, fit_svd, score_svd
from recograph.recommenders.user_knn import (
    UserKNN,
    fit_user_knn,
    score_user_knn,
)
from tests.recommenders.cf_matrices import (
    CHECKERBOARD,
    EMPTY_ITEM,
    EMPTY_USER,
    GROUPS,
    Scores,
    row,
)

# --- every model on the checkerboard -------------------------------------------------------


def _item_knn_scorer(X: sp.csr_matrix) -> Callable[[int], Scores]:
    model = fit_item_knn(X, k=10)
    return lambda u: score_item_knn(model, row(X, u))


def _user_knn_scorer(X: sp.csr_matrix) -> Callable[[int], Scores]:
    model = fit_user_knn(X, k=10)
    return lambda u: score_user_knn(model, X, u)


def _svd_scorer(X: sp.csr_matrix) -> Callable[[int], Scores]:
    model = fit_svd(X, n_factors=2, seed=0)
    return lambda u: score_svd(model, row(X, u))


def _als_scorer(X: sp.csr_matrix) -> Callable[[int], Scores]:
    model = fit_als(X, factors=2, iterations=20, seed=0)
    return lambda u: score_als(model, u)


def _als_fold_in_scorer(X: sp.csr_matrix) -> Callable[[int], Scores]:
    model = fit_als(X, factors=2, iterations=20, seed=0)
    return lambda u: score_als_vector(model, fold_in_als(model, row(X, u)))


def _ease_scorer(X: sp.csr_matrix) -> Callable[[int], Scores]:
    model = fit_ease(X, l2=1.0)
    return lambda u: score_ease(model, row(X, u))


SCORERS = {
    "item_knn": _item_knn_scorer,
    "user_knn": _user_knn_scorer,
    "svd": _svd_scorer,
    "als": _als_scorer,
    "als_fold_in": _als_fold_in_scorer,
    "ease": _ease_scorer,
}


@pytest.mark.parametrize("name", SCORERS)
def test_checkerboard_own_group_unseen_items_rank_above_the_other_group(name: str) -> None:
    scorer = SCORERS[name](CHECKERBOARD)
    for own, other in (GROUPS, GROUPS[::-1]):
        for user in own:
            scores = scorer(int(user))
            assert scores.dtype == np.float32
            assert scores.shape == (7,)
            unseen = [i for i in own if CHECKERBOARD[user, i] == 0]
            assert len(unseen) == 1
            assert scores[unseen[0]] > np.max(scores[other]) + 1e-3, (user, scores)


@pytest.mark.parametrize("name", SCORERS)
def test_empty_user_and_unbought_item_score_exactly_zero(name: str) -> None:
    scorer = SCORERS[name](CHECKERBOARD)
    assert np.array_equal(scorer(EMPTY_USER), np.zeros(7, dtype=np.float32))
    for user in range(6):
        scores = scorer(user)
        assert np.all(np.isfinite(scores))
        assert scores[EMPTY_ITEM] == 0.0


def test_models_fit_on_a_matrix_without_interactions() -> None:
    X = sp.csr_matrix((3, 4), dtype=np.float32)
    zero = np.zeros(4, dtype=np.float32)
    history = np.array([1, 0, 0, 0], dtype=np.float32)
    assert np.array_equal(score_item_knn(fit_item_knn(X), history), zero)
    assert np.array_equal(score_user_knn(fit_user_knn(X), X, 0), zero)
    assert np.array_equal(score_svd(fit_svd(X), history), zero)
    als = fit_als(X, factors=3)
    assert np.array_equal(score_als(als, 0), zero)
    assert np.array_equal(score_als_vector(als, fold_in_als(als, history)), zero)
    assert np.array_equal(score_ease(fit_ease(X), history), zero)


# --- persistence ----------------------------------------------------------------------------

ModelFactory = Callable[[], Any]
MODELS: dict[str, tuple[ModelFactory, type[Any]]] = {
    "item_knn": (lambda: fit_item_knn(CHECKERBOARD, k=2), ItemKNN),
    "user_knn": (lambda: fit_user_knn(CHECKERBOARD, k=2), UserKNN),
    "svd": (lambda: fit_svd(CHECKERBOARD, n_factors=3), SVDModel),
    "als": (lambda: fit_als(CHECKERBOARD, factors=3, iterations=3), ALSModel),
    "ease": (lambda: fit_ease(CHECKERBOARD, l2=2.0), EASEModel),
}


def _scores(model: Any) -> Scores:
    history = row(CHECKERBOARD, 0)
    if isinstance(model, ItemKNN):
        return score_item_knn(model, history)
    if isinstance(model, UserKNN):
        return score_user_knn(model, CHECKERBOARD, 0)
    if isinstance(model, SVDModel):
        return score_svd(model, history)
    if isinstance(model, ALSModel):
        return score_als_vector(model, fold_in_als(model, history))
    return score_ease(model, history)


@pytest.mark.parametrize("name", MODELS)
def test_to_arrays_round_trips_through_npz_without_pickles(name: str, tmp_path: Path) -> None:
    factory, cls = MODELS[name]
    model = factory()
    arrays = model.to_arrays("m.")
    assert all(key.startswith("m.") for key in arrays)
    allowed = {np.dtype(np.float32), np.dtype(np.int32), np.dtype(np.int64), np.dtype(np.float64)}
    assert {array.dtype for array in arrays.values()} <= allowed
    np.savez(tmp_path / "model.npz", allow_pickle=False, **arrays)
    with np.load(tmp_path / "model.npz", allow_pickle=False) as npz:
        loaded = {key: npz[key] for key in npz.files}
    for array in loaded.values():
        array.setflags(write=False)
    restored = cls.from_arrays(loaded, "m.")
    assert np.array_equal(_scores(restored), _scores(model))
    again = restored.to_arrays("m.")
    assert sorted(again) == sorted(arrays)
    for key, array in arrays.items():
        assert np.array_equal(again[key], array), key
