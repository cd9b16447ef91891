"""Association rules: mined offline with mlxtend, stored as flat arrays, scored per request.

Positions (``item_idx`` or a category index, 0..n_items-1) are the only item identifiers here;
converting store ids to positions happens in ``interactions.IdIndex``.

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

mlxtend's ``fpgrowth`` finds the frequent itemsets and ``association_rules`` splits them into
rules; this module only prunes the input (items that cannot be frequent, baskets that cannot
hold a frequent pair), turns the frames into arrays and recomputes the metrics from counts.
"""

from __future__ import annotations

import functools
import logging
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from recograph.recommenders.sparse import row_entries

with warnings.catch_warnings():
    # mlxtend's fpcommon runs warnings.simplefilter("always", DeprecationWarning) on import;
    # keep that from changing the whole process's warning filters.
    from mlxtend.frequent_patterns import association_rules, fpgrowth

logger = logging.getLogger(__name__)

METRICS: tuple[str, ...] = ("support", "confidence", "lift", "leverage", "conviction")

_ARRAY_FIELDS: tuple[str, ...] = (
    "antecedent_indptr",
    "antecedent_indices",
    "consequent_indptr",
    "consequent_indices",
    "support",
    "confidence",
    "lift",
    "leverage",
    "conviction",
    "count",
    "antecedent_count",
    "consequent_count",
)
_SCALAR_FIELDS: tuple[str, ...] = ("n_baskets", "n_items")
_DTYPES: dict[str, type[np.generic]] = {
    "antecedent_indptr": np.int64,
    "antecedent_indices": np.int32,
    "consequent_indptr": np.int64,
    "consequent_indices": np.int32,
    "support": np.float64,
    "confidence": np.float64,
    "lift": np.float64,
    "leverage": np.float64,
    "conviction": np.float64,
    "count": np.int64,
    "antecedent_count": np.int64,
    "consequent_count": np.int64,
}


@dataclass(frozen=True)
class RuleSet:
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

    antecedent_indptr: npt.NDArray[np.int64]
    antecedent_indices: npt.NDArray[np.int32]
    consequent_indptr: npt.NDArray[np.int64]
    consequent_indices: npt.NDArray[np.int32]
    support: npt.NDArray[np.float64]
    confidence: npt.NDArray[np.float64]
    lift: npt.NDArray[np.float64]
    leverage: npt.NDArray[np.float64]
    conviction: npt.NDArray[np.float64]
    count: npt.NDArray[np.int64]
    antecedent_count: npt.NDArray[np.int64]
    consequent_count: npt.NDArray[np.int64]
    n_baskets: int
    n_items: int

    def __post_init__(self) -> None:
        n_rules = len(self.antecedent_indptr) - 1
        if n_rules < 0 or len(self.consequent_indptr) != n_rules + 1:
            raise ValueError("RuleSet indptr arrays must both have n_rules + 1 entries")
        for name in _ARRAY_FIELDS[4:]:
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
    def single_consequent(self) -> bool:
        """Every rule has exactly one consequent item (the default of `mine_rules`)."""
        return bool(np.array_equal(self.consequent_indptr, np.arange(len(self) + 1)))

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

    def to_arrays(self, prefix: str) -> dict[str, npt.NDArray[np.generic]]:
        """Arrays for ``np.savez``, named ``f"{prefix}{field}"``; scalars as 0-d int64."""
        out: dict[str, npt.NDArray[np.generic]] = {
            f"{prefix}{name}": getattr(self, name) for name in _ARRAY_FIELDS
        }
        for name in _SCALAR_FIELDS:
            out[f"{prefix}{name}"] = np.array(getattr(self, name), dtype=np.int64)
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.NDArray[np.generic]], prefix: str) -> RuleSet:
        """Inverse of `to_arrays`; a missing key raises KeyError naming it."""
        values: dict[str, object] = {}
        for name in _ARRAY_FIELDS:
            key = f"{prefix}{name}"
            if key not in arrays:
                raise KeyError(f"rule array {key!r} is missing")
            values[name] = np.asarray(arrays[key], dtype=_DTYPES[name])
        for name in _SCALAR_FIELDS:
            key = f"{prefix}{name}"
            if key not in arrays:
                raise KeyError(f"rule array {key!r} is missing")
            values[name] = int(np.asarray(arrays[key]))
        return cls(**values)  # type: ignore[arg-type]


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


def _mine_itemsets(
    baskets: sp.csr_matrix, min_count: int, max_len: int | None
) -> tuple[list[tuple[int, ...]], npt.NDArray[np.int64]]:
    """All itemsets with count >= min_count (positions ascending) and their counts.

    Only items that reach min_count can be in a frequent itemset, and only baskets with two
    such items can hold a frequent pair, so fpgrowth sees just that sub-matrix (mlxtend
    densifies its input to count items); singletons come from the full column counts.
    """
    item_count = np.asarray(baskets.sum(axis=0), dtype=np.int64).ravel()
    frequent = np.flatnonzero(item_count >= min_count)
    itemsets: list[tuple[int, ...]] = [(int(i),) for i in frequent]
    counts: list[int] = [int(item_count[i]) for i in frequent]
    if (max_len is not None and max_len < 2) or len(frequent) < 2:
        return itemsets, np.asarray(counts, dtype=np.int64)
    sub = baskets[:, frequent]
    sub = sub[np.flatnonzero(sub.getnnz(axis=1) >= 2)]
    n_kept = sub.shape[0]
    if n_kept < min_count:
        return itemsets, np.asarray(counts, dtype=np.int64)
    # pandas-stubs types the ``sparse`` accessor on the class as ``...``.
    from_spmatrix = pd.DataFrame.sparse.from_spmatrix  # type: ignore[attr-defined]
    frame = from_spmatrix(sub, columns=range(len(frequent)))
    # Half a basket below the integer threshold: fpgrowth's float comparisons then keep
    # exactly the itemsets with count >= min_count.
    found = fpgrowth(frame, min_support=(min_count - 0.5) / n_kept, max_len=max_len)
    for support, local in zip(found["support"].to_numpy(), found["itemsets"], strict=True):
        if len(local) < 2:
            continue
        count = round(float(support) * n_kept)
        if count >= min_count:
            itemsets.append(tuple(sorted(int(frequent[i]) for i in local)))
            counts.append(count)
    return itemsets, np.asarray(counts, dtype=np.int64)


def _csr_from_sets(
    sets: Sequence[Sequence[int]],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]:
    indptr = np.zeros(len(sets) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in sets], out=indptr[1:])
    indices = np.fromiter((i for s in sets for i in s), dtype=np.int32, count=int(indptr[-1]))
    return indptr, indices


def frequent_itemsets(
    baskets: sp.csr_matrix, *, min_support: float, min_len: int = 1, max_len: int | None = None
) -> Itemsets:
    """Itemsets found in at least ``ceil(min_support * n_baskets)`` baskets, with
    ``min_len <= length <= max_len`` (like arules ``apriori(target="frequent itemsets")``)."""
    matrix = _as_bool_csr(baskets)
    n_baskets = matrix.shape[0]
    if n_baskets == 0:
        return Itemsets(
            np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int64), n_baskets
        )
    sets, counts = _mine_itemsets(matrix, _min_count(min_support, n_baskets), max_len)
    keep = [i for i, s in enumerate(sets) if len(s) >= min_len]
    order = sorted(keep, key=lambda i: (len(sets[i]), sets[i]))
    indptr, indices = _csr_from_sets([sets[i] for i in order])
    return Itemsets(indptr, indices, counts[order], n_baskets)


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


def _split_rules(
    sets: list[tuple[int, ...]],
    counts: npt.NDArray[np.int64],
    n_baskets: int,
    min_confidence: float,
) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    """mlxtend's association_rules over the multi-item sets: (antecedents, consequents)."""
    if not any(len(s) >= 2 for s in sets):
        return [], []
    frame = pd.DataFrame({"support": counts / n_baskets, "itemsets": [frozenset(s) for s in sets]})
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
    return antecedents, consequents


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
    n = n_baskets
    rows = []
    for ante, cons, n_ac, n_a, n_c in zip(
        antecedents, consequents, counts, antecedent_counts, consequent_counts, strict=True
    ):
        confidence = n_ac / n_a
        lift = (n_ac * n) / (n_a * n_c)
        if confidence >= min_confidence and lift >= min_lift:
            rows.append(
                (
                    -lift,
                    -confidence,
                    -n_ac,
                    tuple(sorted(ante)),
                    tuple(sorted(cons)),
                    n_ac,
                    n_a,
                    n_c,
                )
            )
    rows.sort(key=lambda row: row[:5])
    if not rows:
        return _empty_ruleset(n, n_items)
    count = np.array([r[5] for r in rows], dtype=np.int64)
    n_a_ = np.array([r[6] for r in rows], dtype=np.int64)
    n_c_ = np.array([r[7] for r in rows], dtype=np.int64)
    conviction = np.full(len(rows), np.inf)
    partial = count < n_a_
    conviction[partial] = ((n - n_c_) * n_a_)[partial] / (n * (n_a_ - count))[partial]
    a_indptr, a_indices = _csr_from_sets([r[3] for r in rows])
    c_indptr, c_indices = _csr_from_sets([r[4] for r in rows])
    return RuleSet(
        antecedent_indptr=a_indptr,
        antecedent_indices=a_indices,
        consequent_indptr=c_indptr,
        consequent_indices=c_indices,
        support=count / n,
        confidence=count / n_a_,
        lift=(count * n) / (n_a_ * n_c_),
        leverage=(count * n - n_a_ * n_c_) / (n * n),
        conviction=conviction,
        count=count,
        antecedent_count=n_a_,
        consequent_count=n_c_,
        n_baskets=n,
        n_items=n_items,
    )


def mine_rules(
    baskets: sp.csr_matrix,
    *,
    min_support: float,
    min_confidence: float,
    min_lift: float = 0.0,
    max_len: int | None = None,
    min_len: int = 1,
    single_consequent: bool = True,
) -> RuleSet:
    """Rules with support, confidence and lift at or above the thresholds (arules semantics,
    see the module docstring), from a baskets × items matrix (nonzero = in the basket)."""
    started = time.perf_counter()
    matrix = _as_bool_csr(baskets)
    n_baskets, n_items = matrix.shape
    if n_baskets == 0 or (max_len is not None and max_len < 1):
        return _empty_ruleset(n_baskets, n_items)
    min_count = _min_count(min_support, n_baskets)
    sets, counts = _mine_itemsets(matrix, min_count, max_len)
    count_of = dict(zip(sets, counts.tolist(), strict=True))
    antecedents, consequents = _split_rules(sets, counts, n_baskets, min_confidence)
    if min_len <= 1:
        # arules' {} => {item} rules: confidence = supp(item), lift = 1.
        antecedents += [() for s in sets if len(s) == 1]
        consequents += [s for s in sets if len(s) == 1]

    kept = [
        (ante, cons)
        for ante, cons in zip(antecedents, consequents, strict=True)
        if len(ante) + len(cons) >= min_len and (not single_consequent or len(cons) == 1)
    ]
    rules = ruleset_from_counts(
        [ante for ante, _ in kept],
        [cons for _, cons in kept],
        [count_of[tuple(sorted(ante + cons))] for ante, cons in kept],
        [count_of[ante] if ante else n_baskets for ante, _ in kept],
        [count_of[cons] for _, cons in kept],
        n_baskets,
        n_items,
        min_confidence=min_confidence,
        min_lift=min_lift,
    )
    logger.info(
        "mined %d rules from %d itemsets over %d baskets × %d items in %.2fs",
        len(rules),
        len(sets),
        n_baskets,
        n_items,
        time.perf_counter() - started,
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


def _context(context_positions: npt.ArrayLike, n_items: int) -> npt.NDArray[np.int64]:
    """Distinct in-range positions of a context (unknown items, -1, are dropped)."""
    context = np.sort(np.asarray(context_positions, dtype=np.int64).ravel())
    keep = (context >= 0) & (context < n_items)
    keep[1:] &= context[1:] != context[:-1]
    return context[keep]


def _fired(
    rules: RuleSet, index: sp.csr_matrix, context: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    entries, _ = row_entries(index.indptr, context)
    hits = index.indices[entries]
    present = np.bincount(hits, minlength=len(rules))
    # Empty antecedents (0 items, 0 present) fire for every context, as in arules.
    return np.flatnonzero(present == rules.antecedent_lengths)


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
    scores = np.zeros(rules.n_items, dtype=np.float32)
    best_rule = np.full(rules.n_items, -1, dtype=np.int64)
    context = _context(context_positions, rules.n_items)
    fired = _fired(rules, index, context)
    if len(fired) == 0:
        return RuleScores(scores, best_rule)
    if rules.single_consequent:
        items, rule_ids = rules.consequent_indices[fired], fired
    else:
        entries, owner = row_entries(rules.consequent_indptr, fired)
        items, rule_ids = rules.consequent_indices[entries], fired[owner]
    values = getattr(rules, metric)[rule_ids]
    # Per item, highest value first, then lowest rule id: keep the first row of each item.
    order = np.lexsort((rule_ids, -values, items))
    items, rule_ids, values = items[order], rule_ids[order], values[order]
    first = np.ones(len(items), dtype=bool)
    first[1:] = items[1:] != items[:-1]
    scores[items[first]] = values[first]
    best_rule[items[first]] = rule_ids[first]
    scores[context] = 0.0
    best_rule[context] = -1
    return RuleScores(scores, best_rule)


def rules_table(rules: RuleSet, labels: Sequence[str]) -> pd.DataFrame:
    """One row per rule: antecedents and consequents as label tuples (in position order), then
    support, confidence, lift, leverage, conviction, count and length."""
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
    "RuleScores",
    "RuleSet",
    "antecedent_index",
    "baskets_matrix",
    "fired_rules",
    "frequent_itemsets",
    "mine_rules",
    "rules_table",
    "ruleset_from_counts",
    "score_rules",
]
