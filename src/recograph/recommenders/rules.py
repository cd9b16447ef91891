"""Association rules: mined offline by sparse counting, stored as flat arrays, scored per request.

Positions (``item_idx`` or a category index, 0..n_items-1) are the only item identifiers here;
converting store ids to positions happens in ``recograph.core.ids.IdIndex``.

Semantics follow R arules ``apriori`` so published results can be reproduced exactly:

- rule length is ``|antecedent| + |consequent|``; ``min_len`` / ``max_len`` bound it like
  arules' ``minlen`` / ``maxlen`` (arules defaults to ``maxlen=10``; ``None`` here means no
  bound);
- an itemset is frequent when its basket count is ``>= ceil(min_support * n_baskets)``;
- confidence and lift are computed from integer counts, so a rule exactly at the threshold
  (e.g. 4/5 against 0.8) is kept, as it is in arules;
- with ``single_consequent=True`` only one-item consequents are kept, as arules produces;
- with ``min_len <= 1``, arules also emits rules with an EMPTY antecedent, ``{} => {item}``,
  for every item whose support reaches the confidence threshold (their confidence is the item's
  support and their lift is 1). They are reproduced here; they fire for every context.

Frequent itemsets are counted level by level with sparse products (pair counts are
``XᵀX``; each longer level extends the frequent sets of the one before), on the items that can
be frequent and the baskets holding two of them, in bounded chunks. The counts are exact, so
the itemsets are the ones mlxtend's ``fpgrowth`` finds (a test compares them), but orders of
hundreds of lines, where FP-Growth did not finish in ten minutes, take seconds. Dense stores
can hold millions of frequent itemsets at a low support; ``max_itemsets`` then raises the
support to the smallest basket count that leaves at most that many, and `MiningReport` says
so. Single-consequent rules are split from the itemsets with array operations; multi-item
consequents go through mlxtend's ``association_rules``.
"""

from __future__ import annotations

import functools
import logging
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recograph.recommenders.codec import ArrayCoded, Encoding, dense, read_only, scalar
from recograph.recommenders.sparse import row_entries

if TYPE_CHECKING:
    # pandas and mlxtend (~30 MB with joblib) only mine: the mining functions import them,
    # so a serving worker, which reads the stored rules, never loads them.
    import pandas as pd

logger = logging.getLogger(__name__)

METRICS: tuple[str, ...] = ("support", "confidence", "lift", "leverage", "conviction")
# Up to this many antecedent entries (longest antecedent × rules), a context's fired rules are
# read column by column (`RuleSet.antecedent_columns`: a few numpy calls, each reading every
# rule); beyond, the context's rows of the antecedent index are counted (work as the rows).
COLUMNS_MAX = 16_384


def _stored(dtype: type[np.generic]) -> dict[str, Encoding]:
    """A rule array's codec: ``dtype``, written in the memory order it has."""
    return dense(dtype, contiguous=False)


# The per-rule arrays (shape (n_rules,)), checked against the rule count.
_PER_RULE_FIELDS = (
    "support",
    "confidence",
    "lift",
    "leverage",
    "conviction",
    "count",
    "antecedent_count",
    "consequent_count",
)


@dataclass(frozen=True)
class RuleSet(ArrayCoded):
    """Association rules ``antecedent => consequent`` as flat arrays (no pickles).

    Rule ``r`` has antecedent positions ``antecedent_indices[antecedent_indptr[r]:
    antecedent_indptr[r+1]]`` (CSR style, ascending; empty for ``{} => {item}`` rules) and
    likewise for the consequent. Per-rule arrays have shape ``(n_rules,)``:

    - ``count``: baskets containing antecedent ∪ consequent; ``antecedent_count`` /
      ``consequent_count``: baskets containing each side (``n_baskets`` for an empty side);
    - ``support`` = count / n; ``confidence`` = count / antecedent_count;
      ``lift`` = confidence / consequent support; ``leverage`` = support − supp(A)·supp(C);
      ``conviction`` = (1 − supp(C)) / (1 − confidence), ``inf`` when confidence is 1.

    Rules are sorted by lift, confidence, support (all descending), then antecedent and
    consequent positions, so the same input always gives the same arrays.
    """

    # Stored as they are (memory order kept) in these dtypes; the counts as 0-d int64.
    antecedent_indptr: npt.NDArray[np.int64] = field(metadata=_stored(np.int64))
    antecedent_indices: npt.NDArray[np.int32] = field(metadata=_stored(np.int32))
    consequent_indptr: npt.NDArray[np.int64] = field(metadata=_stored(np.int64))
    consequent_indices: npt.NDArray[np.int32] = field(metadata=_stored(np.int32))
    support: npt.NDArray[np.float64] = field(metadata=_stored(np.float64))
    confidence: npt.NDArray[np.float64] = field(metadata=_stored(np.float64))
    lift: npt.NDArray[np.float64] = field(metadata=_stored(np.float64))
    leverage: npt.NDArray[np.float64] = field(metadata=_stored(np.float64))
    conviction: npt.NDArray[np.float64] = field(metadata=_stored(np.float64))
    count: npt.NDArray[np.int64] = field(metadata=_stored(np.int64))
    antecedent_count: npt.NDArray[np.int64] = field(metadata=_stored(np.int64))
    consequent_count: npt.NDArray[np.int64] = field(metadata=_stored(np.int64))
    n_baskets: int = field(metadata=scalar(np.int64))
    n_items: int = field(metadata=scalar(np.int64))

    def __post_init__(self) -> None:
        n_rules = len(self.antecedent_indptr) - 1
        if n_rules < 0 or len(self.consequent_indptr) != n_rules + 1:
            raise ValueError("RuleSet indptr arrays must both have n_rules + 1 entries")
        for name in _PER_RULE_FIELDS:
            if len(getattr(self, name)) != n_rules:
                raise ValueError(f"RuleSet.{name} must have {n_rules} entries")
        for side in ("antecedent", "consequent"):
            indptr = getattr(self, f"{side}_indptr")
            indices = getattr(self, f"{side}_indices")
            if indptr[0] != 0 or indptr[-1] != len(indices) or np.any(np.diff(indptr) < 0):
                raise ValueError(f"RuleSet.{side}_indptr does not describe {side}_indices")
            if len(indices) and (indices.min() < 0 or indices.max() >= self.n_items):
                raise ValueError(f"RuleSet.{side}_indices must be in [0, n_items)")

    def __len__(self) -> int:
        return len(self.antecedent_indptr) - 1

    @functools.cached_property
    def antecedent_lengths(self) -> npt.NDArray[np.int64]:
        """|antecedent| of each rule (computed once: scoring compares it on every request)."""
        return np.diff(self.antecedent_indptr)

    @functools.cached_property
    def antecedent_columns(self) -> npt.NDArray[np.intp] | None:
        """The antecedents as columns, shape (longest antecedent, n_rules): column ``r`` holds
        rule ``r``'s items, padded with ``n_items`` (a place `fired_mask` always marks), so a
        context fires a rule when its mask holds the whole column (made once, read-only).
        None above `COLUMNS_MAX` entries: reading every rule's column would then cost more
        than counting the context's rows of the antecedent index."""
        width = int(self.antecedent_lengths.max()) if len(self) else 0
        if width * len(self) > COLUMNS_MAX:
            return None
        columns = np.full((width, len(self)), self.n_items, dtype=np.intp)
        lengths = self.antecedent_lengths
        rule_of = np.repeat(np.arange(len(self)), lengths)
        slot = np.arange(len(rule_of)) - np.repeat(self.antecedent_indptr[:-1], lengths)
        columns[slot, rule_of] = self.antecedent_indices
        return read_only(columns)

    @functools.cached_property
    def fired_mask(self) -> npt.NDArray[np.bool_]:
        """Per item and one more place (the antecedents' padding, always marked), whether it
        is in a context: what `_fired` copies and marks (made once, read-only)."""
        mask = np.zeros(self.n_items + 1, dtype=np.bool_)
        mask[self.n_items] = True
        return read_only(mask)

    @functools.cached_property
    def paired(self) -> PairedTables | None:
        """What `score_two_distinct` reads to score two contexts in one pass (made once; None
        without `antecedent_columns` or for multi-item consequents)."""
        columns = self.antecedent_columns
        if columns is None or not self.single_consequent:
            return None
        return PairedTables.of(self, columns)

    @functools.cached_property
    def no_places(self) -> npt.NDArray[np.int32]:
        """Per item, the place past the last rule (`MetricRanking`): what `best_of_fired`
        starts from, copied (made once, read-only). int32 as `MetricRanking.rank`: ufunc.at
        takes its fast path only when the array and the values share a dtype."""
        return read_only(np.full(self.n_items, len(self), dtype=np.int32))

    @functools.cached_property
    def consequent_items(self) -> npt.NDArray[np.intp]:
        """Per rule of a single-consequent set, its consequent as an index (intp, as
        `best_of_fired`'s ufunc.at takes it without a cast; made once, read-only)."""
        return read_only(self.consequent_indices.astype(np.intp))

    @functools.cached_property
    def single_consequent(self) -> bool:
        """Every rule has exactly one consequent item (the default of `mine_rules`)."""
        return bool(np.array_equal(self.consequent_indptr, np.arange(len(self) + 1)))

    @functools.cached_property
    def confidence_ranking(self) -> MetricRanking:
        """The rules by confidence (kept: the rules signal reads it on every request)."""
        return MetricRanking.of(self.confidence)

    @functools.cached_property
    def lift_ranking(self) -> MetricRanking:
        """The rules by lift (kept: a page's related categories read it on every request)."""
        return MetricRanking.of(self.lift)

    def ranking(self, metric: str) -> MetricRanking:
        """The rules' order by ``metric``: confidence's and lift's kept once made, another
        metric's (analytics, rarely) made for the call, so a worker holds two, not five."""
        if metric == "confidence":
            return self.confidence_ranking
        if metric == "lift":
            return self.lift_ranking
        return MetricRanking.of(np.asarray(getattr(self, metric)))

    def antecedent(self, rule: int) -> npt.NDArray[np.int32]:
        """Antecedent positions of one rule."""
        return self.antecedent_indices[
            self.antecedent_indptr[rule] : self.antecedent_indptr[rule + 1]
        ]

    def consequent(self, rule: int) -> npt.NDArray[np.int32]:
        """Consequent positions of one rule."""
        return self.consequent_indices[
            self.consequent_indptr[rule] : self.consequent_indptr[rule + 1]
        ]

    def lengths(self) -> npt.NDArray[np.int64]:
        """Rule lengths |antecedent| + |consequent|, shape (n_rules,)."""
        return np.diff(self.antecedent_indptr) + np.diff(self.consequent_indptr)


@dataclass(frozen=True)
class MetricRanking:
    """The rules ordered by one metric, best first (highest value; ties: the lower rule id),
    with one place past the last meaning "no rule"."""

    rank: npt.NDArray[np.int32]  # per rule, its place in the order
    rule_at: npt.NDArray[np.int64]  # per place, the rule (-1 at the last place)
    value_at: npt.NDArray[np.float32]  # per place, the rule's value as a score (0 at the last)

    @classmethod
    def of(cls, values: npt.NDArray[np.float64]) -> MetricRanking:
        ids = np.arange(len(values), dtype=np.int64)
        order = np.lexsort((ids, -values))
        rank = np.empty(len(values), dtype=np.int32)  # 4 bytes a rule: kept per worker
        rank[order] = ids
        rule_at = np.append(order, -1).astype(np.int64)
        value_at = np.append(values[order].astype(np.float32), np.float32(0.0))
        return cls(rank, rule_at, value_at)


@dataclass(frozen=True)
class PairedTables:
    """A single-consequent rule set's request tables twice over, side by side, so that two
    contexts (a customer's purchases and the page) fire and reduce their rules in one pass:
    the second context's rule ``r`` is ``n_rules + r``, its item ``i`` is ``n_items + i``
    (``n_items + 1 + i`` in the mask, after the first's padding place). Read-only: at most
    32 bytes a rule (`COLUMNS_MAX`) and 10 an item."""

    mask: npt.NDArray[np.bool_]  # (2 (n_items + 1),): `RuleSet.fired_mask` per context
    columns: npt.NDArray[np.intp]  # (longest antecedent, 2 n_rules): in the mask's halves
    items: npt.NDArray[np.intp]  # (2 n_rules,): the consequent, in its context's half
    rank: npt.NDArray[np.int32]  # (2 n_rules,): the place by confidence (`MetricRanking`)
    no_places: npt.NDArray[np.int32]  # (2 n_items,): `RuleSet.no_places` per context

    @classmethod
    def of(cls, rules: RuleSet, columns: npt.NDArray[np.intp]) -> PairedTables:
        items, n_items = rules.consequent_items, rules.n_items
        return cls(
            mask=read_only(np.tile(rules.fired_mask, 2)),
            columns=read_only(np.concatenate([columns, columns + n_items + 1], axis=1)),
            items=read_only(np.concatenate([items, items + n_items])),
            rank=read_only(np.tile(rules.confidence_ranking.rank, 2)),
            no_places=read_only(np.tile(rules.no_places, 2)),
        )


@dataclass(frozen=True)
class Itemsets:
    """Frequent itemsets as CSR-style arrays: itemset ``i`` is
    ``indices[indptr[i]:indptr[i+1]]`` (ascending positions), found in ``count[i]`` baskets.

    Sorted by length, then positions.
    """

    indptr: npt.NDArray[np.int64]
    indices: npt.NDArray[np.int32]
    count: npt.NDArray[np.int64]
    n_baskets: int

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def lengths(self) -> npt.NDArray[np.int64]:
        return np.diff(self.indptr)


@dataclass(frozen=True)
class RuleScores:
    """Per-item scores from the rules fired by a context.

    ``scores`` (float32, (n_items,)): the best metric value among fired rules whose consequent
    holds the item, 0 where none; ``best_rule`` (int64, (n_items,)): that rule, -1 where none.
    """

    scores: npt.NDArray[np.float32]
    best_rule: npt.NDArray[np.int64]


def baskets_matrix(
    basket_ids: npt.ArrayLike, item_positions: npt.ArrayLike, n_items: int
) -> sp.csr_matrix:
    """Boolean baskets × items CSR from (basket, item) pairs; repeated pairs collapse.

    Rows are the distinct ``basket_ids`` in ascending order. Positions must lie in
    [0, n_items): filter unknown items (position -1) before calling.
    """
    baskets = np.asarray(basket_ids)
    items = np.asarray(item_positions, dtype=np.int64)
    if baskets.shape != items.shape or baskets.ndim != 1:
        raise ValueError("basket_ids and item_positions must be 1-d and of equal length")
    if len(items) and (items.min() < 0 or items.max() >= n_items):
        raise ValueError(f"item positions must be in [0, {n_items})")
    uniq, rows = np.unique(baskets, return_inverse=True)
    keys = np.unique(rows.astype(np.int64) * n_items + items)
    rows_sorted, cols = np.divmod(keys, n_items)
    indptr = np.zeros(len(uniq) + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows_sorted, minlength=len(uniq)), out=indptr[1:])
    data = np.ones(len(keys), dtype=bool)
    return sp.csr_matrix((data, cols.astype(np.int32), indptr), shape=(len(uniq), n_items))


def _min_count(min_support: float, n_baskets: int) -> int:
    if not 0.0 < min_support <= 1.0:
        raise ValueError(f"min_support must be in (0, 1], got {min_support}")
    return max(1, math.ceil(min_support * n_baskets - 1e-9))


def _as_bool_csr(baskets: sp.spmatrix | sp.sparray) -> sp.csr_matrix:
    matrix = sp.csr_matrix(baskets, copy=True)
    matrix.eliminate_zeros()
    matrix.sum_duplicates()
    return sp.csr_matrix(matrix.astype(bool))


# A chunk of candidate counts (parents × items) holds at most this many cells, which bounds
# the memory of one sparse product whatever the basket sizes.
_CHUNK_CELLS = 4_000_000


@dataclass(frozen=True)
class MiningReport:
    """What the miner did, for the build manifest: the basket count an itemset needed
    (``requested_min_count`` as asked, ``min_count`` as applied after any raise), how many
    frequent itemsets that left, and the cap that forced a raise."""

    n_baskets: int
    requested_min_count: int
    min_count: int
    n_itemsets: int
    max_itemsets: int | None
    max_len: int | None
    seconds: float

    @property
    def raised(self) -> bool:
        return self.min_count > self.requested_min_count

    def to_dict(self) -> dict[str, Any]:
        n = max(self.n_baskets, 1)
        out: dict[str, Any] = {
            "n_baskets": self.n_baskets,
            "max_len": self.max_len,
            "max_itemsets": self.max_itemsets,
            "requested_min_count": self.requested_min_count,
            "requested_min_support": self.requested_min_count / n,
            "min_count": self.min_count,
            "min_support": self.min_count / n,
            "n_itemsets": self.n_itemsets,
            "support_raised": self.raised,
            "seconds": round(self.seconds, 3),
        }
        if self.raised:
            out["reason"] = (
                f"more than {self.max_itemsets} itemsets reach {self.requested_min_count} "
                f"baskets; {self.min_count} is the smallest basket count that keeps them "
                f"within the cap"
            )
        return out


@dataclass
class _Threshold:
    """The basket count an itemset needs, raised (never lowered) so that the frequent
    itemsets found so far stay within ``cap``.

    Everything found so far is a subset of what the final threshold's itemsets will be, so
    the smallest count that keeps the found ones within the cap is never above the smallest
    count that keeps all of them within it: the end result is exactly that count.
    """

    value: int
    cap: int | None
    histogram: npt.NDArray[np.int64]  # itemsets found so far, by basket count

    def add(self, counts: npt.NDArray[np.int64]) -> None:
        self.histogram += np.bincount(counts, minlength=len(self.histogram))
        if self.cap is None:
            return
        # at_least[t] = itemsets found with count >= t
        at_least = np.cumsum(self.histogram[::-1])[::-1]
        if at_least[self.value] > self.cap:
            fits = np.flatnonzero(at_least[self.value :] <= self.cap)
            self.value += int(fits[0]) if len(fits) else len(at_least) - 1 - self.value


# Below this many cells (baskets × items) the basket-holds-item test is a dense lookup table;
# above it, a binary search over the sorted cells (slower, but memory stays that of the input).
_DENSE_LOOKUP_CELLS = 1 << 26


@dataclass(frozen=True)
class _Baskets:
    """The baskets the miner counts in (only items that can be frequent, only baskets with
    two of them), by row and by column, with their item counts."""

    by_basket: sp.csr_matrix  # int32 ones, sorted indices
    by_item: sp.csc_matrix
    item_count: npt.NDArray[np.int64]
    dense: npt.NDArray[np.bool_] | None  # baskets × items, when small enough
    cell_keys: npt.NDArray[np.int64]  # basket * n_items + item, ascending (used without dense)

    @classmethod
    def of(cls, matrix: sp.csr_matrix, item_count: npt.NDArray[np.int64]) -> _Baskets:
        by_basket = sp.csr_matrix(matrix, dtype=np.int32)
        by_basket.sort_indices()
        by_item = sp.csc_matrix(by_basket)
        by_item.sort_indices()
        n_baskets, n_items = by_basket.shape
        if n_baskets * n_items <= _DENSE_LOOKUP_CELLS:
            return cls(
                by_basket, by_item, item_count, by_basket.toarray() > 0, np.zeros(0, np.int64)
            )
        rows = np.repeat(np.arange(n_baskets, dtype=np.int64), np.diff(by_basket.indptr))
        return cls(by_basket, by_item, item_count, None, rows * n_items + by_basket.indices)

    def hold(
        self, baskets: npt.NDArray[np.int64], items: npt.NDArray[np.int32]
    ) -> npt.NDArray[np.bool_]:
        """Whether basket ``baskets[i]`` holds item ``items[i]``, for every i."""
        if self.dense is not None:
            return np.asarray(self.dense[baskets, items])
        wanted = baskets * self.by_basket.shape[1] + items
        found = np.minimum(np.searchsorted(self.cell_keys, wanted), len(self.cell_keys) - 1)
        return np.asarray(self.cell_keys[found] == wanted)

    def indicator(self, sets: npt.NDArray[np.int32]) -> sp.csr_matrix:
        """Itemsets × baskets CSR (int32 ones): row ``j`` marks the baskets holding every
        item of ``sets[j]``, found from the baskets of the set's rarest item."""
        rarest = sets[np.arange(len(sets)), np.argmin(self.item_count[sets], axis=1)]
        entries, owner = row_entries(self.by_item.indptr, rarest)
        baskets = self.by_item.indices[entries].astype(np.int64)
        keep = np.ones(len(baskets), dtype=bool)
        if sets.shape[1] > 1:
            for column in sets.T:
                keep &= self.hold(baskets, column[owner])
        indptr = np.zeros(len(sets) + 1, dtype=np.int64)
        np.cumsum(np.bincount(owner[keep], minlength=len(sets)), out=indptr[1:])
        data = np.ones(int(indptr[-1]), dtype=np.int32)
        return sp.csr_matrix(
            (data, baskets[keep], indptr), shape=(len(sets), self.by_basket.shape[0])
        )


def _extend(
    parents: npt.NDArray[np.int32],
    parent_count: npt.NDArray[np.int64],
    baskets: _Baskets,
    threshold: _Threshold,
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]]:
    """The frequent one-item extensions ``S ∪ {c}`` (``c`` after ``S``'s last item) of the
    frequent ``parents`` and their exact counts: a sparse product (parent indicator ×
    baskets) per chunk of parents. Parents go from the most to the least frequent, so once
    the cap raises the threshold the rest (which cannot reach it) are never counted."""
    n_items = baskets.by_basket.shape[1]
    order = np.argsort(-parent_count, kind="stable")
    chunk = max(1, _CHUNK_CELLS // max(n_items, 1))
    found_sets: list[npt.NDArray[np.int32]] = []
    found_counts: list[npt.NDArray[np.int64]] = []
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        part = part[parent_count[part] >= threshold.value]
        if len(part) == 0:
            break
        sets = parents[part]
        counts = (baskets.indicator(sets) @ baskets.by_basket).tocoo()
        rows, items = counts.row, counts.col
        values = counts.data.astype(np.int64)
        keep = (items > sets[rows, -1]) & (values >= threshold.value)
        if not keep.any():
            continue
        found_sets.append(np.column_stack([sets[rows[keep]], items[keep]]).astype(np.int32))
        found_counts.append(values[keep])
        threshold.add(values[keep])
        if threshold.cap is not None and sum(map(len, found_counts)) > 2 * threshold.cap:
            # A raise left earlier chunks' sets below the threshold: drop them now.
            joined_sets, joined_counts = np.concatenate(found_sets), np.concatenate(found_counts)
            frequent = joined_counts >= threshold.value
            found_sets, found_counts = [joined_sets[frequent]], [joined_counts[frequent]]
    if not found_sets:
        return np.zeros((0, parents.shape[1] + 1), np.int32), np.zeros(0, np.int64)
    return np.concatenate(found_sets), np.concatenate(found_counts)


def _mine_itemsets(
    baskets: sp.csr_matrix, min_count: int, max_len: int | None, max_itemsets: int | None = None
) -> tuple[list[tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]]], int]:
    """Every itemset found in at least ``min_count`` baskets (raised, if needed, to the
    smallest count that leaves at most ``max_itemsets`` of them), level by level: one
    ``(sets, counts)`` per length, ``sets`` of shape (n, length) with ascending positions,
    rows in lexicographic order. Also returns the count applied.

    Counting is exact (sparse products over the baskets, as Apriori's level-wise search does
    by scanning), so the result is the same set mlxtend's FP-Growth finds; only items that
    reach the threshold and baskets that hold two of them take part.
    """
    n_baskets = baskets.shape[0]
    item_count = np.asarray(baskets.sum(axis=0), dtype=np.int64).ravel()
    threshold = _Threshold(min_count, max_itemsets, np.zeros(n_baskets + 2, dtype=np.int64))
    threshold.add(item_count[item_count >= min_count])
    frequent = np.flatnonzero(item_count >= threshold.value)
    levels = [(frequent.astype(np.int32)[:, None], item_count[frequent])]
    if (max_len is None or max_len >= 2) and len(frequent) >= 2:
        local = baskets[:, frequent]
        local = _Baskets.of(local[np.flatnonzero(local.getnnz(axis=1) >= 2)], item_count[frequent])
        sets = np.arange(len(frequent), dtype=np.int32)[:, None]
        counts = local.item_count
        while max_len is None or sets.shape[1] < max_len:
            sets, counts = _extend(sets, counts, local, threshold)
            if len(sets) == 0:
                break
            order = np.lexsort(sets.T[::-1])
            sets, counts = sets[order], counts[order]
            levels.append((frequent.astype(np.int32)[sets], counts))
    kept = []
    for sets, counts in levels:
        keep = counts >= threshold.value
        if keep.any():
            kept.append((sets[keep], counts[keep]))
    return kept, threshold.value


def _csr_from_sets(
    sets: Sequence[Sequence[int]],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]:
    indptr = np.zeros(len(sets) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in sets], out=indptr[1:])
    indices = np.fromiter((i for s in sets for i in s), dtype=np.int32, count=int(indptr[-1]))
    return indptr, indices


def _csr_from_rows(
    rows: npt.NDArray[np.int32],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]:
    """Equal-length sets (one per row of a 2-d array) as CSR indptr/indices."""
    indptr = np.arange(len(rows) + 1, dtype=np.int64) * rows.shape[1]
    return indptr, np.ascontiguousarray(rows, dtype=np.int32).ravel()


def frequent_itemsets(
    baskets: sp.csr_matrix,
    *,
    min_support: float,
    min_len: int = 1,
    max_len: int | None = None,
    max_itemsets: int | None = None,
) -> Itemsets:
    """Itemsets found in at least ``ceil(min_support * n_baskets)`` baskets, with
    ``min_len <= length <= max_len`` (like arules ``apriori(target="frequent itemsets")``).

    With ``max_itemsets`` the basket count is raised, when needed, to the smallest one that
    leaves at most that many itemsets of any length up to ``max_len``."""
    matrix = _as_bool_csr(baskets)
    n_baskets = matrix.shape[0]
    if n_baskets == 0 or (max_len is not None and max_len < 1):
        return Itemsets(
            np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int64), n_baskets
        )
    levels, _ = _mine_itemsets(matrix, _min_count(min_support, n_baskets), max_len, max_itemsets)
    kept = [(sets, counts) for sets, counts in levels if sets.shape[1] >= min_len]
    lengths = np.concatenate(
        [np.full(len(s), s.shape[1], np.int64) for s, _ in kept] or [np.zeros(0, np.int64)]
    )
    indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    indices = np.concatenate([s.ravel() for s, _ in kept] or [np.zeros(0, np.int32)])
    counts = np.concatenate([c for _, c in kept] or [np.zeros(0, np.int64)])
    return Itemsets(indptr, indices.astype(np.int32), counts.astype(np.int64), n_baskets)


def _empty_ruleset(n_baskets: int, n_items: int) -> RuleSet:
    empty_f = np.zeros(0, dtype=np.float64)
    empty_i = np.zeros(0, dtype=np.int64)
    return RuleSet(
        antecedent_indptr=np.zeros(1, dtype=np.int64),
        antecedent_indices=np.zeros(0, dtype=np.int32),
        consequent_indptr=np.zeros(1, dtype=np.int64),
        consequent_indices=np.zeros(0, dtype=np.int32),
        support=empty_f,
        confidence=empty_f.copy(),
        lift=empty_f.copy(),
        leverage=empty_f.copy(),
        conviction=empty_f.copy(),
        count=empty_i,
        antecedent_count=empty_i.copy(),
        consequent_count=empty_i.copy(),
        n_baskets=n_baskets,
        n_items=n_items,
    )


@dataclass(frozen=True)
class _Candidates:
    """Rules before the thresholds: each side as CSR arrays (ascending positions) and the
    basket counts of the whole rule, its antecedent and its consequent."""

    antecedent_indptr: npt.NDArray[np.int64]
    antecedent_indices: npt.NDArray[np.int32]
    consequent_indptr: npt.NDArray[np.int64]
    consequent_indices: npt.NDArray[np.int32]
    count: npt.NDArray[np.int64]
    antecedent_count: npt.NDArray[np.int64]
    consequent_count: npt.NDArray[np.int64]

    @classmethod
    def concatenate(cls, parts: Sequence[_Candidates]) -> _Candidates:
        def joined(name: str, dtype: type[np.generic]) -> npt.NDArray[Any]:
            return np.concatenate([getattr(p, name) for p in parts] or [np.zeros(0, dtype)])

        def indptr(name: str) -> npt.NDArray[np.int64]:
            lengths = [np.diff(getattr(p, name)) for p in parts]
            out = np.zeros(sum(len(n) for n in lengths) + 1, dtype=np.int64)
            np.cumsum(np.concatenate(lengths or [np.zeros(0, np.int64)]), out=out[1:])
            return out

        return cls(
            antecedent_indptr=indptr("antecedent_indptr"),
            antecedent_indices=joined("antecedent_indices", np.int32).astype(np.int32),
            consequent_indptr=indptr("consequent_indptr"),
            consequent_indices=joined("consequent_indices", np.int32).astype(np.int32),
            count=joined("count", np.int64).astype(np.int64),
            antecedent_count=joined("antecedent_count", np.int64).astype(np.int64),
            consequent_count=joined("consequent_count", np.int64).astype(np.int64),
        )


def _lookup_counts(
    sets: npt.NDArray[np.int32], counts: npt.NDArray[np.int64], wanted: npt.NDArray[np.int32]
) -> npt.NDArray[np.int64]:
    """The counts of the itemsets ``wanted`` (rows), each one of the rows of ``sets``."""
    import pandas as pd  # mining only (see above)

    index = pd.MultiIndex.from_arrays(list(sets.T)) if sets.shape[1] > 1 else pd.Index(sets[:, 0])
    query = (
        pd.MultiIndex.from_arrays(list(wanted.T)) if wanted.shape[1] > 1 else pd.Index(wanted[:, 0])
    )
    found = index.get_indexer(query)
    if np.any(found < 0):  # every subset of a frequent itemset is frequent
        raise AssertionError("an antecedent of a frequent itemset was not counted")
    return counts[found]


def _single_consequent_rules(
    levels: Sequence[tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]]],
    n_baskets: int,
    n_items: int,
    min_len: int,
    min_confidence: float,
) -> _Candidates:
    """``S \\ {c} => {c}`` for every frequent itemset ``S`` and item ``c`` in it (what
    association_rules gives, without multi-item consequents), plus arules' ``{} => {c}`` when
    ``min_len <= 1``; those below ``min_confidence`` are dropped early (the exact test comes
    again in `ruleset_from_counts`)."""
    item_count = np.zeros(n_items, dtype=np.int64)
    if levels:
        item_count[levels[0][0][:, 0]] = levels[0][1]
    by_length = {sets.shape[1]: (sets, counts) for sets, counts in levels}
    parts: list[_Candidates] = []
    if min_len <= 1 and 1 in by_length:
        sets, counts = by_length[1]
        parts.append(
            _Candidates(
                np.zeros(len(sets) + 1, np.int64),
                np.zeros(0, np.int32),
                *_csr_from_rows(sets),
                counts,
                np.full(len(sets), n_baskets, np.int64),
                counts,
            )
        )
    for length in sorted(by_length):
        if length < 2 or length < min_len:
            continue
        sets, counts = by_length[length]
        for dropped in range(length):
            antecedents = np.delete(sets, dropped, axis=1)
            consequents = sets[:, dropped : dropped + 1]
            antecedent_count = _lookup_counts(*by_length[length - 1], antecedents)
            keep = counts >= min_confidence * antecedent_count - 1e-9 * antecedent_count
            parts.append(
                _Candidates(
                    *_csr_from_rows(antecedents[keep]),
                    *_csr_from_rows(consequents[keep]),
                    counts[keep],
                    antecedent_count[keep],
                    item_count[consequents[keep, 0]],
                )
            )
    return _Candidates.concatenate(parts)


def _multi_consequent_rules(
    levels: Sequence[tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]]],
    n_baskets: int,
    min_len: int,
    min_confidence: float,
) -> _Candidates:
    """Every split of every frequent itemset into two non-empty sides (mlxtend's
    association_rules), plus arules' ``{} => {c}`` when ``min_len <= 1``."""
    sets = [tuple(int(i) for i in row) for rows, _ in levels for row in rows]
    counts = np.concatenate([c for _, c in levels] or [np.zeros(0, np.int64)])
    count_of = dict(zip(sets, counts.tolist(), strict=True))
    antecedents: list[tuple[int, ...]] = []
    consequents: list[tuple[int, ...]] = []
    if any(len(s) >= 2 for s in sets):
        import pandas as pd  # mining only (see above)

        with warnings.catch_warnings():
            # mlxtend's fpcommon runs warnings.simplefilter("always", DeprecationWarning) on
            # import; keep that from changing the whole process's warning filters.
            from mlxtend.frequent_patterns import association_rules

        frame = pd.DataFrame(
            {"support": counts / n_baskets, "itemsets": [frozenset(s) for s in sets]}
        )
        # A hair below the threshold: the exact test on integer counts comes afterwards.
        found = association_rules(
            frame,
            num_itemsets=n_baskets,
            metric="confidence",
            min_threshold=min_confidence - 1e-9,
            return_metrics=["support"],
        )
        antecedents = [tuple(sorted(int(i) for i in a)) for a in found["antecedents"]]
        consequents = [tuple(sorted(int(i) for i in c)) for c in found["consequents"]]
    if min_len <= 1:
        antecedents += [() for s in sets if len(s) == 1]
        consequents += [s for s in sets if len(s) == 1]
    kept = [
        (a, c) for a, c in zip(antecedents, consequents, strict=True) if len(a) + len(c) >= min_len
    ]
    return _candidates_from_sequences(
        [a for a, _ in kept],
        [c for _, c in kept],
        [count_of[tuple(sorted(a + c))] for a, c in kept],
        [count_of[a] if a else n_baskets for a, _ in kept],
        [count_of[c] for _, c in kept],
    )


def _candidates_from_sequences(
    antecedents: Sequence[Sequence[int]],
    consequents: Sequence[Sequence[int]],
    counts: Sequence[int],
    antecedent_counts: Sequence[int],
    consequent_counts: Sequence[int],
) -> _Candidates:
    a_indptr, a_indices = _csr_from_sets([sorted(a) for a in antecedents])
    c_indptr, c_indices = _csr_from_sets([sorted(c) for c in consequents])
    return _Candidates(
        a_indptr,
        a_indices,
        c_indptr,
        c_indices,
        np.asarray(counts, dtype=np.int64).reshape(-1),
        np.asarray(antecedent_counts, dtype=np.int64).reshape(-1),
        np.asarray(consequent_counts, dtype=np.int64).reshape(-1),
    )


def _padded(indptr: npt.NDArray[np.int64], indices: npt.NDArray[np.int32]) -> npt.NDArray[np.int64]:
    """CSR sets as rows padded with -1, so that comparing rows compares the sets as tuples."""
    lengths = np.diff(indptr)
    width = int(lengths.max()) if len(lengths) else 0
    out = np.full((len(lengths), width), -1, dtype=np.int64)
    owner = np.repeat(np.arange(len(lengths)), lengths)
    out[owner, np.arange(len(indices)) - indptr[owner]] = indices
    return out


def _subset(
    indptr: npt.NDArray[np.int64], indices: npt.NDArray[np.int32], rows: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]:
    entries, _ = row_entries(indptr, rows)
    out = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(np.diff(indptr)[rows], out=out[1:])
    return out, indices[entries].astype(np.int32)


def _ruleset(
    found: _Candidates, n_baskets: int, n_items: int, min_confidence: float, min_lift: float
) -> RuleSet:
    """The candidates held to the thresholds (on exact integer ratios) and sorted by lift,
    confidence, count (descending), then antecedent and consequent as position tuples."""
    n = n_baskets
    count, n_a, n_c = found.count, found.antecedent_count, found.consequent_count
    confidence = count / n_a
    lift = (count * n) / (n_a * n_c)
    rows = np.flatnonzero((confidence >= min_confidence) & (lift >= min_lift))
    if len(rows) == 0:
        return _empty_ruleset(n, n_items)
    a_indptr, a_indices = _subset(found.antecedent_indptr, found.antecedent_indices, rows)
    c_indptr, c_indices = _subset(found.consequent_indptr, found.consequent_indices, rows)
    keys = [
        *_padded(c_indptr, c_indices).T[::-1],
        *_padded(a_indptr, a_indices).T[::-1],
        -count[rows],
        -confidence[rows],
        -lift[rows],
    ]
    order = np.lexsort(keys)
    rows = rows[order]
    a_indptr, a_indices = _subset(a_indptr, a_indices, order)
    c_indptr, c_indices = _subset(c_indptr, c_indices, order)
    count, n_a, n_c = count[rows], n_a[rows], n_c[rows]
    conviction = np.full(len(rows), np.inf)
    partial = count < n_a
    conviction[partial] = ((n - n_c) * n_a)[partial] / (n * (n_a - count))[partial]
    return RuleSet(
        antecedent_indptr=a_indptr,
        antecedent_indices=a_indices,
        consequent_indptr=c_indptr,
        consequent_indices=c_indices,
        support=count / n,
        confidence=count / n_a,
        lift=(count * n) / (n_a * n_c),
        leverage=(count * n - n_a * n_c) / (n * n),
        conviction=conviction,
        count=count,
        antecedent_count=n_a,
        consequent_count=n_c,
        n_baskets=n,
        n_items=n_items,
    )


def ruleset_from_counts(
    antecedents: Sequence[Sequence[int]],
    consequents: Sequence[Sequence[int]],
    counts: Sequence[int],
    antecedent_counts: Sequence[int],
    consequent_counts: Sequence[int],
    n_baskets: int,
    n_items: int,
    *,
    min_confidence: float = 0.0,
    min_lift: float = 0.0,
) -> RuleSet:
    """Rules ``antecedent => consequent`` from their basket counts (``counts`` of the whole
    rule, of its antecedent, of its consequent), held to the confidence and lift thresholds
    and sorted by lift, confidence, count, then items: the last step of every rule miner
    (`mine_rules` here, FP-Growth on Spark in `recograph.spark`), so both give equal sets."""
    found = _candidates_from_sequences(
        antecedents, consequents, counts, antecedent_counts, consequent_counts
    )
    return _ruleset(found, n_baskets, n_items, min_confidence, min_lift)


def mine_rules_with_report(
    baskets: sp.csr_matrix,
    *,
    min_support: float,
    min_confidence: float,
    min_lift: float = 0.0,
    max_len: int | None = None,
    min_len: int = 1,
    single_consequent: bool = True,
    max_itemsets: int | None = None,
) -> tuple[RuleSet, MiningReport]:
    """`mine_rules`, and what the mining did (`MiningReport`: the support applied)."""
    started = time.perf_counter()
    matrix = _as_bool_csr(baskets)
    n_baskets, n_items = matrix.shape
    requested = _min_count(min_support, n_baskets) if n_baskets else 1
    if n_baskets == 0 or (max_len is not None and max_len < 1):
        report = MiningReport(n_baskets, requested, requested, 0, max_itemsets, max_len, 0.0)
        return _empty_ruleset(n_baskets, n_items), report
    levels, min_count = _mine_itemsets(matrix, requested, max_len, max_itemsets)
    if single_consequent:
        found = _single_consequent_rules(levels, n_baskets, n_items, min_len, min_confidence)
    else:
        found = _multi_consequent_rules(levels, n_baskets, min_len, min_confidence)
    rules = _ruleset(found, n_baskets, n_items, min_confidence, min_lift)
    report = MiningReport(
        n_baskets=n_baskets,
        requested_min_count=requested,
        min_count=min_count,
        n_itemsets=sum(len(counts) for _, counts in levels),
        max_itemsets=max_itemsets,
        max_len=max_len,
        seconds=time.perf_counter() - started,
    )
    if report.raised:
        logger.warning(
            "rule mining: more than %d itemsets reach %d of %d baskets; support raised to "
            "%d baskets (%.6f)",
            max_itemsets,
            requested,
            n_baskets,
            min_count,
            min_count / n_baskets,
        )
    logger.info(
        "mined %d rules from %d itemsets over %d baskets × %d items in %.2fs",
        len(rules),
        report.n_itemsets,
        n_baskets,
        n_items,
        report.seconds,
    )
    return rules, report


def mine_rules(
    baskets: sp.csr_matrix,
    *,
    min_support: float,
    min_confidence: float,
    min_lift: float = 0.0,
    max_len: int | None = None,
    min_len: int = 1,
    single_consequent: bool = True,
    max_itemsets: int | None = None,
) -> RuleSet:
    """Rules with support, confidence and lift at or above the thresholds (arules semantics,
    see the module docstring), from a baskets × items matrix (nonzero = in the basket).

    ``max_itemsets`` bounds time and memory on dense baskets: the support is raised to the
    smallest basket count that leaves at most that many frequent itemsets (logged; use
    `mine_rules_with_report` to see it). Without it, or below it, nothing changes."""
    rules, _ = mine_rules_with_report(
        baskets,
        min_support=min_support,
        min_confidence=min_confidence,
        min_lift=min_lift,
        max_len=max_len,
        min_len=min_len,
        single_consequent=single_consequent,
        max_itemsets=max_itemsets,
    )
    return rules


def antecedent_index(rules: RuleSet) -> sp.csr_matrix:
    """Items × rules CSR (int32 ones): row ``i`` lists the rules whose antecedent holds item
    ``i``, i.e. the rules that item can trigger."""
    n_rules = len(rules)
    rule_of = np.repeat(np.arange(n_rules, dtype=np.int32), np.diff(rules.antecedent_indptr))
    data = np.ones(len(rule_of), dtype=np.int32)
    by_rule = sp.csc_matrix(
        (data, rules.antecedent_indices, rules.antecedent_indptr),
        shape=(rules.n_items, n_rules),
    )
    index = sp.csr_matrix(by_rule)
    index.sort_indices()
    return index


# Up to this many context positions are made distinct (or index rows gathered) in Python: on
# a few, numpy's per-call overhead, not the work, is what a request pays.
_SMALL = 64


def _context(context_positions: npt.ArrayLike, n_items: int) -> npt.NDArray[np.int64]:
    """Distinct in-range positions of a context (unknown items, -1, are dropped)."""
    given = np.asarray(context_positions)
    if given.size <= _SMALL:
        kept = sorted({int(p) for p in given.ravel().tolist() if 0 <= p < n_items})
        return np.array(kept, dtype=np.int64)
    context = np.sort(np.asarray(given, dtype=np.int64).ravel())
    keep = (context >= 0) & (context < n_items)
    keep[1:] &= context[1:] != context[:-1]
    return context[keep]


def _fired(
    rules: RuleSet, index: sp.csr_matrix, context: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """The rules (ascending) whose whole antecedent lies in the distinct in-range ``context``.
    Empty antecedents fire for every context, as in arules."""
    columns = rules.antecedent_columns
    if columns is not None:
        # the context marked in a mask over the items, the antecedents read from it
        in_context = rules.fired_mask.copy()
        in_context[context] = True
        fired: npt.NDArray[np.int64] = np.logical_and.reduce(in_context[columns]).nonzero()[0]
        return fired  # np.flatnonzero's result, without its Python wrapper
    if len(context) <= _SMALL:
        indptr, indices = index.indptr, index.indices
        bounds = zip(indptr[context].tolist(), indptr[context + 1].tolist(), strict=True)
        rows = [indices[start:stop] for start, stop in bounds]
        hits = np.concatenate(rows) if rows else indices[:0]
    else:
        entries, _ = row_entries(index.indptr, context)
        hits = index.indices[entries]
    present = np.bincount(hits, minlength=len(rules))
    counted: npt.NDArray[np.int64] = (present == rules.antecedent_lengths).nonzero()[0]
    return counted


def fired_rules(
    rules: RuleSet, index: sp.csr_matrix, context_positions: npt.ArrayLike
) -> npt.NDArray[np.int64]:
    """Rules (ascending ids) whose whole antecedent lies inside the context set.

    ``index`` is `antecedent_index(rules)`. Rules with an empty antecedent always fire;
    positions outside [0, n_items) (such as -1 for unknown ids) are ignored.
    """
    return _fired(rules, index, _context(context_positions, rules.n_items))


def score_rules(
    rules: RuleSet,
    index: sp.csr_matrix,
    context_positions: npt.ArrayLike,
    *,
    metric: str = "confidence",
) -> RuleScores:
    """For each consequent item of a fired rule, the best ``metric`` over fired rules and the
    rule giving it (ties: the lower rule id, i.e. the earlier in sort order). Items in the
    context score 0 with no rule, so a cart's own products are never recommended."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    context = _context(context_positions, rules.n_items)
    return best_of_fired(rules, _fired(rules, index, context), context, metric)


def score_distinct(
    rules: RuleSet,
    index: sp.csr_matrix,
    context: npt.NDArray[np.int64],
    metric: str = "confidence",
) -> RuleScores:
    """`score_rules` of a ``context`` already distinct and in [0, n_items) (a profile's
    purchases, a page's categories): without the pass that makes it so."""
    return best_of_fired(rules, _fired(rules, index, context), context, metric)


def score_two_distinct(
    rules: RuleSet,
    index: sp.csr_matrix,
    first: npt.NDArray[np.int64],
    second: npt.NDArray[np.int64],
) -> tuple[RuleScores, RuleScores]:
    """`score_distinct` by confidence of two contexts, each distinct and in [0, n_items),
    in one pass over the rules (`RuleSet.paired`): a request scores its customer's
    purchases and its page together for the numpy calls of one."""
    paired = rules.paired
    if paired is None:
        return score_distinct(rules, index, first), score_distinct(rules, index, second)
    n_items, no_rule = rules.n_items, len(rules)
    in_context = paired.mask.copy()
    marked = in_context.reshape(2, n_items + 1)  # views: each context's half
    marked[0][first] = True
    marked[1][second] = True
    fired = np.logical_and.reduce(in_context[paired.columns]).nonzero()[0]
    place = paired.no_places.copy()
    np.minimum.at(place, paired.items[fired], paired.rank[fired])  # as `_best_places`
    halves = place.reshape(2, n_items)
    halves[0][first] = no_rule  # a context's own items score 0
    halves[1][second] = no_rule
    ranking = rules.confidence_ranking
    values, best = ranking.value_at[place], ranking.rule_at[place]
    return (
        RuleScores(values[:n_items], best[:n_items]),
        RuleScores(values[n_items:], best[n_items:]),
    )


def fired_by_distinct(
    rules: RuleSet, index: sp.csr_matrix, context: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """`fired_rules` of a ``context`` already distinct and in [0, n_items)."""
    return _fired(rules, index, context)


def fired_by(
    rules: RuleSet, index: sp.csr_matrix, context_positions: npt.ArrayLike
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(the distinct in-range context, the rules it fires): one pass that `best_of_fired`
    can reduce by several metrics (a page's category rules serve its rule scores and which
    categories it is related to)."""
    context = _context(context_positions, rules.n_items)
    return context, _fired(rules, index, context)


def best_of_fired(
    rules: RuleSet,
    fired: npt.NDArray[np.int64],
    context: npt.NDArray[np.int64],
    metric: str = "confidence",
) -> RuleScores:
    """`score_rules` from the ``fired`` rules (ascending) of the distinct ``context``.

    Each rule's place in the metric's order (`RuleSet.ranking`: highest value first, ties
    the lower rule id) turns "the best value, then the lowest rule reaching it" into one
    smallest place per item: a handful of numpy calls whatever the number of fired rules."""
    if len(fired) == 0:  # nothing to gather: the empty answer, without a catalogue pass
        return RuleScores(
            np.zeros(rules.n_items, dtype=np.float32), np.full(rules.n_items, -1, dtype=np.int64)
        )
    ranking = rules.ranking(metric)
    place = _best_places(rules, ranking, fired, context)
    return RuleScores(ranking.value_at[place], ranking.rule_at[place])


def best_rules_of_fired(
    rules: RuleSet,
    fired: npt.NDArray[np.int64],
    context: npt.NDArray[np.int64],
    metric: str = "confidence",
) -> npt.NDArray[np.int64]:
    """`best_of_fired`'s ``best_rule`` alone, without gathering the scores (a page's related
    categories read only which rule relates them)."""
    if len(fired) == 0:
        return np.full(rules.n_items, -1, dtype=np.int64)
    ranking = rules.ranking(metric)
    return ranking.rule_at[_best_places(rules, ranking, fired, context)]


def _best_places(
    rules: RuleSet,
    ranking: MetricRanking,
    fired: npt.NDArray[np.int64],
    context: npt.NDArray[np.int64],
) -> npt.NDArray[np.int32]:
    """Per item, the best place in ``ranking`` among the ``fired`` rules whose consequent
    holds it (past the last: none, and always for the ``context``'s own items)."""
    if rules.single_consequent:
        items, rule_ids = rules.consequent_items[fired], fired
    else:
        entries, owner = row_entries(rules.consequent_indptr, fired)
        items, rule_ids = rules.consequent_indices[entries].astype(np.intp), fired[owner]
    place = rules.no_places.copy()
    # int32 places and ranks, intp item indices: ufunc.at's fast path (about 15x its
    # casting path on a request's hundred-odd fired rules)
    np.minimum.at(place, items, ranking.rank[rule_ids])
    place[context] = len(rules)
    return place


def rules_table(rules: RuleSet, labels: Sequence[str]) -> pd.DataFrame:
    """One row per rule: antecedents and consequents as label tuples (in position order), then
    support, confidence, lift, leverage, conviction, count and length."""
    import pandas as pd  # mining only (see above)

    if len(labels) != rules.n_items:
        raise ValueError(f"need {rules.n_items} labels, got {len(labels)}")
    names = np.asarray(labels, dtype=object)
    return pd.DataFrame(
        {
            "antecedents": [tuple(names[rules.antecedent(r)]) for r in range(len(rules))],
            "consequents": [tuple(names[rules.consequent(r)]) for r in range(len(rules))],
            **{metric: getattr(rules, metric) for metric in METRICS},
            "count": rules.count,
            "length": rules.lengths(),
        }
    )


__all__ = [
    "METRICS",
    "Itemsets",
    "MiningReport",
    "RuleScores",
    "RuleSet",
    "antecedent_index",
    "baskets_matrix",
    "fired_rules",
    "frequent_itemsets",
    "mine_rules",
    "mine_rules_with_report",
    "rules_table",
    "ruleset_from_counts",
    "score_rules",
]
