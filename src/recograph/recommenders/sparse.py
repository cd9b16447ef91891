"""Sparse matrices as plain arrays for ``.npz`` artifacts (no pickles), shared by every model."""

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
