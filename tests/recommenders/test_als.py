"""ALS (recommenders/als.py, through implicit): fold-in and determinism."""

from __future__ import annotations

import numpy as np

from recograph.recommenders.als import (
    fit_als,
    fold_in_als,
)
from tests.recommenders.cf_matrices import (
    random_matrix,
    row,
)


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
