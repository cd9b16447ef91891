"""One immutable in-memory model snapshot: everything a request needs, loaded once.

The build assembles the same snapshot from its freshly fitted arrays to evaluate, so offline
evaluation and online serving share one code path. Arrays are read-only; a reload builds a
complete new snapshot and the server swaps the reference (see ``online.state``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recograph import artifacts
from recograph.catalogue import Catalogue, Histories
from recograph.core.codec import read_only
from recograph.core.ranking import popular_head
from recograph.core.segments import DEFAULT_THRESHOLDS, SegmentThresholds, segment_of
from recograph.core.vocabulary import PageType, Segment, Weights
from recograph.recommenders.als import ALSModel
from recograph.recommenders.blend import SEED_WEIGHTS
from recograph.recommenders.candidates import (
    CandidateLists,
    CFLists,
    Ranking,
    dense_cf_models,
    empty_antecedents,
    fit_candidates,
    fit_cf_lists,
)
from recograph.recommenders.content import ContentModel
from recograph.recommenders.ease import EASEModel
from recograph.recommenders.intent import ComplementTable, OrderBaskets, completed_baskets
from recograph.recommenders.item_knn import ItemKNN
from recograph.recommenders.popularity import Popularity
from recograph.recommenders.protocol import CFModel
from recograph.recommenders.registry import CF_MODELS as CF_MODELS  # noqa: PLC0414 (re-export)
from recograph.recommenders.registry import cf_entry, cf_registry
from recograph.recommenders.repeat import RepeatModel, is_repeatable
from recograph.recommenders.rules import RuleSet, antecedent_index
from recograph.recommenders.sparse import sparse_from_arrays, sparse_to_arrays
from recograph.recommenders.svd import SVDModel
from recograph.recommenders.user_knn import UserKNN
from recograph.recommenders.wording import ReasonWording

# How many of a page's related products lead it (`engine.page_intents`) when the build did not
# choose (builds before the choice, or too few validation cases): a cart or checkout page its
# cart's five best complements, a product page none of its substitutes (the blend already
# favours look-alikes there).
DEFAULT_PAGE_LEADS: Mapping[PageType, int] = {
    PageType.PRODUCT: 0,
    PageType.CART: 5,
    PageType.CHECKOUT: 5,
}
# A product this likely to be re-bought within `due.HORIZON_DAYS` ranks with the best new one
# (`engine.mix_due`) when the build did not choose its own.
DEFAULT_DUE_PAR = 0.1
_Model = TypeVar("_Model")


@dataclass(frozen=True)
class BlendConfig:
    """How the served blend is put together: weights per segment, thresholds, CF mix.

    ``weights`` serve pages without products in view (home, category) and are what ``--tune``
    fits: the offline evaluation predicts later purchases from history alone. Pages with a cart
    or a current product use ``context_weights`` (the seed weights unless configured), because
    nothing offline measures how much the page should count, and history-tuned weights give the
    page's rules and look-alikes little say (tuned light weights are 0.9 CF / 0.1 rules)."""

    weights: Mapping[Segment, Weights] = field(default_factory=lambda: dict(SEED_WEIGHTS))
    thresholds: SegmentThresholds = DEFAULT_THRESHOLDS
    cf_models: tuple[tuple[str, float], ...] = (("item_knn", 1.0),)
    context_weights: Mapping[Segment, Weights] = field(default_factory=lambda: dict(SEED_WEIGHTS))
    # Chosen per store on validation (`evaluation.page_mix.choose_page_leads`,
    # `evaluation.next_basket.choose_due_par`); the defaults serve builds that did not.
    page_leads: Mapping[PageType, int] = field(default_factory=lambda: dict(DEFAULT_PAGE_LEADS))
    due_par: float = DEFAULT_DUE_PAR

    def page_lead(self, page: PageType | None) -> int:
        """How many related products lead ``page`` (0: none, the blend decides)."""
        return 0 if page is None else int(self.page_leads.get(page, 0))

    def segment(self, n_orders: int, n_items: int) -> Segment:
        """History strength: many items in few orders count as a regular's history."""
        return Segment(segment_of(n_orders, n_items, self.thresholds))

    def to_dict(self) -> dict[str, Any]:
        return {
            "weights": {segment.value: w.as_dict() for segment, w in self.weights.items()},
            "light_min_orders": self.thresholds.light_min_orders,
            "regular_min_orders": self.thresholds.regular_min_orders,
            "regular_min_items": self.thresholds.regular_min_items,
            "cf_models": [[name, weight] for name, weight in self.cf_models],
            "context_weights": {
                segment.value: w.as_dict() for segment, w in self.context_weights.items()
            },
            "page_leads": {page.value: lead for page, lead in self.page_leads.items()},
            "due_par": self.due_par,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> BlendConfig:
        weights = {Segment(k): Weights.from_dict(v) for k, v in raw.get("weights", {}).items()}
        thresholds = SegmentThresholds(
            light_min_orders=int(raw.get("light_min_orders", 1)),
            regular_min_orders=int(raw.get("regular_min_orders", 3)),
            regular_min_items=raw.get("regular_min_items", DEFAULT_THRESHOLDS.regular_min_items),
        )
        cf_models = tuple((str(n), float(w)) for n, w in raw.get("cf_models", []))
        context = {
            Segment(k): Weights.from_dict(v) for k, v in raw.get("context_weights", {}).items()
        }
        leads = {PageType(k): int(v) for k, v in raw.get("page_leads", {}).items()}
        return cls(
            weights={**SEED_WEIGHTS, **weights},
            thresholds=thresholds,
            cf_models=cf_models or (("item_knn", 1.0),),
            context_weights={**SEED_WEIGHTS, **context},
            page_leads={**DEFAULT_PAGE_LEADS, **leads},
            due_par=float(raw.get("due_par", DEFAULT_DUE_PAR)),
        )


@dataclass(frozen=True)
class ModelSnapshot:
    """A complete, validated build in memory. Never mutated after construction."""

    version: str
    manifest: Mapping[str, Any]
    catalogue: Catalogue
    histories: Histories
    interactions: sp.csr_matrix  # customers × products, the CF training matrix
    # The fitted CF models by registry name, in registry order (an optional one not fitted
    # is absent); `cf_model` / `served_cf_model` read them, the properties below type them.
    cf: Mapping[str, CFModel]
    content: ContentModel
    popularity: Popularity
    repeat: RepeatModel
    product_rules: RuleSet
    category_rules: RuleSet
    blend: BlendConfig
    loaded_at: float = field(default_factory=time.time)
    # The candidate stage's lists (`recommenders.candidates`); None: built from popularity.
    candidates: CandidateLists | None = None
    # Two-stage (candidates, then the blend on them) or full scoring of the whole catalogue.
    ranking: Ranking = Ranking.TWO_STAGE
    # Each customer's best products per dense CF model; None (or lists of other models, as
    # after a refit replaced one): built from the models at construction.
    cf_lists: CFLists | None = None
    # Completed orders × products for co-purchase rates; None: built from the histories at
    # construction (the build does, and stores them; a server maps them).
    baskets: OrderBaskets | None = None
    # Derived once at load, never per request:
    product_rule_index: sp.csr_matrix = field(init=False, repr=False)
    category_rule_index: sp.csr_matrix = field(init=False, repr=False)
    category_share: npt.NDArray[np.float32] = field(init=False, repr=False)
    product_rules_always: npt.NDArray[np.int64] = field(init=False, repr=False)
    category_rules_always: npt.NDArray[np.int64] = field(init=False, repr=False)
    complements: ComplementTable = field(init=False, repr=False)  # a cart page's leads

    def __post_init__(self) -> None:
        for entry in cf_registry():
            if not entry.optional and entry.name not in self.cf:
                raise ValueError(f"the CF model {entry.name!r} is missing")
        setter = object.__setattr__
        setter(self, "product_rule_index", antecedent_index(self.product_rules))
        setter(self, "category_rule_index", antecedent_index(self.category_rules))
        setter(self, "category_share", _category_share(self.catalogue, self.popularity.overall))
        setter(self, "product_rules_always", empty_antecedents(self.product_rules))
        setter(self, "category_rules_always", empty_antecedents(self.category_rules))
        if self.baskets is None:
            setter(self, "baskets", completed_baskets(self.histories, len(self.catalogue)))
        elif self.order_baskets.orders.shape[1] != len(self.catalogue):
            raise ValueError("the order baskets are of another catalogue")
        setter(self, "complements", ComplementTable.of(self.product_rules, self.content.similarity))
        _make_request_caches(self)
        if self.candidates is None:
            catalogue = self.catalogue
            lists = fit_candidates(
                self.popularity, catalogue.category, catalogue.n_categories, catalogue.promoted
            )
            setter(self, "candidates", lists)
        self.lists.make_row_arrays()  # at load, not by a worker's first request
        dense = dense_cf_models({entry.name: self.cf_model(entry.name) for entry in cf_registry()})
        if self.cf_lists is None or not self.cf_lists.matches(dense):
            setter(self, "cf_lists", fit_cf_lists(dense, self.interactions, known=self.cf_lists))

    @property
    def customer_lists(self) -> CFLists:
        """The dense CF models' per-customer lists (always present after construction)."""
        assert self.cf_lists is not None
        return self.cf_lists

    @property
    def order_baskets(self) -> OrderBaskets:
        """Completed orders × products (always present after construction)."""
        assert self.baskets is not None
        return self.baskets

    @property
    def lists(self) -> CandidateLists:
        """The candidate lists (always present after construction)."""
        assert self.candidates is not None
        return self.candidates

    @property
    def n_items(self) -> int:
        return len(self.catalogue)

    @functools.cached_property
    def tables(self) -> RequestTables:
        """Per-item figures full scoring reads on every request (made at load)."""
        return RequestTables.of(self.catalogue, self.repeat)

    @functools.cached_property
    def wording(self) -> ReasonWording:
        """The reasons' texts that depend on the snapshot alone (made at load)."""
        return ReasonWording.of(self.catalogue, self.product_rules, self.category_rules)

    @property
    def head_items(self) -> npt.NDArray[np.int64]:
        """The best sellers by revenue, for the evaluation's long-tail share; computed when
        asked (the server never does), not at every load."""
        return popular_head(self.popularity.revenue)

    def cf_model(self, name: str) -> CFModel | None:
        """The fitted CF model registered as ``name`` (None: optional and not fitted)."""
        return self.cf.get(cf_entry(name).name)

    def with_cf_model(self, name: str, model: CFModel) -> ModelSnapshot:
        """This snapshot with ``name`` refitted (tuning, benchmarks)."""
        return replace(self, cf={**self.cf, cf_entry(name).name: model})

    def _typed(self, name: str, kind: type[_Model]) -> _Model:
        model = self.cf[name]
        assert isinstance(model, kind)
        return model

    @property
    def item_knn(self) -> ItemKNN:
        return self._typed("item_knn", ItemKNN)

    @property
    def user_knn(self) -> UserKNN:
        return self._typed("user_knn", UserKNN)

    @property
    def svd(self) -> SVDModel:
        return self._typed("svd", SVDModel)

    @property
    def als(self) -> ALSModel:
        return self._typed("als", ALSModel)

    @property
    def ease(self) -> EASEModel | None:
        """EASE, or None where it was not fitted (above its catalogue limit)."""
        return self._typed("ease", EASEModel) if "ease" in self.cf else None

    def served_cf_model(self, name: str) -> tuple[str, CFModel]:
        """The model that answers for ``name``: itself, or its stand-in when not fitted."""
        model = self.cf_model(name)
        if model is not None:
            return name, model
        stand_in = cf_entry(name).stand_in
        if stand_in is None:
            raise ValueError(f"CF model {name!r} was not fitted and has no stand-in")
        return self.served_cf_model(stand_in)

    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        """Every array of the snapshot, as published in ``arrays.npz``."""
        arrays: dict[str, npt.NDArray[Any]] = {}
        arrays.update(self.catalogue.to_arrays("catalogue."))
        arrays.update(self.histories.to_arrays("histories."))
        arrays.update(sparse_to_arrays(self.interactions, "interactions."))
        for entry in cf_registry():
            model = self.cf.get(entry.name)
            if model is not None:
                arrays.update(model.to_arrays(entry.prefix))
        arrays.update(self.content.to_arrays("content."))
        arrays.update(self.popularity.to_arrays("popularity."))
        arrays.update(self.repeat.to_arrays("repeat."))
        arrays.update(self.product_rules.to_arrays("rules.product."))
        arrays.update(self.category_rules.to_arrays("rules.category."))
        arrays.update(self.lists.to_arrays("candidates."))
        arrays.update(self.customer_lists.to_arrays("candidates.cf."))
        arrays.update(self.order_baskets.to_arrays("order_baskets."))
        return arrays

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, npt.NDArray[Any]], manifest: Mapping[str, Any]
    ) -> ModelSnapshot:
        cf_models: dict[str, CFModel] = {
            entry.name: entry.model.from_arrays(arrays, entry.prefix)
            for entry in cf_registry()
            if not entry.optional or any(name.startswith(entry.prefix) for name in arrays)
        }
        return cls(
            version=str(manifest.get("version", "unpublished")),
            manifest=manifest,
            catalogue=Catalogue.from_arrays(arrays, "catalogue."),
            histories=Histories.from_arrays(arrays, "histories."),
            interactions=sparse_from_arrays(arrays, "interactions."),
            cf=cf_models,
            content=ContentModel.from_arrays(arrays, "content."),
            popularity=Popularity.from_arrays(arrays, "popularity."),
            repeat=RepeatModel.from_arrays(arrays, "repeat."),
            product_rules=RuleSet.from_arrays(arrays, "rules.product."),
            category_rules=RuleSet.from_arrays(arrays, "rules.category."),
            blend=BlendConfig.from_dict(manifest.get("blend", {})),
            candidates=CandidateLists.from_arrays(arrays, "candidates."),
            ranking=Ranking(manifest.get("ranking", Ranking.TWO_STAGE.value)),
            cf_lists=CFLists.from_arrays(arrays, dense_cf_models(cf_models), "candidates.cf."),
            baskets=OrderBaskets.from_arrays(arrays, "order_baskets."),
        )


def _category_share(catalogue: Catalogue, overall: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    """Each item's popularity relative to the best seller of its category, floored at 0.3 so a
    never-bought product of a recommended category can still surface."""
    peak = np.zeros(max(catalogue.n_categories, 1), dtype=np.float64)
    np.maximum.at(peak, catalogue.category, overall.astype(np.float64))
    denominator = np.where(peak[catalogue.category] > 0, peak[catalogue.category], 1.0)
    return (0.3 + 0.7 * overall / denominator).astype(np.float32)


def load_snapshot(
    path: Path, *, verify: bool = True, mmap: bool = False, verified: str | None = None
) -> ModelSnapshot:
    """Load, validate and assemble a published build (a root with ``current`` or a build dir).

    ``mmap`` maps the arrays read-only from aligned files shared by every process on the host
    (`artifacts.load`) instead of reading them into this one; ``verified``: the identity of
    mapped files a parent process has checked (`artifacts.verified_build`). Raises
    ``artifacts.ArtifactError`` for anything missing, corrupt or inconsistent.
    """
    loaded = artifacts.load(path, verify=verify, mmap=mmap, verified=verified)
    try:
        return ModelSnapshot.from_arrays(loaded.arrays, loaded.manifest)
    except (KeyError, ValueError, IndexError, TypeError) as exc:
        raise artifacts.ArtifactError(f"{loaded.path}: inconsistent build ({exc!r})") from None


def load_mapped_snapshot(path: Path, *, verified: str | None = None) -> ModelSnapshot:
    """`load_snapshot` with memory-mapped arrays: what a server worker loads (``verified``:
    the identity of the files its parent checked before forking it, if any)."""
    return load_snapshot(path, mmap=True, verified=verified)


@dataclass(frozen=True)
class RequestTables:
    """Per-item figures full scoring reads on every request, derived once from the snapshot's
    models at load (`_make_request_caches`), never stored in a build."""

    category: tuple[int, ...]  # per item, its category (Python ints: a request's loops read some)
    repeatable: npt.NDArray[np.bool_]  # per item, `is_repeatable` of its category
    promoted: npt.NDArray[np.int64]  # the promoted products' positions, ascending

    @classmethod
    def of(cls, catalogue: Catalogue, repeat: RepeatModel) -> RequestTables:
        repeatable = is_repeatable(repeat, np.asarray(catalogue.category, dtype=np.int64))
        return cls(
            category=tuple(np.asarray(catalogue.category).tolist()),
            repeatable=read_only(repeatable),
            promoted=read_only(np.flatnonzero(catalogue.promoted).astype(np.int64)),
        )


def _make_request_caches(snapshot: ModelSnapshot) -> None:
    """Make at load what scoring caches on the immutable models at first use (the rules'
    orders by confidence and lift, their antecedent columns and paired tables, the dense
    neighbour matrices and popularity rows of a small catalogue), the `RequestTables` and the
    reasons' wording, so no request pays for it and forked workers share what the parent
    made."""
    for rules in (snapshot.product_rules, snapshot.category_rules):
        rules.ranking("confidence")
        rules.ranking("lift")
        _ = rules.paired, rules.fired_mask, rules.no_places, rules.consequent_items
    if "item_knn" in snapshot.cf:
        _ = snapshot.item_knn.dense_similarity
    _ = snapshot.content.dense_similarity
    _ = snapshot.popularity.rows
    _ = snapshot.repeat.owned_factor
    _ = snapshot.complements.row_lists
    _ = snapshot.tables, snapshot.wording
