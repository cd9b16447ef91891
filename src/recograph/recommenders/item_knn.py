"""Item-item cosine neighbours: "customers who bought X also bought" and the cart scorer.

Offline, ``fit_item_knn`` keeps each product's top-k most similar products (cosine over the
customers who bought them). Online, ``score_item_knn`` scores a history as the pseudo-user
``h @ S`` (SAR-style), and ``explain_item_knn`` names the history product behind a score.

The block-wise top-k cosine here is shared with ``user_knn``; the row gather and the
(de)serialisation helpers live in ``sparse``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recograph.recommenders.codec import ArrayCoded, scalar, sparse
from recograph.recommenders.protocol import (
    CFEvidence,
    CFProfile,
    CFRequest,
    Positions,
    largest_terms,
)
from recograph.recommenders.sparse import (
    dense_block,
    row_entries,
    row_sum_support,
    values_at,
    weighted_row_sum,
)

logger = logging.getLogger(__name__)

FloatVector = npt.NDArray[np.float32]

# Up to this many products a request reads the neighbours from a dense float64 copy of the
# matrix (at most 2 MB, made once per model): one gather instead of a walk over the CSR rows,
# whose numpy calls cost a small catalogue's request more than the arithmetic.
DENSE_MAX_ITEMS = 512
IndexVector = npt.NDArray[np.int32]
Arrays = Mapping[str, npt.NDArray[Any]]

# Upper bound on the non-zeros of one block of the similarity product (~12 bytes each, plus
# the sort): keeps the peak memory of a fit near a gigabyte whatever the catalogue size.
DEFAULT_BLOCK_NNZ = 20_000_000


def as_history(h: npt.ArrayLike, n_items: int) -> FloatVector:
    """A history as a dense float32 vector of length ``n_items``; a wrong length is an error."""
    vector = np.asarray(h, dtype=np.float32)
    if vector.shape != (n_items,):
        raise ValueError(f"history must have shape ({n_items},), got {vector.shape}")
    return vector


def _row_normalised(matrix: Any) -> sp.csr_matrix:
    """Rows scaled to unit L2 norm (float64); all-zero rows stay zero."""
    csr = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    csr.eliminate_zeros()
    norms = np.sqrt(np.asarray(csr.multiply(csr).sum(axis=1)).ravel())
    inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    csr.data *= np.repeat(inverse, np.diff(csr.indptr))
    return csr


def _blocks(bounds: npt.NDArray[np.int64], budget: int) -> Iterator[tuple[int, int]]:
    """Consecutive row ranges whose summed non-zero bounds stay under ``budget`` (≥ 1 row)."""
    start, n = 0, len(bounds)
    cumulative = np.concatenate([[0], np.cumsum(bounds)])
    while start < n:
        stop = int(np.searchsorted(cumulative, cumulative[start] + budget, side="right")) - 1
        stop = min(max(stop, start + 1), n)
        yield start, stop
        start = stop


def top_positions(
    values: npt.NDArray[np.float64], labels: npt.NDArray[Any], k: int
) -> npt.NDArray[np.intp]:
    """Positions of the ``k`` largest of ``len(values) > k`` values, in no particular order.

    Among values equal to the k-th largest, the lower ``labels`` (column or user positions)
    win. Linear time, unlike a full sort.
    """
    kth = np.partition(values, len(values) - k)[len(values) - k]
    greater = np.flatnonzero(values > kth)
    equal = np.flatnonzero(values == kth)
    need = k - len(greater)
    if len(equal) > need:
        equal = equal[np.argsort(labels[equal], kind="stable")[:need]]
    return np.concatenate([greater, equal])


def _topk_of_block(
    block: Any, offset: int, k: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Per row, the k largest positive off-diagonal values; ties go to the lower column.

    Rows with at most k candidates are kept whole (vectorised); longer rows are cut with a
    per-row partition, which is linear in the row length (a global sort is not).
    """
    csr = sp.csr_matrix(block)
    n_rows = csr.shape[0]
    rows = np.repeat(np.arange(n_rows, dtype=np.int32), np.diff(csr.indptr))
    cols = csr.indices
    values = csr.data
    keep = (values > 0) & (cols != rows + np.int32(offset))
    if not keep.all():
        rows, cols, values = rows[keep], cols[keep], values[keep]
    counts = np.bincount(rows, minlength=n_rows)
    starts = np.concatenate([[0], np.cumsum(counts)])
    selected = [np.flatnonzero(np.repeat(counts <= k, counts))]
    for r in np.flatnonzero(counts > k):
        start, stop = starts[r], starts[r + 1]
        selected.append(start + top_positions(values[start:stop], cols[start:stop], k))
    chosen = np.concatenate(selected)
    return rows[chosen].astype(np.int64) + offset, cols[chosen].astype(np.int64), values[chosen]


def topk_cosine(matrix: Any, k: int, block_nnz: int = DEFAULT_BLOCK_NNZ) -> sp.csr_matrix:
    """Top-``k`` cosine neighbours of every row of ``matrix`` among its other rows.

    Returns a float32 CSR (n_rows × n_rows) holding, per row, the ``k`` highest positive
    similarities (diagonal excluded; ties broken by the lower column), columns sorted. The
    product is computed in row blocks so at most about ``block_nnz`` similarities exist at once.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    normalised = _row_normalised(matrix)
    n_rows = normalised.shape[0]
    transposed = normalised.T.tocsr()
    pattern = normalised.copy()
    pattern.data[:] = 1.0
    column_counts = np.diff(transposed.indptr).astype(np.float64)
    bounds = np.asarray(pattern @ column_counts, dtype=np.int64)
    all_rows, all_cols, all_values = [], [], []
    for start, stop in _blocks(bounds, block_nnz):
        rows, cols, values = _topk_of_block(normalised[start:stop] @ transposed, start, k)
        all_rows.append(rows)
        all_cols.append(cols)
        all_values.append(values.astype(np.float32))
    if not all_rows:
        return sp.csr_matrix((n_rows, n_rows), dtype=np.float32)
    result = sp.csr_matrix(
        (np.concatenate(all_values), (np.concatenate(all_rows), np.concatenate(all_cols))),
        shape=(n_rows, n_rows),
        dtype=np.float32,
    )
    result.sort_indices()
    return result


@dataclass(frozen=True)
class ItemKNN(ArrayCoded):
    """Item-item neighbours.

    ``similarity``: float32 CSR (n_items × n_items); row i holds the cosine similarity of
    product i to its ``k`` most similar products (zero diagonal, only positive values).
    """

    ARRAY_PREFIX: ClassVar[str] = "item_knn."
    STORED_LISTS: ClassVar[bool] = False

    similarity: sp.csr_matrix = field(metadata=sparse())
    k: int = field(metadata=scalar(np.int64))

    @property
    def n_items(self) -> int:
        return int(self.similarity.shape[0])

    @classmethod
    def check_arrays(cls, values: Mapping[str, Any], prefix: str) -> None:
        similarity = values["similarity"]
        if similarity.shape[0] != similarity.shape[1]:
            raise ValueError(f"{prefix}similarity must be square, got {similarity.shape}")

    @functools.cached_property
    def dense_similarity(self) -> npt.NDArray[np.float64] | None:
        """``similarity`` as a dense float64 array for a catalogue of at most
        `DENSE_MAX_ITEMS` products (None above): the same values, read in one gather."""
        if self.n_items > DENSE_MAX_ITEMS:
            return None
        return np.asarray(self.similarity.toarray(), dtype=np.float64)

    def score(self, request: CFRequest) -> FloatVector:
        """Item-kNN's `CFModel` score: the history's neighbour rows, summed."""
        return score_item_knn(self, request.history)

    def score_history(self, items: Positions, values: npt.NDArray[np.float32]) -> FloatVector:
        """`score` of the history given sparse (ascending distinct ``items``, their nonzero
        ``values``): a small catalogue's dense rows gathered without spreading the history."""
        dense = self.dense_similarity
        if dense is None or items.size == 0 or not values.all():
            history = np.zeros(self.n_items, dtype=np.float32)
            history[items] = values
            return score_item_knn(self, history)
        terms = dense[items] * values.astype(np.float64)[:, None]  # as `score_item_knn`
        summed: npt.NDArray[np.float64] = np.add.reduce(terms, axis=0)
        return summed.astype(np.float32)

    def score_at(self, profile: CFProfile, positions: Positions) -> FloatVector:
        """`score` at ``positions`` (from the support: the history's neighbour rows)."""
        support, values = self.support(profile)
        return values_at(support, values, positions).astype(np.float32)

    def support(self, profile: CFProfile) -> tuple[Positions, npt.NDArray[np.float64]]:
        """The history's stored neighbour rows summed on their support."""
        return row_sum_support(self.similarity, profile.items, profile.values)

    def customer_scores(self, interactions: sp.csr_matrix, users: Positions) -> None:
        """Sparse: its support is its candidates, no stored list."""
        return None

    def evidence(self, profile: CFProfile, items: Positions) -> list[CFEvidence | None]:
        """The history product whose term (its weight × its stored similarity to the shown
        product) is the largest, with that similarity."""
        dense = self.dense_similarity
        if dense is None:
            figures = dense_block(self.similarity, profile.items, items).T  # shown × history
        else:
            shown = np.asarray(items, dtype=np.int64)[:, None]
            figures = dense.T[shown, profile.items]  # as np.ix_ (shown × history), one call
        terms = figures * profile.values.astype(np.float64)
        return largest_terms(profile.items, terms, figures, "similarity")


def fit_item_knn(X: Any, k: int = 50, block_nnz: int = DEFAULT_BLOCK_NNZ) -> ItemKNN:
    """Keep each product's ``k`` most cosine-similar products over the customers × products X."""
    similarity = topk_cosine(sp.csr_matrix(X).T, k, block_nnz)
    logger.debug("item-kNN: %d items, %d neighbour pairs", similarity.shape[0], similarity.nnz)
    return ItemKNN(similarity=similarity, k=k)


def score_item_knn(model: ItemKNN, h: npt.ArrayLike) -> FloatVector:
    """``h @ S``: each product scored by its similarity to the history, weighted by ``h``."""
    history = as_history(h, model.n_items)
    present = history.nonzero()[0]  # np.flatnonzero of the 1-d history, unwrapped
    if present.size == 0:
        return np.zeros(model.n_items, dtype=np.float32)
    weights = history[present]
    dense = model.dense_similarity
    if dense is None:
        return weighted_row_sum(model.similarity, present, weights).astype(np.float32)
    # The rows' float64 terms summed row after row (a reduction over the first axis adds
    # them in order), as `weighted_row_sum` adds a column's entries: the same values.
    terms = dense[present] * weights.astype(np.float64)[:, None]
    summed: npt.NDArray[np.float64] = np.add.reduce(terms, axis=0)
    return summed.astype(np.float32)


def explain_item_knn(
    model: ItemKNN,
    history_positions: npt.ArrayLike,
    item: int,
    history_weights: npt.ArrayLike | None = None,
) -> tuple[int, float] | None:
    """The history product that contributed most to ``item``'s score, with its similarity.

    Contribution is ``weight × similarity`` (weights default to 1); ties go to the lower
    position. None when no history product is a neighbour of ``item``.
    """
    return explain_item_knn_many(model, history_positions, [item], history_weights)[0]


def explain_item_knn_many(
    model: ItemKNN,
    history_positions: npt.ArrayLike,
    items: Sequence[int],
    history_weights: npt.ArrayLike | None = None,
) -> list[tuple[int, float] | None]:
    """`explain_item_knn` for several items, gathering the history's neighbours once (a
    response explains up to ``limit`` items from the same history)."""
    positions = np.asarray(history_positions, dtype=np.int64).ravel()
    if history_weights is None:
        weights = np.ones(len(positions), dtype=np.float64)
    else:
        weights = np.asarray(history_weights, dtype=np.float64).ravel()
        if weights.shape != positions.shape:
            raise ValueError("history_weights must have one weight per history position")
    if positions.size == 0:
        return [None] * len(items)
    entries, owner = row_entries(model.similarity.indptr, positions)
    neighbours = model.similarity.indices[entries]
    values = model.similarity.data[entries]
    found: list[tuple[int, float] | None] = []
    for item in items:
        hits = neighbours == item
        similarities = np.zeros(len(positions), dtype=np.float64)
        similarities[owner[hits]] = values[hits]
        contributions = weights * similarities
        best = int(np.lexsort((positions, -contributions))[0])
        if contributions[best] <= 0:
            found.append(None)
        else:
            found.append((int(positions[best]), float(similarities[best])))
    return found
