"""EASE (recommenders/ease.py) against hand-worked and numpy-inverse weights."""

from __future__ import annotations

import numpy as np
import pytest

from recograph.recommenders.ease import TooManyItemsError, fit_ease, score_ease
from tests.recommenders.cf_matrices import (
    SMALL,
    csr,
    random_matrix,
)


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
