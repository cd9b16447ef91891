"""The request kernels on CSR arrays agree with scipy's own indexing."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recograph.recommenders.sparse import dense_block, distinct


def _matrix(seed: int = 3) -> sp.csr_matrix:
    matrix = sp.random(40, 40, density=0.15, format="csr", dtype=np.float32, random_state=seed)
    matrix.sort_indices()
    return matrix


def test_dense_block_equals_scipy_fancy_indexing() -> None:
    matrix = _matrix()
    rows = np.array([5, 0, 17, 39, 5])  # a repeated row, unsorted
    columns = np.array([3, 12, 12, 0, 38, 21])  # a repeated column
    expected = matrix[rows][:, columns].toarray().astype(np.float64)
    block = dense_block(matrix, rows, columns)
    assert block.dtype == np.float64
    np.testing.assert_array_equal(block, expected)


def test_dense_block_of_empty_rows_or_columns_is_zeros_of_that_shape() -> None:
    matrix = sp.csr_matrix((4, 4), dtype=np.float32)
    assert dense_block(matrix, np.array([1, 2]), np.array([0, 3, 3])).shape == (2, 3)
    assert not dense_block(matrix, np.array([1, 2]), np.array([0, 3, 3])).any()
    assert dense_block(_matrix(), np.zeros(0, dtype=np.int64), np.array([1])).shape == (0, 1)
    assert dense_block(_matrix(), np.array([1]), np.zeros(0, dtype=np.int64)).shape == (1, 0)


def test_distinct_equals_np_unique_on_integers() -> None:
    rng = np.random.default_rng(7)
    for size in (0, 1, 2, 30, 2000):
        for dtype in (np.int32, np.int64):
            values = rng.integers(0, 50, size).astype(dtype)
            found = distinct(values)
            assert found.dtype == dtype
            np.testing.assert_array_equal(found, np.unique(values))
