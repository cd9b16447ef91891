"""The first stage of two-stage ranking: a few hundred candidates per request, from lists.

Full scoring gives every product a score from every signal, so a request costs more as the
catalogue grows. Every signal is sparse or has a known top, though: item-kNN and content
scores are sums of the history's (or the page's) stored neighbour rows, a rule scores only
the consequents of the rules the page fires, a category rule's items rank within their
category by popularity, and popularity's best are a list. So the candidates are the union of

- the item-kNN neighbours of the history and the content neighbours of the page and the
  history (the stored top-k rows), cut to each signal's best ``SIGNAL_LIMIT`` and its best
  ``SIGNAL_LIMIT`` among the products the request's filter leaves (`Sparse.best_shown`);
- the other CF models' best: user-kNN's support (the neighbours' purchases), and for the
  dense models (SVD, ALS, EASE) the customer's list stored at build (`CFLists`: their best
  new products and whatever scores above the last of them), each scored exactly at the
  candidates (`protocol.CFModel.score_at`);
- the consequents of the fired product rules (their best ``SIGNAL_LIMIT``), and for the
  ``MAX_RULE_CATEGORIES`` strongest categories the fired category rules recommend, their
  ``RULE_CATEGORY_HEAD`` best sellers (`CandidateLists.category_popular`) and the best
  ``SIGNAL_LIMIT`` CF and content products there by an estimate of the blend
  (`engine._Estimate`: where a category's products sell alike, a small CF score decides);
- the popular or trending list (``STORE_LIST_SIZE``, at most ``HEAD_PER_CATEGORY`` of a
  category; or the page's category and the requested ones);
- the promoted products of the page's categories, of those its category rules lead to and
  of the rules' categories (the best ``MAX_RELATED_PROMOTED`` by the same estimate), and the
  best-selling and trending promoted products (a slot takes any that scores well);
- the customer's products that may come back (buy-again);

built offline where they are lists (`fit_candidates`, stored in the artifacts), and each
signal is scored exactly on them. Because every signal's best item is a candidate, the
per-signal normalisation (by the maximum) is the full catalogue's, and a candidate's blended
score equals its full-scoring score; what can differ is only a product outside every list
that full scoring would have ranked in the top.

Everything per request here costs in the size of the history, the page and the lists, not
the catalogue, and every bound is a count of products, not a share of the catalogue or a
number per category: a request brings a few hundred candidates however large the store
(`engine.recommend` keeps ``Ranking.FULL`` selectable to compare both).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recograph.core.codec import pattern_matrix, read_only
from recograph.recommenders.popularity import Popularity
from recograph.recommenders.protocol import CFModel
from recograph.recommenders.rules import RuleSet
from recograph.recommenders.sparse import distinct, distinct_counts, row_entries, row_sum_support
from recograph.recommenders.sparse import slots as slots  # noqa: PLC0414 (re-export)
from recograph.recommenders.sparse import values_at as values_at  # noqa: PLC0414 (re-export)

Positions = npt.NDArray[np.int64]
Values = npt.NDArray[np.float64]
Arrays = Mapping[str, npt.NDArray[Any]]

# Every bound below is a count of products, none grows with the catalogue or the number of
# categories, so a request's candidates (at most a few hundred) and its cost stay flat.
LIST_SIZE = 50  # items per stored per-category list (the popular ones, a page's category)
STORE_LIST_SIZE = 100  # items in the store-wide popular and trending lists
PROMOTED_LIST_SIZE = 20  # items in the store-wide promoted lists (one takes a slot)
SIGNAL_LIMIT = 60  # best items a neighbour or rule signal contributes
# A dense CF model scores every product of the rules' categories: its best there by the blend
DENSE_CATEGORY_LIMIT = 100
MAX_RULE_CATEGORIES = 12  # categories recommended by category rules that bring their heads
RULE_CATEGORY_HEAD = 10  # best sellers each of those brings
PROMOTED_PER_CATEGORY = 10  # promoted products listed per category (one takes a slot)
MAX_RELATED_PROMOTED = 30  # of those, the most a page's related categories bring
# The store-wide lists cap each category: the per-category cap (3 by default) sends a
# popularity page past a crowded category's best sellers, so the list reaches into more
# categories instead of holding one category's tenth best.
HEAD_PER_CATEGORY = 5  # the default per-category cap (3), with room for filtered ones


class Ranking(StrEnum):
    """How a request is ranked: candidates first (the default), or the whole catalogue."""

    TWO_STAGE = "two-stage"
    FULL = "full"


AUTO = "auto"
# `--ranking auto` (the default) ranks in two stages above this many products and scores the
# whole catalogue below it, where full scoring is exact and cheaper: measured per request
# (engine CPU), 291 products 1.7 ms full vs 2.6 ms two-stage, 29,100 products 7.8 vs 2.8 ms;
# the costs cross near 4,500 products.
TWO_STAGE_MIN_PRODUCTS = 5000


def resolve_ranking(choice: str, n_items: int) -> Ranking:
    """The ranking a build serves: ``two-stage`` or ``full`` as asked, ``auto`` by catalogue
    size (`TWO_STAGE_MIN_PRODUCTS`)."""
    if choice == AUTO:
        return Ranking.TWO_STAGE if n_items > TWO_STAGE_MIN_PRODUCTS else Ranking.FULL
    return Ranking(choice)


@dataclass(frozen=True)
class CandidateLists:
    """Lists built offline from popularity and the catalogue (best first, ties by position).

    - ``popular`` / ``trending``: the ``STORE_LIST_SIZE`` best by buyers / by recency-weighted
      sales, at most ``HEAD_PER_CATEGORY`` of a category;
    - ``promoted_popular`` / ``promoted_trending``: the ``PROMOTED_LIST_SIZE`` best promoted;
    - ``category_popular`` / ``category_trending``: CSR rows (one per category), the same
      within each category;
    - ``category_promoted``: CSR rows, each category's promoted products by buyers;
    - ``category_overall_max`` / ``category_trending_max``: the maxima score_popularity
      divides by for a category page, so the candidate stage needs no pass over the catalogue;
      ``overall_max`` / ``trending_max`` likewise for the whole store.
    """

    popular: npt.NDArray[np.int32]
    trending: npt.NDArray[np.int32]
    promoted_popular: npt.NDArray[np.int32]
    promoted_trending: npt.NDArray[np.int32]
    category_popular: sp.csr_matrix
    category_trending: sp.csr_matrix
    category_promoted: sp.csr_matrix
    category_overall_max: npt.NDArray[np.float32]
    category_trending_max: npt.NDArray[np.float32]
    overall_max: float
    trending_max: float

    @cached_property
    def category_rows(self) -> tuple[Positions, ...]:
        """`category_popular`'s rows (each category's best sellers, best first), one array
        each: made once per snapshot, so a request joins a few of them instead of gathering
        CSR rows."""
        return row_arrays(self.category_popular)

    @cached_property
    def category_heads(self) -> tuple[Positions, ...]:
        """Per category, its ``RULE_CATEGORY_HEAD`` best sellers (`category_rows`' heads,
        views of them)."""
        return tuple(row[:RULE_CATEGORY_HEAD] for row in self.category_rows)

    @cached_property
    def category_promoted_rows(self) -> tuple[Positions, ...]:
        """`category_promoted`'s rows, one array each (made once, as `category_heads`)."""
        return row_arrays(self.category_promoted)

    def make_row_arrays(self) -> None:
        """Make the cached row arrays now (the snapshot does at load)."""
        _ = self.category_rows, self.category_heads, self.category_promoted_rows

    def to_arrays(self, prefix: str = "candidates.") -> dict[str, npt.NDArray[Any]]:
        arrays: dict[str, npt.NDArray[Any]] = {
            f"{prefix}popular": self.popular,
            f"{prefix}trending": self.trending,
            f"{prefix}promoted_popular": self.promoted_popular,
            f"{prefix}promoted_trending": self.promoted_trending,
            f"{prefix}category_overall_max": self.category_overall_max,
            f"{prefix}category_trending_max": self.category_trending_max,
            f"{prefix}overall_max": np.array(self.overall_max, dtype=np.float64),
            f"{prefix}trending_max": np.array(self.trending_max, dtype=np.float64),
        }
        for name in ("category_popular", "category_trending", "category_promoted"):
            matrix: sp.csr_matrix = getattr(self, name)
            arrays[f"{prefix}{name}.indptr"] = np.asarray(matrix.indptr, dtype=np.int64)
            arrays[f"{prefix}{name}.indices"] = np.asarray(matrix.indices, dtype=np.int32)
            arrays[f"{prefix}{name}.shape"] = np.asarray(matrix.shape, dtype=np.int64)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Arrays, prefix: str = "candidates.") -> CandidateLists:
        def rows(name: str) -> sp.csr_matrix:
            indices = np.asarray(arrays[f"{prefix}{name}.indices"])
            shape = tuple(int(n) for n in arrays[f"{prefix}{name}.shape"])
            data = np.ones(len(indices), dtype=np.int8)
            indptr = np.asarray(arrays[f"{prefix}{name}.indptr"])
            if len(indptr) != shape[0] + 1:
                raise ValueError(f"{prefix}{name}: {len(indptr)} row pointers for {shape[0]} rows")
            return sp.csr_matrix((data, indices, indptr), shape=shape, copy=False)

        return cls(
            popular=np.asarray(arrays[f"{prefix}popular"], dtype=np.int32),
            trending=np.asarray(arrays[f"{prefix}trending"], dtype=np.int32),
            promoted_popular=np.asarray(arrays[f"{prefix}promoted_popular"], dtype=np.int32),
            promoted_trending=np.asarray(arrays[f"{prefix}promoted_trending"], dtype=np.int32),
            category_popular=rows("category_popular"),
            category_trending=rows("category_trending"),
            category_promoted=rows("category_promoted"),
            category_overall_max=np.asarray(arrays[f"{prefix}category_overall_max"], np.float32),
            category_trending_max=np.asarray(arrays[f"{prefix}category_trending_max"], np.float32),
            overall_max=float(arrays[f"{prefix}overall_max"]),
            trending_max=float(arrays[f"{prefix}trending_max"]),
        )


def _best_first(values: npt.NDArray[Any], keep: npt.NDArray[np.bool_], size: int) -> Positions:
    """Positions where ``keep`` with a positive value, best first (ties: lower position)."""
    positions = np.flatnonzero(keep & (values > 0))
    order = np.lexsort((positions, -values[positions]))
    return positions[order][:size].astype(np.int64)


def best_capped(
    values: npt.NDArray[Any], category: npt.NDArray[Any], size: int, per_category: int
) -> Positions:
    """The ``size`` best positions with a positive value, at most ``per_category`` of any
    category, best first (ties: lower position)."""
    positions = np.flatnonzero(values > 0)
    ranked = positions[np.lexsort((positions, -values[positions]))]
    cats = np.asarray(category, dtype=np.int64)[ranked]
    by_category = np.argsort(cats, kind="stable")  # within a category still best first
    grouped = cats[by_category]
    starts = np.searchsorted(grouped, grouped, side="left")
    rank_in_category = np.empty(len(ranked), dtype=np.int64)
    rank_in_category[by_category] = np.arange(len(ranked)) - starts
    return ranked[rank_in_category < per_category][:size].astype(np.int64)


def _per_category(
    values: npt.NDArray[Any], category: npt.NDArray[Any], n_categories: int, size: int
) -> sp.csr_matrix:
    """One row per category: its ``size`` best positions by ``values`` (ties: lower position)."""
    positions = np.flatnonzero(values > 0)
    order = np.lexsort((positions, -values[positions], category[positions]))
    ranked = positions[order]
    cats = category[ranked].astype(np.int64)
    starts = np.searchsorted(cats, np.arange(n_categories), side="left")
    rank_in_category = np.arange(len(ranked)) - starts[cats]
    kept = rank_in_category < size
    counts = np.bincount(cats[kept], minlength=n_categories)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    indices = ranked[kept].astype(np.int32)
    data = np.ones(len(indices), dtype=np.int8)
    return sp.csr_matrix((data, indices, indptr), shape=(n_categories, len(values)))


def fit_candidates(
    popularity: Popularity,
    category: npt.NDArray[Any],
    n_categories: int,
    promoted: npt.NDArray[np.bool_],
    size: int = LIST_SIZE,
) -> CandidateLists:
    """The stored lists, from the fitted popularity and the catalogue."""
    overall = np.asarray(popularity.overall, dtype=np.float32)
    trending = np.asarray(popularity.trending, dtype=np.float32)
    by_category_overall = np.zeros(n_categories, dtype=np.float32)
    by_category_trending = np.zeros(n_categories, dtype=np.float32)
    cats = np.asarray(popularity.item_category, dtype=np.int64)
    np.maximum.at(by_category_overall, cats, overall)
    np.maximum.at(by_category_trending, cats, trending)
    # Promoted products rank by buyers, but never-bought ones are listed too (after them).
    promoted_order = np.where(promoted, overall + np.float32(1e-3), np.float32(0))
    promoted_recent = np.where(promoted, trending + np.float32(1e-3), np.float32(0))
    return CandidateLists(
        popular=best_capped(overall, category, STORE_LIST_SIZE, HEAD_PER_CATEGORY).astype(np.int32),
        trending=best_capped(trending, category, STORE_LIST_SIZE, HEAD_PER_CATEGORY).astype(
            np.int32
        ),
        promoted_popular=_best_first(promoted_order, promoted, PROMOTED_LIST_SIZE).astype(np.int32),
        promoted_trending=_best_first(promoted_recent, promoted, PROMOTED_LIST_SIZE).astype(
            np.int32
        ),
        category_popular=_per_category(overall, category, n_categories, size),
        category_trending=_per_category(trending, category, n_categories, size),
        category_promoted=_per_category(
            promoted_order, category, n_categories, min(size, PROMOTED_PER_CATEGORY)
        ),
        category_overall_max=by_category_overall,
        category_trending_max=by_category_trending,
        overall_max=float(overall.max()) if len(overall) else 0.0,
        trending_max=float(trending.max()) if len(trending) else 0.0,
    )


CF_LIST_SIZE = 100  # products a customer's stored CF list holds beyond their own
CF_LIST_BLOCK_SCORES = 20_000_000  # scores held at once while the lists are built (80 MB)


@dataclass(frozen=True)
class CFLists:
    """Per dense CF model (SVD, ALS, EASE: every product has a score), each training
    customer's best products, stored so two-stage ranking needs no pass over the catalogue.

    ``rows[name]``: CSR (customers × products), row u ranked best first: the ``CF_LIST_SIZE``
    best-scoring products the customer did not buy, and every product scoring at least the
    last of them (their own included), positive scores only. So the model's best product is
    listed (its maximum, which normalisation divides by, is exact) and any product left out
    scores at most the last listed one. ``models``: the fitted models the lists were built
    for (by identity; not stored), so a snapshot whose model was refitted rebuilds them.
    """

    rows: Mapping[str, sp.csr_matrix]
    models: Mapping[str, object]

    def matches(self, models: Mapping[str, CFModel]) -> bool:
        """Whether these lists were built for exactly ``models`` (the dense ones)."""
        return set(self.rows) == set(models) and all(
            self.models.get(name) is model for name, model in models.items()
        )

    def to_arrays(self, prefix: str = "candidates.cf.") -> dict[str, npt.NDArray[Any]]:
        arrays: dict[str, npt.NDArray[Any]] = {}
        for name, matrix in sorted(self.rows.items()):
            arrays[f"{prefix}{name}.indptr"] = np.asarray(matrix.indptr, dtype=np.int64)
            arrays[f"{prefix}{name}.indices"] = np.asarray(matrix.indices, dtype=np.int32)
            arrays[f"{prefix}{name}.shape"] = np.asarray(matrix.shape, dtype=np.int64)
        return arrays

    @classmethod
    def from_arrays(
        cls, arrays: Arrays, models: Mapping[str, CFModel], prefix: str = "candidates.cf."
    ) -> CFLists:
        """The stored lists of the dense ``models`` (each must be there)."""
        rows: dict[str, sp.csr_matrix] = {}
        for name in models:
            indices = np.asarray(arrays[f"{prefix}{name}.indices"])
            indptr = np.asarray(arrays[f"{prefix}{name}.indptr"])
            shape = tuple(int(n) for n in arrays[f"{prefix}{name}.shape"])
            if len(indptr) != shape[0] + 1:
                raise ValueError(f"{prefix}{name}: {len(indptr)} row pointers, {shape[0]} rows")
            rows[name] = pattern_matrix(indices, indptr, (shape[0], shape[1]), np.int8)
        return cls(rows=rows, models=dict(models))


def dense_cf_models(models: Mapping[str, CFModel | None]) -> dict[str, CFModel]:
    """The fitted models whose candidates are stored lists (those without a sparse support)."""
    return {
        name: model for name, model in models.items() if model is not None and model.STORED_LISTS
    }


def fit_cf_lists(
    models: Mapping[str, CFModel],
    interactions: sp.csr_matrix,
    size: int = CF_LIST_SIZE,
    known: CFLists | None = None,
) -> CFLists:
    """`CFLists` of the dense ``models`` over the training customers (``known``: lists to
    keep for the models they were built for)."""
    rows: dict[str, sp.csr_matrix] = {}
    for name, model in models.items():
        if known is not None and known.models.get(name) is model and name in known.rows:
            rows[name] = known.rows[name]
        else:
            rows[name] = _customer_lists(model, interactions, size)
    return CFLists(rows=rows, models=dict(models))


def _customer_lists(model: CFModel, interactions: sp.csr_matrix, size: int) -> sp.csr_matrix:
    """One model's `CFLists` rows, scoring the customers a block at a time."""
    n_users, n_items = interactions.shape
    block = max(1, CF_LIST_BLOCK_SCORES // max(n_items, 1))
    indptr, indices = [np.zeros(1, dtype=np.int64)], []
    for start in range(0, n_users, block):
        users = np.arange(start, min(start + block, n_users), dtype=np.int64)
        scores = model.customer_scores(interactions, users)
        assert scores is not None
        owned = interactions[users]
        unowned = np.where(scores > 0, scores, -np.inf).astype(np.float32)
        unowned[np.repeat(np.arange(len(users)), np.diff(owned.indptr)), owned.indices] = -np.inf
        if n_items > size:
            last = -np.partition(-unowned, size - 1, axis=1)[:, size - 1]
        else:
            last = np.full(len(users), -np.inf, dtype=np.float32)
        keep = (scores > 0) & (scores >= last[:, np.newaxis])
        row, column = np.nonzero(keep)
        order = np.lexsort((column, -scores[row, column], row))
        indices.append(column[order].astype(np.int32))
        counts = np.bincount(row, minlength=len(users))
        indptr.append(indptr[-1][-1] + np.cumsum(counts))
    return sp.csr_matrix(
        (
            np.ones(sum(len(i) for i in indices), dtype=np.int8),
            np.concatenate(indices) if indices else np.zeros(0, dtype=np.int32),
            np.concatenate(indptr),
        ),
        shape=(n_users, n_items),
    )


def rows_of(matrix: sp.csr_matrix, rows: npt.ArrayLike, head: int | None = None) -> Positions:
    """The positions listed in the CSR ``rows`` of ``matrix`` (a list per row, best first),
    concatenated; with ``head``, only each row's first ``head``."""
    wanted = np.asarray(rows, dtype=np.int64).ravel()
    if wanted.size == 0:
        return np.zeros(0, dtype=np.int64)
    entries, owner = row_entries(matrix.indptr, wanted)
    if head is not None:
        entries = entries[entries - matrix.indptr[wanted][owner] < head]
    return np.asarray(matrix.indices[entries], dtype=np.int64)


def row_of(matrix: sp.csr_matrix, row: int) -> Positions:
    """The positions listed in one CSR ``row`` of ``matrix`` (`rows_of` of that row alone,
    read as a slice: a request's one customer list)."""
    indptr = matrix.indptr
    return np.asarray(matrix.indices[indptr[row] : indptr[row + 1]], dtype=np.int64)


def row_arrays(matrix: sp.csr_matrix, head: int | None = None) -> tuple[Positions, ...]:
    """Each CSR row of ``matrix`` (a list, best first) as its own int64 array; with ``head``,
    only its first ``head``."""
    indptr = matrix.indptr.tolist()
    indices = read_only(np.array(matrix.indices, dtype=np.int64))  # shared by every request
    return tuple(
        indices[start : stop if head is None else min(stop, start + head)]
        for start, stop in itertools.pairwise(indptr)
    )


def joined(rows: Sequence[Positions], wanted: Sequence[int]) -> Positions:
    """The ``wanted`` rows of `row_arrays`, concatenated (one call, no CSR gather)."""
    if len(wanted) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([rows[row] for row in wanted])


def best_of_rows(
    rows: Sequence[Positions],
    wanted: Sequence[int],
    limit: int,
    value: Callable[[Positions], Values],
) -> Positions:
    """The ``wanted`` rows (of `row_arrays`) joined, cut to the ``limit`` best by ``value``
    (ties: lower position): a bound on what many rows (a page's related categories) bring."""
    listed = joined(rows, wanted)
    if len(listed) <= limit:
        return listed
    return listed[np.lexsort((listed, -value(listed)))[:limit]]


# ---------------------------------------------------------------------------- per request


@dataclass(frozen=True)
class Sparse:
    """A signal on its support: ascending positions and their (positive) values."""

    positions: Positions
    values: Values

    @classmethod
    def empty(cls) -> Sparse:
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))

    def best(self, limit: int) -> Positions:
        """The ``limit`` best positions (unordered): every candidate a signal brings."""
        if len(self.positions) <= limit:
            return self.positions
        return self.positions[(-self.values).argpartition(limit - 1)[:limit]]

    def best_shown(self, limit: int, dropped: Positions) -> Positions:
        """`best` (``limit`` best overall, so the maximum is a candidate) and the ``limit``
        best outside ``dropped`` (ascending: the products the request's filter removes);
        unordered, and a position may be there twice (the caller's union removes it).
        A heavy history's neighbour rows score its own products highest; without the second
        part they fill the signal's share and the filter then removes them all."""
        top = self.best(limit)
        if len(dropped) == 0 or len(self.positions) <= limit:
            return top
        kept = outside(self.positions, dropped)
        if kept.all():  # the filter leaves the whole support: its best are ``top``
            return top
        shown = Sparse(self.positions[kept], self.values[kept]).best(limit)
        return np.concatenate([top, shown])

    def at(self, positions: Positions) -> Values:
        """The values at ``positions`` (0 off the support)."""
        return values_at(self.positions, self.values, positions)


def member(support: Positions, positions: Positions) -> npt.NDArray[np.bool_]:
    """Whether each of ``positions`` is in the ascending ``support`` (`np.isin` without its
    sort, for the small sorted arrays of a request)."""
    if len(support) == 0:
        return np.zeros(len(positions), dtype=np.bool_)
    return slots(support, positions)[1]


def outside(positions: Positions, removed: Positions) -> npt.NDArray[np.bool_]:
    """Whether each of the ascending ``positions`` is not among ``removed`` (`member`'s
    negation, the few ``removed`` looked up among the many ``positions``)."""
    kept = np.ones(len(positions), dtype=np.bool_)
    if len(positions) and len(removed):
        slot, hit = slots(positions, removed)
        kept[slot[hit]] = False
    return kept


def union(parts: Sequence[npt.ArrayLike]) -> Positions:
    """The distinct positions of all ``parts``, ascending (`sparse.distinct` of their
    concatenation: one sort, where `np.unique` hashes first)."""
    if not parts:
        return np.zeros(0, dtype=np.int64)
    return distinct(np.concatenate([np.asarray(p, dtype=np.int64).ravel() for p in parts]))


def row_sum(matrix: sp.csr_matrix, rows: npt.ArrayLike, weights: npt.ArrayLike) -> Sparse:
    """``Σ_r weights[r] · matrix[rows[r]]`` on its support: `sparse.weighted_row_sum` without
    the dense vector (the same float64 additions in the same order, so the same values)."""
    positions, sums = row_sum_support(matrix, np.asarray(rows, dtype=np.int64), weights)
    return Sparse(positions, sums)


@dataclass(frozen=True)
class RuleHits:
    """`rules.score_rules` on its support: per consequent item of a fired rule (outside the
    context) the best confidence and the rule giving it (ties: the lower rule id)."""

    positions: Positions
    values: Values
    rule: npt.NDArray[np.int64]


def rule_hits(
    rules: RuleSet,
    index: sp.csr_matrix,
    always: npt.NDArray[np.int64],
    seeds: Positions,
    metric: str = "confidence",
) -> RuleHits:
    """The rules fired by ``seeds`` (``index`` is `rules.antecedent_index`, ``always`` the
    rules with an empty antecedent), counted only over the rules the seeds touch."""
    if len(rules) == 0:  # nothing can fire (a store may mine no product rules)
        return RuleHits(np.zeros(0, np.int64), np.zeros(0, np.float64), np.zeros(0, np.int64))
    context = union([seeds[(seeds >= 0) & (seeds < rules.n_items)]])
    entries, _ = row_entries(index.indptr, context)
    touched, present = distinct_counts(index.indices[entries])
    lengths = rules.antecedent_indptr[touched + 1] - rules.antecedent_indptr[touched]
    fired = touched[present == lengths].astype(np.int64)
    if always.size:
        fired = union([fired, always])
    if fired.size == 0:
        return RuleHits(np.zeros(0, np.int64), np.zeros(0, np.float64), np.zeros(0, np.int64))
    if rules.single_consequent:
        items, rule_ids = rules.consequent_indices[fired].astype(np.int64), fired
    else:
        found, owner = row_entries(rules.consequent_indptr, fired)
        items, rule_ids = rules.consequent_indices[found].astype(np.int64), fired[owner]
    values = np.asarray(getattr(rules, metric), dtype=np.float64)[rule_ids]
    order = np.lexsort((rule_ids, -values, items))
    items, rule_ids, values = items[order], rule_ids[order], values[order]
    first = np.ones(len(items), dtype=np.bool_)
    first[1:] = items[1:] != items[:-1]
    keep = first & ~member(context, items)
    return RuleHits(items[keep], values[keep], rule_ids[keep])


def empty_antecedents(rules: RuleSet) -> npt.NDArray[np.int64]:
    """Rules whose antecedent is empty: they fire for every context (as in arules)."""
    return np.flatnonzero(np.diff(rules.antecedent_indptr) == 0).astype(np.int64)
