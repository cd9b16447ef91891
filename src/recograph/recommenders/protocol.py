"""What a collaborative-filtering model is to the engine: something that scores a history.

The engine builds one `CFRequest` per request and asks each served model of the CF mix for
``score(request)``; a model reads only what it needs (the history vector, or the customer's
training row when the profile is exactly that row). New CF models implement `CFModel` and
add one line to ``recommenders.registry``.
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


class CFModel(Protocol):
    """A fitted CF model: scores every product for a request and round-trips through arrays."""

    ARRAY_PREFIX: ClassVar[str]

    def score(self, request: CFRequest) -> npt.NDArray[np.float32]:
        """Raw scores (n_items,), normalised by the engine."""
        ...

    def to_arrays(self, prefix: str | None = None) -> dict[str, npt.NDArray[Any]]:
        """Named plain arrays for the artifacts."""
        ...

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.NDArray[Any]], prefix: str | None = None) -> Self:
        """Rebuild from `to_arrays`' output."""
        ...
