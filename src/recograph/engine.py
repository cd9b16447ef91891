"""Per-request recommendation: profile → signals → blend → filters → business rules → reasons.

Everything here reads a `ModelSnapshot` and the request; nothing is fitted, nothing touches a
database. The build's evaluation calls the same functions, so offline numbers describe what
the server does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from recograph.recommenders import content as content_signal
from recograph.recommenders import item_knn, rules, user_knn
from recograph.recommenders.als import fold_in_als, score_als
from recograph.recommenders.blend import (
    PageType,
    Scores,
    Segment,
    SignalName,
    Weights,
    blend,
    contributions,
    dominant_signals,
    normalise,
    shift_for_page,
)
from recograph.recommenders.ease import score_ease
from recograph.recommenders.popularity import score_popularity
from recograph.recommenders.repeat import is_repeatable
from recograph.recommenders.svd import score_svd
from recograph.snapshot import CF_MODELS, ModelSnapshot

Positions = npt.NDArray[np.int64]


class Strategy(StrEnum):
    HYBRID = "HYBRID"
    COLLABORATIVE = "COLLABORATIVE"
    CONTENT = "CONTENT"
    RULES = "RULES"
    POPULAR = "POPULAR"


class ReasonKind(StrEnum):
    BOUGHT_TOGETHER = "BOUGHT_TOGETHER"
    SIMILAR_TO = "SIMILAR_TO"
    CUSTOMERS_LIKE_YOU = "CUSTOMERS_LIKE_YOU"
    POPULAR = "POPULAR"
    TRENDING = "TRENDING"
    PROMOTED = "PROMOTED"


class FilterRule(StrEnum):
    """Why a candidate was removed after blending."""

    OUT_OF_STOCK = "OUT_OF_STOCK"
    PURCHASED = "PURCHASED"
    IN_CART = "IN_CART"
    CURRENT_PRODUCT = "CURRENT_PRODUCT"
    CATEGORY_FILTER = "CATEGORY_FILTER"
    CATEGORY_CAP = "CATEGORY_CAP"


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
# A category the customer owns keeps rate × scale of its score (floor below).
OWNED_RATE_SCALE = np.float32(2.0)
MIN_OWNED_FACTOR = np.float32(0.05)  # a category rule is weaker evidence than a product one


@dataclass(frozen=True)
class Context:
    """The live page: positions in the catalogue, already resolved from ids."""

    cart: tuple[int, ...] = ()
    current: int | None = None
    page_type: PageType | None = None
    category: int | None = None
    viewed: tuple[int, ...] = ()

    @property
    def items(self) -> tuple[int, ...]:
        current = () if self.current is None else (self.current,)
        return tuple(dict.fromkeys(self.cart + current))


@dataclass(frozen=True)
class BusinessRules:
    """Store policy applied after blending."""

    promoted_positions: tuple[int, ...] = (3,)  # 1-based ranks reserved for promoted products
    margin_weight: float = 0.0  # added × normalised margin (price − cost) / price
    max_per_category: int | None = 3


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


@dataclass(frozen=True)
class Profile:
    user: int | None
    history: Scores  # dense (n_items,) interaction vector
    items: Positions  # distinct purchased positions
    recent: Positions  # items of the most recent order
    n_orders: int
    segment: Segment
    exact: bool  # history equals the user's training row (stored user factors apply)


@dataclass(frozen=True)
class Reason:
    kind: ReasonKind
    text: str
    evidence: tuple[int, ...] = ()
    metric: str | None = None
    value: float | None = None
    features: tuple[str, ...] = ()


@dataclass(frozen=True)
class Contribution:
    signal: SignalName
    score: float
    weight: float


@dataclass(frozen=True)
class Item:
    position: int
    score: float
    rank: int
    reason: Reason
    contributions: tuple[Contribution, ...]


@dataclass(frozen=True)
class Trace:
    candidates: dict[SignalName, list[tuple[int, float]]]
    filtered: list[tuple[int, FilterRule]]
    business_rules: list[str]
    neighbours: list[tuple[int, float]]  # similar customers (positions, cosine)


@dataclass(frozen=True)
class Recommendation:
    items: tuple[Item, ...]
    strategy: Strategy
    explanation: str
    segment: Segment
    weights: Weights
    profile: Profile
    trace: Trace | None = None


@dataclass
class _RuleEvidence:
    """Which rule produced each item's rule score (request-local scratch)."""

    product_best: npt.NDArray[np.int64]
    category_best: npt.NDArray[np.int64]
    from_category: npt.NDArray[np.bool_]
    seeds: tuple[int, ...]  # the page's items
    past: tuple[int, ...]  # purchases


@dataclass
class _Signals:
    raw: dict[SignalName, Scores] = field(default_factory=dict)
    rule_evidence: _RuleEvidence | None = None
    content_seeds: tuple[Positions, npt.NDArray[np.float32]] | None = None
    trending: bool = False
    # For the items shown, gathered once per response: item -> (history product, similarity)
    # behind its CF score, and item -> the page/history product it looks like.
    cf_sources: dict[int, tuple[int, float] | None] = field(default_factory=dict)
    content_sources: dict[int, content_signal.ContentMatch | None] = field(default_factory=dict)


# ---------------------------------------------------------------------------- profile


def build_profile(
    snapshot: ModelSnapshot,
    user: int | None,
    before: int | None = None,
    live_purchases: Sequence[int] = (),
) -> Profile:
    """The customer's purchase history as the models see it."""
    n_items = snapshot.n_items
    history = np.zeros(n_items, dtype=np.float32)
    recent: Positions = np.zeros(0, dtype=np.int64)
    n_orders = 0
    exact = user is not None and before is None and not live_purchases
    if user is not None:
        orders = snapshot.histories.completed_orders(user, before)
        n_orders = len(orders)
        if orders:
            recent = snapshot.histories.order_items(orders[-1]).astype(np.int64)
        if before is None and user < snapshot.interactions.shape[0]:
            matrix = snapshot.interactions
            span = slice(matrix.indptr[user], matrix.indptr[user + 1])
            history[matrix.indices[span]] = matrix.data[span]
        else:
            for order in orders:
                history[snapshot.histories.order_items(order)] = 1.0
            exact = False
    if live_purchases:
        live = np.asarray(live_purchases, dtype=np.int64)
        history[live] = np.maximum(history[live], 1.0)
        recent = np.unique(np.concatenate([recent, live]))
        n_orders += 1
    items = np.flatnonzero(history).astype(np.int64)
    return Profile(
        user=user,
        history=history,
        items=items,
        recent=recent,
        n_orders=n_orders,
        segment=snapshot.blend.segment(n_orders, len(items)),
        exact=exact,
    )


# ---------------------------------------------------------------------------- signals


def cf_scores(
    snapshot: ModelSnapshot, profile: Profile, models: Sequence[tuple[str, float]]
) -> Scores:
    """The served collaborative-filtering score: a weighted mix of normalised CF models."""
    total = np.zeros(snapshot.n_items, dtype=np.float32)
    if profile.items.size == 0:
        return total
    for name, weight in models:
        total += np.float32(weight) * normalise(_one_cf_model(snapshot, profile, name))
    return total


def _one_cf_model(snapshot: ModelSnapshot, profile: Profile, name: str) -> Scores:
    h = profile.history
    if name == "item_knn":
        return item_knn.score_item_knn(snapshot.item_knn, h)
    if name == "user_knn":
        if profile.exact and profile.user is not None:
            return user_knn.score_user_knn(snapshot.user_knn, snapshot.interactions, profile.user)
        positions, sims = user_knn.neighbours_from_history(
            snapshot.user_knn, snapshot.interactions, h, snapshot.user_knn.k, exclude=profile.user
        )
        return user_knn.score_from_neighbours(snapshot.interactions, positions, sims)
    if name == "svd":
        return score_svd(snapshot.svd, h)
    if name == "als":
        if profile.exact and profile.user is not None:
            return score_als(snapshot.als, profile.user)
        vector = fold_in_als(snapshot.als, h)
        return np.asarray(snapshot.als.item_factors @ vector, dtype=np.float32)
    if name == "ease":
        if snapshot.ease is None:
            return item_knn.score_item_knn(snapshot.item_knn, h)
        return score_ease(snapshot.ease, h)
    raise ValueError(f"unknown CF model {name!r}; expected one of {', '.join(CF_MODELS)}")


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


def _rule_scores(
    snapshot: ModelSnapshot, profile: Profile, context: Context
) -> tuple[Scores, _RuleEvidence]:
    """Rules fired by the cart/current product (full strength) and by past purchases."""
    n_items = snapshot.n_items
    ctx = np.asarray(context.items, dtype=np.int64)
    past = profile.items
    best_product = np.full(n_items, -1, dtype=np.int64)
    best_category = np.full(n_items, -1, dtype=np.int64)
    score = np.zeros(n_items, dtype=np.float32)
    from_category = np.zeros(n_items, dtype=np.bool_)
    category_of = snapshot.catalogue.category
    for seeds, discount in ((past, HISTORY_RULE_DISCOUNT), (ctx, np.float32(1.0))):
        if seeds.size == 0:
            continue
        product = rules.score_rules(snapshot.product_rules, snapshot.product_rule_index, seeds)
        better = product.scores * discount > score
        score = np.where(better, product.scores * discount, score)
        best_product = np.where(better, product.best_rule, best_product)
        from_category &= ~better
        categories = np.unique(category_of[seeds]).astype(np.int64)
        cat = rules.score_rules(snapshot.category_rules, snapshot.category_rule_index, categories)
        item_scores = cat.scores[category_of] * snapshot.category_share * CATEGORY_RULE_DISCOUNT
        item_scores = item_scores * discount
        better = item_scores > score
        score = np.where(better, item_scores, score)
        best_category = np.where(better, cat.best_rule[category_of], best_category)
        from_category |= better
    page_items = tuple(ctx.tolist())
    purchased = tuple(p for p in past.tolist() if p not in page_items)
    return score.astype(np.float32), _RuleEvidence(
        best_product, best_category, from_category, page_items, purchased
    )


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
) -> _Signals:
    """Raw scores of every signal with a positive weight (popularity always, as the filler)."""
    signals = _Signals()
    if weights.cf > 0:
        signals.raw[SignalName.CF] = cf_scores(snapshot, profile, cf_models)
    if weights.content > 0:
        seeds, seed_weights = _content_seeds(profile, context)
        signals.content_seeds = (seeds, seed_weights)
        signals.raw[SignalName.CONTENT] = (
            content_signal.score_content(snapshot.content, seeds, seed_weights)
            if seeds.size
            else np.zeros(snapshot.n_items, dtype=np.float32)
        )
    if weights.rules > 0:
        score, evidence = _rule_scores(snapshot, profile, context)
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
    category = _popularity_category(snapshot, context)
    where = (
        f"popular in {snapshot.catalogue.category_names[category]}"
        if category is not None
        else "trending now"
    )
    if request.strategy is not Strategy.HYBRID:
        strategy = request.strategy
        if strategy is Strategy.COLLABORATIVE and profile.items.size == 0:
            return (
                Strategy.POPULAR,
                STRATEGY_WEIGHTS[Strategy.POPULAR],
                (f"collaborative filtering needs purchase history: {where}"),
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
                (f"no purchase history: {where}"),
            )
        return (
            Strategy.HYBRID,
            shifted,
            (f"no purchase history: content and bought-together rules from the page, then {where}"),
        )
    orders = f"{profile.n_orders} order{'s' if profile.n_orders != 1 else ''}"
    products = f"{profile.items.size} product{'s' if profile.items.size != 1 else ''}"
    strength = "light" if profile.segment is Segment.LIGHT else "established"
    return (
        Strategy.HYBRID,
        shifted,
        f"{strength} history ({orders}, {products})"
        f"{' and the products on the page' if on_page else ''}: {describe(shifted)}",
    )


SIGNAL_WORDS = {
    SignalName.CF: "collaborative filtering",
    SignalName.CONTENT: "content",
    SignalName.RULES: "bought-together rules",
    SignalName.POPULARITY: "popularity",
}


def describe(weights: Weights) -> str:
    """Weights in words, largest first: "collaborative filtering 50%, content 30%, …"."""
    total = weights.total() or 1.0
    parts = sorted(
        ((weights.get(s) / total, s) for s in SignalName if weights.get(s) > 0),
        key=lambda pair: -pair[0],
    )
    return ", ".join(f"{SIGNAL_WORDS[s]} {share:.0%}" for share, s in parts)


def _owned_items(profile: Profile, context: Context) -> Positions:
    """What the customer owns, or is about to: purchases, plus the cart on cart and checkout
    pages (a laptop in the cart makes other laptops substitutes, not suggestions)."""
    if context.cart and context.page_type in (PageType.CART, PageType.CHECKOUT):
        return np.union1d(profile.items, np.asarray(context.cart, dtype=np.int64))
    return profile.items


def owned_damping(snapshot: ModelSnapshot, profile: Profile, context: Context) -> Scores:
    """The factor `recommend` scales blended scores by: owned categories (history, and the cart
    on cart pages) damped by their re-buy rate, every other item 1."""
    owned = _owned_items(profile, context)
    if owned.size == 0:
        return np.ones(snapshot.n_items, dtype=np.float32)
    return owned_category_damping(snapshot, owned)


def owned_category_damping(snapshot: ModelSnapshot, owned_items: Positions) -> Scores:
    """Per item, how likely a customer who already owns its category buys in it again.

    Learned by the repeat model: customers rarely buy a second laptop but do re-buy ear
    cushions, so a category the customer owns is scaled by its measured re-buy rate (never
    below `MIN_OWNED_FACTOR`); other categories keep their score.
    """
    catalogue = snapshot.catalogue
    factor = np.ones(catalogue.n_categories, dtype=np.float32)
    owned = np.unique(catalogue.category[owned_items])
    rate = np.asarray(snapshot.repeat.rate, dtype=np.float32)[owned]
    factor[owned] = np.clip(rate * np.float32(OWNED_RATE_SCALE), MIN_OWNED_FACTOR, 1.0)
    return factor[catalogue.category]


# ---------------------------------------------------------------------------- filters


_FILTER_ORDER = list(FilterRule)


def filter_mask(
    snapshot: ModelSnapshot, request: Request, profile: Profile
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int8]]:
    """Allowed items, and per item the first rule that removed it as an index into
    `FilterRule` (-1 when allowed); only a trace names the rules, so no per-request dict."""
    n_items = snapshot.n_items
    rule_of = np.full(n_items, -1, dtype=np.int8)
    order = _FILTER_ORDER

    def ban(positions: npt.NDArray[np.int64] | npt.NDArray[np.bool_], rule: FilterRule) -> None:
        selected = np.zeros(n_items, dtype=np.bool_)
        selected[positions] = True
        rule_of[selected & (rule_of < 0)] = order.index(rule)

    context = request.context
    if context.current is not None:
        ban(np.array([context.current], dtype=np.int64), FilterRule.CURRENT_PRODUCT)
    if context.cart:
        ban(np.asarray(context.cart, dtype=np.int64), FilterRule.IN_CART)
    if request.exclude_purchased and profile.items.size:
        repeatable = is_repeatable(snapshot.repeat, snapshot.catalogue.category[profile.items])
        ban(profile.items[~np.asarray(repeatable, dtype=np.bool_)], FilterRule.PURCHASED)
    if request.in_stock_only:
        ban(snapshot.catalogue.stock <= 0, FilterRule.OUT_OF_STOCK)
    if request.categories is not None:
        inside = np.isin(snapshot.catalogue.category, np.asarray(request.categories))
        ban(~inside, FilterRule.CATEGORY_FILTER)
    return rule_of < 0, rule_of


# ---------------------------------------------------------------------------- ranking


def _ranked(scores: Scores, allowed: npt.NDArray[np.bool_]) -> Positions:
    """Allowed positions by descending score, ties by position (deterministic)."""
    candidates = np.flatnonzero(allowed)
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order].astype(np.int64)


def _select(
    snapshot: ModelSnapshot,
    ranked: Positions,
    limit: int,
    rules_cfg: BusinessRules,
) -> tuple[list[int], list[int], list[str], set[int]]:
    """Top items under the per-category cap, with the best promoted products in the reserved
    slots; returns (chosen, held back by the cap, rules applied, the promoted items placed)."""
    slots = sorted({p for p in rules_cfg.promoted_positions if 1 <= p <= limit})
    promoted_flags = snapshot.catalogue.promoted
    promoted = [int(i) for i in ranked[promoted_flags[ranked]][: len(slots)]]
    cap = rules_cfg.max_per_category
    chosen: list[int] = []
    capped: list[int] = []
    per_category: dict[int, int] = {}
    for item in ranked.tolist():
        if len(chosen) >= limit - len(promoted):
            break
        if item in promoted:
            continue
        category = int(snapshot.catalogue.category[item])
        if cap is not None and per_category.get(category, 0) >= cap:
            capped.append(item)
            continue
        per_category[category] = per_category.get(category, 0) + 1
        chosen.append(item)
    applied: list[str] = []
    if capped:
        applied.append(f"at most {cap} products per category ({len(capped)} held back)")
    for slot, item in zip(slots, promoted, strict=False):
        position = min(slot, len(chosen) + 1)
        chosen.insert(position - 1, item)
        applied.append(f"promoted slot {position}: {snapshot.catalogue.name[item]}")
    return chosen[:limit], capped, applied, set(promoted)


# ---------------------------------------------------------------------------- reasons


def _names(snapshot: ModelSnapshot, positions: Sequence[int]) -> str:
    names = [str(snapshot.catalogue.name[p]) for p in positions]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def explain(
    snapshot: ModelSnapshot, item: int, signal: SignalName | None, signals: _Signals
) -> Reason:
    """The reason for one item: its dominant signal's evidence, in words (CF and content
    evidence comes from the sources `recommend` gathered for the shown items)."""
    catalogue = snapshot.catalogue
    if signal is SignalName.RULES and signals.rule_evidence is not None:
        evidence = signals.rule_evidence
        if evidence.from_category[item] and evidence.category_best[item] >= 0:
            rule = int(evidence.category_best[item])
            ruleset = snapshot.category_rules
            cats = set(ruleset.antecedent(rule).tolist())
            # Evidence from the page when the page fired the rule, else from purchases.
            seeds = tuple(s for s in evidence.seeds if int(catalogue.category[s]) in cats)[:2]
            if not seeds:
                seeds = tuple(s for s in evidence.past if int(catalogue.category[s]) in cats)[:2]
            lift = float(ruleset.lift[rule])
            cat_names = " + ".join(str(catalogue.category_names[c]) for c in sorted(cats))
            own = catalogue.category_names[catalogue.category[item]]
            text = (
                f"Bought together with {_names(snapshot, seeds)} (lift {lift:.1f})"
                if seeds
                else f"{cat_names} buyers also buy {own} (lift {lift:.1f})"
            )
            return Reason(ReasonKind.BOUGHT_TOGETHER, text, seeds, "lift", lift)
        rule = int(evidence.product_best[item])
        if rule >= 0:
            ruleset = snapshot.product_rules
            seeds = tuple(int(s) for s in ruleset.antecedent(rule))
            lift = float(ruleset.lift[rule])
            return Reason(
                ReasonKind.BOUGHT_TOGETHER,
                f"Bought together with {_names(snapshot, seeds)} (lift {lift:.1f})",
                seeds,
                "lift",
                lift,
            )
    if signal is SignalName.CONTENT:
        found = signals.content_sources.get(item)
        if found is not None:
            seed, similarity, labels = found
            features = tuple(labels)
            suffix = f": {', '.join(features)}" if features else ""
            return Reason(
                ReasonKind.SIMILAR_TO,
                f"Similar to {catalogue.name[seed]}{suffix}",
                (int(seed),),
                "similarity",
                float(similarity),
                features,
            )
    if signal is SignalName.CF:
        source = signals.cf_sources.get(item)
        if source is not None:
            seed, similarity = source
            return Reason(
                ReasonKind.CUSTOMERS_LIKE_YOU,
                f"Customers like you bought this (often with {catalogue.name[seed]})",
                (int(seed),),
                "similarity",
                float(similarity),
            )
        return Reason(ReasonKind.CUSTOMERS_LIKE_YOU, "Customers like you bought this")
    category = str(catalogue.category_names[catalogue.category[item]])
    buyers = float(snapshot.popularity.overall[item])
    if signals.trending:
        return Reason(ReasonKind.TRENDING, f"Trending in {category}", (), "buyers", buyers)
    return Reason(ReasonKind.POPULAR, f"Popular in {category}", (), "buyers", buyers)


def _gather_sources(
    snapshot: ModelSnapshot,
    profile: Profile,
    signals: _Signals,
    chosen: list[int],
    dominant: Sequence[SignalName | None],
    promoted: set[int],
) -> None:
    """The CF and content evidence of the shown items, each gathered in one pass over the
    history's (or the seeds') neighbour rows rather than once per item."""
    shown = [(p, d) for p, d in zip(chosen, dominant, strict=True) if p not in promoted]
    by_cf = [p for p, d in shown if d is SignalName.CF]
    if by_cf:
        sources = item_knn.explain_item_knn_many(snapshot.item_knn, profile.items, by_cf)
        signals.cf_sources.update(zip(by_cf, sources, strict=True))
    by_content = [p for p, d in shown if d is SignalName.CONTENT]
    if by_content and signals.content_seeds is not None:
        seeds, _ = signals.content_seeds  # unweighted: the closest look-alike names the reason
        matches = content_signal.explain_content_many(snapshot.content, seeds, by_content)
        signals.content_sources.update(zip(by_content, matches, strict=True))


def final_scores(
    snapshot: ModelSnapshot,
    blended: Scores,
    popularity: Scores,
    damping: Scores | None,
    margin_weight: float = 0.0,
) -> Scores:
    """The ranking score from the blended signals: plus ``margin_weight`` × normalised margin,
    plus popularity as the tie-breaking filler, times the owned-category ``damping`` (None:
    none). One function for `recommend` and the build's tuner, which passes one row per
    customer (2-D arrays broadcast), so the tuner ranks exactly as the server does."""
    total = blended
    if margin_weight > 0:
        price = snapshot.catalogue.price
        margin = np.where(
            price > 0, (price - snapshot.catalogue.cost) / np.where(price > 0, price, 1), 0
        )
        total = total + np.float32(margin_weight) * normalise(margin)
    total = total + FILLER_WEIGHT * popularity
    if damping is not None:
        total = total * damping
    return np.asarray(total, dtype=np.float32)


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
    cf_models = request.cf_models or snapshot.blend.cf_models
    signals = compute_signals(snapshot, profile, request.context, weights, cf_models)
    normalised = {signal: normalise(raw) for signal, raw in signals.raw.items()}
    used = {s: v for s, v in normalised.items() if weights.get(s) > 0}
    blended = blend(used, weights) if used else np.zeros(snapshot.n_items, dtype=np.float32)
    damping = (
        None
        if request.strategy is Strategy.POPULAR
        else owned_damping(snapshot, profile, request.context)
    )
    total = final_scores(
        snapshot, blended, normalised[SignalName.POPULARITY], damping, business.margin_weight
    )
    allowed, removed_by = filter_mask(snapshot, request, profile)
    ranked = _ranked(total, allowed)
    chosen, capped, applied, promoted = _select(snapshot, ranked, request.limit, business)
    dominant = dominant_signals(used, weights, chosen)
    parts = contributions(normalised, weights, chosen)
    _gather_sources(snapshot, profile, signals, chosen, dominant, promoted)
    items: list[Item] = []
    for rank, position in enumerate(chosen, start=1):
        if position in promoted:
            reason = Reason(ReasonKind.PROMOTED, f"Featured: {snapshot.catalogue.name[position]}")
        else:
            reason = explain(snapshot, position, dominant[rank - 1], signals)
        items.append(
            Item(
                position=position,
                score=float(total[position]),
                rank=rank,
                reason=reason,
                contributions=tuple(Contribution(*part) for part in parts[rank - 1]),
            )
        )
    trace = None
    if request.explain:
        trace = _trace(snapshot, request, profile, normalised, total, removed_by, capped, applied)
    return Recommendation(
        items=tuple(items),
        strategy=strategy,
        explanation=why,
        segment=profile.segment,
        weights=weights,
        profile=profile,
        trace=trace,
    )


def _trace(
    snapshot: ModelSnapshot,
    request: Request,
    profile: Profile,
    normalised: dict[SignalName, Scores],
    total: Scores,
    removed_by: npt.NDArray[np.int8],
    capped: list[int],
    applied: list[str],
) -> Trace:
    depth = max(10, request.limit)
    candidates = {
        signal: [
            (int(i), float(scores[i]))
            for i in np.argsort(-scores, kind="stable")[:depth]
            if scores[i] > 0
        ]
        for signal, scores in normalised.items()
    }
    top = np.argsort(-total, kind="stable")[: depth * 3]
    filtered = [(int(i), _FILTER_ORDER[removed_by[i]]) for i in top if removed_by[i] >= 0]
    filtered += [(i, FilterRule.CATEGORY_CAP) for i in capped]
    neighbours: list[tuple[int, float]] = []
    if profile.items.size:
        positions, sims = user_knn.neighbours_from_history(
            snapshot.user_knn, snapshot.interactions, profile.history, 5, exclude=profile.user
        )
        neighbours = [
            (int(p), float(s)) for p, s in zip(positions, sims, strict=True) if p != profile.user
        ]
    return Trace(candidates, filtered, applied, neighbours)


def with_limit(request: Request, limit: int) -> Request:
    return replace(request, limit=limit)
