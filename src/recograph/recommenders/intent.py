"""Complement or substitute: a product's related products, classified from what a build holds.

- A **complement** is bought together but not alike: a product rule ``{seed} => {item}`` with
  lift above 1, whose item is not a content look-alike of the seed. Its evidence is that rule's
  lift and confidence (the same numbers ``associationRules`` shows).
- A **substitute** is alike but rarely bought in the same order: a content neighbour with
  similarity at least ``alike_min_similarity`` whose co-purchase rate with the seed is at most
  ``substitute_max_co_purchase``.

The **co-purchase rate** of two products is the Jaccard index over completed orders: orders
containing both divided by orders containing either. It is computed exactly from the order
lines the snapshot already holds (the same completed orders the rules were mined on).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from importlib.metadata import entry_points
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recograph.catalogue import Catalogue, Histories
from recograph.core.vocabulary import COMPLETED
from recograph.recommenders.codec import ArrayCoded, pattern
from recograph.recommenders.item_knn import DENSE_MAX_ITEMS
from recograph.recommenders.rules import RuleSet, baskets_matrix
from recograph.recommenders.sparse import row_entries


class Intent(Enum):
    """Why a product is related; ANY asks for both (an item is never ANY)."""

    COMPLEMENTARY = "COMPLEMENTARY"
    SUBSTITUTE = "SUBSTITUTE"
    ANY = "ANY"


@dataclass(frozen=True)
class IntentThresholds:
    """Where "alike" starts and how rare "rarely bought together" is.

    On the demo store, 95 % of content pairs at similarity ≥ 0.2 share a category (69 % at
    0.1); planted complements sit below 0.15."""

    alike_min_similarity: float = 0.2
    substitute_max_co_purchase: float = 0.02


@dataclass(frozen=True)
class Related:
    """One related product with the evidence of its intent (the other intent's fields are
    None)."""

    position: int
    intent: Intent
    rule: int | None = None
    lift: float | None = None
    confidence: float | None = None
    similarity: float | None = None
    co_purchase_rate: float | None = None


@dataclass(frozen=True)
class OrderBaskets(ArrayCoded):
    """Completed orders × items (ones), row-wise and column-wise, so a co-purchase rate
    reads only the seed's orders. Built with the snapshot and stored with it (only where
    the entries are), so a server maps both rather than building them in every worker."""

    orders: sp.csr_matrix = field(metadata=pattern(np.int64))
    items: sp.csc_matrix = field(metadata=pattern(np.int64, columns=True))

    ARRAY_PREFIX: ClassVar[str] = "order_baskets."

    @classmethod
    def check_arrays(cls, values: Mapping[str, Any], prefix: str) -> None:
        if values["orders"].shape != values["items"].shape:
            raise ValueError(f"{prefix}: orders and items disagree on the baskets' shape")

    @classmethod
    def of(cls, matrix: sp.csr_matrix) -> OrderBaskets:
        orders = sp.csr_matrix(matrix, dtype=np.int64)
        return cls(orders=orders, items=sp.csc_matrix(orders))


def completed_baskets(histories: Histories, n_items: int) -> OrderBaskets:
    """Completed orders × items from the snapshot's order lines (what the rules are mined on)."""
    line_order = np.repeat(
        np.arange(len(histories.order_ids), dtype=np.int64), np.diff(histories.order_line_indptr)
    )
    done = (histories.order_status == COMPLETED)[line_order]
    return OrderBaskets.of(baskets_matrix(line_order[done], histories.line_item[done], n_items))


def co_purchase_rates(
    baskets: OrderBaskets, seed: int, items: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """|orders with seed and item| / |orders with seed or item|, 0 when neither was bought."""
    columns = baskets.items
    wanted = np.asarray(items, dtype=np.int64).ravel()
    with_item = np.diff(columns.indptr)
    seed_orders = columns.indices[columns.indptr[seed] : columns.indptr[seed + 1]]
    entries, _ = row_entries(baskets.orders.indptr, seed_orders)
    both = np.bincount(baskets.orders.indices[entries], minlength=len(with_item))
    either = with_item[seed] + with_item[wanted] - both[wanted]
    rates: npt.NDArray[np.float64] = np.zeros(len(wanted), dtype=np.float64)
    np.divide(both[wanted], either, out=rates, where=either > 0)
    return rates


def _similarity_row(similarity: sp.csr_matrix, seed: int) -> dict[int, float]:
    start, stop = int(similarity.indptr[seed]), int(similarity.indptr[seed + 1])
    columns = similarity.indices[start:stop].tolist()
    return dict(zip(columns, similarity.data[start:stop].tolist(), strict=True))


@dataclass(frozen=True)
class ComplementTable:
    """`complements` of every product, worked out once per snapshot (at load) so a cart page
    reads its products' complements instead of filtering their rules per request. Seed
    ``s``'s rows are ``indptr[s]:indptr[s+1]``: each a rule ``{s} => {item}`` with lift above
    1 whose item is not alike, by lift, confidence (both descending), then position."""

    indptr: npt.NDArray[np.int64]
    rule: npt.NDArray[np.int64]
    item: npt.NDArray[np.int64]
    lift: npt.NDArray[np.float64]
    confidence: npt.NDArray[np.float64]

    @classmethod
    def of(
        cls,
        rules: RuleSet,
        content_similarity: sp.csr_matrix,
        thresholds: IntentThresholds = IntentThresholds(),
    ) -> ComplementTable:
        """The table of `complements` for every seed (a test compares it seed by seed)."""
        single = rules.antecedent_lengths == 1
        if not rules.single_consequent:
            single &= np.diff(rules.consequent_indptr) == 1
        rule = np.flatnonzero(single & (rules.lift > 1.0)).astype(np.int64)
        seed = rules.antecedent_indices[rules.antecedent_indptr[rule]].astype(np.int64)
        item = rules.consequent_indices[rules.consequent_indptr[rule]].astype(np.int64)
        similarity = np.zeros(len(rule), dtype=np.float64)
        if rule.size:  # scipy cannot index with two empty arrays
            similarity = np.asarray(content_similarity[seed, item], dtype=np.float64).ravel()
        keep = ~(similarity >= thresholds.alike_min_similarity)
        rule, seed, item = rule[keep], seed[keep], item[keep]
        lift, confidence = rules.lift[rule], rules.confidence[rule]
        order = np.lexsort((item, -confidence, -lift, seed))
        counts = np.bincount(seed, minlength=rules.n_items)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return cls(indptr, rule[order], item[order], lift[order], confidence[order])

    @functools.cached_property
    def row_lists(self) -> tuple[tuple[tuple[int, int, float, float], ...], ...] | None:
        """`rows` of every seed as Python tuples, for a catalogue of at most
        `DENSE_MAX_ITEMS` products (None above): made once, a cart page reads them."""
        n_seeds = len(self.indptr) - 1
        if n_seeds > DENSE_MAX_ITEMS:
            return None
        return tuple(tuple(self._rows(seed)) for seed in range(n_seeds))

    def rows(self, seed: int) -> list[tuple[int, int, float, float]]:
        """Seed ``seed``'s complements as (rule, item, lift, confidence), in order."""
        made = self.row_lists
        if made is not None and 0 <= seed < len(made):
            return list(made[seed])
        return self._rows(seed)

    def _rows(self, seed: int) -> list[tuple[int, int, float, float]]:
        span = slice(int(self.indptr[seed]), int(self.indptr[seed + 1]))
        return list(
            zip(
                self.rule[span].tolist(),
                self.item[span].tolist(),
                self.lift[span].tolist(),
                self.confidence[span].tolist(),
                strict=True,
            )
        )


def complements(seed: int, table: ComplementTable) -> list[Related]:
    """Rules ``{seed} => {item}`` with lift > 1 whose item is not alike; by lift, confidence,
    then position (``table``: the snapshot's `ComplementTable`, or one made for the rules)."""
    return [
        Related(
            position=item, intent=Intent.COMPLEMENTARY, rule=rule, lift=lift, confidence=confidence
        )
        for rule, item, lift, confidence in table.rows(seed)
    ]


def substitutes(
    seed: int,
    content_similarity: sp.csr_matrix,
    baskets: OrderBaskets,
    thresholds: IntentThresholds = IntentThresholds(),
) -> list[Related]:
    """Content neighbours alike enough and rarely in the seed's orders; most similar first."""
    alike = {
        item: value
        for item, value in _similarity_row(content_similarity, seed).items()
        if value >= thresholds.alike_min_similarity and item != seed
    }
    items = sorted(alike, key=lambda i: (-alike[i], i))
    rates = co_purchase_rates(baskets, seed, items)
    return [
        Related(
            position=item,
            intent=Intent.SUBSTITUTE,
            similarity=alike[item],
            co_purchase_rate=float(rate),
        )
        for item, rate in zip(items, rates, strict=True)
        if rate <= thresholds.substitute_max_co_purchase
    ]


def interleave(first: Sequence[Related], second: Sequence[Related], limit: int) -> list[Related]:
    """Both lists alternately (first, second, first, ...), the longer one's rest at the end."""
    merged: list[Related] = []
    for i in range(max(len(first), len(second))):
        merged.extend(side[i] for side in (first, second) if i < len(side))
    return merged[:limit]


def related(
    seed: int,
    table: ComplementTable,
    content_similarity: sp.csr_matrix,
    baskets: OrderBaskets,
    intent: Intent,
    limit: int,
    thresholds: IntentThresholds = IntentThresholds(),
) -> list[Related]:
    """Up to ``limit`` related products of one intent, or both interleaved (complement first)
    for ANY (``table``: the complements, made with the same ``thresholds``)."""
    if intent is Intent.COMPLEMENTARY:
        return complements(seed, table)[:limit]
    if intent is Intent.SUBSTITUTE:
        return substitutes(seed, content_similarity, baskets, thresholds)[:limit]
    return interleave(
        complements(seed, table),
        substitutes(seed, content_similarity, baskets, thresholds),
        limit,
    )


def planted_precision(
    catalogue: Catalogue,
    rules: RuleSet,
    content_similarity: sp.csr_matrix,
    baskets: OrderBaskets,
    planted_pairs: Sequence[tuple[str, str]],
    k: int = 5,
    thresholds: IntentThresholds = IntentThresholds(),
) -> dict[str, Mapping[str, float | int | None]]:
    """Precision@k of each intent against planted category structure, averaged over seeds.

    A complement is right when its category and the seed's form a planted pair (either way
    round); a substitute is right when it shares the seed's category. Seeds are the products of
    every category in a planted pair; seeds with no item of an intent do not count for it
    (``coverage`` is the share of seeds that have one; precision is None when none has). The
    ``laptops`` entry repeats both for the Laptops category alone."""
    names = {str(n): i for i, n in enumerate(catalogue.category_names)}
    pairs = {(names[a], names[c]) for a, c in planted_pairs if a in names and c in names}
    pairs |= {(c, a) for a, c in pairs}
    planted = sorted({a for a, _ in pairs})
    seeds = np.flatnonzero(np.isin(catalogue.category, planted))
    laptops = names.get("Laptops", -1)
    table = ComplementTable.of(rules, content_similarity, thresholds)

    def score(chosen: npt.NDArray[np.int64]) -> dict[str, float | int | None]:
        hits: dict[Intent, list[float]] = {Intent.COMPLEMENTARY: [], Intent.SUBSTITUTE: []}
        for seed in chosen:
            own = int(catalogue.category[seed])
            found = {
                Intent.COMPLEMENTARY: complements(int(seed), table),
                Intent.SUBSTITUTE: substitutes(int(seed), content_similarity, baskets, thresholds),
            }
            for intent, items in found.items():
                top = items[:k]
                if not top:
                    continue
                cats = [int(catalogue.category[r.position]) for r in top]
                if intent is Intent.COMPLEMENTARY:
                    right = sum((own, c) in pairs for c in cats)
                else:
                    right = sum(c == own for c in cats)
                hits[intent].append(right / len(top))
        n = max(len(chosen), 1)
        return {
            "seeds": len(chosen),
            "complement_precision": _mean(hits[Intent.COMPLEMENTARY]),
            "complement_coverage": len(hits[Intent.COMPLEMENTARY]) / n,
            "substitute_precision": _mean(hits[Intent.SUBSTITUTE]),
            "substitute_coverage": len(hits[Intent.SUBSTITUTE]) / n,
        }

    return {
        "all": score(seeds),
        "laptops": score(np.flatnonzero(catalogue.category == laptops)),
    }


def _mean(values: Sequence[float]) -> float | None:
    """The mean, or None (not 0) when no seed had an item: nothing shown is not a miss."""
    return float(np.mean(values)) if values else None


def _shown(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, float) else "–"


PLANTED_PATTERNS_GROUP = "recograph.planted_patterns"


def planted_patterns() -> tuple[tuple[str, str], ...]:
    """(antecedent, consequent) category pairs planted by synthetic stores, read from the
    ``recograph.planted_patterns`` entry points (each a callable returning pairs) so the
    product knows the demo store's ground truth without importing the lab that makes it."""
    pairs: list[tuple[str, str]] = []
    for entry in sorted(entry_points(group=PLANTED_PATTERNS_GROUP), key=lambda e: e.name):
        source: Callable[[], Iterable[tuple[str, str]]] = entry.load()
        pairs.extend((str(a), str(c)) for a, c in source())
    return tuple(dict.fromkeys(pairs))


def planted_metrics(
    catalogue: Catalogue, rules: RuleSet, content_similarity: sp.csr_matrix, histories: Histories
) -> dict[str, object]:
    """The build report's ``intents`` entry: precision@5 of each intent against the demo
    store's planted bundle categories; empty for a store without those categories (or when
    no installed package, such as recograph-lab, registers planted patterns)."""
    patterns = planted_patterns()
    known = {str(n) for n in catalogue.category_names}
    if not any(a in known and c in known for a, c in patterns):
        return {}
    baskets = completed_baskets(histories, len(catalogue))
    k = 5
    report = planted_precision(catalogue, rules, content_similarity, baskets, patterns, k)
    return {"intents": {"k": k, **report}}


def summary_line(intents: Mapping[str, object]) -> str:
    """One line for ``recograph build``: precision of each intent, all seeds and laptops."""
    every, laptops = intents["all"], intents["laptops"]
    assert isinstance(every, Mapping)
    assert isinstance(laptops, Mapping)
    k = intents["k"]
    return (
        f"related products vs planted categories, precision@{k}: "
        f"complementary {_shown(every['complement_precision'])} "
        f"(laptops {_shown(laptops['complement_precision'])}), "
        f"substitute {_shown(every['substitute_precision'])} "
        f"(laptops {_shown(laptops['substitute_precision'])}), {every['seeds']} seed products"
        + _pages_text(intents.get("pages"))
    )


def _pages_text(pages: object) -> str:
    """The served pages' precision (`evaluation.page_mix`), when the build measured it."""
    if not isinstance(pages, Mapping):
        return ""
    return (
        f"; served product pages {_shown(pages.get('product_page_precision'))}, "
        f"cart pages {_shown(pages.get('cart_page_precision'))}"
    )
