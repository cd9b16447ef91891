"""Store ids and matrix positions kept apart: `IdIndex` converts between them, in one place
below every model (the catalogue, the interaction matrix and the models all index by it)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class IdIndex:
    """A bijection between store ids (int64) and positions 0..n-1, in the order given."""

    ids: npt.NDArray[np.int64]

    def __post_init__(self) -> None:
        if len(np.unique(self.ids)) != len(self.ids):
            raise ValueError("IdIndex ids must be unique")

    @classmethod
    def from_ids(cls, ids: npt.ArrayLike) -> IdIndex:
        return cls(np.asarray(ids, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.ids)

    @functools.cached_property
    def _sorter(self) -> npt.NDArray[np.intp]:
        """Sorted order of the ids, computed once (look-ups run on every request)."""
        return np.argsort(self.ids, kind="stable")

    def positions(self, ids: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Positions of ``ids``; -1 for ids that are not in the index."""
        query = np.asarray(ids, dtype=np.int64)
        if len(self.ids) == 0:
            return np.full(query.shape, -1, dtype=np.int64)
        sorter = self._sorter
        found = np.searchsorted(self.ids, query, sorter=sorter)
        found = np.clip(found, 0, len(self.ids) - 1)
        positions = sorter[found].astype(np.int64)
        positions[self.ids[positions] != query] = -1
        return positions

    def position(self, id_: int) -> int | None:
        """Position of one id, or None when it is unknown."""
        pos = int(self.positions(np.array([id_]))[0])
        return None if pos < 0 else pos
