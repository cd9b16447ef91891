"""Collaborative-filtering signals on tiny matrices whose answers are known by construction."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import scipy.sparse as sp
from sklearn.metrics.pairwise import cosine_similarity

from recograph.recommenders.als import (
    ALSModel,
    fit_als,
    fold_in_als,
    score_als,
    score_als_vector,
)
from recograph.recommenders.ease import EASEModel, TooManyItemsError, fit_ease, score_ease
from recograph.recommenders.item_knn import (
    ItemKNN,
    explain_item_knn,
    fit_item_knn,
    score_item_knn,
    topk_cosine,
)
from recograph.recommenders.svd import SVDModel, fit_svd, score_svd
from recograph.recommenders.user_knn import (
    UserKNN,
    fit_user_knn,
    neighbours_from_history,
    score_from_neighbours,
    score_user_knn,
)

Scores = npt.NDArray[np.float32]
SQRT_2_3 = np.sqrt(2 / 3)
INV_SQRT_6 = 1 / np.sqrt(6)


def csr(rows: list[list[float]]) -> sp.csr_matrix:
    return sp.csr_matrix(np.array(rows, dtype=np.float32))


def row(X: sp.csr_matrix, user: int) -> npt.NDArray[np.float32]:
    return np.asarray(X[user].toarray(), dtype=np.float32).ravel()


# Two groups: customers 0-2 buy only products 0-2, customers 3-5 only products 3-5, each
# missing one product of their own group. Customer 6 bought nothing; nobody bought product 6.
CHECKERBOARD = csr(
    [
        [1, 1, 0, 0, 0, 0, 0],
        [0, 1, 1, 0, 0, 0, 0],
        [1, 0, 1, 0, 0, 0, 0],
        [0, 0, 0, 1, 1, 0, 0],
        [0, 0, 0, 0, 1, 1, 0],
        [0, 0, 0, 1, 0, 1, 0],
        [0, 0, 0, 0, 0, 0, 0],
    ]
)
GROUPS = (np.array([0, 1, 2]), np.array([3, 4, 5]))
EMPTY_USER = 6
EMPTY_ITEM = 6

# Column cosines: (0,1) √(2/3), (0,2) 1/√6, (1,2) 2/3, (2,3) 1/√3, others 0.
# Row cosines: (0,1) √(2/3), (0,2) 1/2, (1,2) √(2/3), (1,3) 1/√6, (2,3) 1/2, (0,3) 0.
SMALL = csr(
    [
        [1, 1, 0, 0],
        [1, 1, 1, 0],
        [0, 1, 1, 0],
        [0, 0, 1, 1],
    ]
)


def random_matrix(n_users: int, n_items: int, density: float, seed: int) -> sp.csr_matrix:
    matrix = sp.random(
        n_users, n_items, density=density, format="csr", random_state=seed, dtype=np.float32
    )
    matrix.data[:] = 1.0
    return sp.csr_matrix(matrix)


def neighbour_dict(matrix: sp.csr_matrix, i: int) -> dict[int, float]:
    line = matrix[i]
    return {int(c): float(v) for c, v in zip(line.indices, line.data, strict=True)}


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


# --- item-kNN -------------------------------------------------------------------------------


def test_item_knn_neighbours_are_exactly_the_own_group_at_cosine_one_half() -> None:
    model = fit_item_knn(CHECKERBOARD, k=10)
    for group in GROUPS:
        for item in group:
            expected = {int(j): 0.5 for j in group if j != item}
            assert neighbour_dict(model.similarity, int(item)) == pytest.approx(expected)
    assert model.similarity[EMPTY_ITEM].nnz == 0


def test_item_knn_cosines_by_hand() -> None:
    model = fit_item_knn(SMALL, k=3)
    expected = {
        0: {1: SQRT_2_3, 2: INV_SQRT_6},
        1: {0: SQRT_2_3, 2: 2 / 3},
        2: {0: INV_SQRT_6, 1: 2 / 3, 3: 1 / np.sqrt(3)},
        3: {2: 1 / np.sqrt(3)},
    }
    for item, neighbours in expected.items():
        assert neighbour_dict(model.similarity, item) == pytest.approx(neighbours)
    assert model.similarity.dtype == np.float32


def test_item_knn_keeps_top_k_per_row() -> None:
    model = fit_item_knn(SMALL, k=1)
    assert neighbour_dict(model.similarity, 0) == pytest.approx({1: SQRT_2_3})
    assert neighbour_dict(model.similarity, 1) == pytest.approx({0: SQRT_2_3})
    assert neighbour_dict(model.similarity, 2) == pytest.approx({1: 2 / 3})
    assert neighbour_dict(model.similarity, 3) == pytest.approx({2: 1 / np.sqrt(3)})


def test_item_knn_ties_go_to_the_lower_index() -> None:
    # Product 0 is bought by customers 0 and 1; products 1 and 2 by one each: equal cosines.
    X = csr([[1, 1, 0], [1, 0, 1]])
    model = fit_item_knn(X, k=1)
    assert neighbour_dict(model.similarity, 0) == pytest.approx({1: 1 / np.sqrt(2)})


def test_item_knn_score_is_history_times_similarity() -> None:
    model = fit_item_knn(SMALL, k=3)
    history = np.array([2, 0, 0, 1], dtype=np.float32)
    expected = np.array([0, 2 * SQRT_2_3, 2 * INV_SQRT_6 + 1 / np.sqrt(3), 0])
    np.testing.assert_allclose(score_item_knn(model, history), expected, rtol=1e-6)


def test_item_knn_explain_names_the_strongest_history_item() -> None:
    model = fit_item_knn(SMALL, k=3)
    source, similarity = explain_item_knn(model, [0, 3], 2) or (-1, 0.0)
    assert source == 3
    assert similarity == pytest.approx(1 / np.sqrt(3))
    weighted = explain_item_knn(model, [0, 3], 2, history_weights=[2.0, 1.0])
    assert weighted is not None
    assert weighted[0] == 0
    assert weighted[1] == pytest.approx(INV_SQRT_6)
    assert explain_item_knn(model, [3], 1) is None
    assert explain_item_knn(model, [], 1) is None


def test_topk_cosine_matches_brute_force_and_does_not_depend_on_blocks() -> None:
    rng = np.random.default_rng(7)
    dense = rng.random((40, 25)) * (rng.random((40, 25)) < 0.3)
    matrix = sp.csr_matrix(dense.astype(np.float32))
    k = 4
    single = topk_cosine(matrix, k)
    blocked = topk_cosine(matrix, k, block_nnz=1)
    assert (single != blocked).nnz == 0
    brute = cosine_similarity(dense)
    np.fill_diagonal(brute, 0.0)
    for i in range(40):
        positive = np.flatnonzero(brute[i] > 0)
        best = positive[np.argsort(-brute[i, positive], kind="stable")][:k]
        expected = {int(j): float(brute[i, j]) for j in best}
        assert neighbour_dict(single, i) == pytest.approx(expected, rel=1e-5)


def test_history_of_the_wrong_length_is_refused() -> None:
    model = fit_item_knn(SMALL)
    with pytest.raises(ValueError, match="shape"):
        score_item_knn(model, np.ones(3, dtype=np.float32))


# --- user-kNN -------------------------------------------------------------------------------


def test_user_knn_neighbours_by_hand_with_ties_to_the_lower_index() -> None:
    model = fit_user_knn(SMALL, k=2)
    assert neighbour_dict(model.neighbours, 0) == pytest.approx({1: SQRT_2_3, 2: 0.5})
    assert neighbour_dict(model.neighbours, 1) == pytest.approx({0: SQRT_2_3, 2: SQRT_2_3})
    assert neighbour_dict(model.neighbours, 2) == pytest.approx({1: SQRT_2_3, 0: 0.5})
    assert neighbour_dict(model.neighbours, 3) == pytest.approx({2: 0.5, 1: INV_SQRT_6})
    nearest = fit_user_knn(SMALL, k=1)
    assert neighbour_dict(nearest.neighbours, 1) == pytest.approx({0: SQRT_2_3})


def test_user_knn_scores_sum_neighbour_rows_weighted_by_similarity() -> None:
    model = fit_user_knn(SMALL, k=2)
    expected = np.array([INV_SQRT_6, 0.5 + INV_SQRT_6, 0.5 + INV_SQRT_6, 0])
    np.testing.assert_allclose(score_user_knn(model, SMALL, 3), expected, rtol=1e-6)


def test_neighbours_from_history_match_the_fit_for_a_training_customer() -> None:
    model = fit_user_knn(SMALL, k=2)
    positions, sims = neighbours_from_history(model, SMALL, row(SMALL, 3), k=2, exclude=3)
    assert positions.tolist() == [2, 1]
    np.testing.assert_allclose(sims, [0.5, INV_SQRT_6], rtol=1e-6)
    assert positions.dtype == np.int32
    assert sims.dtype == np.float32


def test_neighbours_from_a_live_history() -> None:
    model = fit_user_knn(SMALL, k=2)
    live = row(SMALL, 3)
    live[0] = 1.0  # customer 3 just bought product 0: history (1, 0, 1, 1)
    positions, sims = neighbours_from_history(model, SMALL, live, k=3, exclude=3)
    assert positions.tolist() == [1, 0, 2]
    np.testing.assert_allclose(sims, [2 / 3, INV_SQRT_6, INV_SQRT_6], rtol=1e-6)
    with_self, self_sims = neighbours_from_history(model, SMALL, live, k=1)
    assert with_self.tolist() == [3]
    np.testing.assert_allclose(self_sims, [SQRT_2_3], rtol=1e-6)
    scores = score_from_neighbours(SMALL, positions, sims)
    np.testing.assert_allclose(
        scores, 2 / 3 * row(SMALL, 1) + INV_SQRT_6 * (row(SMALL, 0) + row(SMALL, 2)), rtol=1e-6
    )


def test_neighbours_from_history_agree_with_the_fit_for_every_customer() -> None:
    rng = np.random.default_rng(11)
    dense = rng.random((50, 20)) * (rng.random((50, 20)) < 0.25)  # continuous: no ties
    X = sp.csr_matrix(dense.astype(np.float32))
    model = fit_user_knn(X, k=3)
    for user in range(50):
        positions, sims = neighbours_from_history(model, X, row(X, user), k=3, exclude=user)
        expected = neighbour_dict(model.neighbours, user)
        assert sorted(positions.tolist()) == sorted(expected)
        assert np.all(np.diff(sims) <= 0)
        assert dict(zip(positions.tolist(), sims.tolist(), strict=True)) == pytest.approx(
            expected, rel=1e-5
        )


def test_neighbours_of_an_empty_history_are_none() -> None:
    model = fit_user_knn(SMALL, k=2)
    positions, sims = neighbours_from_history(model, SMALL, np.zeros(4), k=2)
    assert positions.size == 0
    assert sims.size == 0
    assert np.array_equal(score_from_neighbours(SMALL, positions, sims), np.zeros(4))


# --- SVD --------------------------------------------------------------------------------------


def test_svd_projects_onto_the_group_directions() -> None:
    # Each group block has singular values 2, 1, 1 with top direction (1, 1, 1)/√3, so two
    # factors span the two groups' all-ones vectors: (h @ V) @ V.T averages h over its group.
    model = fit_svd(CHECKERBOARD, n_factors=2, seed=0)
    expected = np.array([2, 2, 2, 0, 0, 0, 0]) / 3
    np.testing.assert_allclose(score_svd(model, row(CHECKERBOARD, 0)), expected, atol=1e-5)


def test_svd_caps_factors_and_is_deterministic() -> None:
    X = random_matrix(30, 12, 0.3, seed=3)
    assert fit_svd(SMALL, n_factors=50).item_factors.shape == (4, 3)
    first, second = fit_svd(X, n_factors=5, seed=4), fit_svd(X, n_factors=5, seed=4)
    assert first.item_factors.dtype == np.float32
    assert np.array_equal(first.item_factors, second.item_factors)
    one_item = fit_svd(csr([[1], [1]]), n_factors=5)
    assert one_item.item_factors.shape == (1, 0)
    assert np.array_equal(score_svd(one_item, np.ones(1)), np.zeros(1))


# --- ALS ------------------------------------------------------------------------------------


def test_als_fold_in_reproduces_the_trained_user_factors() -> None:
    X = random_matrix(60, 25, 0.15, seed=5)
    X.data[::3] = 2.0  # a few repeat purchases, so confidence varies
    model = fit_als(X, factors=8, regularization=0.1, iterations=10, alpha=2.0, seed=1)
    for user in range(60):
        np.testing.assert_allclose(
            fold_in_als(model, row(X, user)), model.user_factors[user], atol=1e-4
        )


def test_als_is_deterministic_for_a_seed() -> None:
    X = random_matrix(80, 30, 0.1, seed=6)
    first = fit_als(X, factors=6, iterations=5, seed=3)
    second = fit_als(X, factors=6, iterations=5, seed=3, num_threads=1)
    assert first.user_factors.dtype == np.float32
    assert first.item_factors.dtype == np.float32
    assert np.array_equal(first.user_factors, second.user_factors)
    assert np.array_equal(first.item_factors, second.item_factors)


# --- EASE -----------------------------------------------------------------------------------


def test_ease_three_items_by_hand() -> None:
    # G + I = [[3,2,1],[2,4,2],[1,2,3]], whose inverse is [[.5,-.25,0],[-.25,.5,-.25],[0,-.25,.5]];
    # B = -P / diag(P) with a zero diagonal.
    X = csr([[1, 1, 0], [0, 1, 1], [1, 1, 1]])
    model = fit_ease(X, l2=1.0)
    expected = np.array([[0, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0]], dtype=np.float32)
    np.testing.assert_allclose(model.weights, expected, atol=1e-6)
    np.testing.assert_allclose(score_ease(model, [1, 0, 0]), [0, 0.5, 0], atol=1e-6)


def test_ease_products_nobody_bought_get_zero_weights_and_leave_the_rest_unchanged() -> None:
    # The hand-worked three items above with a never-bought product inserted at position 1:
    # only the bought products' block is inverted, and it is the same block.
    X = csr([[1, 0, 1, 0], [0, 0, 1, 1], [1, 0, 1, 1]])
    model = fit_ease(X, l2=1.0)
    expected = np.zeros((4, 4), dtype=np.float32)
    expected[np.ix_([0, 2, 3], [0, 2, 3])] = [[0, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0]]
    np.testing.assert_allclose(model.weights, expected, atol=1e-6)


def test_ease_matches_the_formula_with_a_numpy_inverse() -> None:
    X = random_matrix(400, 1100, 0.01, seed=8)  # over one symmetrisation block
    assert (X.getnnz(axis=0) == 0).sum() == 15  # products nobody bought are covered too
    model = fit_ease(X, l2=5.0)
    gram = (X.T @ X).toarray().astype(np.float64) + 5.0 * np.eye(1100)
    precision = np.linalg.inv(gram)
    expected = -precision / np.diag(precision)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(model.weights, expected, atol=1e-6)


def test_ease_refuses_a_large_catalogue() -> None:
    with pytest.raises(TooManyItemsError, match="max_items=2"):
        fit_ease(SMALL, max_items=2)
    with pytest.raises(ValueError, match="l2"):
        fit_ease(SMALL, l2=0.0)


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
