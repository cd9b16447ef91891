"""Implicit-feedback ALS (Hu, Koren & Volinsky 2008) via ``implicit``, with a numpy fold-in.

Confidence is ``c = 1 + alpha · x`` for a bought product (preference 1) and 1 elsewhere
(preference 0). ``implicit`` itself uses ``c = x``, so the fit hands it ``1 + alpha · X``.

After ``implicit``'s iterations (conjugate-gradient steps), the user factors are recomputed
exactly from the final item factors, so a training customer's stored vector equals the
fold-in of their row: a customer scores the same by position or by history.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recograph.recommenders.codec import ArrayCoded, dense, scalar
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
class ALSModel(ArrayCoded):
    """Latent factors.

    ``user_factors``: float32 (n_users × f); ``item_factors``: float32 (n_items × f); the
    score of product i for customer u is ``user_factors[u] · item_factors[i]``.
    ``regularization`` and ``alpha`` are the fit's, needed to fold a new history in.
    """

    ARRAY_PREFIX: ClassVar[str] = "als."
    STORED_LISTS: ClassVar[bool] = True

    user_factors: npt.NDArray[np.float32] = field(metadata=dense(np.float32))
    item_factors: npt.NDArray[np.float32] = field(metadata=dense(np.float32))
    regularization: float = field(metadata=scalar(np.float64))
    alpha: float = field(metadata=scalar(np.float64))
    gram: npt.NDArray[np.float64] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        items = self.item_factors.astype(np.float64)
        object.__setattr__(self, "gram", items.T @ items)

    @property
    def n_items(self) -> int:
        return int(self.item_factors.shape[0])

    @property
    def n_factors(self) -> int:
        return int(self.item_factors.shape[1])

    @classmethod
    def check_arrays(cls, values: Mapping[str, Any], prefix: str) -> None:
        users, items = values["user_factors"], values["item_factors"]
        if users.ndim != 2 or items.ndim != 2 or users.shape[1] != items.shape[1]:
            raise ValueError(
                f"{prefix}: user factors {users.shape} and item factors {items.shape} disagree"
            )

    def score(self, request: CFRequest) -> FloatVector:
        """ALS's `CFModel` score: the stored factors of an unchanged training customer,
        else the history folded in."""
        if request.exact and request.user is not None:
            return score_als(self, request.user)
        vector = fold_in_als(self, request.history)
        return row_dots(self.item_factors, vector)

    def score_at(self, profile: CFProfile, positions: Positions) -> FloatVector:
        """`score` at ``positions``: the stored or folded-in vector · their factors only."""
        return self.scorer(profile)(positions)

    def scorer(self, profile: CFProfile) -> Callable[[Positions], FloatVector]:
        """`score_at` for one customer, the vector found (or folded in) once: two-stage
        ranking scores a customer at several sets of products per request."""
        if profile.exact and profile.user is not None:
            vector = self.user_factors[profile.user]
        else:
            vector = _fold_in(self, profile.items, profile.values)
        factors = self.item_factors
        return lambda positions: row_dots(factors, vector, positions)

    def support(self, profile: CFProfile) -> None:
        """Dense: every product has a score (the candidates are stored per customer)."""
        return None

    def customer_scores(self, interactions: sp.csr_matrix, users: Positions) -> FloatVector:
        """The training customers' stored vectors · every product's factors, as a block."""
        return np.asarray(self.user_factors[users] @ self.item_factors.T, dtype=np.float32)

    def evidence(self, profile: CFProfile, items: Positions) -> list[CFEvidence | None]:
        """The history folded in is ``x = A⁻¹ Σ_j c_j y_j`` (`fold_in_als`), so its score of a
        product is ``Σ_j c_j · (y_item · A⁻¹ y_j)``, one term per history product (as
        implicit's ``explain``): the history product with the largest term, with that term.
        For a customer served from stored factors the terms are those of the same history
        folded into the final item factors, which the stored vector approximates."""
        positive = profile.values > 0
        present, values = profile.items[positive], profile.values[positive]
        if present.size == 0:
            return [None] * len(items)
        rows = self.item_factors[present].astype(np.float64)
        confidence = 1.0 + self.alpha * values.astype(np.float64)
        lhs = self.gram + (rows.T * (confidence - 1.0)) @ rows
        lhs[np.diag_indices_from(lhs)] += self.regularization
        solved = np.linalg.solve(lhs, rows.T)  # A⁻¹ y_j, one column per history product
        shown = self.item_factors[np.asarray(items, dtype=np.int64)].astype(np.float64)
        terms = (shown @ solved) * confidence  # shown × history
        return largest_terms(present, terms, terms, "latent contribution")


def confidence_matrix(X: Any, alpha: float) -> sp.csr_matrix:
    """``1 + alpha · x`` on the stored positive entries (implicit's confidence matrix); every
    engine that trains ALS (local, Spark) fits and folds in on this."""
    csr = sp.csr_matrix(X, dtype=np.float32, copy=True)
    csr.data[csr.data < 0] = 0.0
    csr.eliminate_zeros()
    csr.data = (1.0 + alpha * csr.data).astype(np.float32)
    csr.sort_indices()
    return csr


def fit_als(
    X: Any,
    *,
    factors: int = 64,
    regularization: float = 0.05,
    iterations: int = 15,
    alpha: float = 1.0,
    seed: int = 0,
    num_threads: int = 0,
) -> ALSModel:
    """Factorise the customers × products X; the same X and seed give identical factors.

    Hyperparameters are keyword-only (there are many and they are easy to swap).

    Each customer and product is solved independently, so the result does not depend on
    ``num_threads`` (0 = all cores). BLAS is held to one thread during the fit, as
    ``implicit`` asks. Products and customers without interactions get zero factors.
    """
    confidence = confidence_matrix(X, alpha)
    n_users, n_items = confidence.shape
    if confidence.nnz == 0:
        return ALSModel(
            user_factors=np.zeros((n_users, factors), dtype=np.float32),
            item_factors=np.zeros((n_items, factors), dtype=np.float32),
            regularization=regularization,
            alpha=alpha,
        )
    # implicit (and tqdm) only fit: imported here, so a serving worker, which folds a live
    # history in with numpy (`_fold_in`), never loads them.
    from implicit.cpu.als import AlternatingLeastSquares

    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=factors,
            regularization=regularization,
            alpha=1.0,
            iterations=iterations,
            num_threads=num_threads,
            random_state=seed,
        )
        model.fit(confidence, show_progress=False)
        item_factors = np.asarray(model.item_factors, dtype=np.float32).copy()
        item_factors[np.diff(confidence.tocsc().indptr) == 0] = 0.0
    logger.debug("als: %d users × %d items, %d factors", n_users, n_items, factors)
    return ALSModel(
        user_factors=fold_in_users(item_factors, confidence, regularization),
        item_factors=item_factors,
        regularization=regularization,
        alpha=alpha,
    )


def fold_in_users(
    item_factors: npt.NDArray[np.float32], confidence: sp.csr_matrix, regularization: float
) -> npt.NDArray[np.float32]:
    """Every user's least-squares vector against fixed item factors, with ``implicit``'s exact
    solver (the same fold-in the server applies to a live history), BLAS held to one thread."""
    from implicit.cpu.als import AlternatingLeastSquares  # build only: see fit_als

    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=item_factors.shape[1], regularization=regularization, alpha=1.0, iterations=0
        )
        model.item_factors = item_factors
        users = model.recalculate_user(np.arange(confidence.shape[0]), confidence)
    return np.ascontiguousarray(users, dtype=np.float32)


def score_als_vector(model: ALSModel, user_vector: npt.ArrayLike) -> FloatVector:
    """``Y @ x``: every product scored for a user vector (stored or folded in)."""
    vector = np.asarray(user_vector, dtype=np.float32)
    if vector.shape != (model.n_factors,):
        raise ValueError(f"user vector must have shape ({model.n_factors},), got {vector.shape}")
    return row_dots(model.item_factors, vector)


def score_als(model: ALSModel, user_position: int) -> FloatVector:
    """Scores for a training customer from their stored factors."""
    return score_als_vector(model, model.user_factors[user_position])


def fold_in_als(model: ALSModel, h: npt.ArrayLike) -> FloatVector:
    """The least-squares user vector for a history not in training (or changed since).

    Solves ``(YᵀCY + λI) x = YᵀCp`` with ``C = 1 + alpha·h`` and ``p = [h > 0]``, using the
    precomputed ``YᵀY`` so the cost is one f×f solve plus the history's rows.
    """
    history = as_history(h, model.n_items)
    present = np.flatnonzero(history)
    return _fold_in(model, present, history[present])


def _fold_in(
    model: ALSModel, items: npt.NDArray[np.int64], values: npt.NDArray[np.float32]
) -> FloatVector:
    """`fold_in_als` of the history given as positions and values."""
    positive = values > 0
    present, values = items[positive], values[positive]
    if present.size == 0:
        return np.zeros(model.n_factors, dtype=np.float32)
    rows = model.item_factors[present].astype(np.float64)
    confidence = 1.0 + model.alpha * values.astype(np.float64)
    lhs = model.gram + (rows.T * (confidence - 1.0)) @ rows
    lhs[np.diag_indices_from(lhs)] += model.regularization
    rhs = confidence @ rows
    solution = np.linalg.solve(lhs, rhs)
    return np.asarray(solution, dtype=np.float32)
