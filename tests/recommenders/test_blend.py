"""`blend.normalise`: one request's row and a batch of rows give the same float32 values."""

from __future__ import annotations

import numpy as np

from recograph.recommenders.blend import normalise


def _reference(row: np.ndarray) -> np.ndarray:
    """The definition: negatives and non-finite values 0, the rest ÷ the row's maximum."""
    clean = np.where(np.isfinite(row) & (row > 0), row, 0).astype(np.float32)
    peak = clean.max() if clean.size else np.float32(0)
    return clean / peak if peak > 0 else clean


def test_a_row_is_scaled_by_its_maximum_exactly_as_defined() -> None:
    rows = [
        np.array([0.0, 0.25, 3.0, 1.5], dtype=np.float32),  # clean
        np.array([-0.0, 0.0, 2.0], dtype=np.float32),  # negative zero
        np.array([-1.0, 0.5, 2.0], dtype=np.float32),
        np.array([np.nan, 0.5, 2.0], dtype=np.float32),
        np.array([np.inf, 0.5], dtype=np.float32),
        np.zeros(3, dtype=np.float32),
        np.zeros(0, dtype=np.float32),
        np.array([0.1, 0.7], dtype=np.float64),
    ]
    for row in rows:
        got = normalise(row)
        expected = _reference(row)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, expected)
        assert not np.signbit(got).any()
        assert got is not row


def test_a_batch_is_scaled_row_by_row_like_single_rows() -> None:
    batch = np.array([[0.0, 2.0, 1.0], [-1.0, 0.5, 0.25]], dtype=np.float32)
    np.testing.assert_array_equal(normalise(batch), np.stack([normalise(r) for r in batch]))
