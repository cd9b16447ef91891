"""The request kernels on CSR arrays agree with scipy's own indexing."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recograph.recommenders.sparse import (
    _stable_order,
    dense_block,
    distinct,
    distinct_counts,
    row_sum_support,
    slots,
    summed_by_position,
    weighted_row_sum,
)


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


def test_distinct_counts_equals_np_unique_with_counts() -> None:
    rng = np.random.default_rng(11)
    for size in (0, 1, 2, 30, 2000):
        values = rng.integers(0, 50, size)
        found, counts = distinct_counts(values)
        expected, expected_counts = np.unique(values, return_counts=True)
        np.testing.assert_array_equal(found, expected)
        np.testing.assert_array_equal(counts, expected_counts)


def test_row_sum_support_is_the_weighted_row_sum_where_positive_bit_for_bit() -> None:
    # float32 entries times float64 weights: the sums agree only if each position's terms
    # are added in the same order, so any regrouping would show in the last bits
    matrix = _matrix(5)
    rng = np.random.default_rng(5)
    for size in (1, 3, 12, 40):
        rows = rng.choice(40, size, replace=False)
        weights = rng.random(size) * 3
        positions, sums = row_sum_support(matrix, rows, weights)
        dense = weighted_row_sum(matrix, rows, weights)
        np.testing.assert_array_equal(positions, np.flatnonzero(dense > 0))
        assert sums.tobytes() == dense[positions].tobytes()
    empty = row_sum_support(matrix, np.zeros(0, dtype=np.int64), np.zeros(0))
    assert empty[0].size == 0
    assert empty[1].size == 0


def test_summed_by_position_adds_each_positions_terms_as_a_dense_vector_would() -> None:
    positions, sums = summed_by_position(np.array([7, 2, 7, 0]), np.array([0.5, 1.0, 0.25, 3.0]))
    assert positions.tolist() == [0, 2, 7]
    assert sums.tolist() == [3.0, 1.0, 0.75]
    # Bit for bit: parts added in turn into a zeroed vector (a term per part and position),
    # where the order of the additions shows in the last bits.
    rng = np.random.default_rng(7)
    for size in (1, 5, 30):
        parts = [np.sort(rng.choice(50, size, replace=False)) for _ in range(3)]
        terms = [rng.random(size) / 3 for _ in parts]
        dense = np.zeros(50, dtype=np.float64)
        for part, term in zip(parts, terms, strict=True):
            dense[part] += term
        positions, sums = summed_by_position(np.concatenate(parts), np.concatenate(terms))
        np.testing.assert_array_equal(positions, np.unique(np.concatenate(parts)))
        assert sums.tobytes() == dense[positions].tobytes()
    empty = summed_by_position(np.zeros(0, dtype=np.int64), np.zeros(0))
    assert empty[0].size == 0
    assert empty[1].size == 0


def test_slots_finds_each_position_or_says_it_is_absent() -> None:
    support = np.array([2, 5, 9, 20], dtype=np.int64)
    slot, hit = slots(support, np.array([9, 0, 20, 21, 5, 6], dtype=np.int64))
    np.testing.assert_array_equal(hit, [True, False, True, False, True, False])
    np.testing.assert_array_equal(slot[hit], [2, 3, 1])
    assert slot.min() >= 0
    assert slot.max() < len(support)


def test_stable_order_equals_numpys_stable_argsort_ties_kept_in_order() -> None:
    rng = np.random.default_rng(3)
    for size, bound in ((1, 5), (7, 3), (1500, 29_100), (4097, 40)):
        values = rng.integers(0, bound, size).astype(np.int32)
        expected = values.argsort(kind="stable")
        np.testing.assert_array_equal(_stable_order(values, bound), expected)
    # keys too wide for int64: numpy's own stable argsort
    wide = np.array([5, 1, 5, 0], dtype=np.int64)
    np.testing.assert_array_equal(_stable_order(wide, 2**62), [3, 1, 0, 2])
