"""User-user cosine neighbours: "customers like you bought".

Offline, ``fit_user_knn`` keeps each training customer's top-k most similar customers. Online,
a customer is scored from their neighbours' purchases; a customer who is not in the training
matrix, or whose history changed a second ago, gets neighbours from ``neighbours_from_history``
(the buyers of the history's products, read from a stored products × customers copy of X, so
the cost follows the history, not the customer count). The neighbours and their similarities
are the evidence shown to the user.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recograph.recommenders.codec import ArrayCoded, dense, scalar, sparse
from recograph.recommenders.item_knn import (
    DEFAULT_BLOCK_NNZ,
    FloatVector,
    IndexVector,
    as_history,
    top_positions,
    topk_cosine,
)
from recograph.recommenders.protocol import CFEvidence, CFProfile, CFRequest, Positions
from recograph.recommenders.sparse import row_sum_support, values_at, weighted_row_sum

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UserKNN(ArrayCoded):
    """User-user neighbours of the training customers.

    ``neighbours``: float32 CSR (n_users × n_users); row u holds the cosine similarity of
    customer u to their ``k`` most similar customers (zero diagonal, only positive values).
    ``user_norms``: float32 (n_users,), the L2 norm of each row of X, for per-request cosines.
    ``item_users``: float32 CSR (n_items × n_users), X transposed: who bought each product.
    """

    ARRAY_PREFIX: ClassVar[str] = "user_knn."
    STORED_LISTS: ClassVar[bool] = False

    neighbours: sp.csr_matrix = field(metadata=sparse())
    item_users: sp.csr_matrix = field(metadata=sparse())
    user_norms: FloatVector = field(metadata=dense(np.float32))
    k: int = field(metadata=scalar(np.int64))

    @property
    def n_users(self) -> int:
        return int(self.neighbours.shape[0])

    @classmethod
    def check_arrays(cls, values: Mapping[str, Any], prefix: str) -> None:
        neighbours, item_users = values["neighbours"], values["item_users"]
        n_users = len(values["user_norms"])
        if neighbours.shape != (n_users, n_users) or item_users.shape[1] != n_users:
            raise ValueError(
                f"{prefix}: neighbours {neighbours.shape} and item_users {item_users.shape} "
                f"disagree with {n_users} user norms"
            )

    def score(self, request: CFRequest) -> FloatVector:
        """User-kNN's `CFModel` score: the stored neighbours of an unchanged training
        customer, else the history's nearest customers (never the customer themselves)."""
        X = request.interactions
        if request.exact and request.user is not None:
            return score_user_knn(self, X, request.user)
        positions, sims = neighbours_from_history(
            self, X, request.history, self.k, exclude=request.user
        )
        return score_from_neighbours(X, positions, sims)

    def score_at(self, profile: CFProfile, positions: Positions) -> FloatVector:
        """`score` at ``positions`` (from the support: the neighbours' purchases)."""
        support, values = self.support(profile)
        return values_at(support, values, positions).astype(np.float32)

    def support(self, profile: CFProfile) -> tuple[Positions, npt.NDArray[np.float64]]:
        """The neighbours' rows of X summed on their support (``Σ_v sim(v) · X[v]``)."""
        rows, sims = self.neighbours_of(profile)
        return row_sum_support(profile.interactions, rows, np.asarray(sims, dtype=np.float32))

    def neighbours_of(self, profile: CFProfile) -> tuple[IndexVector, FloatVector]:
        """The customers the score sums over, and their similarities: the stored neighbours
        of an unchanged training customer, else the history's nearest customers."""
        if profile.exact and profile.user is not None:
            indptr = self.neighbours.indptr
            span = slice(indptr[profile.user], indptr[profile.user + 1])
            return self.neighbours.indices[span], self.neighbours.data[span]
        return _neighbours(self, profile.items, profile.values, self.k, profile.user)

    def evidence(self, profile: CFProfile, items: Positions) -> list[CFEvidence | None]:
        """No history product has a term of this score (it sums similar customers' rows),
        so no product is named: the figure is how many of the customer's nearest customers
        bought the shown product (a non-zero entry of their training row)."""
        rows = np.asarray(self.neighbours_of(profile)[0], dtype=np.int64)
        bought = profile.interactions[rows][:, np.asarray(items, dtype=np.int64)]
        counts = np.asarray((bought != 0).sum(axis=0)).ravel()
        return [
            CFEvidence(
                None,
                "similar customers who bought it",
                float(count),
                f"{int(count)} of your {len(rows)} most similar customers did",
            )
            if count > 0
            else None
            for count in counts.tolist()
        ]

    def customer_scores(self, interactions: sp.csr_matrix, users: Positions) -> None:
        """Sparse: its support is its candidates, no stored list."""
        return None


def fit_user_knn(X: Any, k: int = 30, block_nnz: int = DEFAULT_BLOCK_NNZ) -> UserKNN:
    """Keep each customer's ``k`` most cosine-similar customers over the matrix X."""
    csr = sp.csr_matrix(X, dtype=np.float32)
    neighbours = topk_cosine(csr, k, block_nnz)
    norms = np.sqrt(np.asarray(csr.multiply(csr).sum(axis=1), dtype=np.float64).ravel())
    logger.debug("user-kNN: %d users, %d neighbour pairs", neighbours.shape[0], neighbours.nnz)
    return UserKNN(
        neighbours=neighbours,
        user_norms=norms.astype(np.float32),
        item_users=sp.csr_matrix(csr.T),
        k=k,
    )


def score_from_neighbours(X: Any, positions: npt.ArrayLike, sims: npt.ArrayLike) -> FloatVector:
    """``Σ_v sim(v) · X[v]`` over the given neighbour rows of X."""
    rows = np.asarray(positions, dtype=np.int64).ravel()
    weights = np.asarray(sims, dtype=np.float32).ravel()
    if rows.shape != weights.shape:
        raise ValueError("positions and sims must have the same length")
    n_items = int(X.shape[1])
    if rows.size == 0:
        return np.zeros(n_items, dtype=np.float32)
    csr = X if sp.issparse(X) and X.format == "csr" else sp.csr_matrix(X)
    return weighted_row_sum(csr, rows, weights).astype(np.float32)


def score_user_knn(model: UserKNN, X: Any, user_position: int) -> FloatVector:
    """Scores for a training customer from their stored neighbours (X is the training matrix)."""
    if X.shape[0] != model.n_users:
        raise ValueError(f"X has {X.shape[0]} rows, the model {model.n_users} users")
    if not 0 <= user_position < model.n_users:
        raise IndexError(f"user position {user_position} is outside 0..{model.n_users - 1}")
    indptr = model.neighbours.indptr
    start, stop = indptr[user_position], indptr[user_position + 1]
    return score_from_neighbours(
        X, model.neighbours.indices[start:stop], model.neighbours.data[start:stop]
    )


def neighbours_from_history(
    model: UserKNN,
    X: Any,
    h: npt.ArrayLike,
    k: int,
    exclude: int | None = None,
) -> tuple[IndexVector, FloatVector]:
    """The ``k`` training customers most cosine-similar to history ``h`` (best first).

    ``exclude`` leaves one customer out: pass the requester's position when they are in X,
    or their own training row comes back as the nearest neighbour. Only positive similarities
    are returned; ties go to the lower position. X is the training matrix the model was fitted
    on (its buyers are read from the model's ``item_users``).
    """
    if X.shape[0] != model.n_users:
        raise ValueError(f"X has {X.shape[0]} rows, the model {model.n_users} users")
    history = as_history(h, int(X.shape[1]))
    present = np.flatnonzero(history)
    return _neighbours(model, present, history[present], k, exclude)


def _neighbours(
    model: UserKNN,
    present: npt.NDArray[np.int64],
    values: FloatVector,
    k: int,
    exclude: int | None,
) -> tuple[IndexVector, FloatVector]:
    """`neighbours_from_history` of the history given as positions and values."""
    wide = values.astype(np.float64)
    norm = float(np.sqrt(np.dot(wide, wide)))
    if norm == 0.0 or k < 1:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
    dots = weighted_row_sum(model.item_users, present, values)
    if exclude is not None:
        dots[exclude] = 0.0
    candidates = np.flatnonzero(dots > 0)
    denominators = model.user_norms[candidates].astype(np.float64) * norm
    sims = dots[candidates] / denominators
    if len(candidates) > k:
        best = top_positions(sims, candidates, k)
        candidates, sims = candidates[best], sims[best]
    order = np.lexsort((candidates, -sims))
    return candidates[order].astype(np.int32), sims[order].astype(np.float32)
