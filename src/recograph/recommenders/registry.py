"""The CF models the engine can serve, by name: one line per model.

A name is the model's key in ``BlendConfig.cf_models`` and the manifest, its key in
``ModelSnapshot.cf`` and the prefix of its arrays (``name + "."``). Adding a CF model is one
new module (a frozen `codec.ArrayCoded` dataclass implementing `protocol.CFModel`, and a fit
taking the interaction matrix and the build's parameters) and one `CFEntry` here: the build
fits every entry (`build.fit_snapshot`) and, with ``--tune``, searches its ``grid``;
``ModelSnapshot`` stores and loads it; the evaluation scores it alone; the engine serves it
by name. ``optional`` models may be absent from a build (their fit returns None: EASE above
its catalogue limit); the engine then serves ``stand_in`` in their place.

The table is read when used (`cf_registry`), never copied at import, so a test can register
a model for its own duration.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import scipy.sparse as sp

from recograph.recommenders.als import ALSModel, fit_als
from recograph.recommenders.ease import EASEModel, TooManyItemsError, fit_ease
from recograph.recommenders.item_knn import ItemKNN, fit_item_knn
from recograph.recommenders.protocol import CFModel
from recograph.recommenders.svd import SVDModel, fit_svd
from recograph.recommenders.user_knn import UserKNN, fit_user_knn

logger = logging.getLogger(__name__)

# The build's hyperparameters by name (``build.BuildParams.to_dict()``, data-scaled defaults
# already resolved): what a fit and a grid read.
ModelParams = Mapping[str, Any]
# One model's search: (parameter, values tried), in the order tried.
Grid = list[tuple[str, list[Any]]]
MIN_FACTORS = 4  # as `build.auto_factors`: fewer latent factors only reconstruct popularity


def resolved(params: ModelParams, name: str) -> Any:
    """``params[name]``, which the build resolves before fitting (None is a bug there)."""
    value = params.get(name)
    if value is None:
        raise ValueError("hyperparameters must be resolved (resolve_params) before a search")
    return value


@dataclass(frozen=True)
class CFEntry:
    """One servable CF model: its name, class, fit, search grid and, when it may be absent,
    its stand-in."""

    name: str
    model: type[CFModel]
    # Fits the model on the customers × products matrix; None: not fitted (optional only).
    fit: Callable[[sp.csr_matrix, ModelParams], CFModel | None]
    stand_in: str | None = None  # the model served when this one was not fitted
    grid: Callable[[ModelParams], Grid] | None = None  # what `--tune` tries; None: nothing
    search_order: int = 0  # `--tune` searches cheaper fits (lower numbers) first

    @property
    def optional(self) -> bool:
        return self.stand_in is not None

    @property
    def prefix(self) -> str:
        return f"{self.name}."


def _fit_item_knn(matrix: sp.csr_matrix, params: ModelParams) -> ItemKNN:
    return fit_item_knn(matrix, k=resolved(params, "item_knn_k"))


def _fit_user_knn(matrix: sp.csr_matrix, params: ModelParams) -> UserKNN:
    return fit_user_knn(matrix, k=params["user_knn_k"])


def _fit_svd(matrix: sp.csr_matrix, params: ModelParams) -> SVDModel:
    return fit_svd(matrix, n_factors=resolved(params, "svd_factors"), seed=params["seed"])


def _fit_als(matrix: sp.csr_matrix, params: ModelParams) -> ALSModel:
    return fit_als(
        matrix,
        factors=resolved(params, "als_factors"),
        regularization=params["als_regularization"],
        iterations=params["als_iterations"],
        alpha=params["als_alpha"],
        seed=params["seed"],
    )


def _fit_ease(matrix: sp.csr_matrix, params: ModelParams) -> EASEModel | None:
    try:
        return fit_ease(matrix, l2=resolved(params, "ease_l2"), max_items=params["ease_max_items"])
    except TooManyItemsError as exc:
        logger.warning("EASE skipped: %s", exc)
        return None


def _knn_grid(params: ModelParams) -> Grid:
    k = resolved(params, "item_knn_k")
    return [("item_knn_k", sorted({max(5, k // 4), max(5, k // 2), k * 2, k * 4} - {k}))]


def _factors(value: int) -> list[int]:
    return sorted({max(MIN_FACTORS, value // 2), value * 2, value * 4} - {value})


def _svd_grid(params: ModelParams) -> Grid:
    return [("svd_factors", _factors(resolved(params, "svd_factors")))]


def _ease_grid(params: ModelParams) -> Grid:
    l2 = resolved(params, "ease_l2")
    return [("ease_l2", [l2 / 8, l2 / 4, l2 / 2, l2 * 2, l2 * 4])]


def _als_grid(params: ModelParams) -> Grid:
    return [
        ("als_factors", _factors(resolved(params, "als_factors"))),
        ("als_regularization", [0.01, 0.2, 1.0]),
        ("als_iterations", [8, 30]),
    ]


# In artifact order (arrays are written in this order, so it is part of the format).
CF_REGISTRY: tuple[CFEntry, ...] = (
    CFEntry("item_knn", ItemKNN, _fit_item_knn, grid=_knn_grid, search_order=0),
    CFEntry("user_knn", UserKNN, _fit_user_knn),
    CFEntry("svd", SVDModel, _fit_svd, grid=_svd_grid, search_order=1),
    CFEntry("als", ALSModel, _fit_als, grid=_als_grid, search_order=3),  # slowest fit
    CFEntry("ease", EASEModel, _fit_ease, stand_in="item_knn", grid=_ease_grid, search_order=2),
)
# The built-in names, for fixed lists (the CLI's choices); code that loops reads `cf_registry`.
CF_MODELS: tuple[str, ...] = tuple(entry.name for entry in CF_REGISTRY)


def cf_registry() -> tuple[CFEntry, ...]:
    """The registered CF models, in artifact order."""
    return CF_REGISTRY


def cf_names() -> tuple[str, ...]:
    """The registered CF models' names, in artifact order."""
    return tuple(entry.name for entry in cf_registry())


def cf_entry(name: str) -> CFEntry:
    """The registry entry of ``name``; ``ValueError`` naming the known models otherwise."""
    for entry in cf_registry():
        if entry.name == name:
            return entry
    raise ValueError(f"unknown CF model {name!r}; expected one of {', '.join(cf_names())}")


def search_grids(params: ModelParams) -> list[tuple[str, str, list[Any]]]:
    """(model, parameter, values) of every registered model with a grid, cheapest first."""
    entries = sorted(cf_registry(), key=lambda entry: entry.search_order)
    return [
        (entry.name, name, values)
        for entry in entries
        if entry.grid is not None
        for name, values in entry.grid(params)
    ]
