"""Truncated SVD of the interaction matrix, scored by folding a history into the item space.

Only the item factors V are kept: ``(h @ V) @ V.T`` projects any history (a training
customer, a new one, a live cart) onto the top singular directions, so no per-user state is
needed online.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recograph.recommenders.codec import ArrayCoded, dense
from recograph.recommenders.item_knn import FloatVector, as_history
from recograph.recommenders.protocol import (
    CFEvidence,
    CFProfile,
    CFRequest,
    Positions,
    largest_terms,
)
from recograph.recommenders.sparse import row_dots

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SVDModel(ArrayCoded):
    """``item_factors``: float32 (n_items × f), orthonormal columns (the right singular vectors)."""

    ARRAY_PREFIX: ClassVar[str] = "svd."
    STORED_LISTS: ClassVar[bool] = True

    item_factors: npt.NDArray[np.float32] = field(metadata=dense(np.float32))

    @property
    def n_items(self) -> int:
        return int(self.item_factors.shape[0])

    @classmethod
    def check_arrays(cls, values: Mapping[str, Any], prefix: str) -> None:
        factors = values["item_factors"]
        if factors.ndim != 2:
            raise ValueError(f"{prefix}item_factors must be 2-D, got shape {factors.shape}")

    def score(self, request: CFRequest) -> FloatVector:
        """SVD's `CFModel` score: the history projected on the kept directions."""
        return score_svd(self, request.history)

    def score_at(self, profile: CFProfile, positions: Positions) -> FloatVector:
        """`score` at ``positions``: the same user vector, dotted with their factors only."""
        return self.scorer(profile)(positions)

    def scorer(self, profile: CFProfile) -> Callable[[Positions], FloatVector]:
        """`score_at` for one customer, the user vector made once: two-stage ranking scores
        a customer at several sets of products per request."""
        if profile.items.size == 0:
            return _no_scores
        factors = self.item_factors
        user_vector = profile.values @ factors[profile.items]
        return lambda positions: row_dots(factors, user_vector, positions)

    def support(self, profile: CFProfile) -> None:
        """Dense: every product has a score (the candidates are stored per customer)."""
        return None

    def customer_scores(self, interactions: sp.csr_matrix, users: Positions) -> FloatVector:
        """The training customers' rows projected, as a block (for their stored lists)."""
        factors = self.item_factors
        return np.asarray((interactions[users] @ factors) @ factors.T, dtype=np.float32)

    def evidence(self, profile: CFProfile, items: Positions) -> list[CFEvidence | None]:
        """The score is ``Σ_x h[x] · (V[x] · V[item])``: the history product x with the
        largest term, with its latent similarity ``V[x] · V[item]`` (float64 dots of the
        stored factors). Only the shown and history rows are converted: the same float64
        values as converting the whole matrix first, without a pass over the catalogue."""
        factors = self.item_factors
        shown = factors[np.asarray(items, dtype=np.int64)].astype(np.float64)
        history = factors[profile.items].astype(np.float64)
        figures = shown @ history.T  # shown × history
        terms = figures * profile.values.astype(np.float64)
        return largest_terms(profile.items, terms, figures, "latent similarity")


def _no_scores(positions: Positions) -> FloatVector:
    """An empty history's scores: 0 at every product."""
    return np.zeros(len(positions), dtype=np.float32)


def fit_svd(X: Any, n_factors: int = 50, seed: int = 0, n_iter: int = 5) -> SVDModel:
    """Randomised truncated SVD (deterministic for a given seed).

    ``n_factors`` is capped at ``min(n_users, n_items) - 1``; a matrix too small for even one
    factor, or without any interaction, gives all-zero factors (and so zero scores).
    """
    csr = sp.csr_matrix(X, dtype=np.float32, copy=True)
    csr.eliminate_zeros()
    n_users, n_items = csr.shape
    factors = max(0, min(n_factors, min(n_users, n_items) - 1))
    if factors == 0 or csr.nnz == 0:
        logger.debug("svd: nothing to factorise (%s, %d nnz)", csr.shape, csr.nnz)
        return SVDModel(item_factors=np.zeros((n_items, factors), dtype=np.float32))
    # scikit-learn (~50 MB) only fits: imported here, so a serving worker never loads it.
    from sklearn.decomposition import TruncatedSVD

    svd = TruncatedSVD(
        n_components=factors, algorithm="randomized", n_iter=n_iter, random_state=seed
    )
    svd.fit(csr)
    item_factors = np.ascontiguousarray(svd.components_.T, dtype=np.float32)
    item_factors[np.bincount(csr.indices, minlength=n_items) == 0] = 0.0  # exact zeros, not 1e-17
    return SVDModel(item_factors=item_factors)


def score_svd(model: SVDModel, h: npt.ArrayLike) -> FloatVector:
    """``(h @ V) @ V.T``: the history projected on the kept singular directions."""
    history = as_history(h, model.n_items)
    present = np.flatnonzero(history)
    if present.size == 0:
        return np.zeros(model.n_items, dtype=np.float32)
    user_vector = history[present] @ model.item_factors[present]
    return row_dots(model.item_factors, user_vector)
