"""Sparse matrices as plain arrays for ``.npz`` artifacts (no pickles), and the kernels the
per-request scorers share: the CSR row gather, weighted row sums (dense or on their support)
and per-row dot products."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

Arrays = Mapping[str, npt.NDArray[Any]]


def sparse_to_arrays(matrix: Any, name: str) -> dict[str, npt.NDArray[Any]]:
    """A CSR matrix as ``<name>data`` (float32), ``indices``/``indptr`` (int32), ``shape``."""
    csr = sp.csr_matrix(matrix)
    if csr.nnz >= np.iinfo(np.int32).max:
        raise ValueError(f"{name}: {csr.nnz} non-zeros do not fit int32 indices")
    return {
        f"{name}data": np.ascontiguousarray(csr.data, dtype=np.float32),
        f"{name}indices": np.ascontiguousarray(csr.indices, dtype=np.int32),
        f"{name}indptr": np.ascontiguousarray(csr.indptr, dtype=np.int32),
        f"{name}shape": np.array(csr.shape, dtype=np.int64),
    }


def sparse_from_arrays(arrays: Arrays, name: str) -> sp.csr_matrix:
    """The inverse of ``sparse_to_arrays``; works on read-only arrays without copying them."""
    shape = tuple(int(n) for n in arrays[f"{name}shape"])
    if len(shape) != 2:
        raise ValueError(f"{name}shape must have two entries, got {shape}")
    indptr = arrays[f"{name}indptr"]
    if len(indptr) != shape[0] + 1:
        raise ValueError(f"{name}indptr has {len(indptr)} entries for {shape[0]} rows")
    return sp.csr_matrix(
        (arrays[f"{name}data"], arrays[f"{name}indices"], indptr), shape=shape, copy=False
    )


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
    offsets = (starts - (np.cumsum(lengths) - lengths))[owner]
    return offsets + np.arange(len(owner), dtype=np.int64), owner


def weighted_row_sum(
    matrix: Any, rows: npt.NDArray[np.integer[Any]], weights: npt.NDArray[Any]
) -> npt.NDArray[np.float64]:
    """``Σ_r weights[r] · matrix[rows[r]]`` as a dense float64 vector, for a CSR ``matrix``."""
    positions, owner = row_entries(matrix.indptr, rows)
    values = matrix.data[positions] * np.asarray(weights, dtype=np.float64)[owner]
    sums = np.bincount(matrix.indices[positions], weights=values, minlength=matrix.shape[1])
    return np.asarray(sums, dtype=np.float64)


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
    support, inverse = np.unique(matrix.indices[entries], return_inverse=True)
    sums = np.asarray(np.bincount(inverse, weights=values, minlength=len(support)), np.float64)
    keep = sums > 0
    return support[keep].astype(np.int64), sums[keep]


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
    slot = np.minimum(np.searchsorted(support, positions), len(support) - 1)
    hit = support[slot] == positions
    result[hit] = values[slot[hit]]
    return result
