"""The CF models the engine can serve, by name: one line per model.

A name is the model's key in ``BlendConfig.cf_models`` and the manifest, its
``ModelSnapshot`` attribute and the prefix of its arrays (``name + "."``). Adding a CF model
is one new module (a frozen `codec.ArrayCoded` dataclass implementing `protocol.CFModel`, and
its fit) and one `CFEntry` here; ``ModelSnapshot`` stores, loads and the engine scores every
entry through this table. ``optional`` models may be absent from a build (EASE above its
catalogue limit); the engine then serves ``stand_in`` in their place.
"""

from __future__ import annotations

from dataclasses import dataclass

from recograph.recommenders.als import ALSModel
from recograph.recommenders.ease import EASEModel
from recograph.recommenders.item_knn import ItemKNN
from recograph.recommenders.protocol import CFModel
from recograph.recommenders.svd import SVDModel
from recograph.recommenders.user_knn import UserKNN


@dataclass(frozen=True)
class CFEntry:
    """One servable CF model: its name, class and, when it may be absent, its stand-in."""

    name: str
    model: type[CFModel]
    stand_in: str | None = None  # the model served when this one was not fitted

    @property
    def optional(self) -> bool:
        return self.stand_in is not None

    @property
    def prefix(self) -> str:
        return f"{self.name}."


# In artifact order (arrays are written in this order, so it is part of the format).
CF_REGISTRY: tuple[CFEntry, ...] = (
    CFEntry("item_knn", ItemKNN),
    CFEntry("user_knn", UserKNN),
    CFEntry("svd", SVDModel),
    CFEntry("als", ALSModel),
    CFEntry("ease", EASEModel, stand_in="item_knn"),
)
CF_MODELS: tuple[str, ...] = tuple(entry.name for entry in CF_REGISTRY)
CF_ENTRIES = {entry.name: entry for entry in CF_REGISTRY}


def cf_entry(name: str) -> CFEntry:
    """The registry entry of ``name``; ``ValueError`` naming the known models otherwise."""
    entry = CF_ENTRIES.get(name)
    if entry is None:
        raise ValueError(f"unknown CF model {name!r}; expected one of {', '.join(CF_MODELS)}")
    return entry
