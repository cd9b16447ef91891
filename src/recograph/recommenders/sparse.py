"""The kernels the per-request scorers share (the CSR row gather, weighted row sums, dense or
on their support, and per-row dot products) and, from `core.codec` where the artifact format
lives, sparse matrices as plain arrays for ``.npz`` artifacts (no pickles)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from recograph.core.codec import Arrays, sparse_from_arrays, sparse_to_arrays

__all__ = [
    "Arrays",
    "dense_block",
    "distinct",
    "distinct_counts",
    "row_entries",
    "sparse_from_arrays",
    "sparse_to_arrays",
    "weighted_row_sum",
]


def row_entries(
    indptr: npt.NDArray[np.integer[Any]], rows: npt.NDArray[np.integer[Any]]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """For the CSR rows ``rows`` (given by ``indptr``): positions of their entries in
    ``indices``/``data``, row after row, and for each entry the index into ``rows`` it came from.

    Plain numpy on ``indptr``: per request this is several times faster than scipy's fancy row
    indexing, which dominates on small catalogues.
    """
    starts = indptr[rows].astype(np.int64)
    lengths = indptr[np.asarray(rows) + 1].astype(np.int64) - starts
    owner = np.repeat(np.arange(len(starts), dtype=np.int64), lengths)
    offsets = (starts - (lengths.cumsum() - lengths))[owner]
    return offsets + np.arange(len(owner), dtype=np.int64), owner


def weighted_row_sum(
    matrix: Any, rows: npt.NDArray[np.integer[Any]], weights: npt.NDArray[Any]
) -> npt.NDArray[np.float64]:
    """``Σ_r weights[r] · matrix[rows[r]]`` as a dense float64 vector, for a CSR ``matrix``."""
    positions, owner = row_entries(matrix.indptr, rows)
    values = matrix.data[positions] * np.asarray(weights, dtype=np.float64)[owner]
    sums = np.bincount(matrix.indices[positions], weights=values, minlength=matrix.shape[1])
    return np.asarray(sums, dtype=np.float64)


def distinct(values: npt.ArrayLike) -> npt.NDArray[Any]:
    """`np.unique` of integers (sorted distinct values, same dtype) by one sort: numpy 2's
    `np.unique` hashes the values and then sorts them, several times slower on a request's
    few hundred positions (2,000 positions: 412 vs 44 µs here)."""
    ordered = _sorted(values)
    if ordered.size < 2:
        return ordered
    return ordered[_run_starts(ordered)]


def distinct_counts(
    values: npt.ArrayLike,
) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
    """`distinct` and how often each value occurs (`np.unique(return_counts=True)` by the
    same one sort)."""
    ordered = _sorted(values)
    if ordered.size == 0:
        return ordered, np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(_run_starts(ordered))
    return ordered[starts], np.diff(starts, append=ordered.size)


def _sorted(values: npt.ArrayLike) -> npt.NDArray[Any]:
    """``np.sort`` of the flattened ``values`` (a sorted copy), by the array method: on a
    request's small arrays the function's dispatch costs as much as the sort."""
    ordered = np.array(values, copy=True).ravel()
    ordered.sort()
    return ordered


def _run_starts(ordered: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    """Whether each value of the sorted, non-empty ``ordered`` starts a run of equal ones."""
    first = np.empty(ordered.size, dtype=np.bool_)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return first


def dense_block(
    matrix: Any, rows: npt.NDArray[np.integer[Any]], columns: npt.NDArray[np.integer[Any]]
) -> npt.NDArray[np.float64]:
    """``matrix[rows][:, columns]`` of a canonical CSR ``matrix`` (sorted column indices, no
    duplicates) as a dense float64 (len(rows) × len(columns)) block, read straight from its
    arrays: scipy's fancy indexing builds two intermediate matrices and validates them,
    which costs a request more than the few entries it reads. The gathered rows' entries,
    keyed (row, column), are ascending, so one binary search finds every cell."""
    at = np.asarray(rows, dtype=np.int64).ravel()
    wanted = np.asarray(columns, dtype=np.int64).ravel()
    block = np.zeros((len(at), len(wanted)), dtype=np.float64)
    entries, owner = row_entries(matrix.indptr, at)
    if entries.size == 0 or wanted.size == 0:
        return block
    width = int(matrix.shape[1])
    keys = owner * width + matrix.indices[entries]
    cells = (np.arange(len(at), dtype=np.int64) * width)[:, None] + wanted
    slot = np.minimum(np.searchsorted(keys, cells), len(keys) - 1)
    hit = keys[slot] == cells
    block[hit] = matrix.data[entries[slot[hit]]]
    return block


def row_sum_support(
    matrix: Any, rows: npt.NDArray[np.integer[Any]], weights: npt.ArrayLike
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """`weighted_row_sum` where it is positive, as (ascending positions, sums), without the
    dense vector: the same float64 additions in the same order, so the same values."""
    wanted = np.asarray(rows, dtype=np.int64).ravel()
    entries, owner = row_entries(matrix.indptr, wanted)
    if entries.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    values = matrix.data[entries] * np.asarray(weights, dtype=np.float64)[owner]
    # Grouped by one stable sort (`np.unique(return_inverse=True)` hashes, then sorts): each
    # position's terms keep their order, so bincount adds them as `weighted_row_sum` does.
    columns = matrix.indices[entries]
    order = _stable_order(columns, int(matrix.shape[1]))
    ordered = columns[order]
    first = _run_starts(ordered)
    group = first.cumsum() - 1
    sums = np.asarray(np.bincount(group, weights=values[order]), dtype=np.float64)
    keep = sums > 0
    return ordered[first][keep].astype(np.int64), sums[keep]


def summed_by_position(
    positions: npt.NDArray[np.integer[Any]], terms: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The distinct ``positions``, ascending, each with the sum of its ``terms`` from 0 in
    their given order: what adding each part's terms into a zeroed float64 vector in turn
    holds there (the same additions in the same order), by one stable sort instead of a
    lookup per part. Made for a few parts, each ascending, one after another: numpy's stable
    sort (a merge of runs) merges them in a pass, several times faster there than
    `_stable_order`'s keys (700 positions in two parts: 5 vs 43 µs)."""
    if len(positions) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    order = positions.argsort(kind="stable")
    ordered = positions[order]
    first = _run_starts(ordered)
    sums = np.bincount(first.cumsum() - 1, weights=terms[order])
    return ordered[first].astype(np.int64), np.asarray(sums, dtype=np.float64)


def _stable_order(values: npt.NDArray[np.integer[Any]], bound: int) -> npt.NDArray[np.int64]:
    """``values.argsort(kind="stable")`` of integers in [0, ``bound``), by one plain sort of
    the distinct keys (value, index): numpy's stable argsort of int32 is a merge sort, about
    twice as slow on a request's thousands of neighbour entries (1,500: 33 vs 18 µs)."""
    bits = max(1, (len(values) - 1).bit_length())
    if bits + max(1, bound - 1).bit_length() > 62:  # the keys would not fit in int64
        return values.argsort(kind="stable").astype(np.int64)
    keys = (values.astype(np.int64) << bits) | np.arange(len(values), dtype=np.int64)
    keys.sort()
    keys &= (1 << bits) - 1
    return keys


def row_dots(
    matrix: npt.NDArray[np.float32],
    vector: npt.NDArray[np.float32],
    rows: npt.NDArray[np.integer[Any]] | None = None,
) -> npt.NDArray[np.float32]:
    """``matrix[rows] @ vector`` (every row when ``rows`` is None), each row's dot product
    summed the same way whichever rows are asked for: BLAS's gemv blocks rows together, so
    the dot of a row gathered alone can differ from the full product in its last bit, and
    two-stage ranking must score a candidate exactly as full scoring does."""
    block = matrix if rows is None else matrix[rows]
    return np.asarray(np.einsum("ij,j->i", block, vector), dtype=np.float32)


def values_at(
    support: npt.NDArray[np.int64], values: npt.NDArray[Any], positions: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """``values`` (given on the ascending ``support``) at ``positions``, 0 elsewhere."""
    result = np.zeros(len(positions), dtype=np.float64)
    if len(support) == 0:
        return result
    slot, hit = slots(support, positions)
    result[hit] = values[slot[hit]]
    return result


def slots(
    support: npt.NDArray[np.int64], positions: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """Where each of ``positions`` is in the ascending, non-empty ``support`` (a valid index
    either way) and whether it is there: one binary search for every array kept on it."""
    slot = support.searchsorted(positions)  # the method: np.searchsorted's wrapper costs
    np.minimum(slot, len(support) - 1, out=slot)
    return slot, support[slot] == positions
