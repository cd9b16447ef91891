"""Per-request recommendation: profile → signals → blend → filters → business rules → reasons.

Everything here reads a `ModelSnapshot` and the request; nothing is fitted, nothing touches a
database. The build's evaluation calls the same functions, so offline numbers describe what
the server does.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from recograph.core.codec import read_only
from recograph.core.segments import SegmentThresholds

# Re-exported: these lived here before `recograph.core`.
from recograph.core.vocabulary import FilterRule as FilterRule  # noqa: PLC0414 (re-export)
from recograph.core.vocabulary import PageType, Segment, SignalName, Weights
from recograph.core.vocabulary import ReasonKind as ReasonKind  # noqa: PLC0414 (re-export)
from recograph.core.vocabulary import Strategy as Strategy  # noqa: PLC0414 (re-export)
from recograph.recommenders import candidates as stage
from recograph.recommenders import content as content_signal
from recograph.recommenders import due as due_dates
from recograph.recommenders import intent, rules, user_knn, wording
from recograph.recommenders.blend import (
    Scores,
    blend,
    contributions,
    normalise,
    shift_for_page,
)
from recograph.recommenders.item_knn import ItemKNN
from recograph.recommenders.popularity import score_popularity
from recograph.recommenders.protocol import CFEvidence, CFModel, CFProfile, CFRequest
from recograph.recommenders.repeat import MIN_OWNED_FACTOR as MIN_OWNED_FACTOR  # noqa: PLC0414
from recograph.recommenders.repeat import OWNED_RATE_SCALE as OWNED_RATE_SCALE  # noqa: PLC0414
from recograph.recommenders.repeat import likely_again, repeat_chance
from recograph.recommenders.sparse import distinct, summed_by_position
from recograph.snapshot import DEFAULT_DUE_PAR, ModelSnapshot

Positions = npt.NDArray[np.int64]


STRATEGY_WEIGHTS: dict[Strategy, Weights] = {
    Strategy.COLLABORATIVE: Weights(cf=1.0),
    Strategy.CONTENT: Weights(content=1.0),
    Strategy.RULES: Weights(rules=1.0),
    Strategy.POPULAR: Weights(popularity=1.0),
}

# Below every real score: ranks zero-score items by popularity so lists never come back short.
FILLER_WEIGHT = np.float32(1e-4)
HISTORY_RULE_DISCOUNT = np.float32(0.7)  # rules fired by past orders count less than the cart's
CATEGORY_RULE_DISCOUNT = np.float32(0.8)
MAX_REPEAT_SHARE = 0.95  # the buy-again share of a list never quite crowds out new products
NEW_SLOTS = 10  # the new products a re-buy competes with: a list's worth
# Pages that bring owned products back to be bought again (no page: an account or e-mail).
BUY_AGAIN_PAGES = (None, PageType.HOME, PageType.ACCOUNT)
# At most this many of a page's related products lead its list: a product page's substitutes
# (alike, rarely bought together), a cart page's complements (bought together, not alike).
PAGE_INTENT_SLOTS = 5
# Pages that may lead with their related products; how many do is the store's own choice made
# on validation (`BlendConfig.page_leads`, `evaluation.page_mix.choose_page_leads`): on the
# demo store product pages lead with five substitutes (validation NDCG@10 0.370 vs 0.222 with
# none), which the simulated shoppers click more; another store may choose none.
PAGE_MIX_PAGES = (PageType.PRODUCT, PageType.CART, PageType.CHECKOUT)
# A product this likely to be re-bought within `due.HORIZON_DAYS` ranks with the best new one,
# unless the build chose the store's own (`BlendConfig.due_par`).
DUE_PAR = DEFAULT_DUE_PAR


@dataclass(frozen=True)
class Context:
    """The live page: positions in the catalogue, already resolved from ids."""

    cart: tuple[int, ...] = ()
    current: int | None = None
    page_type: PageType | None = None
    category: int | None = None
    viewed: tuple[int, ...] = ()

    @cached_property
    def items(self) -> tuple[int, ...]:
        """The cart and the current product, each once (made once: scoring reads it often)."""
        current = () if self.current is None else (self.current,)
        return tuple(dict.fromkeys(self.cart + current))


@dataclass(frozen=True)
class BusinessRules:
    """Store policy applied after blending."""

    promoted_positions: tuple[int, ...] = (3,)  # 1-based ranks reserved for promoted products
    margin_weight: float = 0.0  # added × normalised margin (price − cost) / price
    max_per_category: int | None = 3
    # A promoted product takes its slot only when relevant to the page: a blended score of at
    # least this, or a category the page's categories are linked to by a category rule.
    promoted_min_score: float = 0.1


@dataclass(frozen=True)
class Request:
    user: int | None = None  # customer position, None for anonymous visitors
    context: Context = Context()
    limit: int = 10
    strategy: Strategy = Strategy.HYBRID
    weights: Weights | None = None  # overrides the segment's weights
    exclude_purchased: bool = True
    in_stock_only: bool = True
    categories: tuple[int, ...] | None = None
    before: int | None = None  # epoch seconds: use only history strictly before (timelines)
    live_purchases: tuple[int, ...] = ()  # purchases recorded since the snapshot was built
    cf_models: tuple[tuple[str, float], ...] | None = None  # overrides the served CF mix
    explain: bool = False  # also return the journey trace
    exclude: tuple[int, ...] = ()  # positions never to show (the caller's list, earlier pages)
    rank_offset: int = 0  # ranks start after this (a next page); promoted slots are absolute
    unknown_customer: bool = False  # a customer id the build has not seen (signed up since)


@dataclass(frozen=True)
class Profile:
    """The customer's history as positions and values: a request costs in the history's size,
    not the catalogue's (``history`` and ``purchase_counts`` spread it when full scoring or a
    dense model asks, once)."""

    user: int | None
    items: Positions  # distinct purchased positions, ascending
    values: Scores  # the interaction value of each of ``items`` (float32)
    recent: Positions  # items of the most recent order
    n_orders: int
    segment: Segment
    exact: bool  # history equals the user's training row (stored user factors apply)
    n_items: int  # the catalogue's size (for the dense views)
    # per item of ``items``, on how many distinct dates the customer bought it (None: not
    # counted; 0 for an item of the training row no completed order holds)
    counts: Scores | None = None

    @cached_property
    def history(self) -> Scores:
        """The dense (n_items,) interaction vector."""
        dense = np.zeros(self.n_items, dtype=np.float32)
        dense[self.items] = self.values
        return dense

    @cached_property
    def purchase_counts(self) -> Scores | None:
        """`counts` spread over the catalogue (None when not counted)."""
        if self.counts is None:
            return None
        dense = np.zeros(self.n_items, dtype=np.float32)
        dense[self.items] = self.counts
        return dense


# The per-item result types are frozen dataclasses built dozens of times a request. Their
# `__init__` is written out (the dataclass keeps it; a test checks it against the fields): it
# fills the instance's ``__dict__`` directly, the assignment `dataclass(frozen=True)`'s own
# `__init__` makes with one ``object.__setattr__`` call per field, at a fifth of the cost.
# Everything else (frozen attributes, equality, hash, `replace`, `fields`) is the dataclass's.


@dataclass(frozen=True)
class Reason:
    kind: ReasonKind
    text: str
    evidence: tuple[int, ...] = ()
    metric: str | None = None
    value: float | None = None
    features: tuple[str, ...] = ()
    categories: tuple[int, ...] = ()  # a category rule's antecedent categories
    rule_level: str | None = None  # "PRODUCT" or "CATEGORY": which rule set `rule_id` indexes
    rule_id: int | None = None

    def __init__(
        self,
        kind: ReasonKind,
        text: str,
        evidence: tuple[int, ...] = (),
        metric: str | None = None,
        value: float | None = None,
        features: tuple[str, ...] = (),
        categories: tuple[int, ...] = (),
        rule_level: str | None = None,
        rule_id: int | None = None,
    ) -> None:
        attributes = self.__dict__
        attributes["kind"] = kind
        attributes["text"] = text
        attributes["evidence"] = evidence
        attributes["metric"] = metric
        attributes["value"] = value
        attributes["features"] = features
        attributes["categories"] = categories
        attributes["rule_level"] = rule_level
        attributes["rule_id"] = rule_id


@dataclass(frozen=True)
class Contribution:
    signal: SignalName
    score: float
    weight: float

    def __init__(self, signal: SignalName, score: float, weight: float) -> None:
        attributes = self.__dict__
        attributes["signal"] = signal
        attributes["score"] = score
        attributes["weight"] = weight


@dataclass(frozen=True)
class Item:
    position: int
    score: float
    rank: int
    reason: Reason
    contributions: tuple[Contribution, ...]
    out_of_score_order: bool = False  # placed by a business rule above higher-scored items

    def __init__(
        self,
        position: int,
        score: float,
        rank: int,
        reason: Reason,
        contributions: tuple[Contribution, ...],
        out_of_score_order: bool = False,
    ) -> None:
        attributes = self.__dict__
        attributes["position"] = position
        attributes["score"] = score
        attributes["rank"] = rank
        attributes["reason"] = reason
        attributes["contributions"] = contributions
        attributes["out_of_score_order"] = out_of_score_order


@dataclass(frozen=True)
class Trace:
    candidates: dict[SignalName, list[tuple[int, float]]]
    filtered: list[tuple[int, FilterRule]]
    business_rules: list[str]
    neighbours: list[tuple[int, float]]  # similar customers (positions, cosine)
    details: dict[int, str] = field(default_factory=dict)  # removed item -> the rule in words


@dataclass(frozen=True)
class Recommendation:
    items: tuple[Item, ...]
    strategy: Strategy
    explanation: str
    segment: Segment
    weights: Weights
    profile: Profile
    trace: Trace | None = None
    has_more: bool = False  # allowed items remain after this page
    # How the list was ranked, and how many products were scored for it.
    ranking: stage.Ranking = stage.Ranking.FULL
    scored: int = 0


@dataclass
class _RuleEvidence:
    """Which rule produced each item's rule score (request-local scratch)."""

    product_best: npt.NDArray[np.int64]
    category_best: npt.NDArray[np.int64]
    from_category: npt.NDArray[np.bool_]
    seeds: tuple[int, ...]  # the page's items
    past: tuple[int, ...]  # purchases
    categories: dict[int, int]  # the seeds' and past's categories (a rule reason reads them)
    positions: Positions | None = None  # the arrays are on these candidates (None: every item)

    def best_of(self, items: list[int]) -> list[tuple[bool, int, int]]:
        """Per item of ``items``, (from a category rule, best category rule, best product
        rule), read for all of them at once."""
        at = np.asarray(items, dtype=np.int64)
        if self.positions is not None:
            at = self.positions.searchsorted(at)
        return list(
            zip(
                self.from_category[at].tolist(),
                self.category_best[at].tolist(),
                self.product_best[at].tolist(),
                strict=True,
            )
        )


class _RuleSource(NamedTuple):
    """The rules one seed set fired (`_rule_scores`), at its discount (request-local: a
    named tuple, built for a fraction of a frozen dataclass's cost)."""

    product: rules.RuleScores
    category: rules.RuleScores
    discount: np.float32


class _ReplayedRuleEvidence(NamedTuple):
    """Which rule produced an item's rule score, worked out only for the items shown: the
    seed sets' fired rules replayed for one item in `_rule_scores`' order and float32 steps
    (full scoring keeps no per-item evidence arrays for the whole catalogue). Request-local:
    a named tuple."""

    sources: tuple[_RuleSource, ...]
    category_of: npt.NDArray[Any]
    category_share: npt.NDArray[np.float32]
    seeds: tuple[int, ...]  # the page's items
    past: tuple[int, ...]  # purchases
    categories: dict[int, int]  # the seeds' and past's categories (a rule reason reads them)

    def best_of(self, items: list[int]) -> list[tuple[bool, int, int]]:
        """As `_RuleEvidence.best_of`, item after item (a handful: numpy scalars cost less
        than array steps on a few values)."""
        return [self._best(item) for item in items]

    def _best(self, item: int) -> tuple[bool, int, int]:
        score = np.float32(0.0)
        best_product = best_category = -1
        from_category = False
        category = int(self.category_of[item])
        share = self.category_share[item]
        for source in self.sources:
            product = source.product.scores[item] * source.discount
            if product > score:
                score, best_product, from_category = (
                    product,
                    int(source.product.best_rule[item]),
                    False,
                )
            by_category = source.category.scores[category] * share * CATEGORY_RULE_DISCOUNT
            by_category = by_category * source.discount
            if by_category > score:
                score, from_category = by_category, True
                best_category = int(source.category.best_rule[category])
        return from_category, best_category, best_product


@dataclass
class _Signals:
    raw: dict[SignalName, Scores] = field(default_factory=dict)
    rule_evidence: _RuleEvidence | _ReplayedRuleEvidence | None = None
    content_seeds: tuple[Positions, npt.NDArray[np.float32]] | None = None
    trending: bool = False


# ---------------------------------------------------------------------------- profile


def build_profile(
    snapshot: ModelSnapshot,
    user: int | None,
    before: int | None = None,
    live_purchases: Sequence[int] = (),
) -> Profile:
    """The customer's purchase history as the models see it."""
    # Empty until a branch below reads them (made once, not per field: a request pays each
    # numpy call); `counted`: the items bought, ascending, `times`: on how many order dates.
    items, values, recent, counted, times = (
        _NO_POSITIONS,
        _NO_VALUES,
        _NO_POSITIONS,
        _NO_POSITIONS,
        _NO_VALUES,
    )
    n_orders = 0
    exact = user is not None and before is None and not live_purchases
    if user is not None and before is None:
        # Counted once per snapshot (`Histories.purchases`): the same figures as below.
        table = snapshot.histories.purchases
        n_orders = int(table.n_completed[user])
        span = slice(table.count_indptr[user], table.count_indptr[user + 1])
        counted = table.count_items[span]  # int64 (the table's dtype), read only here
        times = table.count_values[span].astype(np.float32)  # a copy: `counts`
        last = int(table.last_completed[user])
        if last >= 0:
            recent = snapshot.histories.order_items(last).astype(np.int64)
    elif user is not None:
        orders = snapshot.histories.completed_orders(user, before)
        n_orders = len(orders)
        bought, _ = purchase_pairs(snapshot, orders)
        counted, found = np.unique(bought, return_counts=True)
        times = found.astype(np.float32)
        if orders:
            recent = snapshot.histories.order_items(orders[-1]).astype(np.int64)
    if user is not None:
        if before is None and user < snapshot.interactions.shape[0]:
            matrix = snapshot.interactions
            span = slice(matrix.indptr[user], matrix.indptr[user + 1])
            # copies (`astype` copies; cheaper than `np.array(..., dtype=...)`)
            row_items = matrix.indices[span].astype(np.int64)
            row_values = matrix.data[span].astype(np.float32)
            if not matrix.has_sorted_indices:  # scipy checks once per matrix, then keeps it
                order = np.argsort(row_items, kind="stable")
                row_items, row_values = row_items[order], row_values[order]
            items, values = row_items, row_values
            # A stored zero is no interaction (`count_nonzero`: `ndarray.all` costs 10x more).
            if np.count_nonzero(row_values) < len(row_values):
                nonzero = row_values != 0
                items, values = row_items[nonzero], row_values[nonzero]
        else:
            items = counted
            values = np.ones(len(items), dtype=np.float32)
            exact = False
    if live_purchases:
        live = distinct(np.asarray(live_purchases, dtype=np.int64))
        merged = distinct(np.concatenate([items, live]))
        kept = np.zeros(len(merged), dtype=np.float32)
        kept[np.searchsorted(merged, items)] = values
        at_live = np.searchsorted(merged, live)
        kept[at_live] = np.maximum(kept[at_live], 1.0)
        items, values = merged, kept
        counted, times = _add_one(counted, times, live)
        recent = distinct(np.concatenate([recent, live]))
        n_orders += 1
    return Profile(
        user=user,
        items=items,
        values=values,
        recent=recent,
        n_orders=n_orders,
        segment=snapshot.blend.segment(n_orders, len(items)),
        exact=exact,
        n_items=snapshot.n_items,
        counts=_counts_at(items, counted, times),
    )


def _counts_at(items: Positions, counted: Positions, times: Scores) -> Scores:
    """Per item of the ascending ``items``, its count in (ascending ``counted``, ``times``:
    a request's own array, never a view of the snapshot)."""
    if len(items) == len(counted) and items.tolist() == counted.tolist():
        return times  # the usual case: the training row is the purchases
    inside = stage.member(items, counted)
    counts = np.zeros(len(items), dtype=np.float32)
    counts[np.searchsorted(items, counted[inside])] = times[inside]
    return counts


def _add_one(counted: Positions, times: Scores, live: Positions) -> tuple[Positions, Scores]:
    """(``counted``, ``times``) with one more purchase of each of the distinct ``live``."""
    merged = distinct(np.concatenate([counted, live]))
    added = np.zeros(len(merged), dtype=np.float32)
    added[np.searchsorted(merged, counted)] = times
    added[np.searchsorted(merged, live)] += 1
    return merged, added


# A profile's empty fields: shared, nothing to write in them.
_NO_POSITIONS: Positions = read_only(np.zeros(0, dtype=np.int64))
_NO_VALUES: Scores = read_only(np.zeros(0, dtype=np.float32))
_DATE_SPAN = 2**32
_FEW = 64  # up to this many values, sets and sorts in Python beat numpy's per-call cost


def _unique(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """`np.unique` (sorted distinct values, same dtype), in Python for a few integers."""
    if values.size > _FEW:
        return distinct(values)
    return np.array(sorted(set(values.tolist())), dtype=values.dtype)


def purchase_pairs(snapshot: ModelSnapshot, orders: Sequence[int]) -> tuple[Positions, Positions]:
    """The distinct (item, order date) purchases of ``orders``, as two arrays."""
    histories = snapshot.histories
    if not orders:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order_positions = np.asarray(orders, dtype=np.int64)
    starts = histories.order_line_indptr[order_positions]
    sizes = histories.order_line_indptr[order_positions + 1] - starts
    lines = np.repeat(starts - np.cumsum(sizes) + sizes, sizes) + np.arange(int(sizes.sum()))
    items = histories.line_item[lines].astype(np.int64)
    dates = np.repeat(histories.order_date[order_positions], sizes).astype(np.int64)
    if dates.size and (dates.min() < 0 or dates.max() >= _DATE_SPAN):
        pairs = np.unique(np.stack([items, dates]), axis=1)
        return pairs[0], pairs[1]
    # One sorted key per (item, date), as np.unique(axis=1) orders the pairs, at a fraction
    # of its cost (dates are epoch seconds, below 2**32 until 2106).
    keys = distinct(items * _DATE_SPAN + dates)
    return keys // _DATE_SPAN, keys % _DATE_SPAN


# ---------------------------------------------------------------------------- signals


def cf_scores(
    snapshot: ModelSnapshot, profile: Profile, models: Sequence[tuple[str, float]]
) -> Scores:
    """The served collaborative-filtering score: a weighted mix of normalised CF models."""
    if profile.items.size == 0:
        return np.zeros(snapshot.n_items, dtype=np.float32)
    if len(models) == 1 and models[0][1] > 0:  # 0 + w × s is w × s (s ≥ +0): one model's
        name, weight = models[0]
        alone = normalise(_one_cf_model(snapshot, profile, name))
        return alone if weight == 1.0 else np.float32(weight) * alone
    total = np.zeros(snapshot.n_items, dtype=np.float32)
    for name, weight in models:
        total += np.float32(weight) * normalise(_one_cf_model(snapshot, profile, name))
    return total


def _one_cf_model(snapshot: ModelSnapshot, profile: Profile, name: str) -> Scores:
    """One registered CF model's raw scores (its stand-in's when it was not fitted)."""
    _, model = snapshot.served_cf_model(name)
    if isinstance(model, ItemKNN):  # reads the history as positions and values
        return model.score_history(profile.items, profile.values)
    return model.score(
        CFRequest(
            history=profile.history,
            user=profile.user,
            exact=profile.exact,
            interactions=snapshot.interactions,
        )
    )


def _content_seeds(profile: Profile, context: Context) -> tuple[Positions, npt.NDArray[np.float32]]:
    """Items whose look-alikes to suggest: the page first, then recent and older purchases."""
    weights: dict[int, float] = {}
    for item in profile.items.tolist():
        weights[item] = 0.25
    for item in profile.recent.tolist():
        weights[item] = 0.5
    for item in context.viewed:
        weights[item] = max(weights.get(item, 0.0), 0.5)
    for item in context.items:
        weights[item] = 1.0
    positions = np.fromiter(weights.keys(), dtype=np.int64, count=len(weights))
    values = np.fromiter(weights.values(), dtype=np.float32, count=len(weights))
    return positions, values


@dataclass(frozen=True)
class _PageRules:
    """The category rules fired by the categories of a seed set, found once per request for
    the page's products: their confidence scores the rules signal (`_rule_scores`), their
    lift says which categories the page is related to (`_related_categories`)."""

    categories: Positions  # the seeds' categories, distinct and ascending
    fired: Positions  # the category rules they fire, ascending


def _fired_categories(snapshot: ModelSnapshot, seeds: Sequence[int]) -> _PageRules:
    """`_PageRules` of the products ``seeds`` (catalogue positions)."""
    found = _seed_categories(snapshot, seeds)
    fired = rules.fired_by_distinct(snapshot.category_rules, snapshot.category_rule_index, found)
    return _PageRules(found, fired)


def _seed_categories(snapshot: ModelSnapshot, seeds: Sequence[int]) -> Positions:
    """The categories of the products ``seeds``, distinct and ascending."""
    category_of = snapshot.tables.category
    return np.array(sorted({category_of[seed] for seed in seeds}), dtype=np.int64)


def _page_rules(snapshot: ModelSnapshot, context: Context) -> _PageRules | None:
    """`_PageRules` of the page's products (None: no product on the page)."""
    items = context.items
    if not items:
        return None
    return _fired_categories(snapshot, items)


def _rule_scores(
    snapshot: ModelSnapshot, profile: Profile, context: Context, page: _PageRules | None = None
) -> tuple[Scores, _ReplayedRuleEvidence]:
    """Rules fired by the cart/current product (full strength) and by past purchases: per
    item the best of each seed set's product rule and category rule (× the category's share
    of its best seller), history discounted. Which rule won is replayed for the shown items
    only (`_ReplayedRuleEvidence`). ``page``: the page's categories and their fired rules,
    when the caller has them (`_page_rules`; with purchases too, both seed sets' rules are
    fired together and only its categories are read)."""
    page_items = context.items
    n_items = snapshot.n_items
    # the page's distinct known positions, as `rules.score_rules` would make them
    ctx = np.array(sorted({p for p in page_items if 0 <= p < n_items}), dtype=np.int64)
    past = profile.items
    past_items = past.tolist()
    score: Scores | None = None  # the first seed set's product scores start it (max(0, s) = s)
    category_of = snapshot.catalogue.category
    sources: list[_RuleSource] = []
    for product, cat, discount in _seed_rules(snapshot, past, past_items, ctx, page_items, page):
        item_scores = cat.scores[category_of] * snapshot.category_share * CATEGORY_RULE_DISCOUNT
        # × 1 is exact: skipped for the page's own seeds (copied: the evidence keeps them)
        discounted = product.scores * discount if discount != 1.0 else product.scores
        if discount != 1.0:
            item_scores *= discount
        if score is None:
            score = discounted if discount != 1.0 else discounted.copy()
        else:
            np.maximum(score, discounted, out=score)
        np.maximum(score, item_scores, out=score)
        sources.append(_RuleSource(product, cat, discount))
    if score is None:
        score = np.zeros(n_items, dtype=np.float32)
    purchased = tuple(p for p in past_items if p not in page_items)
    evidence = _ReplayedRuleEvidence(
        tuple(sources),
        category_of,
        snapshot.category_share,
        page_items,
        purchased,
        _categories_of(snapshot, page_items + purchased),
    )
    return score, evidence


def _seed_rules(
    snapshot: ModelSnapshot,
    past: Positions,
    past_items: list[int],
    ctx: Positions,
    page_items: tuple[int, ...],
    page: _PageRules | None,
) -> list[tuple[rules.RuleScores, rules.RuleScores, np.float32]]:
    """Per seed set with products, the purchases (``past``, as ``past_items``) then the
    page's (``ctx``, its distinct known ``page_items``), its product and category rule scores
    by confidence and its discount. Both sets scored in one pass per rule set
    (`rules.score_two_distinct`) when both have products (``page``: the page's categories,
    when the caller has them)."""
    product_rules, product_index = snapshot.product_rules, snapshot.product_rule_index
    category_rules, category_index = snapshot.category_rules, snapshot.category_rule_index
    if past_items and page_items:
        page_categories = (
            _seed_categories(snapshot, page_items) if page is None else page.categories
        )
        past_categories = _seed_categories(snapshot, past_items)
        product = rules.score_two_distinct(product_rules, product_index, past, ctx)
        category = rules.score_two_distinct(
            category_rules, category_index, past_categories, page_categories
        )
        return [
            (product[0], category[0], HISTORY_RULE_DISCOUNT),
            (product[1], category[1], np.float32(1.0)),
        ]
    found: list[tuple[rules.RuleScores, rules.RuleScores, np.float32]] = []
    for seeds, seed_list, discount, fired in (
        (past, past_items, HISTORY_RULE_DISCOUNT, None),
        (ctx, page_items, np.float32(1.0), page),
    ):
        if not seed_list:
            continue
        # distinct catalogue positions both: a profile's purchases, the page's made above
        product_scores = rules.score_distinct(product_rules, product_index, seeds)
        seeded = _fired_categories(snapshot, seed_list) if fired is None else fired
        category_scores = rules.best_of_fired(category_rules, seeded.fired, seeded.categories)
        found.append((product_scores, category_scores, discount))
    return found


def _categories_of(snapshot: ModelSnapshot, items: tuple[int, ...]) -> dict[int, int]:
    """Each of ``items``' category (a rule's reason names the seeds of its categories, item
    after item)."""
    category_of = snapshot.tables.category
    return {item: category_of[item] for item in items}


def _popularity_category(snapshot: ModelSnapshot, context: Context) -> int | None:
    if context.category is not None:
        return context.category
    if context.current is not None and context.page_type in (PageType.PRODUCT, PageType.CATEGORY):
        return int(snapshot.catalogue.category[context.current])
    return None


def compute_signals(
    snapshot: ModelSnapshot,
    profile: Profile,
    context: Context,
    weights: Weights,
    cf_models: Sequence[tuple[str, float]],
    page_rules: _PageRules | None = None,
) -> _Signals:
    """Raw scores of every signal with a positive weight (popularity always, as the filler).
    ``page_rules``: the page's fired category rules, when the caller has them."""
    signals = _Signals()
    if weights.cf > 0:
        signals.raw[SignalName.CF] = cf_scores(snapshot, profile, cf_models)
    if weights.content > 0:
        seeds, seed_weights = _content_seeds(profile, context)
        signals.content_seeds = (seeds, seed_weights)
        signals.raw[SignalName.CONTENT] = (
            content_signal.score_seeds(snapshot.content, seeds, seed_weights)
            if seeds.size
            else np.zeros(snapshot.n_items, dtype=np.float32)
        )
    if weights.rules > 0:
        score, evidence = _rule_scores(snapshot, profile, context, page_rules)
        signals.raw[SignalName.RULES] = score
        signals.rule_evidence = evidence
    category = _popularity_category(snapshot, context)
    signals.trending = category is None and profile.items.size == 0
    signals.raw[SignalName.POPULARITY] = score_popularity(
        snapshot.popularity, category=category, trending=signals.trending
    )
    return signals


# ---------------------------------------------------------------------------- strategy


def choose_weights(
    snapshot: ModelSnapshot, request: Request, profile: Profile
) -> tuple[Strategy, Weights, str]:
    """The strategy actually used, its weights, and why — in words a merchandiser reads."""
    context = request.context
    if request.strategy is not Strategy.HYBRID:
        strategy = request.strategy
        if strategy is Strategy.COLLABORATIVE and profile.items.size == 0:
            return (
                Strategy.POPULAR,
                STRATEGY_WEIGHTS[Strategy.POPULAR],
                (f"collaborative filtering needs purchase history: {_where(snapshot, context)}"),
            )
        weights = request.weights or STRATEGY_WEIGHTS[strategy]
        return strategy, weights, f"{strategy.value.lower()} strategy requested"
    on_page = bool(context.items) and request.weights is None
    blend_weights = snapshot.blend.context_weights if on_page else snapshot.blend.weights
    weights = request.weights or blend_weights[profile.segment]
    shifted = shift_for_page(weights, context.page_type)
    if profile.segment is Segment.NEW:
        if not context.items and not context.viewed:
            return (
                Strategy.POPULAR,
                STRATEGY_WEIGHTS[Strategy.POPULAR],
                (f"no purchase history: {_where(snapshot, context)}"),
            )
        where = _where(snapshot, context)
        return (
            Strategy.HYBRID,
            shifted,
            (f"no purchase history: content and bought-together rules from the page, then {where}"),
        )
    orders = _count(profile.n_orders, "order")
    products = _count(int(profile.items.size), "product")
    definition = _segment_definition(snapshot.blend.thresholds, profile.segment)
    return (
        Strategy.HYBRID,
        shifted,
        f"{profile.segment.value} history ({orders}, {products}; "
        f"{profile.segment.value} means {definition})"
        f"{' and the products on the page' if on_page else ''}: {describe(shifted)}",
    )


def _where(snapshot: ModelSnapshot, context: Context) -> str:
    """Where popularity comes from for the page, in words (only a popular list says it)."""
    category = _popularity_category(snapshot, context)
    if category is None:
        return "trending now"
    return f"popular in {snapshot.catalogue.category_names[category]}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def segment_definitions(thresholds: SegmentThresholds) -> dict[Segment, str]:
    """Each segment in words, from the thresholds the build serves: the one definition the
    explanations, `modelInfo.segments` and the playground all show."""
    return {segment: _segment_definition(thresholds, segment) for segment in Segment}


def _segment_definition(thresholds: SegmentThresholds, segment: Segment) -> str:
    """One segment of `segment_definitions` (an explanation words its customer's only)."""
    light, regular, items = (
        thresholds.light_min_orders,
        thresholds.regular_min_orders,
        thresholds.regular_min_items,
    )
    fewer_items = "" if items is None else f" and fewer than {items} products"
    if segment is Segment.NEW:
        return "no orders" if light == 1 else f"fewer than {light} orders{fewer_items}"
    if segment is Segment.LIGHT:
        if regular <= light:
            return "never (no range)"
        if regular - 1 > light:
            return f"{light}–{regular - 1} orders{fewer_items}"
        return _count(light, "order") + fewer_items
    return f"{regular}+ orders" + ("" if items is None else f" or {items}+ products")


SIGNAL_WORDS = {
    SignalName.CF: "collaborative filtering",
    SignalName.CONTENT: "content",
    SignalName.RULES: "bought-together rules",
    SignalName.POPULARITY: "popularity",
}


def describe(weights: Weights) -> str:
    """Weights in words, largest first: "collaborative filtering 50%, content 30%, …"."""
    total = weights.total() or 1.0
    values = (weights.cf, weights.content, weights.rules, weights.popularity)  # `SignalName`'s
    # (-share, index) ascending: largest share first, ties in `SignalName` order (as a stable
    # sort by share), in one list sort with no key function (every request words its weights)
    parts = [(-(value / total), index) for index, value in enumerate(values) if value > 0]
    parts.sort()
    return ", ".join([f"{_SIGNAL_WORDS[index]} {-share:.0%}" for share, index in parts])


_SIGNALS = (SignalName.CF, SignalName.CONTENT, SignalName.RULES, SignalName.POPULARITY)
_SIGNAL_WORDS = tuple(SIGNAL_WORDS[signal] for signal in _SIGNALS)


def _owned_items(profile: Profile, context: Context) -> Positions:
    """What the customer owns, or is about to: purchases, plus the cart on cart and checkout
    pages (a laptop in the cart makes other laptops substitutes, not suggestions); a product
    may come twice (its category is what counts)."""
    if _cart_is_owned(context):
        return np.concatenate([profile.items, np.asarray(context.cart, dtype=np.int64)])
    return profile.items


def _cart_is_owned(context: Context) -> bool:
    """Whether the cart counts as owned (`_owned_items`): on cart and checkout pages."""
    return bool(context.cart) and context.page_type in (PageType.CART, PageType.CHECKOUT)


def owned_damping(
    snapshot: ModelSnapshot,
    profile: Profile,
    context: Context,
    back: npt.NDArray[np.bool_] | None = None,
) -> Scores:
    """The factor `recommend` scales blended scores by: owned categories (history, and the cart
    on cart pages) damped by their learned another-product rate, every other item 1 (as are
    owned products that come back to be bought again: `buy_again` ranks those). ``back``:
    `comes_back` of the profile, when the caller has it. (`owned_category_damping` of
    `_owned_items`, with the owned categories found in Python: the few owned products'
    categories looked up once each, no arrays joined.)"""
    owned = profile.items.tolist()
    if _cart_is_owned(context):
        owned += context.cart
    if not owned:
        return np.ones(snapshot.n_items, dtype=np.float32)
    category_of = snapshot.tables.category
    categories = list({category_of[item] for item in owned})
    factor = _category_factor(snapshot, categories)[snapshot.catalogue.category]
    if profile.items.size:
        factor[profile.items[comes_back(snapshot, profile) if back is None else back]] = 1.0
    return factor


def owned_category_damping(snapshot: ModelSnapshot, owned_items: Positions) -> Scores:
    """Per item, how likely a customer who already owns its category buys another product of it.

    Learned by the repeat model per category: customers rarely buy a second laptop, on a film
    store another film of the genre is the rule, so an owned category is scaled by the share of
    its customers who later bought another of its products (× `OWNED_RATE_SCALE`, never below
    `MIN_OWNED_FACTOR`); a category re-consumed by half its customers or more is not damped,
    other categories keep their score.
    """
    return _owned_category_factor(snapshot, owned_items)[snapshot.catalogue.category]


def _owned_category_factor(snapshot: ModelSnapshot, owned_items: Positions) -> Scores:
    """`owned_category_damping` per category (1 for categories not owned)."""
    return _category_factor(snapshot, snapshot.catalogue.category[owned_items])


def _category_factor(
    snapshot: ModelSnapshot, owned_categories: npt.NDArray[np.integer[Any]] | list[int]
) -> Scores:
    """Per category, its learned damping when owned (``owned_categories``: repeats set the
    same value), 1 otherwise."""
    factor = np.ones(snapshot.catalogue.n_categories, dtype=np.float32)
    factor[owned_categories] = snapshot.repeat.owned_factor[owned_categories]
    return factor


def comes_back(snapshot: ModelSnapshot, profile: Profile) -> npt.NDArray[np.bool_]:
    """Per purchased product (`profile.items`), whether it stays a candidate: customers re-buy
    the same products of its category (`is_repeatable`) and this customer's chance of buying it
    again (`repeat_chance`: the product's propensity × the customer's factor) is at least
    `MIN_RATE`. A re-consumed category alone never brings an owned product back."""
    if profile.items.size == 0:
        return np.zeros(0, dtype=np.bool_)
    same_products = snapshot.tables.repeatable[profile.items]  # `is_repeatable`, per item
    return same_products & likely_again(snapshot.repeat, profile.user, profile.items)


def buy_again(snapshot: ModelSnapshot, profile: Profile) -> Scores:
    """Per item, how likely the customer buys it again: for owned products that come back,
    1 − (1 − chance)^n over the n dates they bought it (each purchase another chance to be a
    habit), × 0.5 + its popularity relative to the best seller; 0 elsewhere.

    The popularity factor (0.5–1.5) is there because a propensity rests on the few buyers who
    ordered again, and how many customers buy a product says more about whether it is a staple
    (on Online Retail's held-out invoices it lifted nDCG@10 of the served list from 0.095 to
    0.129; personal top-frequency scores 0.137 ± 0.031)."""
    scores = np.zeros(snapshot.n_items, dtype=np.float32)
    back, values = _buy_again_values(snapshot, profile, float(snapshot.popularity.overall.max()))
    scores[back] = values
    return scores


def _buy_again_values(
    snapshot: ModelSnapshot, profile: Profile, best_seller: float, back: Positions | None = None
) -> tuple[Positions, Scores]:
    """`buy_again` on its support: the products that come back (ascending) and their scores
    (``best_seller``: the store's largest buyer count; ``back``: `comes_back` already
    applied to the profile's items, when the caller has it)."""
    if back is None:
        back = profile.items[comes_back(snapshot, profile)]
    if back.size == 0:
        return back, np.zeros(0, dtype=np.float32)
    chance = repeat_chance(snapshot.repeat, profile.user, back).astype(np.float64)
    counts = profile.counts
    times = (
        np.ones(back.size)
        if counts is None
        else np.maximum(counts[np.searchsorted(profile.items, back)], 1.0)
    )
    overall = snapshot.popularity.overall[back].astype(np.float64)
    reach = 0.5 + overall / max(best_seller, 1e-12)
    return back, ((1.0 - (1.0 - chance) ** times) * reach).astype(np.float32)


def as_of(snapshot: ModelSnapshot, before: int | None = None) -> int:
    """The moment due dates are measured at: ``before`` when given, else the latest order the
    build holds (epoch seconds)."""
    if before is not None:
        return int(before)
    dates = snapshot.histories.order_date
    return int(dates.max()) if dates.size else 0


def due_items(
    snapshot: ModelSnapshot,
    profile: Profile,
    before: int | None = None,
    live_purchases: Sequence[int] = (),
    back: Positions | None = None,
) -> list[due_dates.DueItem]:
    """The due dates of the customer's products that come back (`comes_back`, or ``back``
    when the caller has it; never a durable), as of `as_of`; live purchases count as bought
    at that moment."""
    if profile.user is None and not live_purchases:
        return []
    if back is None:
        back = profile.items[comes_back(snapshot, profile)]
    if back.size == 0:
        return []
    moment = as_of(snapshot, before)
    orders = (
        () if profile.user is None else snapshot.histories.completed_orders(profile.user, before)
    )
    items, dates = purchase_pairs(snapshot, orders)
    if live_purchases:
        live = distinct(np.asarray(live_purchases, dtype=np.int64))
        items = np.concatenate([items, live])
        dates = np.concatenate([dates, np.full(live.size, moment, dtype=np.int64)])
    return due_dates.due_items(
        snapshot.repeat, snapshot.catalogue.category, profile.user, back, items, dates, moment
    )


def due_scores(n_items: int, due: Sequence[due_dates.DueItem]) -> Scores:
    """Per item, its chance of being bought again soon (`DueItem.chance_soon`), 0 elsewhere."""
    scores = np.zeros(n_items, dtype=np.float32)
    for item in due:
        scores[item.position] = item.chance_soon
    return scores


def mix_due(
    total: npt.NDArray[np.float32], due: npt.NDArray[np.float32], par: float = DUE_PAR
) -> npt.NDArray[np.float32]:
    """Scores (one row, or one per customer) with the products that are due (``due``: their
    chance of being re-bought soon) lifted to that chance ÷ ``par`` × the best new product's
    score: at ``par`` a product ranks with the best new one, at half of it with a new one
    of half its score. Never lowers a score. The served ``par`` is the store's
    (`BlendConfig.due_par`, chosen on validation)."""
    back = due > 0
    if not back.any():
        return total
    best_new = np.where(back, 0.0, total).max(axis=-1, keepdims=True)
    lifted = due / np.float32(par) * best_new
    return np.where(back, np.maximum(total, lifted), total).astype(np.float32)


def mix_buy_again(
    total: npt.NDArray[np.float32], again: npt.NDArray[np.float32], share: float
) -> npt.NDArray[np.float32]:
    """Blended scores (one row, or one per customer) with the buy-again scores mixed in.

    The next purchases of a returning customer are re-buys with the store's share s, new
    products otherwise: as a mixture, an owned product gets s × its share of the buy-again
    scores, a new one (1 − s) × its share of the new products' mass. In the blend's units (new
    products keep their score) an owned product scores s / (1 − s) × (its share of the
    buy-again scores) × the total of the best `NEW_SLOTS` new products. Counting only those
    (not the whole catalogue's long tail) is conservative toward new products: on the demo
    store the whole catalogue's total put re-buys above new products that customers bought
    (new-product nDCG@10 on the test split 0.190 → 0.160), the best ten keep it at 0.190.
    """
    share = min(share, MAX_REPEAT_SHARE)
    back = again > 0
    if share <= 0 or not back.any():
        return total
    new = np.where(back, 0.0, total)
    slots = min(NEW_SLOTS, new.shape[-1])
    best_new = -np.partition(-new, slots - 1, axis=-1)[..., :slots]
    new_total = best_new.sum(axis=-1, keepdims=True)
    again_total = np.maximum(again.sum(axis=-1, keepdims=True), 1e-30)
    mixed = np.float32(share / (1.0 - share)) * new_total * again / again_total
    return np.where(back, mixed, total).astype(np.float32)


# ---------------------------------------------------------------------------- filters


_FILTER_ORDER = list(FilterRule)
_FILTER_INDEX = {rule: index for index, rule in enumerate(_FILTER_ORDER)}


def filter_mask(
    snapshot: ModelSnapshot,
    request: Request,
    profile: Profile,
    back: npt.NDArray[np.bool_] | None = None,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int8]]:
    """Allowed items, and per item the first rule that removed it as an index into
    `FilterRule` (-1 when allowed): `_removal_rules` on the catalogue. ``back``:
    `comes_back` of the profile, when the caller has it."""
    if back is None:
        back = comes_back(snapshot, profile)
    rule_of = _removal_rules(snapshot, request, profile, profile.items[back])
    return rule_of < 0, rule_of


# ---------------------------------------------------------------------------- ranking


# Slotted, not frozen: made on every request, and a frozen dataclass's __init__ sets each
# field through object.__setattr__ (about 5x the cost); private, nothing assigns to it.
@dataclass(slots=True)
class _Selection:
    chosen: list[int]
    capped: list[int]  # held back by the per-category cap
    applied: list[str]  # business rules applied, in words
    promoted: set[int]  # promoted products placed in their slots
    has_more: bool  # allowed items left after the page


def _select(
    snapshot: ModelSnapshot,
    scored: _Scored,
    limit: int,
    rules_cfg: BusinessRules,
    rank_offset: int = 0,
) -> _Selection:
    """Top items of the ranking under the per-category cap, with the best relevant promoted
    products in the reserved slots (absolute ranks, so a next page keeps them); a slot with
    no relevant promoted product goes back to the ranking. A promoted product that scores its
    way above its slot keeps its own rank (the slot guarantees a rank, it never demotes)."""
    ranked, total = scored.ranked, scored.total
    slots = sorted(
        {p - rank_offset for p in rules_cfg.promoted_positions if 0 < p - rank_offset <= limit}
    )
    promoted = scored.promoted[: len(slots)]
    cap = rules_cfg.max_per_category
    chosen: list[int] = []
    capped: list[int] = []
    per_category: dict[int, int] = {}
    category_of = snapshot.tables.category
    wanted = limit - len(promoted)
    examined = promoted_seen = 0
    for item in _in_chunks(ranked, 4 * limit):
        if len(chosen) >= wanted:
            break
        examined += 1
        if item in promoted:
            promoted_seen += 1
            continue
        category = category_of[item]
        shown = per_category.get(category, 0)
        if cap is not None and shown >= cap:
            capped.append(item)
            continue
        per_category[category] = shown + 1
        chosen.append(item)
    applied: list[str] = []
    if capped:
        applied.append(f"at most {cap} products per category ({len(capped)} held back)")
    score_of = dict(zip(chosen + promoted, total[chosen + promoted].tolist(), strict=True))
    for slot, item in zip(slots, promoted, strict=False):
        score = score_of[item]
        by_score = 1 + len([other for other in chosen if score_of[other] >= score])
        position = min(slot, len(chosen) + 1, by_score)
        chosen.insert(position - 1, item)
        name = snapshot.catalogue.name[item]
        if position < slot:
            applied.append(f"promoted {name} ranks {position + rank_offset} by its own score")
        else:
            applied.append(f"promoted slot {position + rank_offset}: {name}")
    for slot in slots[len(promoted) :]:
        applied.append(
            f"promoted slot {slot + rank_offset} returned to the ranking: "
            "no promoted product is relevant to this page"
        )
    # Items held back by the cap are allowed too: a next page (its own cap) can show them.
    remaining = len(ranked) - examined - (len(promoted) - promoted_seen) + len(capped)
    return _Selection(chosen[:limit], capped, applied, set(promoted), remaining > 0)


def _in_chunks(positions: Positions, size: int) -> Iterator[int]:
    """``positions`` as Python ints, converted ``size`` at a time: a selection reads the
    first few of the ranking (even on the demo's 291 products converting them all costs
    more than the few the walk reads)."""
    for start in range(0, len(positions), size):
        yield from positions[start : start + size].tolist()


def _page_categories(snapshot: ModelSnapshot, context: Context) -> npt.NDArray[np.int64]:
    categories = {int(snapshot.catalogue.category[i]) for i in context.items}
    if context.category is not None:
        categories.add(context.category)
    return np.asarray(sorted(categories), dtype=np.int64)


def _related_categories(
    snapshot: ModelSnapshot, context: Context, page_rules: _PageRules | None = None
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """Per category, whether it is the page's or one its category rules lead to, and that
    rule (strongest lift; -1 when none). ``page_rules``: the page's products' fired category
    rules, when the caller has them (the same rules unless the page names another category)."""
    n_categories = snapshot.catalogue.n_categories
    category_rules = snapshot.category_rules
    if page_rules is not None and (
        context.category is None or context.category in page_rules.categories.tolist()
    ):  # the page's categories are its products' (`_page_categories`): their fired rules
        page = page_rules.categories
        best_rule = rules.best_rules_of_fired(category_rules, page_rules.fired, page, "lift")
    else:
        page = _page_categories(snapshot, context)
        if page.size == 0:
            return np.zeros(n_categories, dtype=np.bool_), np.full(n_categories, -1, np.int64)
        index = snapshot.category_rule_index
        best_rule = rules.score_rules(category_rules, index, page, metric="lift").best_rule
    related = best_rule >= 0
    related[page] = True
    return related, best_rule


def _promoted_reason(
    snapshot: ModelSnapshot,
    item: int,
    score: float,
    organic: Reason,
    related_rule: npt.NDArray[np.int64],
    min_score: float,
) -> Reason:
    """Why a promoted product is here: its own evidence when it scores on its own, else the
    category rule (or the shared category) relating it to the page."""
    category = int(snapshot.catalogue.category[item])
    if score >= min_score or related_rule[category] < 0:
        if score < min_score:
            name = snapshot.wording.category_names[category]
            return Reason(ReasonKind.PROMOTED, f"Featured: more {name} for this page")
        return Reason(  # `organic` as PROMOTED, built directly (`replace` costs 5× as much)
            ReasonKind.PROMOTED,
            f"Featured: {organic.text}",
            organic.evidence,
            organic.metric,
            organic.value,
            organic.features,
            organic.categories,
            organic.rule_level,
            organic.rule_id,
        )
    return category_rule_reason(snapshot, int(related_rule[category]), ReasonKind.PROMOTED)


# ---------------------------------------------------------------------------- reasons


RULE_LEVEL_PRODUCT = "PRODUCT"
RULE_LEVEL_CATEGORY = "CATEGORY"
CATEGORY_LIFT = wording.CATEGORY_LIFT


def _shared(label: str) -> str:
    """A shared feature as said of two products: "both RAM 16 GB", "neither has RGB"."""
    if label.startswith("no "):
        return f"neither has {label[3:]}"
    return f"both {label}"


def category_rule_reason(
    snapshot: ModelSnapshot, rule: int, kind: ReasonKind, seeds: tuple[int, ...] = ()
) -> Reason:
    """A category rule worded as one ("Laptop buyers often add Wireless Mice (category lift
    3.1)", worded at load: `ModelSnapshot.wording`): its figure is the category rule's lift,
    never a product pair's."""
    said = snapshot.wording.category_rules[rule]
    return Reason(
        kind,
        f"Featured: {said.text}" if kind is ReasonKind.PROMOTED else said.text,
        seeds,
        CATEGORY_LIFT,
        said.lift,
        categories=said.antecedent,
        rule_level=RULE_LEVEL_CATEGORY,
        rule_id=rule,
    )


def _category_rule_evidence(
    snapshot: ModelSnapshot, rule: int, evidence: _RuleEvidence | _ReplayedRuleEvidence
) -> Reason:
    """A category rule's reason for a rule score: the rule with the products that put its
    categories in play (the page's, else purchases)."""
    cats = snapshot.wording.category_rules[rule].categories
    category_of = evidence.categories
    seeds = tuple(itertools.islice((s for s in evidence.seeds if category_of[s] in cats), 2))
    if not seeds:  # the first two purchases in play, without reading the whole history
        seeds = tuple(itertools.islice((s for s in evidence.past if category_of[s] in cats), 2))
    return category_rule_reason(snapshot, rule, ReasonKind.BOUGHT_TOGETHER, seeds)


class _Evidence(NamedTuple):
    """What the shown items' reasons rest on, gathered for all of them at once: per item
    explained by rules its (from a category rule, category rule, product rule), by CF what
    the model that scored it says its score rests on, by content the page or history product
    it looks like. Request-local: a named tuple."""

    rules: dict[int, tuple[bool, int, int]]
    cf: dict[int, CFEvidence | None]
    content: dict[int, content_signal.ContentMatch | None]


def explain(
    snapshot: ModelSnapshot,
    item: int,
    signal: SignalName | None,
    signals: _Signals,
    evidence: _Evidence,
    category_reasons: dict[int, Reason],
) -> Reason:
    """The reason for one item: its dominant signal's evidence, in words (``evidence``:
    gathered for the shown items by `_gather_evidence`; ``category_reasons``: the response's
    category-rule reasons so far, as shown items share a few rules)."""
    catalogue = snapshot.catalogue
    if signal is SignalName.RULES and signals.rule_evidence is not None:
        from_category, category_rule, product_rule = evidence.rules[item]
        if from_category and category_rule >= 0:
            known = category_reasons.get(category_rule)
            if known is None:
                known = _category_rule_evidence(snapshot, category_rule, signals.rule_evidence)
                category_reasons[category_rule] = known
            return known
        if product_rule >= 0:
            said = snapshot.wording.product_rules[product_rule]
            return Reason(
                ReasonKind.BOUGHT_TOGETHER,
                said.text,
                said.antecedent,
                "lift",
                said.lift,
                rule_level=RULE_LEVEL_PRODUCT,
                rule_id=product_rule,
            )
    if signal is SignalName.CONTENT:
        found = evidence.content.get(item)
        if found is not None:
            seed, similarity, labels = found
            features = tuple(labels)
            suffix = f": {', '.join(_shared(f) for f in features)}" if features else ""
            return Reason(
                ReasonKind.SIMILAR_TO,
                f"Similar to {catalogue.name[seed]}{suffix}",
                (int(seed),),
                "similarity",
                float(similarity),
                features,
            )
    if signal is SignalName.CF:
        source = evidence.cf.get(item)
        if source is not None and source.seed is not None:
            return Reason(
                ReasonKind.CUSTOMERS_LIKE_YOU,
                f"Customers like you bought this (often with {catalogue.name[source.seed]})",
                (source.seed,),
                source.metric,
                source.value,
            )
        if source is not None:
            return Reason(
                ReasonKind.CUSTOMERS_LIKE_YOU,
                f"Customers like you bought this ({source.said})",
                (),
                source.metric,
                source.value,
            )
        return Reason(ReasonKind.CUSTOMERS_LIKE_YOU, "Customers like you bought this")
    category = int(catalogue.category[item])
    buyers = float(snapshot.popularity.overall[item])
    if signals.trending:
        return Reason(
            ReasonKind.TRENDING, snapshot.wording.trending[category], (), "buyers", buyers
        )
    return Reason(ReasonKind.POPULAR, snapshot.wording.popular[category], (), "buyers", buyers)


def page_intents(
    snapshot: ModelSnapshot,
    context: Context,
    damping: Scores | Callable[[Positions], Scores] | None = None,
) -> dict[int, intent.Related]:
    """The related products a page leads with (`intent`): on a product page the current
    product's substitutes, before the customer decides; on a cart or checkout page the cart's
    complements (each item's best rule by lift), what goes with it, highest lift first (as
    `relatedProducts` orders them). As many as the store leads that page with
    (`BlendConfig.page_lead`, at most `PAGE_INTENT_SLOTS`); none on other pages. A
    product of a category the customer owns and rarely buys another of (``damping`` below 1,
    `owned_damping`) does not lead: an owner of a laptop is rarely sold a second one."""
    slots = min(snapshot.blend.page_lead(context.page_type), PAGE_INTENT_SLOTS)
    if context.page_type not in PAGE_MIX_PAGES or slots <= 0:
        return {}
    found: list[intent.Related] = []
    complements: list[tuple[int, float, int, float]] = []
    if context.page_type is PageType.PRODUCT and context.current is not None:
        found = intent.substitutes(
            context.current, snapshot.content.similarity, snapshot.order_baskets
        )
    elif context.page_type in (PageType.CART, PageType.CHECKOUT) and context.cart:
        complements = _cart_complements(snapshot, context.cart)
    positions = [r.position for r in found] + [row[0] for row in complements]
    page = set(context.items)
    kept = [i for i, position in enumerate(positions) if position not in page]
    if damping is not None and kept:
        # per catalogue position, or (the candidate stage) a function giving it at positions
        at = np.array([positions[i] for i in kept], dtype=np.int64)
        values = damping(at) if callable(damping) else damping[at]
        kept = [i for i, value in zip(kept, values.tolist(), strict=True) if value >= 1.0]
    if found:
        return {positions[i]: found[i] for i in kept[:slots]}
    return {
        item: intent.Related(item, intent.Intent.COMPLEMENTARY, rule, lift, confidence)
        for item, lift, rule, confidence in (complements[i] for i in kept[:slots])
    }


def _cart_complements(
    snapshot: ModelSnapshot, cart: Sequence[int]
) -> list[tuple[int, float, int, float]]:
    """The cart's complements (`intent.complements`, read from the snapshot's table) as
    (item, lift, rule, confidence), each item once with its highest-lift rule, highest lift
    first (ties: the lower position)."""
    best: dict[int, tuple[float, int, float]] = {}  # item -> (lift, rule, confidence)
    for seed in cart:
        for rule, item, lift, confidence in snapshot.complements.rows(seed):
            known = best.get(item)
            if known is None or lift > known[0]:
                best[item] = (lift, rule, confidence)
    # by (-lift, item): each item once, so the sort never compares further
    ordered = sorted(
        [(-lift, item, rule, confidence) for item, (lift, rule, confidence) in best.items()]
    )
    return [(item, -negated, rule, confidence) for negated, item, rule, confidence in ordered]


def intent_mask(n_items: int, related: dict[int, intent.Related]) -> npt.NDArray[np.bool_]:
    """The page's related products (`page_intents`) as a mask over the catalogue."""
    mask = np.zeros(n_items, dtype=np.bool_)
    mask[np.fromiter(related, dtype=np.int64, count=len(related))] = True
    return mask


def lead_with(total: Scores, lead: npt.NDArray[np.bool_]) -> Scores:
    """Scores (one row, or one per row of ``lead``) with the ``lead`` products placed above
    every other product, in the blend's order among themselves (filters still apply)."""
    if not lead.any():
        return total
    top = np.maximum.reduce(total, axis=-1, keepdims=True) + np.float32(1.0)
    return np.where(lead, total + top, total).astype(np.float32, copy=False)


def intent_reason(snapshot: ModelSnapshot, related: intent.Related, context: Context) -> Reason:
    """A page's related product worded with its intent's evidence, the figures
    `relatedProducts` gives: a substitute's similarity to the page's product with the features
    they share (as `similarProducts` shows them), a complement's product rule and lift."""
    catalogue = snapshot.catalogue
    if related.intent is intent.Intent.SUBSTITUTE and context.current is not None:
        seed = context.current
        (match,) = content_signal.explain_content_many(
            snapshot.content, np.array([seed], dtype=np.int64), [related.position]
        )
        features = () if match is None else tuple(match[2])
        suffix = f": {', '.join(_shared(f) for f in features)}" if features else ""
        return Reason(
            ReasonKind.SIMILAR_TO,
            f"Similar to {catalogue.name[seed]}{suffix}",
            (int(seed),),
            "similarity",
            float(related.similarity or 0.0),
            features,
        )
    rule = int(related.rule if related.rule is not None else -1)
    said = snapshot.wording.product_rules[rule]
    lift = float(related.lift or 0.0)
    return Reason(
        ReasonKind.BOUGHT_TOGETHER,
        f"Goes with {said.names} (lift {lift:.1f})",
        said.antecedent,
        "lift",
        lift,
        rule_level=RULE_LEVEL_PRODUCT,
        rule_id=rule,
    )


def buy_again_reason(
    snapshot: ModelSnapshot, item: int, due: due_dates.DueItem | None, before: int | None
) -> Reason:
    """Why an owned product is back: when the customer bought it and how long the category
    usually lasts (its learned 25–75 % interval quantiles), e.g. "You bought Sony Ear Pads 5
    months ago; they are usually replaced after 3–6 months". The figure is the days since
    that purchase."""
    name = snapshot.catalogue.name[item]
    if due is None:
        return Reason(ReasonKind.BUY_AGAIN, f"You bought {name} before; buy it again", (item,))
    elapsed = (as_of(snapshot, before) - due.last_bought) / due_dates.DAY_SECONDS
    low, high = due_dates.usual_interval(snapshot.repeat, int(snapshot.catalogue.category[item]))
    when = "today" if elapsed < 1 else f"{due_dates.span_words(elapsed)} ago"
    return Reason(
        ReasonKind.BUY_AGAIN,
        f"You bought {name} {when}; they are usually replaced after "
        f"{due_dates.interval_words(low, high)}",
        (item,),
        "days since bought",
        round(elapsed, 1),
    )


def _gather_evidence(
    snapshot: ModelSnapshot,
    profile: Profile,
    signals: _Signals,
    explained: list[int],
    dominant: Sequence[SignalName | None],
    cf_models: Sequence[tuple[str, float]],
) -> _Evidence:
    """The rule, CF and content evidence of the shown items (``explained``; -1 for an item
    whose reason is not its signals'), each found for all of them in one pass (the fired
    rules replayed, the history's or the seeds' neighbour rows read once) rather than once
    per item. A CF score's evidence comes from the model that scored it (of a mix, the
    largest-weighted one)."""
    by_rules: list[int] = []
    by_cf: list[int] = []
    by_content: list[int] = []
    for position, signal in zip(explained, dominant, strict=True):
        if position < 0:
            continue
        if signal is SignalName.RULES:
            by_rules.append(position)
        elif signal is SignalName.CF:
            by_cf.append(position)
        elif signal is SignalName.CONTENT:
            by_content.append(position)
    rule_sources: dict[int, tuple[bool, int, int]] = {}
    if by_rules and signals.rule_evidence is not None:
        rule_sources = dict(zip(by_rules, signals.rule_evidence.best_of(by_rules), strict=True))
    cf_sources: dict[int, CFEvidence | None] = {}
    if by_cf and cf_models and profile.items.size:
        _, model = snapshot.served_cf_model(max(cf_models, key=lambda m: m[1])[0])
        cf_profile = CFProfile(
            profile.items, profile.values, profile.user, profile.exact, snapshot.interactions
        )
        sources = model.evidence(cf_profile, np.asarray(by_cf, dtype=np.int64))
        cf_sources = dict(zip(by_cf, sources, strict=True))
    content_sources: dict[int, content_signal.ContentMatch | None] = {}
    if by_content and signals.content_seeds is not None:
        seeds, _ = signals.content_seeds  # unweighted: the closest look-alike names the reason
        matches = content_signal.explain_content_many(snapshot.content, seeds, by_content)
        content_sources = dict(zip(by_content, matches, strict=True))
    return _Evidence(rule_sources, cf_sources, content_sources)


def final_scores(
    snapshot: ModelSnapshot,
    blended: Scores,
    popularity: Scores,
    damping: Scores | None,
    margin_weight: float = 0.0,
    again: Scores | None = None,
    repeat_share: float = 0.0,
    due: Scores | None = None,
    lead: npt.NDArray[np.bool_] | None = None,
    positions: Positions | None = None,
) -> Scores:
    """The ranking score from the blended signals: plus ``margin_weight`` × normalised margin,
    plus popularity as the tie-breaking filler, times the owned-category ``damping`` (None:
    none), with the customer's products that come back (``again``, `buy_again`) mixed in by
    the store's ``repeat_share`` (`mix_buy_again`) and those that are ``due`` lifted by how
    ready they are (`mix_due`), and the page's ``lead`` products first (`lead_with`). One
    function for `recommend` and the build's tuner, which passes one row per customer (2-D
    arrays broadcast), so the tuner ranks exactly as the server does. ``positions``: the
    arrays hold these items only (the candidate stage), not the whole catalogue."""
    total = blended
    if margin_weight > 0:
        price, cost = snapshot.catalogue.price, snapshot.catalogue.cost
        if positions is not None:
            price, cost = price[positions], cost[positions]
        margin = np.where(price > 0, (price - cost) / np.where(price > 0, price, 1), 0)
        total = total + np.float32(margin_weight) * normalise(margin)
    total = total + FILLER_WEIGHT * popularity
    if damping is not None:
        total = total * damping
    if total.dtype != np.float32:  # (`np.asarray` with a dtype costs more than the check)
        total = total.astype(np.float32)
    if again is not None:
        total = mix_buy_again(total, again, repeat_share)
    if due is not None:
        total = mix_due(total, due, snapshot.blend.due_par)
    if lead is not None:
        total = lead_with(total, lead)
    return total


# ---------------------------------------------------------------------------- entry point


def recommend(
    snapshot: ModelSnapshot,
    request: Request,
    business: BusinessRules | None = None,
) -> Recommendation:
    """Rank the catalogue for one request. Pure: same snapshot and request, same answer."""
    business = business or BusinessRules()
    profile = build_profile(snapshot, request.user, request.before, request.live_purchases)
    strategy, weights, why = choose_weights(snapshot, request, profile)
    if request.unknown_customer:
        why = f"a customer the current build has not seen yet (new since it was made), {why}"
    cf_models = request.cf_models or snapshot.blend.cf_models
    scored = None
    if snapshot.ranking is stage.Ranking.TWO_STAGE:
        scored = _score_candidates(snapshot, request, profile, weights, cf_models, business)
    if scored is None:
        scored = _score_all(snapshot, request, profile, weights, cf_models, business)
    selection = _select(snapshot, scored, request.limit, business, request.rank_offset)
    if scored.positions is not None and (
        not selection.has_more or len(selection.chosen) < request.limit
    ):
        # The candidates ran out (a deep page, a narrow filter): the catalogue decides.
        scored = _score_all(snapshot, request, profile, weights, cf_models, business)
        selection = _select(snapshot, scored, request.limit, business, request.rank_offset)
    items = _items(snapshot, request, business, scored, selection, weights, profile, cf_models)
    trace = None
    if request.explain:
        cap = business.max_per_category
        normalised = {s: scored.dense(v) for s, v in scored.normalised.items()}
        removed_by = scored.dense(scored.removed_by, fill=-1)
        trace = _trace(
            snapshot, request, profile, normalised, scored.total, removed_by, selection, cap
        )
    return Recommendation(
        items=items,
        strategy=strategy,
        explanation=why,
        segment=profile.segment,
        weights=weights,
        profile=profile,
        trace=trace,
        has_more=selection.has_more,
        ranking=stage.Ranking.FULL if scored.positions is None else stage.Ranking.TWO_STAGE,
        scored=snapshot.n_items if scored.positions is None else len(scored.positions),
    )


def _items(
    snapshot: ModelSnapshot,
    request: Request,
    business: BusinessRules,
    scored: _Scored,
    selection: _Selection,
    weights: Weights,
    profile: Profile,
    cf_models: Sequence[tuple[str, float]],
) -> tuple[Item, ...]:
    """The selected items with their scores, contributions and reasons: the contributions
    and dominant signals of all of them in one array step, their evidence gathered at once
    (`_gather_evidence`), the snapshot's texts worded at load (`ModelSnapshot.wording`)."""
    chosen = selection.chosen
    parts, dominant = contributions(scored.normalised, weights, scored.local(chosen), Contribution)
    # Only the items the signals explain need their CF or content evidence: not one back to
    # be bought again (`buy_again_reason`) or one of the page's related products
    # (`intent_reason`), whose reasons come first (-1 in `explained`).
    again, dues, related = scored.again, scored.dues, scored.page_related
    explained = [-1 if p in again or p in dues or p in related else p for p in chosen]
    signals = scored.signals
    evidence = _gather_evidence(snapshot, profile, signals, explained, dominant, cf_models)
    category_reasons: dict[int, Reason] = {}
    shown_scores = scored.total[chosen].tolist()
    # per rank, the best score shown below it (a later item placed above a higher score)
    below = [*reversed(list(itertools.accumulate(reversed(shown_scores[1:]), max))), -np.inf]
    promoted, before, context = selection.promoted, request.before, request.context
    items: list[Item] = []
    for rank, position, score, own, signal, part, best_below in zip(
        itertools.count(request.rank_offset + 1),
        chosen,
        shown_scores,
        explained,
        dominant,
        parts,
        below,
    ):
        if own >= 0:
            reason = explain(snapshot, position, signal, signals, evidence, category_reasons)
        elif position in again or position in dues:
            reason = buy_again_reason(snapshot, position, dues.get(position), before)
        else:
            reason = intent_reason(snapshot, related[position], context)
        if position in promoted:
            reason = _promoted_reason(
                snapshot, position, score, reason, scored.related_rule, business.promoted_min_score
            )
        items.append(Item(position, score, rank, reason, part, best_below > score))
    return tuple(items)


# Slotted, not frozen: as `_Selection`.
@dataclass(slots=True)
class _Scored:
    """A request's scores before selection: by full scoring (every item), or on the
    candidates (``positions``, ascending) of the two-stage path. ``total`` is always per
    catalogue position (`_select` reads it so); the rest are on ``positions`` when given."""

    signals: _Signals
    normalised: dict[SignalName, Scores]
    used: dict[SignalName, Scores]
    total: Scores
    # the promoted products relevant to the page and allowed, in ranking order (positions)
    promoted: list[int]
    related_rule: npt.NDArray[np.int64]
    removed_by: npt.NDArray[np.int8]
    ranked: Positions
    n_items: int
    positions: Positions | None = None
    # What the reasons need beyond the signals: the products mixed back in by buy-again and
    # those that are due (`BUY_AGAIN`), and the page's related products (`page_intents`).
    again: frozenset[int] = frozenset()
    dues: dict[int, due_dates.DueItem] = field(default_factory=dict)
    page_related: dict[int, intent.Related] = field(default_factory=dict)

    def local(self, items: list[int]) -> list[int]:
        """Where ``items`` are in the per-candidate arrays."""
        if self.positions is None:
            return items
        return self.positions.searchsorted(items).tolist()  # type: ignore[no-any-return]

    def dense(self, values: npt.NDArray[Any], fill: int = 0) -> npt.NDArray[Any]:
        """Per-candidate ``values`` spread over the catalogue (``fill`` elsewhere)."""
        if self.positions is None:
            return values
        spread = np.full(self.n_items, fill, dtype=values.dtype)
        spread[self.positions] = values
        return spread


def _score_all(
    snapshot: ModelSnapshot,
    request: Request,
    profile: Profile,
    weights: Weights,
    cf_models: Sequence[tuple[str, float]],
    business: BusinessRules,
) -> _Scored:
    """Full scoring: every signal, filter and business rule on the whole catalogue."""
    page_rules = _page_rules(snapshot, request.context)
    signals = compute_signals(snapshot, profile, request.context, weights, cf_models, page_rules)
    damping, again, due = None, None, None
    dues: dict[int, due_dates.DueItem] = {}
    back = comes_back(snapshot, profile)  # once: damping and the filters both need it
    if request.strategy is not Strategy.POPULAR:
        damping = owned_damping(snapshot, profile, request.context, back)
        if request.context.page_type in BUY_AGAIN_PAGES:
            again = buy_again(snapshot, profile)
            found = due_items(snapshot, profile, request.before, request.live_purchases)
            dues = {d.position: d for d in found}
            due = due_scores(snapshot.n_items, found)
    hybrid = request.strategy is Strategy.HYBRID
    page_related = page_intents(snapshot, request.context, damping) if hybrid else {}
    related, related_rule = _related_categories(snapshot, request.context, page_rules)
    return _rank(
        snapshot,
        request,
        profile,
        weights,
        business,
        signals,
        _Adjustments(
            damping,
            again,
            due,
            intent_mask(snapshot.n_items, page_related) if page_related else None,
            profile.items[back],
            related,
            related_rule,
            dues,
            page_related,
        ),
    )


# Slotted, not frozen: as `_Selection`.
@dataclass(slots=True)
class _Adjustments:
    """What `_rank` applies to the blended signals, per scored position: the owned-category
    ``damping``, the buy-again and due scores, the page's ``lead`` products (each None when
    off), the purchased products that come back (``back``, ascending), per category whether
    it is related to the page and by which rule, and what the reasons need (the due items,
    the page's related products)."""

    damping: Scores | None
    again: Scores | None
    due: Scores | None
    lead: npt.NDArray[np.bool_] | None
    back: Positions
    related: npt.NDArray[np.bool_]
    related_rule: npt.NDArray[np.int64]
    dues: dict[int, due_dates.DueItem]
    page_related: dict[int, intent.Related]


def _rank(
    snapshot: ModelSnapshot,
    request: Request,
    profile: Profile,
    weights: Weights,
    business: BusinessRules,
    signals: _Signals,
    adjust: _Adjustments,
    positions: Positions | None = None,
) -> _Scored:
    """The one ranking tail of both paths: the signals normalised and blended, the final
    score (`final_scores`), the filters with the request's exclusions, which promoted
    products are relevant to the page, and the ranking (descending score, ties by
    position). Every array is per scored position: the whole catalogue when ``positions``
    is None, else those candidates (ascending)."""
    size = snapshot.n_items if positions is None else len(positions)
    normalised = {signal: normalise(raw) for signal, raw in signals.raw.items()}
    used = {s: v for s, v in normalised.items() if weights.get(s) > 0}
    blended = blend(used, weights) if used else np.zeros(size, dtype=np.float32)
    total = final_scores(
        snapshot,
        blended,
        normalised[SignalName.POPULARITY],
        adjust.damping,
        business.margin_weight,
        adjust.again,
        snapshot.repeat.share,
        adjust.due,
        adjust.lead,
        positions=positions,
    )
    removed_by = _removal_rules(snapshot, request, profile, adjust.back, positions)
    allowed = (removed_by < 0).nonzero()[0]  # np.flatnonzero of a 1-d mask, unwrapped
    # A stable sort keeps equal scores in position order.
    ranked = allowed[(-total[allowed]).argsort(kind="stable")]
    again = adjust.again
    scored = _Scored(
        signals,
        normalised,
        used,
        total,
        _relevant_promoted(snapshot, business, adjust.related, total, removed_by, positions),
        adjust.related_rule,
        removed_by,
        ranked if positions is None else positions[ranked],
        snapshot.n_items,
        positions,
        again=frozenset() if again is None else frozenset(_at(positions, again > 0).tolist()),
        dues=adjust.dues,
        page_related=adjust.page_related,
    )
    if positions is None:
        return scored
    return replace(scored, total=scored.dense(total))


def _relevant_promoted(
    snapshot: ModelSnapshot,
    business: BusinessRules,
    related: npt.NDArray[np.bool_],
    total: Scores,
    removed_by: npt.NDArray[np.int8],
    positions: Positions | None,
) -> list[int]:
    """The allowed promoted products relevant to the page (a score of at least
    `BusinessRules.promoted_min_score`, or a category ``related`` to the page), as catalogue
    positions in ranking order (descending score, ties by position). Per scored position, as
    `_rank`'s arrays; worked out in Python on the store's few promoted products, not with
    masks over the whole catalogue."""
    if positions is None:  # every product scored: the promoted ones, found at load
        local = snapshot.tables.promoted
    else:
        local = snapshot.catalogue.promoted[positions].nonzero()[0]
    if not local.size:
        return []
    items = local.tolist() if positions is None else positions[local].tolist()
    category = snapshot.tables.category
    minimum = float(np.float32(business.promoted_min_score))  # compared as float32, exactly
    found = [
        (-score, item)
        for item, score, rule in zip(
            items, total[local].tolist(), removed_by[local].tolist(), strict=True
        )
        if rule < 0 and (score >= minimum or related[category[item]])
    ]
    return [item for _, item in sorted(found)]


def _at(positions: Positions | None, selected: npt.NDArray[np.bool_]) -> Positions:
    """The catalogue positions of the ``selected`` scored positions."""
    local = np.flatnonzero(selected)
    return local if positions is None else positions[local]


# ---------------------------------------------------------------------------- two-stage


def _score_candidates(
    snapshot: ModelSnapshot,
    request: Request,
    profile: Profile,
    weights: Weights,
    cf_models: Sequence[tuple[str, float]],
    business: BusinessRules,
) -> _Scored:
    """Two-stage ranking (`recommenders.candidates`): the candidates from each signal's
    support and the stored lists, then the ranking tail both paths share (`_rank`) on them
    only. Every signal's value at a candidate is its full-scoring value, so is each
    normalisation (each signal's best item is a candidate), and so is a candidate's score."""
    lists = snapshot.lists
    catalogue = snapshot.catalogue
    context = request.context
    signals = _Signals()
    limit = stage.SIGNAL_LIMIT
    parts: list[npt.NDArray[Any]] = []
    cf = content = stage.Sparse.empty()
    cf_mix: _CFMix | None = None
    coming_back = profile.items[comes_back(snapshot, profile)]  # ascending, as profile.items
    dropped = _dropped(request, profile, coming_back)
    if weights.cf > 0:
        cf_mix = _cf_on_candidates(snapshot, profile, cf_models, dropped)
        cf = cf_mix.support
        parts.append(cf_mix.brings)
    if weights.content > 0:
        seeds, seed_weights = _content_seeds(profile, context)
        signals.content_seeds = (seeds, seed_weights)
        if seeds.size:
            valid = seeds >= 0
            content = stage.row_sum(
                snapshot.content.similarity, seeds[valid], seed_weights[valid].astype(np.float64)
            )
            parts.append(content.best_shown(limit, dropped))
    rule_sources: list[tuple[stage.RuleHits, rules.RuleScores, np.float32]] = []
    category_strength = np.zeros(catalogue.n_categories, dtype=np.float32)
    # the page's fired category rules, found once: its rule scores and related categories
    page_rules = _page_rules(snapshot, context)
    if weights.rules > 0:
        ctx = np.asarray(context.items, dtype=np.int64)
        for seeds, discount, fired in (
            (profile.items, HISTORY_RULE_DISCOUNT, None),
            (ctx, np.float32(1.0), page_rules),
        ):
            if seeds.size == 0:
                continue
            hits = stage.rule_hits(
                snapshot.product_rules,
                snapshot.product_rule_index,
                snapshot.product_rules_always,
                seeds,
            )
            seeded = _fired_categories(snapshot, seeds.tolist()) if fired is None else fired
            by_category = rules.best_of_fired(
                snapshot.category_rules, seeded.fired, seeded.categories
            )
            rule_sources.append((hits, by_category, discount))
            if hits.positions.size:
                parts.append(stage.Sparse(hits.positions, hits.values).best_shown(limit, dropped))
            category_strength = np.maximum(category_strength, by_category.scores * discount)
    recommended = np.flatnonzero(category_strength > 0)
    estimate = _Estimate(snapshot, weights, cf, content, category_strength)
    wanted = np.zeros(0, dtype=np.int64)
    if recommended.size:
        # The strongest categories the rules recommend bring their best sellers (within a
        # category a category rule ranks by popularity) ...
        order = np.argsort(-category_strength[recommended], kind="stable")
        wanted = np.sort(recommended[order][: stage.MAX_RULE_CATEGORIES])
        wanted_rows = wanted.tolist()
        # each product is in one category's row: sorted, the rows are distinct
        heads = np.sort(stage.joined(lists.category_heads, wanted_rows))
        parts.append(heads)
        # ... and a product of one that CF or content also scores can beat its best sellers
        # on the sum: the best of the two supports there by an estimate of that sum.
        inside = estimate.inside(wanted, heads)  # its content part serves both choices below
        parts.append(inside.valued(estimate.cf).best_shown(limit, dropped))
        if cf_mix is not None and cf_mix.dense:
            # A dense model scores every product of those categories, and only the
            # customer's best are listed: its best among the categories' stored best
            # sellers (which a category rule ranks first) are scored here, and the best of
            # them by the estimate of the blend join (CF alone would not order them).
            deep = np.sort(stage.joined(lists.category_rows, wanted_rows))  # distinct, as heads
            in_lists = inside.valued(stage.Sparse(deep, cf_mix.at(deep)))
            parts.append(in_lists.best_shown(stage.DENSE_CATEGORY_LIMIT, dropped))
    category = _popularity_category(snapshot, context)
    signals.trending = category is None and profile.items.size == 0
    if category is not None:
        parts.append(lists.category_rows[category])
    else:
        parts.append(lists.trending if signals.trending else lists.popular)
    if request.categories is not None:
        parts.append(stage.rows_of(lists.category_popular, request.categories))
    related, related_rule = _related_categories(snapshot, context, page_rules)
    # A promoted slot takes the best-scoring promoted product the page relates to or that
    # scores well: those of the page's related categories and the rules' categories.
    promoted_categories = related.copy()
    promoted_categories[wanted] = True
    parts.append(estimate.promoted_of(np.flatnonzero(promoted_categories).tolist()))
    parts.extend((lists.promoted_popular, lists.promoted_trending))
    back = coming_back
    buy_again_page = (
        request.strategy is not Strategy.POPULAR and context.page_type in BUY_AGAIN_PAGES
    )
    found: list[due_dates.DueItem] = []
    again_values = np.zeros(0, dtype=np.float32)
    if buy_again_page:  # only these pages score buy-again: the others skip its chances
        _, again_values = _buy_again_values(snapshot, profile, lists.overall_max, back)
        parts.append(back)
        found = due_items(snapshot, profile, request.before, request.live_purchases, back)
    due_positions = np.asarray(sorted(d.position for d in found), dtype=np.int64)
    parts.append(due_positions)
    page_related: dict[int, intent.Related] = {}
    owned = _owned_items(profile, context)
    owned_factor = _owned_category_factor(snapshot, owned) if owned.size else None

    def damping_at(items: Positions, back_hit: npt.NDArray[np.bool_] | None = None) -> Scores:
        """`owned_damping` at ``items`` only (no pass over the catalogue; ``back_hit``:
        which of them come back, when the caller has it)."""
        if owned_factor is None:
            return np.ones(len(items), dtype=np.float32)
        factor = owned_factor[catalogue.category[items]]
        factor[stage.member(back, items) if back_hit is None else back_hit] = 1.0
        return factor

    if request.strategy is Strategy.HYBRID and context.page_type in PAGE_MIX_PAGES:
        page_related = page_intents(snapshot, context, damping_at)
    related_positions = np.asarray(sorted(page_related), dtype=np.int64)
    parts.append(related_positions)
    positions = stage.union(parts)

    if cf_mix is not None:
        signals.raw[SignalName.CF] = cf_mix.at(positions).astype(np.float32)
    if weights.content > 0:
        signals.raw[SignalName.CONTENT] = content.at(positions).astype(np.float32)
    if weights.rules > 0:
        score, evidence = _rule_scores_on(snapshot, profile, context, positions, rule_sources)
        signals.raw[SignalName.RULES] = score
        signals.rule_evidence = evidence
    signals.raw[SignalName.POPULARITY] = _popularity_on(
        snapshot, category, signals.trending, positions
    )

    damping, again, due, lead = None, None, None, None
    if request.strategy is not Strategy.POPULAR:
        # one lookup of the products that come back, for the damping and buy-again
        back_slot, back_hit = (
            stage.slots(back, positions) if back.size else (None, np.zeros(len(positions), bool))
        )
        damping = damping_at(positions, back_hit)
        if buy_again_page:
            again = np.zeros(len(positions), dtype=np.float32)
            if back_slot is not None:
                again[back_hit] = again_values[back_slot[back_hit]]
            chance = {d.position: d.chance_soon for d in found}
            due_values = np.asarray([chance[p] for p in due_positions.tolist()])
            due = stage.values_at(due_positions, due_values, positions).astype(np.float32)
    if page_related:
        lead = stage.member(related_positions, positions)
    adjustments = _Adjustments(
        damping,
        again,
        due,
        lead,
        back,
        related,
        related_rule,
        {d.position: d for d in found},
        page_related,
    )
    return _rank(snapshot, request, profile, weights, business, signals, adjustments, positions)


@dataclass(frozen=True)
class _Estimate:
    """A cheap estimate of the blend at any products, to choose among more products than
    the candidates hold: CF and content over their supports' maxima, the category rules'
    ``strength`` times the product's share of its category (over the largest of those asked),
    popularity over its maximum. Only the choice of candidates reads it, never a score."""

    snapshot: ModelSnapshot
    weights: Weights
    cf: stage.Sparse
    content: stage.Sparse
    strength: Scores

    def _partial(self, positions: Positions) -> stage.Values:
        """The estimate's CF and content part at ``positions``: each signal (at a positive
        weight) over its support's maximum, weighted and summed, 0 off both supports; looked
        up at just the products asked, not over the supports' union."""
        weights = self.weights
        partial = np.zeros(len(positions), dtype=np.float64)
        for weight, signal in ((weights.cf, self.cf), (weights.content, self.content)):
            if weight > 0 and signal.values.size:
                partial += weight * signal.at(positions) / signal.values.max()
        return partial

    def at(self, positions: Positions) -> stage.Values:
        return self._completed(positions, self._partial(positions))

    def _completed(self, positions: Positions, estimate: stage.Values) -> stage.Values:
        """``estimate`` (the CF and content part at ``positions``) with the category rules'
        and popularity's parts added."""
        weights, snapshot = self.weights, self.snapshot
        if weights.rules > 0 and len(positions):
            rule = self.strength[snapshot.catalogue.category[positions]]
            rule = rule * snapshot.category_share[positions]
            peak = rule.max()
            if peak > 0:
                estimate += weights.rules * rule / peak
        if weights.popularity > 0 and snapshot.lists.overall_max > 0:
            popular = snapshot.popularity.overall[positions] / snapshot.lists.overall_max
            estimate += weights.popularity * popular
        return estimate

    def inside(self, wanted: Positions, heads: Positions) -> _Inside:
        """The ``wanted`` categories (those the rules recommend) outside their ``heads``
        (candidates already), where `_Inside.valued` values the supports."""
        return _Inside(self, wanted, heads)

    def in_categories(
        self, wanted: Positions, heads: Positions, cf: stage.Sparse | None = None
    ) -> stage.Sparse:
        """`_Inside.valued` of the estimate's CF signal (``cf``: another in its place)."""
        return self.inside(wanted, heads).valued(self.cf if cf is None else cf)

    def terms_inside(
        self, signal: stage.Sparse, weight: float, wanted: Positions, heads: Positions
    ) -> tuple[Positions, stage.Values]:
        """``signal``'s support inside the ``wanted`` categories and outside their ``heads``,
        with its `_partial` term there (weight × value ÷ the support's maximum; 0 at weight
        0)."""
        positions = signal.positions
        if positions.size == 0:
            return positions, np.zeros(0, dtype=np.float64)
        chosen = np.zeros(self.snapshot.catalogue.n_categories, dtype=np.bool_)
        chosen[wanted] = True
        keep = chosen[self.snapshot.catalogue.category[positions]]
        keep &= ~stage.member(heads, positions)
        values = np.asarray(signal.values[keep], dtype=np.float64)
        if weight > 0:
            return positions[keep], weight * values / signal.values.max()
        return positions[keep], np.zeros(len(values), dtype=np.float64)

    def _in_categories_by_lookup(
        self, wanted: Positions, heads: Positions, signals: tuple[stage.Sparse, stage.Sparse]
    ) -> stage.Sparse:
        """`in_categories` by `_partial`'s lookups over the supports' union."""
        estimate_with = self if signals[0] is self.cf else replace(self, cf=signals[0])
        category = self.snapshot.catalogue.category
        chosen = np.zeros(self.snapshot.catalogue.n_categories, dtype=np.bool_)
        chosen[wanted] = True
        inside = [s.positions[chosen[category[s.positions]]] for s in signals]
        positions = stage.union(inside)
        positions = positions[~stage.member(heads, positions)]
        estimate = estimate_with._completed(positions, estimate_with._partial(positions))
        kept = estimate > 0
        return stage.Sparse(positions[kept], estimate[kept])

    def promoted_of(self, categories: Sequence[int]) -> Positions:
        """The promoted products of ``categories`` a request considers: the best
        `candidates.MAX_RELATED_PROMOTED` by the estimate of those the categories list, so a
        page related to many categories does not bring them all."""
        return stage.best_of_rows(
            self.snapshot.lists.category_promoted_rows,
            categories,
            stage.MAX_RELATED_PROMOTED,
            self.at,
        )


@dataclass(frozen=True)
class _Inside:
    """The rules' ``wanted`` categories outside their ``heads``, where the candidate stage
    values the CF and content supports by the ``estimate`` (`valued`): the content part is
    the same whichever CF signal is valued, so it is made once (`content_terms`)."""

    estimate: _Estimate
    wanted: Positions
    heads: Positions

    @cached_property
    def content_terms(self) -> tuple[Positions, stage.Values]:
        estimate = self.estimate
        return estimate.terms_inside(
            estimate.content, estimate.weights.content, self.wanted, self.heads
        )

    def valued(self, cf: stage.Sparse) -> stage.Sparse:
        """The ``cf`` and content supports here, valued by the estimate with ``cf`` as its
        CF signal (the estimate's own, or a dense model at the categories' best sellers):
        where a category's products sell alike (a category rule scores them alike) a small
        CF or content score decides, and neither signal alone orders them across categories.

        Each signal's term is taken on its own support (no lookup) and the terms summed per
        product in `_partial`'s order (0, CF, content: the same additions); a signal whose
        maximum is not positive takes `_partial`'s lookups (0 ÷ 0 there reaches every
        product)."""
        estimate = self.estimate
        signals = (cf, estimate.content)
        if not all(s.values.size == 0 or s.values.max() > 0 for s in signals):
            return estimate._in_categories_by_lookup(self.wanted, self.heads, signals)
        terms = (
            estimate.terms_inside(cf, estimate.weights.cf, self.wanted, self.heads),
            self.content_terms,
        )
        positions, partial = summed_by_position(
            np.concatenate([p for p, _ in terms]),
            np.concatenate([t for _, t in terms]),
        )
        value = estimate._completed(positions, partial)
        kept = value > 0
        return stage.Sparse(positions[kept], value[kept])


@dataclass(frozen=True)
class _CFMix:
    """`cf_scores` on candidates: each served model's raw scores at any products, divided by
    its maximum over the catalogue, weighted and summed. ``support``: the mix where the
    models were scored to find their candidates; ``brings``: the candidates it adds."""

    parts: tuple[tuple[Callable[[Positions], Scores], np.float32, np.float32], ...]
    support: stage.Sparse
    brings: Positions
    dense: bool = False  # a dense model (its candidates a stored list) is in the mix
    # Only sparse models at non-negative weights: the mix is 0 off ``support``, which holds
    # its values, so `at` reads them there (one lookup, not one per model).
    on_support: bool = False

    def at(self, positions: Positions) -> npt.NDArray[np.float64]:
        """The mix at ``positions``, as `cf_scores` (the same float32 steps)."""
        if self.on_support:
            return self.support.at(positions)
        return _mixed(self.parts, positions)


def _mixed(
    parts: Sequence[tuple[Callable[[Positions], Scores], np.float32, np.float32]],
    positions: Positions,
) -> npt.NDArray[np.float64]:
    """Each model's raw scores at ``positions`` ÷ its peak, weighted and summed in float32
    as `cf_scores` sums them."""
    total = np.zeros(len(positions), dtype=np.float32)
    for score_at, peak, weight in parts:
        total += weight * _divided(score_at(positions), peak)
    return total.astype(np.float64)


def _divided(raw: Scores, peak: np.float32) -> Scores:
    """`normalise` with a known maximum: negatives and non-finite values 0, the rest ÷ peak."""
    clean = np.where(np.isfinite(raw) & (raw > 0), raw, 0).astype(np.float32)
    return np.asarray(clean / (peak if peak > 0 else np.float32(1)), dtype=np.float32)


def _dropped(request: Request, profile: Profile, coming_back: Positions) -> Positions:
    """The products `_filter_on` will remove whatever they score, ascending: the purchased
    ones that do not come back (when the request filters them), the cart, the current one."""
    page = request.context.items  # the cart and the current product: a handful, in Python
    gone = profile.items[:0]
    if request.exclude_purchased and profile.items.size:
        gone = profile.items[stage.outside(profile.items, coming_back)]
    if not page:
        return gone
    if gone.size > _FEW:
        return stage.union([gone, np.asarray(page, dtype=np.int64)])
    return np.asarray(sorted(set(page).union(gone.tolist())), dtype=np.int64)


def _cf_on_candidates(
    snapshot: ModelSnapshot,
    profile: Profile,
    models: Sequence[tuple[str, float]],
    dropped: Positions | None = None,
) -> _CFMix:
    """The served CF mix for the candidate stage, without a pass over the catalogue.

    A sparse model (item-kNN, user-kNN) is scored on its support (the history's neighbour
    rows, the neighbours' purchases): its best ``SIGNAL_LIMIT`` are candidates, and its best
    among the products the filter leaves (``dropped``: a heavy history's own products top its
    neighbour rows), its maximum is exact. A dense model (SVD, ALS, EASE) brings the
    customer's stored list (`candidates.CFLists`), scored exactly with the live profile: when
    the profile is the customer's training row (``profile.exact``) the list holds the
    model's best product, so its maximum is exact too and every product left out scores at
    most the list's last.
    When the history changed since the build (a live purchase, a timeline's ``before``, a
    customer without a training row) the list is the training row's and the history's
    item-kNN neighbours are added; the maximum is then the candidates', which differs from
    the catalogue's when the live history's best product is outside them.
    A mix of two models is normalised again by its maximum over the candidates, exact when
    that product is a candidate (each model's maximum is; a product outside both lists
    scores at most the sum of the lists' last, weighted)."""
    if profile.items.size == 0:
        return _CFMix((), stage.Sparse.empty(), np.zeros(0, dtype=np.int64))
    request = CFProfile(
        profile.items, profile.values, profile.user, profile.exact, snapshot.interactions
    )
    lists = snapshot.customer_lists.rows
    limit = stage.SIGNAL_LIMIT
    gone = np.zeros(0, dtype=np.int64) if dropped is None else dropped
    found: dict[str, tuple[CFModel, tuple[Positions, npt.NDArray[np.float64]] | None]] = {}
    brings: list[Positions] = []
    for name, _ in models:
        served, model = snapshot.served_cf_model(name)
        if served in found:
            continue
        support = model.support(request)
        found[served] = (model, support)
        if support is not None:
            brings.append(stage.Sparse(*support).best_shown(limit, gone))
            continue
        user = profile.user
        if user is not None and user < lists[served].shape[0]:
            brings.append(stage.row_of(lists[served], user))
        if not profile.exact:
            known = found.get("item_knn")
            knn = known[1] if known is not None else None
            knn = snapshot.item_knn.support(request) if knn is None else knn
            brings.append(stage.Sparse(*knn).best_shown(limit, gone))
    supports = [s[0] for _, s in found.values() if s is not None]
    dense = len(supports) < len(found)
    brought = stage.union(brings) if dense or len(brings) != 1 else brings[0]
    # A sparse model brings part of its support: without a dense one, the supports hold all.
    if not supports:  # dense models only: ``brought`` is their lists' union already
        scored = brought
    else:
        scored = stage.union([brought, *supports]) if dense or len(supports) > 1 else supports[0]
    parts = []
    for name, weight in models:
        served, model = snapshot.served_cf_model(name)
        support = found[served][1]
        if support is None:
            score_at = _score_at(model, request)
            raw = score_at(scored)  # kept: `_mixed` below asks for the same positions
            peak = raw.max() if raw.size else np.float32(0)
        else:
            peak = np.float32(support[1].astype(np.float32).max()) if support[1].size else 0
            score_at = _values_at(support)
        parts.append((score_at, np.float32(max(peak, 0)), np.float32(weight)))
    values_scored = _mixed(parts, scored)
    keep = values_scored > 0
    on_support = not dense and all(weight >= 0 for _, weight in models)
    support_mix = stage.Sparse(scored[keep], values_scored[keep])
    return _CFMix(tuple(parts), support_mix, brought, dense, on_support)


def _score_at(model: CFModel, request: CFProfile) -> Callable[[Positions], Scores]:
    """``model.score_at`` for this request's customer, asked several times a request: by the
    model's ``scorer`` where it has one (its per-customer part, SVD's user vector, made
    once), and the last answer kept for the same positions asked again (the model's peak,
    then the mix at them)."""
    scorer = getattr(model, "scorer", None)
    score: Callable[[Positions], Scores] = (
        scorer(request) if scorer is not None else lambda p: model.score_at(request, p)
    )
    last: list[tuple[Positions, Scores]] = []

    def at(positions: Positions) -> Scores:
        if not last or last[0][0] is not positions:
            last[:] = [(positions, score(positions))]
        return last[0][1]

    return at


def _values_at(
    support: tuple[Positions, npt.NDArray[np.float64]],
) -> Callable[[Positions], Scores]:
    def at(positions: Positions) -> Scores:
        if positions is support[0]:  # the model's own support: its values, no lookup
            return support[1].astype(np.float32)
        return stage.values_at(support[0], support[1], positions).astype(np.float32)

    return at


def _rule_scores_on(
    snapshot: ModelSnapshot,
    profile: Profile,
    context: Context,
    positions: Positions,
    sources: list[tuple[stage.RuleHits, rules.RuleScores, np.float32]],
) -> tuple[Scores, _RuleEvidence]:
    """`_rule_scores` at ``positions``, from each seed set's fired rules (``sources``)."""
    size = len(positions)
    best_product = np.full(size, -1, dtype=np.int64)
    best_category = np.full(size, -1, dtype=np.int64)
    score = np.zeros(size, dtype=np.float32)
    from_category = np.zeros(size, dtype=np.bool_)
    category_of = snapshot.catalogue.category[positions]
    share = snapshot.category_share[positions]
    for hits, by_category, discount in sources:
        if hits.positions.size:  # one lookup of the fired rules' items for both arrays
            slot, hit = stage.slots(hits.positions, positions)
            product = np.where(hit, hits.values[slot], 0.0).astype(np.float32)
            product_rule = np.where(hit, hits.rule[slot], -1)
            better = product * discount > score
            score = np.where(better, product * discount, score)
            best_product = np.where(better, product_rule, best_product)
            from_category &= ~better
        item_scores = by_category.scores[category_of] * share * CATEGORY_RULE_DISCOUNT
        item_scores = item_scores * discount
        better = item_scores > score
        score = np.where(better, item_scores, score)
        best_category = np.where(better, by_category.best_rule[category_of], best_category)
        from_category |= better
    ctx = tuple(int(p) for p in context.items)
    purchased = tuple(p for p in profile.items.tolist() if p not in ctx)
    categories = _categories_of(snapshot, ctx + purchased)
    evidence = _RuleEvidence(
        best_product, best_category, from_category, ctx, purchased, categories, positions
    )
    return score.astype(np.float32), evidence


def _popularity_on(
    snapshot: ModelSnapshot, category: int | None, trending: bool, positions: Positions
) -> Scores:
    """`score_popularity` at ``positions`` (its maxima are stored with the lists)."""
    lists, pop = snapshot.lists, snapshot.popularity
    values = (pop.trending if trending else pop.overall)[positions]
    top = lists.trending_max if trending else lists.overall_max
    if category is not None:
        values = np.where(pop.item_category[positions] == category, values, np.float32(0.0))
        top = float(lists.category_overall_max[category])
    if top <= 0.0:
        return np.zeros(len(positions), dtype=np.float32)
    return (values / np.float32(top)).astype(np.float32)


def _removal_rules(
    snapshot: ModelSnapshot,
    request: Request,
    profile: Profile,
    back: Positions,
    positions: Positions | None = None,
) -> npt.NDArray[np.int8]:
    """The filters (with the request's ``exclude``): per scored position (the catalogue when
    ``positions`` is None, else those candidates, ascending) the first rule that removed it,
    as an index into `FilterRule`, -1 when allowed (``back``: the purchased products that
    come back, ascending). Only a trace names the rules, so no per-request dict."""
    catalogue = snapshot.catalogue
    size = snapshot.n_items if positions is None else len(positions)

    def among(items: Sequence[int] | Positions) -> list[int] | Positions:
        """Which scored positions are ``items`` (their indices): the few ``items`` looked up
        among the candidates, not every candidate among them (full scoring: themselves)."""
        if positions is None:
            return items if isinstance(items, np.ndarray) else list(items)
        if len(positions) == 0:
            return _NO_POSITIONS
        slot, hit = stage.slots(positions, np.asarray(items, dtype=np.int64))
        return slot[hit]

    def column(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return values if positions is None else values[positions]

    context = request.context
    rule_of = np.full(size, -1, dtype=np.int8)
    # The last rule first: each position ends with the first rule below that removes it
    # (`FilterRule`'s order); one assignment per rule, no list of masks to walk.
    if request.exclude:
        rule_of[among(request.exclude)] = _FILTER_INDEX[FilterRule.EXCLUDED]
    if request.categories is not None:
        inside = np.isin(column(catalogue.category), np.asarray(request.categories))
        rule_of[~inside] = _FILTER_INDEX[FilterRule.CATEGORY_FILTER]
    if request.in_stock_only:
        rule_of[column(catalogue.stock) <= 0] = _FILTER_INDEX[FilterRule.OUT_OF_STOCK]
    if request.exclude_purchased and profile.items.size:
        gone = profile.items  # ascending; without the products that come back, if any
        if back.size:
            gone = gone[~stage.member(back, gone)]
        rule_of[among(gone)] = _FILTER_INDEX[FilterRule.PURCHASED]
    if context.cart:
        rule_of[among(context.cart)] = _FILTER_INDEX[FilterRule.IN_CART]
    if context.current is not None:
        rule_of[among((context.current,))] = _FILTER_INDEX[FilterRule.CURRENT_PRODUCT]
    return rule_of


def _removal_detail(
    snapshot: ModelSnapshot,
    item: int,
    rule: FilterRule,
    total: Scores,
    selection: _Selection,
    cap: int | None,
) -> str:
    """The rule that kept one candidate out of the ranking, in words."""
    catalogue = snapshot.catalogue
    category = int(catalogue.category[item])
    name = catalogue.category_names[category]
    if rule is FilterRule.PURCHASED:
        repeat = snapshot.repeat
        return (
            f"already bought; {name} is not a repeat purchase: {int(repeat.repeaters[category])} "
            f"of {int(repeat.customers[category])} buyers bought it again "
            f"({float(repeat.rate[category]):.1%})"
        )
    if rule is FilterRule.CATEGORY_CAP:
        return f"{cap} {name} products are already shown (at most {cap} per category)"
    if rule is FilterRule.BELOW_CUTOFF:
        last = min((float(total[p]) for p in selection.chosen), default=0.0)
        return f"score {float(total[item]):.3f}, below the last shown ({last:.3f})"
    return {
        FilterRule.OUT_OF_STOCK: "out of stock",
        FilterRule.IN_CART: "in the cart",
        FilterRule.CURRENT_PRODUCT: "the product on this page",
        FilterRule.CATEGORY_FILTER: "outside the requested categories",
        FilterRule.EXCLUDED: "excluded by the request (or shown on an earlier page)",
    }[rule]


def _trace(
    snapshot: ModelSnapshot,
    request: Request,
    profile: Profile,
    normalised: dict[SignalName, Scores],
    total: Scores,
    removed_by: npt.NDArray[np.int8],
    selection: _Selection,
    cap: int | None,
) -> Trace:
    """The journey: each signal's top candidates, and every candidate that did not reach the
    ranking with the rule that kept it out (a filter, the category cap, or its score)."""
    depth = max(10, request.limit)
    candidates = {
        signal: [
            (int(i), float(scores[i]))
            for i in np.argsort(-scores, kind="stable")[:depth]
            if scores[i] > 0
        ]
        for signal, scores in normalised.items()
    }
    shown = set(selection.chosen)
    capped = set(selection.capped)
    pool = {p for scored in candidates.values() for p, _ in scored} - shown
    filtered: list[tuple[int, FilterRule]] = []
    for item in sorted(pool, key=lambda p: (-float(total[p]), p)):
        if removed_by[item] >= 0:
            rule = _FILTER_ORDER[removed_by[item]]
        elif item in capped:
            rule = FilterRule.CATEGORY_CAP
        else:
            rule = FilterRule.BELOW_CUTOFF
        filtered.append((item, rule))
    details = {
        item: _removal_detail(snapshot, item, rule, total, selection, cap)
        for item, rule in filtered
    }
    neighbours: list[tuple[int, float]] = []
    if profile.items.size:
        positions, sims = user_knn.neighbours_from_history(
            snapshot.user_knn, snapshot.interactions, profile.history, 5, exclude=profile.user
        )
        neighbours = [
            (int(p), float(s)) for p, s in zip(positions, sims, strict=True) if p != profile.user
        ]
    return Trace(candidates, filtered, selection.applied, neighbours, details)


def with_limit(request: Request, limit: int) -> Request:
    return replace(request, limit=limit)
