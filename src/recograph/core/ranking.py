"""Top-k selection: the one ranking rule (ties to the lower position) that evaluation, the
snapshot's best sellers and the tuner share; below every model, so any layer may rank."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

ExcludeMask: TypeAlias = sp.sparray | sp.spmatrix | npt.NDArray[np.bool_]

DEFAULT_HEAD_SIZE = 20
EMPTY = -1

# Elements of the dense score block `top_k` works on at once (float32: 32 MB).
_BLOCK_ELEMENTS = 8_000_000


def popular_head(popularity: npt.ArrayLike, n: int = DEFAULT_HEAD_SIZE) -> npt.NDArray[np.int64]:
    """Positions of the ``n`` most popular items (e.g. units sold per item position).

    Ties go to the lower position, as in `top_k`; fewer than n when the catalogue is smaller.
    """
    chosen = top_k(np.asarray(popularity, dtype=np.float64).ravel(), n)
    return np.asarray(chosen[chosen != EMPTY], dtype=np.int64)


# --- top-k selection -------------------------------------------------------------------------


def top_k(
    scores: npt.ArrayLike, k: int, exclude: ExcludeMask | None = None
) -> npt.NDArray[np.int64]:
    """Positions of the k highest scores per row, best first: the ``recommended`` array.

    ``scores`` is (n_users, n_items) or one (n_items,) vector (then the result is (k,)).
    ``exclude`` (sparse or dense, same shape) removes the items at its non-zero entries, e.g.
    what each user already bought. Ties go to the lower position, so results are reproducible.
    Only scores above -inf (and not NaN) are candidates; slots beyond the candidates hold -1.
    Works on blocks of rows so memory stays bounded however many users there are.
    """
    arr = np.asarray(scores)
    if arr.ndim == 1:
        mask = None
        if exclude is not None:
            mask = exclude if sp.issparse(exclude) else np.asarray(exclude).reshape(1, -1)
        single: npt.NDArray[np.int64] = top_k(arr.reshape(1, -1), k, mask)[0]
        return single
    if arr.ndim != 2:
        raise ValueError(f"scores must be 1-D or 2-D, got shape {arr.shape}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if exclude is not None:
        if exclude.shape != arr.shape:
            raise ValueError(f"exclude has shape {exclude.shape}, scores {arr.shape}")
        exclude = sp.csr_array(exclude) if sp.issparse(exclude) else np.asarray(exclude, dtype=bool)
    n_users, n_items = arr.shape
    out = np.full((n_users, k), EMPTY, dtype=np.int64)
    if n_items == 0:
        return out
    dtype = np.float64 if arr.dtype == np.float64 else np.float32
    block = max(1, _BLOCK_ELEMENTS // n_items)
    width = min(k, n_items)
    for start in range(0, n_users, block):
        stop = min(start + block, n_users)
        chunk: npt.NDArray[np.floating] = np.array(arr[start:stop], dtype=dtype)
        if exclude is not None:
            if sp.issparse(exclude):
                rows, cols = exclude[start:stop].nonzero()
                chunk[rows, cols] = -np.inf
            else:
                chunk[exclude[start:stop]] = -np.inf
        chunk[np.isnan(chunk)] = -np.inf
        out[start:stop, :width] = _top_k_block(chunk, width)
    return out


def _top_k_block(scores: npt.NDArray[np.floating], k: int) -> npt.NDArray[np.int64]:
    """`top_k` on a copy with exclusions already at -inf; k ≤ n_items."""
    n_rows, n_items = scores.shape
    row_idx = np.arange(n_rows)[:, None]
    if k < n_items:
        # The k-th largest value per row; every larger score is in, ties at it fill the
        # remaining places from the lowest position up (argpartition alone breaks ties
        # arbitrarily).
        kth_pos = np.argpartition(scores, n_items - k, axis=1)[:, n_items - k]
        kth = scores[np.arange(n_rows), kth_pos][:, None]
        above = scores > kth
        tied = scores == kth
        room = k - above.sum(axis=1, keepdims=True)
        chosen = above | (tied & (np.cumsum(tied, axis=1) <= room))
        idx = np.nonzero(chosen)[1].reshape(n_rows, k)
    else:
        idx = np.tile(np.arange(n_items), (n_rows, 1))
    values = scores[row_idx, idx]
    order = np.argsort(-values, axis=1, kind="stable")  # idx ascending: ties keep lower first
    idx = np.take_along_axis(idx, order, axis=1)
    values = np.take_along_axis(values, order, axis=1)
    idx[values == -np.inf] = EMPTY
    return idx.astype(np.int64)
