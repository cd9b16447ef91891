"""User-kNN (recommenders/user_knn.py) on tiny matrices whose cosines are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recograph.recommenders.user_knn import (
    fit_user_knn,
    neighbours_from_history,
    score_from_neighbours,
    score_user_knn,
)
from tests.recommenders.cf_matrices import (
    INV_SQRT_6,
    SMALL,
    SQRT_2_3,
    neighbour_dict,
    row,
)


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
