"""What a collaborative-filtering model is to the engine: something that scores a history.

The engine builds one `CFRequest` per request and asks each served model of the CF mix for
``score(request)``; a model reads only what it needs (the history vector, or the customer's
training row when the profile is exactly that row). New CF models implement `CFModel` and
add one line to ``recommenders.registry``.

Two-stage ranking asks a model for less than the catalogue (`CFProfile`: the history as
positions and values, no dense vector): ``support`` gives a sparse model's positive scores
exactly (item-kNN, user-kNN), ``score_at`` a model's scores at given products, and
``customer_scores`` the training customers' scores at build time, from which a dense model's
per-customer top lists are stored (`candidates.CFLists`). ``score_at`` equals ``score`` at
those products to the last bit (the same additions in the same order), so two-stage and full
scoring agree.

``evidence`` is what a model can truthfully say about a product it scored, for the reason
shown with it ("Customers like you bought this (often with X)"): the history product that
contributed most to that score and the model's own figure behind it, named by ``metric``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp


@dataclass(frozen=True)
class CFRequest:
    """One request's input to a CF model.

    ``history``: float32 (n_items,), the customer's interaction vector; ``user``: their
    training row, or None for a visitor; ``exact``: the history equals that training row, so
    stored per-customer state (factors, neighbours) applies; ``interactions``: the training
    matrix (customers × products).
    """

    history: npt.NDArray[np.float32]
    user: int | None
    exact: bool
    interactions: sp.csr_matrix


Positions = npt.NDArray[np.int64]


@dataclass(frozen=True)
class CFProfile:
    """`CFRequest` without the dense vector: ``items`` (ascending positions) and their
    ``values`` (float32), the rest as in `CFRequest`."""

    items: Positions
    values: npt.NDArray[np.float32]
    user: int | None
    exact: bool
    interactions: sp.csr_matrix


# A term this small is float32 rounding in a sum of latent products (SVD scores unrelated
# products about 1e-9), not a relation worth naming to a shop owner.
NEGLIGIBLE_TERM = 1e-6


@dataclass(frozen=True)
class CFEvidence:
    """Why a CF model scored one product: ``seed``, the history product whose term of the
    score is the largest (None when the model's score has no per-product terms), and the
    figure ``value`` named by ``metric``, a value the model holds or computes for that score
    (never another model's); ``said``: the figure in words, for a reason without a seed."""

    seed: int | None
    metric: str
    value: float
    said: str = ""

    def __init__(self, seed: int | None, metric: str, value: float, said: str = "") -> None:
        # Several a request: the instance's fields filled in one step, as `engine.Reason` does
        # (the frozen dataclass's own `__init__` makes one `object.__setattr__` call a field).
        attributes = self.__dict__
        attributes["seed"] = seed
        attributes["metric"] = metric
        attributes["value"] = value
        attributes["said"] = said


def largest_terms(
    items: Positions, terms: npt.NDArray[np.floating[Any]], figures: npt.NDArray[Any], metric: str
) -> list[CFEvidence | None]:
    """Per shown product (a row of ``terms``, one column per history product in ``items``,
    ascending), the history product with the largest positive term, with its ``figures``
    entry (ties: the lower position; None when no term is above `NEGLIGIBLE_TERM`)."""
    n_shown = len(terms)
    if n_shown == 0 or terms.shape[1] == 0:
        return [None] * n_shown
    rows = np.arange(n_shown)
    best = terms.argmax(axis=1)  # the first largest: the lower position on ties
    positions = np.asarray(items)[best].tolist()
    return [
        CFEvidence(int(position), metric, figure) if term > NEGLIGIBLE_TERM else None
        for position, term, figure in zip(
            positions, terms[rows, best].tolist(), figures[rows, best].tolist(), strict=True
        )
    ]


class CFModel(Protocol):
    """A fitted CF model: scores every product for a request and round-trips through arrays."""

    ARRAY_PREFIX: ClassVar[str]
    # Dense scores: two-stage ranking reads the customer's stored list (`customer_scores`);
    # otherwise the model's `support` is its candidates.
    STORED_LISTS: ClassVar[bool]

    def score(self, request: CFRequest) -> npt.NDArray[np.float32]:
        """Raw scores (n_items,), normalised by the engine."""
        ...

    def score_at(self, profile: CFProfile, positions: Positions) -> npt.NDArray[np.float32]:
        """``score`` at ``positions`` only, bit for bit, without a pass over the catalogue."""
        ...

    def support(self, profile: CFProfile) -> tuple[Positions, npt.NDArray[np.float64]] | None:
        """The ascending positions with a positive score and those scores, for a model whose
        scores are sparse; None for a dense model (its candidates are stored lists)."""
        ...

    def customer_scores(
        self, interactions: sp.csr_matrix, users: Positions
    ) -> npt.NDArray[np.float32] | None:
        """Raw scores (len(users) × n_items) of training customers as stored (the build's
        per-customer lists); None for a sparse model, which needs no list."""
        ...

    def evidence(self, profile: CFProfile, items: Positions) -> list[CFEvidence | None]:
        """Per shown product, what this model's score of it rests on (`CFEvidence`); None
        where the model can name nothing (no history term is positive)."""
        ...

    def to_arrays(self, prefix: str | None = None) -> dict[str, npt.NDArray[Any]]:
        """Named plain arrays for the artifacts."""
        ...

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.NDArray[Any]], prefix: str | None = None) -> Self:
        """Rebuild from `to_arrays`' output."""
        ...
