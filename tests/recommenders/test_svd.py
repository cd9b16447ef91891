"""Truncated SVD (recommenders/svd.py) on matrices whose singular vectors are known."""

from __future__ import annotations

import numpy as np

from recograph.recommenders.svd import fit_svd, score_svd
from tests.recommenders.cf_matrices import (
    CHECKERBOARD,
    SMALL,
    csr,
    random_matrix,
    row,
)


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
