"""Scoring every model on held-out orders with the server's own code, and tuning the blend.

Rows are produced by `recograph.engine.recommend` (the function the server calls) on a snapshot
fitted before the cutoff, except ``random``, which has no scoring function. Evaluation turns
business rules off (no promoted slots, no category cap) and keeps out-of-stock products, so the
rows compare models; the row ``hybrid + business rules`` shows what store policy costs.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from recograph.core.segments import SegmentThresholds
from recograph.core.segments import segments as segment_names
from recograph.core.vocabulary import PageType, Segment, SignalName, Strategy, Weights
from recograph.engine import (
    BUY_AGAIN_PAGES,
    BusinessRules,
    Context,
    Request,
    build_profile,
    buy_again,
    cf_scores,
    compute_signals,
    due_items,
    due_scores,
    filter_mask,
    final_scores,
    intent_mask,
    owned_damping,
    page_intents,
    recommend,
)
from recograph.evaluation.metrics import (
    ALL_USERS,
    EvaluationResult,
    evaluate_rankings,
    format_table,
    ndcg_at_k,
    top_k,
)
from recograph.evaluation.split import CartCase
from recograph.progress import Progress, every, no_progress
from recograph.recommenders.blend import SEED_WEIGHTS, blend, normalise, shift_for_page
from recograph.snapshot import BlendConfig, ModelSnapshot

logger = logging.getLogger(__name__)

K_MAX = 10
NO_POLICY = BusinessRules(promoted_positions=(), margin_weight=0.0, max_per_category=None)
RequestFactory = Callable[[int], Request]
CART_TITLE = "cart pages: one product of each held-out order in the cart, the rest to predict"


@dataclass(frozen=True)
class EvaluationReport:
    """Every row's metrics on the same users, plus where the split was cut."""

    results: Mapping[str, EvaluationResult]
    users: int
    cutoff: str | None = None
    validation_cutoff: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "users": self.users,
            "cutoff": self.cutoff,
            "validation_cutoff": self.validation_cutoff,
            "models": {name: result.to_dict() for name, result in self.results.items()},
        }

    def table(self) -> str:
        return format_table(self.results)

    def ndcg10(self, row: str, segment: str = ALL_USERS) -> float:
        return float(self.results[row].row(segment).metrics["ndcg@10"])


@dataclass(frozen=True)
class EvaluationUsers:
    """Customers scored by an evaluation (positions) and their held-out products (positions)."""

    positions: npt.NDArray[np.int64]
    relevant: list[set[int]]


def evaluation_users(
    snapshot: ModelSnapshot, targets: Mapping[int, set[int]], seed: int, max_users: int = 3000
) -> EvaluationUsers:
    """Customers with held-out purchases, in ascending id order (a seeded sample of
    ``max_users`` of them when there are more)."""
    customer_ids = np.array(sorted(targets), dtype=np.int64)
    positions = snapshot.histories.index.positions(customer_ids)
    keep = positions >= 0
    customer_ids, positions = customer_ids[keep], positions[keep]
    if len(positions) > max_users:
        chosen = np.sort(np.random.default_rng(seed).choice(len(positions), max_users, False))
        customer_ids, positions = customer_ids[chosen], positions[chosen]
    relevant = []
    for customer in customer_ids.tolist():
        items = snapshot.catalogue.index.positions(np.array(sorted(targets[customer])))
        relevant.append({int(i) for i in items if i >= 0})
    return EvaluationUsers(positions.astype(np.int64), relevant)


def _run(
    snapshot: ModelSnapshot,
    users: EvaluationUsers,
    factory: RequestFactory,
    rules: BusinessRules,
    tick: Callable[[int], None] = lambda done: None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.str_]]:
    recommended = np.full((len(users.positions), K_MAX), -1, dtype=np.int64)
    segments = np.empty(len(users.positions), dtype="<U8")
    for row, user in enumerate(users.positions.tolist()):
        tick(row + 1)
        result = recommend(snapshot, factory(user), rules)
        chosen = [item.position for item in result.items]
        recommended[row, : len(chosen)] = chosen
        segments[row] = result.segment.value
    return recommended, segments


def random_rankings(
    snapshot: ModelSnapshot, users: EvaluationUsers, k: int, seed: int
) -> npt.NDArray[np.int64]:
    """The random baseline: products in a seeded random order, each user's purchases left out.

    One uniform score vector per user, in user order, from ``default_rng(seed)``.
    """
    rng = np.random.default_rng(seed)
    recommended = np.full((len(users.positions), k), -1, dtype=np.int64)
    matrix = snapshot.interactions
    for row, user in enumerate(users.positions.tolist()):
        scores = rng.random(snapshot.n_items)
        scores[matrix.indices[matrix.indptr[user] : matrix.indptr[user + 1]]] = -np.inf
        recommended[row] = top_k(scores, k)
    return recommended


def _request(**kwargs: Any) -> RequestFactory:
    def factory(user: int) -> Request:
        return Request(user=user, limit=K_MAX, in_stock_only=False, **kwargs)

    return factory


def model_rows(snapshot: ModelSnapshot) -> dict[str, RequestFactory]:
    """Every row scored by the engine, by name."""
    rows: dict[str, RequestFactory] = {"popularity": _request(strategy=Strategy.POPULAR)}
    for name in snapshot.cf:  # every fitted CF model, in registry order
        rows[name] = _request(strategy=Strategy.COLLABORATIVE, cf_models=((name, 1.0),))
    rows["content"] = _request(strategy=Strategy.CONTENT)
    rows["rules"] = _request(strategy=Strategy.RULES)
    return rows


def evaluate_models(
    snapshot: ModelSnapshot,
    targets: Mapping[int, set[int]],
    seed: int,
    *,
    max_users: int = 3000,
    progress: Progress = no_progress,
) -> EvaluationReport:
    """The evaluation table: random, popularity, each signal, the seed hybrid and the served
    hybrid (when tuning changed it), all on the same held-out customers. ``progress`` hears
    "evaluation" as customers × rows scored."""
    users = evaluation_users(snapshot, targets, seed, max_users)
    head = snapshot.head_items
    results: dict[str, EvaluationResult] = {}
    segments: npt.NDArray[np.str_] | None = None
    rows = model_rows(snapshot)
    tuned = dict(snapshot.blend.weights) != dict(SEED_WEIGHTS)
    n_users = len(users.positions)
    total = n_users * (len(rows) + 2 + int(tuned))
    runs = 0

    def run(
        served: ModelSnapshot, factory: RequestFactory, rules: BusinessRules
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.str_]]:
        nonlocal runs
        offset, runs = runs * n_users, runs + 1
        report = every(progress, "evaluation", total, 100)
        return _run(served, users, factory, rules, lambda done: report(offset + done))

    def score(name: str, recommended: npt.NDArray[np.int64], segs: npt.NDArray[np.str_]) -> None:
        results[name] = evaluate_rankings(
            recommended, users.relevant, segments=segs, n_items=snapshot.n_items, head_items=head
        )

    seed_snapshot = replace(snapshot, blend=replace(snapshot.blend, weights=dict(SEED_WEIGHTS)))
    hybrid, segments = run(seed_snapshot, _request(), NO_POLICY)
    score("random", random_rankings(snapshot, users, K_MAX, seed), segments)
    for name, factory in rows.items():
        recommended, _ = run(snapshot, factory, NO_POLICY)
        score(name, recommended, segments)
    score("hybrid (seed weights)", hybrid, segments)
    if tuned:
        served, _ = run(snapshot, _request(), NO_POLICY)
        score("hybrid (tuned)", served, segments)
    with_policy, _ = run(snapshot, _request(), BusinessRules())
    score("hybrid + business rules", with_policy, segments)
    return EvaluationReport(results=results, users=len(users.positions))


# ---------------------------------------------------------------------------- cart pages


@dataclass(frozen=True)
class _Carts:
    """Cart cases in positions: the customer (None when unknown to the snapshot), the product
    in the cart, the products to predict."""

    users: list[int | None]
    anchors: list[int]
    relevant: list[set[int]]


def cart_positions(snapshot: ModelSnapshot, cases: list[CartCase]) -> _Carts:
    """``cases`` in the snapshot's positions (those whose anchor or targets it lacks dropped)."""
    carts = _Carts([], [], [])
    for case in cases:
        anchor = snapshot.catalogue.index.position(case.anchor)
        targets = snapshot.catalogue.index.positions(np.array(sorted(case.targets)))
        relevant = {int(p) for p in targets if p >= 0}
        if anchor is None or not relevant:
            continue
        user = snapshot.histories.index.position(case.customer_id)
        carts.users.append(user)
        carts.anchors.append(anchor)
        carts.relevant.append(relevant)
    return carts


def _run_carts(
    snapshot: ModelSnapshot, carts: _Carts, **kwargs: Any
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.str_]]:
    recommended = np.full((len(carts.users), K_MAX), -1, dtype=np.int64)
    segments = np.empty(len(carts.users), dtype="<U8")
    for row, (user, anchor) in enumerate(zip(carts.users, carts.anchors, strict=True)):
        request = Request(
            user=user,
            context=Context(cart=(anchor,), page_type=PageType.CART),
            limit=K_MAX,
            in_stock_only=False,
            **kwargs,
        )
        result = recommend(snapshot, request, NO_POLICY)
        chosen = [item.position for item in result.items]
        recommended[row, : len(chosen)] = chosen
        segments[row] = result.segment.value
    return recommended, segments


def evaluate_cart_completion(
    snapshot: ModelSnapshot, cases: list[CartCase], seed: int
) -> EvaluationReport:
    """Cart pages offline: each held-out order with one of its products in the cart (see
    `recograph.evaluation.split.cart_cases`), scored on the order's other products.

    This measures what the history-only table cannot: how much the page should count. Rows:
    random, popularity, collaborative filtering from history alone, content and rules from the
    cart, the served hybrid (context weights), and, when tuning changed the history weights,
    the hybrid with those weights on the cart page."""
    carts = cart_positions(snapshot, cases)
    results: dict[str, EvaluationResult] = {}
    served, segments = _run_carts(snapshot, carts)
    head = snapshot.head_items

    def score(name: str, recommended: npt.NDArray[np.int64]) -> None:
        results[name] = evaluate_rankings(
            recommended,
            carts.relevant,
            segments=segments,
            n_items=snapshot.n_items,
            head_items=head,
        )

    rng = np.random.default_rng(seed)
    matrix = snapshot.interactions
    randoms = np.full((len(carts.users), K_MAX), -1, dtype=np.int64)
    for row, (user, anchor) in enumerate(zip(carts.users, carts.anchors, strict=True)):
        scores = rng.random(snapshot.n_items)
        if user is not None:
            scores[matrix.indices[matrix.indptr[user] : matrix.indptr[user + 1]]] = -np.inf
        scores[anchor] = -np.inf
        randoms[row] = top_k(scores, K_MAX)
    score("random", randoms)
    score("popularity", _run_carts(snapshot, carts, strategy=Strategy.POPULAR)[0])
    score("collaborative", _run_carts(snapshot, carts, strategy=Strategy.COLLABORATIVE)[0])
    score("content", _run_carts(snapshot, carts, strategy=Strategy.CONTENT)[0])
    score("rules", _run_carts(snapshot, carts, strategy=Strategy.RULES)[0])
    score("hybrid (context weights)", served)
    if dict(snapshot.blend.context_weights) != dict(SEED_WEIGHTS):
        seeded = replace(
            snapshot, blend=replace(snapshot.blend, context_weights=dict(SEED_WEIGHTS))
        )
        score("hybrid (seed weights)", _run_carts(seeded, carts)[0])
    if dict(snapshot.blend.weights) != dict(snapshot.blend.context_weights):
        history = replace(
            snapshot, blend=replace(snapshot.blend, context_weights=snapshot.blend.weights)
        )
        score("hybrid (history weights)", _run_carts(history, carts)[0])
    return EvaluationReport(results=results, users=len(carts.users))


# ---------------------------------------------------------------------------- tuning


@dataclass(frozen=True)
class _SignalStack:
    """Normalised signals of every validation user, (n_users, n_items) each."""

    snapshot: ModelSnapshot
    signals: dict[SignalName, npt.NDArray[np.float32]]
    cf_models: dict[str, npt.NDArray[np.float32]]
    excluded: npt.NDArray[np.bool_]
    n_orders: npt.NDArray[np.int64]
    n_items: npt.NDArray[np.int64]
    damping: npt.NDArray[np.float32]  # `engine.owned_damping` of each row
    again: npt.NDArray[np.float32]  # `engine.buy_again` of each row (0 off buy-again pages)
    due: npt.NDArray[np.float32]  # `engine.due_scores` of each row (0 off buy-again pages)
    lead: npt.NDArray[np.bool_]  # `engine.page_intents` of each row's page, as a mask


def _stack(
    snapshot: ModelSnapshot,
    rows: list[tuple[int | None, Context]],
    tick: Callable[[int], None] = lambda done: None,
    cf_models: Sequence[str] | None = None,
) -> _SignalStack:
    """Every signal of every (customer, page) row, normalised, with what the filters remove;
    every CF model, or those of ``cf_models``."""
    everything = Weights(cf=1.0, content=1.0, rules=1.0, popularity=1.0)
    n_rows, n_items = len(rows), snapshot.n_items
    signals = {s: np.zeros((n_rows, n_items), dtype=np.float32) for s in SignalName}
    # every fitted CF model in registry order (only the served ones when ``cf_models`` is given)
    models = [m for m in snapshot.cf if cf_models is None or m in cf_models]
    cf = {m: np.zeros((n_rows, n_items), dtype=np.float32) for m in models}
    excluded = np.zeros((n_rows, n_items), dtype=np.bool_)
    n_orders = np.zeros(n_rows, dtype=np.int64)
    n_hist = np.zeros(n_rows, dtype=np.int64)
    damping = np.ones((n_rows, n_items), dtype=np.float32)
    again = np.zeros((n_rows, n_items), dtype=np.float32)
    due = np.zeros((n_rows, n_items), dtype=np.float32)
    lead = np.zeros((n_rows, n_items), dtype=np.bool_)
    for row, (user, context) in enumerate(rows):
        tick(row + 1)
        profile = build_profile(snapshot, user)
        for name in models:
            cf[name][row] = normalise(cf_scores(snapshot, profile, ((name, 1.0),)))
        computed = compute_signals(snapshot, profile, context, everything, (("item_knn", 1.0),))
        for signal, raw in computed.raw.items():
            signals[signal][row] = normalise(raw)
        request = Request(user=user, context=context, in_stock_only=False)
        allowed, _ = filter_mask(snapshot, request, profile)
        excluded[row] = ~allowed
        n_orders[row] = profile.n_orders
        n_hist[row] = profile.items.size
        damping[row] = owned_damping(snapshot, profile, context)
        if context.page_type in BUY_AGAIN_PAGES:
            again[row] = buy_again(snapshot, profile)
            due[row] = due_scores(n_items, due_items(snapshot, profile))
        lead[row] = intent_mask(n_items, page_intents(snapshot, context, damping[row]))
    return _SignalStack(
        snapshot, signals, cf, excluded, n_orders, n_hist, damping, again, due, lead
    )


def page_stack(snapshot: ModelSnapshot, rows: list[tuple[int | None, Context]]) -> _SignalStack:
    """Every signal of every (customer, page) row, computed once (the served CF models only),
    so that variants of the snapshot's served blend (`served_ndcg`) are scored without a
    request per variant."""
    return _stack(snapshot, rows, cf_models=[name for name, _ in snapshot.blend.cf_models])


def page_related(
    stack: _SignalStack, rows: list[tuple[int | None, Context]], page: PageType, lead: int
) -> list[list[int]]:
    """Each row's page's related products in the order they lead (`engine.page_intents`), at
    most ``lead`` of them: the first n of these are what a lead of n puts first."""
    snapshot = stack.snapshot
    config = replace(snapshot.blend, page_leads={**snapshot.blend.page_leads, page: lead})
    leading = replace(snapshot, blend=config)
    return [
        list(page_intents(leading, context, stack.damping[row]))
        for row, (_, context) in enumerate(rows)
    ]


def lead_masks(stack: _SignalStack, related: list[list[int]], lead: int) -> _SignalStack:
    """``stack`` with each row's first ``lead`` related products (`page_related`) leading."""
    mask = np.zeros_like(stack.lead)
    for row, items in enumerate(related):
        mask[row, items[:lead]] = True
    return replace(stack, lead=mask)


def served_ndcg(
    stack: _SignalStack,
    relevant: list[set[int]],
    config: BlendConfig,
    page: PageType | None,
    rows: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[np.float64]:
    """NDCG@10 of each chosen row (``rows``, default all) as `engine.recommend` serves it with
    ``config`` (business rules and the stock filter off): per row, its segment's weights, the
    context weights when the page holds products (PRODUCT, CART, CHECKOUT rows), and the
    popularity a new customer gets on a page without products. Ranked by
    `engine.final_scores`, so ``config``'s `due_par` applies as served."""
    n_rows = len(relevant)
    chosen = np.ones(n_rows, dtype=np.bool_) if rows is None else rows
    stack = replace(stack, snapshot=replace(stack.snapshot, blend=config))
    segments = _row_segments(stack, config)
    cf = _cf_mix(stack, config.cf_models)
    on_page = page in (PageType.PRODUCT, PageType.CART, PageType.CHECKOUT)
    table = config.context_weights if on_page else config.weights
    out = np.full(n_rows, np.nan, dtype=np.float64)
    for segment in Segment:
        these = chosen & (segments == segment.value)
        if not these.any():
            continue
        if segment is Segment.NEW and not on_page:
            # `choose_weights`: the popular strategy, which neither damps nor buys again
            plain = replace(
                stack,
                damping=np.ones_like(stack.damping),
                again=np.zeros_like(stack.again),
                due=np.zeros_like(stack.due),
            )
            out[these] = _ndcg_values(plain, these, relevant, Weights(popularity=1.0), cf)
        else:
            out[these] = _ndcg_values(stack, these, relevant, table[segment], cf, page)
    return out[chosen]


def _cf_mix(
    stack: _SignalStack, cf_models: tuple[tuple[str, float], ...]
) -> npt.NDArray[np.float32]:
    """The served CF score of every row: the weighted sum of the normalised CF models, as
    `engine.cf_scores` computes it per request."""
    return sum(
        (np.float32(w) * stack.cf_models[name] for name, w in cf_models),
        start=np.zeros_like(stack.signals[SignalName.POPULARITY]),
    )


def _row_segments(stack: _SignalStack, config: BlendConfig) -> npt.NDArray[np.str_]:
    """Each row's segment under ``config``'s thresholds (the rule `BlendConfig.segment` uses)."""
    return segment_names(stack.n_orders, stack.n_items, config.thresholds)


def _ndcg_values(
    stack: _SignalStack,
    rows: npt.NDArray[np.bool_],
    relevant: list[set[int]],
    weights: Weights,
    cf: npt.NDArray[np.float32],
    page: PageType | None = None,
    margin_weight: float = NO_POLICY.margin_weight,
) -> npt.NDArray[np.float64]:
    """NDCG@10 of each chosen row under ``weights`` (shifted for ``page`` as the engine does),
    ranked by `engine.final_scores`, the server's own final step."""
    if not rows.any():
        return np.zeros(0, dtype=np.float64)
    weights = shift_for_page(weights, page)
    parts = {s: m[rows] for s, m in stack.signals.items()}
    parts[SignalName.CF] = cf[rows]
    used = {s: v for s, v in parts.items() if weights.get(s) > 0}
    blended = blend(used, weights) if used else np.zeros_like(parts[SignalName.POPULARITY])
    total = final_scores(
        stack.snapshot,
        blended,
        parts[SignalName.POPULARITY],
        stack.damping[rows],
        margin_weight,
        stack.again[rows],
        stack.snapshot.repeat.share,
        stack.due[rows],
        stack.lead[rows],
    )
    recommended = top_k(total, K_MAX, stack.excluded[rows])
    chosen = [r for r, keep in zip(relevant, rows, strict=True) if keep]
    return np.asarray(ndcg_at_k(recommended, chosen, K_MAX), dtype=np.float64)


@dataclass(frozen=True)
class Estimate:
    """A validation NDCG@10: its mean over ``users`` customers and the standard error."""

    mean: float
    standard_error: float
    users: int

    @classmethod
    def of(cls, values: npt.NDArray[np.float64]) -> Estimate:
        finite = values[np.isfinite(values)]  # NaN: a customer with nothing to find
        if finite.size == 0:
            return cls(0.0, 0.0, 0)
        error = float(finite.std(ddof=1) / np.sqrt(finite.size)) if finite.size > 1 else 0.0
        return cls(float(finite.mean()), error, int(finite.size))

    def to_dict(self) -> dict[str, Any]:
        return {
            "ndcg@10": round(self.mean, 4),
            "standard_error": round(self.standard_error, 4),
            "users": self.users,
        }


def _paired_error(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    """Standard error of the mean of the paired difference ``a - b`` (same customers)."""
    difference = a - b
    difference = difference[np.isfinite(difference)]
    if difference.size < 2:
        return 0.0
    return float(difference.std(ddof=1) / np.sqrt(difference.size))


def pick_candidate(values: list[npt.NDArray[np.float64]], default: int) -> int:
    """The candidate to adopt from per-user scores (one array per candidate, same users): the
    best mean, but ``default`` unless the best beats it by more than one standard error of the
    paired difference. Without this one-standard-error rule a small validation split picks
    noise (a difference this small is what resampling the same customers gives)."""
    means = [float(np.nanmean(v)) if np.isfinite(v).any() else 0.0 for v in values]
    best = max(range(len(values)), key=lambda i: (means[i], -i))
    difference = values[best] - values[default]
    difference = difference[np.isfinite(difference)]  # NaN: a user with nothing to find
    if difference.size < 2:
        return default
    standard_error = float(difference.std(ddof=1) / np.sqrt(difference.size))
    chosen = best if means[best] - means[default] > standard_error else default
    logger.debug(
        "best %d: NDCG@10 %.4f, default %d: %.4f, standard error %.4f -> %d",
        best,
        means[best],
        default,
        means[default],
        standard_error,
        chosen,
    )
    return chosen


def _weight_grid(step: float = 0.1) -> list[Weights]:
    ticks = np.round(np.arange(0, 1 + 1e-9, step), 2)
    grid = []
    for cf, content in itertools.product(ticks, ticks):
        rules = round(1.0 - cf - content, 2)
        if rules >= -1e-9:
            grid.append(Weights(cf=float(cf), content=float(content), rules=float(max(0.0, rules))))
    return grid


# Fewer validation customers than this in a segment and page kind: no decision is taken there
# (the seed weights stay); with 30 customers a standard error of NDCG@10 is already ~0.05.
MIN_DECISION_CUSTOMERS = 30

# The single signals the served blend must match (item 2 of issue 12); "cf" is the served mix,
# itself the best single CF model unless a pair beat it.
SINGLE_SIGNALS: dict[str, Weights] = {
    "cf": Weights(cf=1.0),
    "content": Weights(content=1.0),
    "rules": Weights(rules=1.0),
    "popularity": Weights(popularity=1.0),
}

HISTORY_PAGE, CART_PAGE = "history", "cart"

# How simple each served configuration is, for the one-standard-error rule: popularity needs no
# customer signal, a single signal one model, the blend several.
BLEND = "blend"
SIMPLICITY: dict[str, int] = {"popularity": 0, "cf": 1, "content": 1, "rules": 1, BLEND: 2}
ONE_SE_RULE = (
    "one-standard-error rule: of the blend and the single signals, the simplest (popularity, "
    "then a single signal, then the blend; the better score among equals) whose validation "
    "NDCG@10 is within one standard error of the best configuration's NDCG@10 is served; the "
    "standard error is that of the paired difference (both scored on the same customers: the "
    "std of the per-customer differences / √n)"
)


def best_configuration(means: Mapping[str, float]) -> str:
    """The best configuration by mean NDCG@10 (the simpler, then "cf", among equal means)."""
    return max(means, key=lambda name: (means[name], -SIMPLICITY[name], name == "cf"))


def simplest_within_one_se(
    values: Mapping[str, npt.NDArray[np.float64]],
) -> tuple[str, str, list[str]]:
    """The one-standard-error rule (Hastie, Tibshirani and Friedman, The Elements of
    Statistical Learning, 7.10) over candidate configurations scored per customer (NDCG@10,
    the same customers): the best by mean, the candidates whose mean is within one standard
    error of the paired difference from the best's mean (`_paired_error`), and the simplest of
    those (`SIMPLICITY`, then the higher mean, then the name). A more complex configuration
    must beat the simpler ones by more than the noise: on a tied validation split the best is
    often the one that fitted noise. The error is the paired one because every candidate is
    scored on the same customers: how hard a customer is to predict moves all candidates
    alike and says nothing about which is better (on Groceries' 129 regular validation
    customers, EASE led popularity by 0.0157 with a paired error of 0.0094, while EASE's own
    standard error, 0.0192, hid the lead that the test confirmed: +0.0217 ± 0.0053). It is the
    comparison `pick_candidate` makes for hyperparameters and the CF mix. Returns (chosen,
    best, within)."""
    means = {name: _mean(v) for name, v in values.items()}
    best = best_configuration(means)
    within = [
        name
        for name, v in values.items()
        if means[best] - means[name] <= _paired_error(values[best], v)
    ]
    chosen = min(within, key=lambda name: (SIMPLICITY[name], -means[name], name))
    return chosen, best, within


def candidate_record(values: Mapping[str, npt.NDArray[np.float64]]) -> dict[str, dict[str, Any]]:
    """Each candidate's figures behind `simplest_within_one_se` (the manifest's
    ``candidates``): its NDCG@10 estimate, how far it is below the best, and the standard
    error of that paired difference; the rule keeps it when the gap is at most that error."""
    means = {name: _mean(v) for name, v in values.items()}
    best = best_configuration(means)
    return {
        name: {
            **Estimate.of(v).to_dict(),
            "below_best": round(means[best] - means[name], 4),
            "paired_standard_error": round(_paired_error(values[best], v), 4),
        }
        for name, v in values.items()
    }


def _mean(values: npt.NDArray[np.float64]) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else 0.0


@dataclass(frozen=True)
class Choice:
    """The guarantee for one segment and page kind: the served weights against the best single
    signal on validation, by the one-standard-error rule (`simplest_within_one_se`).
    ``outcome``: "blend" (the blend is the simplest configuration within one standard error of
    the best), "signal" (a single signal is: ``served_signal`` is served instead) or "too few"
    (fewer than `MIN_DECISION_CUSTOMERS` customers: the weights stay, nothing is claimed)."""

    segment: str
    page: str
    blend: Weights
    blend_score: Estimate
    best_signal: str
    best_score: Estimate
    standard_error: float  # of the paired difference best signal - blend
    outcome: str
    served: Weights
    served_signal: str | None = None  # the single signal served ("signal" outcomes)
    best: str = BLEND  # the best configuration on validation: "blend" or a signal
    within_one_se: tuple[str, ...] = ()  # configurations within one SE of the best
    candidates: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # the rule's figures

    def to_dict(self) -> dict[str, Any]:
        return {
            "segment": self.segment,
            "page": self.page,
            "blend": self.blend.as_dict(),
            "blend_ndcg@10": self.blend_score.to_dict(),
            "best_signal": self.best_signal,
            "best_signal_ndcg@10": self.best_score.to_dict(),
            "difference_standard_error": round(self.standard_error, 4),
            "outcome": self.outcome,
            "served": self.served.as_dict(),
            "served_signal": self.served_signal,
            "best": self.best,
            "within_one_se": list(self.within_one_se),
            "candidates": {name: dict(figures) for name, figures in self.candidates.items()},
            "rule": ONE_SE_RULE,
        }


def _guarantee(
    stack: _SignalStack,
    relevant: list[set[int]],
    weights: Mapping[Segment, Weights],
    cf: npt.NDArray[np.float32],
    segments: tuple[Segment, ...],
    config: BlendConfig,
    page: PageType | None,
) -> tuple[dict[Segment, Weights], list[Choice]]:
    """Per segment, the blend or a single signal by the one-standard-error rule
    (`simplest_within_one_se`): the blend is served only where no simpler configuration
    (popularity, or one signal) scores within one standard error of the best; so the served
    configuration always scores at least the best single signal within one standard error."""
    page_name = HISTORY_PAGE if page is None else CART_PAGE
    segs = _row_segments(stack, config)
    served = dict(weights)
    choices = []
    for segment in segments:
        rows = segs == segment
        blend_values = _ndcg_values(stack, rows, relevant, served[segment], cf, page)
        singles = {
            name: _ndcg_values(stack, rows, relevant, w, cf, page)
            for name, w in SINGLE_SIGNALS.items()
        }
        estimates = {name: Estimate.of(values) for name, values in singles.items()}
        best_signal = max(estimates, key=lambda name: (estimates[name].mean, name == "cf"))
        blend_score = Estimate.of(blend_values)
        error = _paired_error(singles[best_signal], blend_values)
        candidates = {BLEND: blend_values, **singles}
        chosen, best, within = simplest_within_one_se(candidates)
        served_signal = None
        if blend_score.users < MIN_DECISION_CUSTOMERS:
            outcome = "too few"
        elif chosen == BLEND:
            outcome = "blend"
        else:
            outcome, served_signal = "signal", chosen
            served[segment] = SINGLE_SIGNALS[chosen]
        choice = Choice(
            segment=segment.value,
            page=page_name,
            blend=weights[segment],
            blend_score=blend_score,
            best_signal=best_signal,
            best_score=estimates[best_signal],
            standard_error=error,
            outcome=outcome,
            served=served[segment],
            served_signal=served_signal,
            best=best,
            within_one_se=tuple(within),
            candidates=candidate_record(candidates),
        )
        logger.info("model choice: %s", choice.to_dict())
        choices.append(choice)
    return served, choices


@dataclass(frozen=True)
class TuningResult:
    """The served blend and the validation evidence behind it (recorded in the manifest)."""

    config: BlendConfig
    cf_models: Mapping[str, Estimate] = field(default_factory=dict)
    cf_mix: Estimate | None = None
    weight_decisions: tuple[dict[str, Any], ...] = ()
    choices: tuple[Choice, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "cf_models": {name: e.to_dict() for name, e in self.cf_models.items()},
            "cf_mix": None if self.cf_mix is None else self.cf_mix.to_dict(),
            "weight_decisions": list(self.weight_decisions),
            "choices": [choice.to_dict() for choice in self.choices],
        }


@dataclass(frozen=True)
class ValidationSet:
    """Validation customers with history, their signals stacked once, for scoring model
    variants (hyperparameter search) as the engine serves them."""

    stack: _SignalStack
    relevant: list[set[int]]
    users: npt.NDArray[np.int64]
    rows: npt.NDArray[np.bool_]  # customers with history: where CF applies


def validation_set(
    snapshot: ModelSnapshot, targets: Mapping[int, set[int]], seed: int, max_users: int = 3000
) -> ValidationSet:
    """The validation customers of ``targets`` on ``snapshot`` (see `evaluation_users`)."""
    users = evaluation_users(snapshot, targets, seed, max_users)
    stack = _stack(snapshot, [(user, Context()) for user in users.positions.tolist()])
    return ValidationSet(stack, users.relevant, users.positions, stack.n_items > 0)


def signal_values(
    validation: ValidationSet, snapshot: ModelSnapshot, model: str
) -> npt.NDArray[np.float64]:
    """NDCG@10 per validation customer (with history) of ``model`` (a CF model, or
    "content") served alone by ``snapshot``, the validation snapshot with that model refitted."""
    signal = SignalName.CONTENT if model == "content" else SignalName.CF
    matrix = np.zeros_like(validation.stack.signals[SignalName.POPULARITY])
    for row, user in enumerate(validation.users.tolist()):
        profile = build_profile(snapshot, user)
        if signal is SignalName.CF:
            matrix[row] = normalise(cf_scores(snapshot, profile, ((model, 1.0),)))
        else:
            only = Weights(content=1.0)
            computed = compute_signals(snapshot, profile, Context(), only, ())
            matrix[row] = normalise(computed.raw[SignalName.CONTENT])
    stack = replace(validation.stack, signals={**validation.stack.signals, signal: matrix})
    weights = Weights(content=1.0) if signal is SignalName.CONTENT else Weights(cf=1.0)
    return _ndcg_values(stack, validation.rows, validation.relevant, weights, matrix)


def _choose_cf_mix(
    stack: _SignalStack, rows: npt.NDArray[np.bool_], relevant: list[set[int]]
) -> tuple[tuple[tuple[str, float], ...], dict[str, Estimate], Estimate]:
    """The best single CF model on validation, or the pair of the two best when it beats that
    model by more than one standard error."""
    only_cf = Weights(cf=1.0)
    values = {
        name: _ndcg_values(stack, rows, relevant, only_cf, matrix)
        for name, matrix in stack.cf_models.items()
    }
    estimates = {name: Estimate.of(v) for name, v in values.items()}
    ranked = sorted(estimates, key=lambda name: (-estimates[name].mean, name))
    logger.info("validation NDCG@10 per CF model: %s", {n: e.mean for n, e in estimates.items()})
    mix: tuple[tuple[str, float], ...] = ((ranked[0], 1.0),)
    chosen = values[ranked[0]]
    if len(ranked) > 1:
        pair_models = ((ranked[0], 0.5), (ranked[1], 0.5))
        pair = _ndcg_values(stack, rows, relevant, only_cf, _cf_mix(stack, pair_models))
        if pick_candidate([chosen, pair], default=0) == 1:
            mix, chosen = pair_models, pair
    return mix, estimates, Estimate.of(chosen)


def tune_blend(
    snapshot: ModelSnapshot,
    targets: Mapping[int, set[int]],
    seed: int,
    *,
    max_users: int = 3000,
    search_weights: bool = False,
    carts: list[CartCase] | None = None,
    progress: Progress = no_progress,
) -> TuningResult:
    """Choose the served CF mix on the validation split; with ``search_weights`` also the
    weights of light and regular customers and the segment thresholds (grid search, NDCG@10),
    and, given ``carts`` (`split.cart_cases` of the validation split), their context weights
    on cart pages. Then, always, the guarantee: per segment and page kind the served weights
    score at least the best single signal within one standard error, else that signal is
    served (`Choice`). A decision needs `MIN_DECISION_CUSTOMERS` customers. ``progress``
    hears "validation" (customers scored) and "tuning" (grid search, guarantee, cart pages)."""
    users = evaluation_users(snapshot, targets, seed, max_users)
    base = snapshot.blend
    if len(users.positions) == 0:
        return TuningResult(base)
    n_users = len(users.positions)
    stack = _stack(
        snapshot,
        [(user, Context()) for user in users.positions.tolist()],
        every(progress, "validation", n_users, 100),
    )
    with_history = stack.n_items > 0
    if int(with_history.sum()) < MIN_DECISION_CUSTOMERS:
        return TuningResult(base)
    cf_models, cf_estimates, cf_mix_score = _choose_cf_mix(stack, with_history, users.relevant)
    cf = _cf_mix(stack, cf_models)
    config = replace(base, cf_models=cf_models)
    decisions: list[dict[str, Any]] = []
    grid = _weight_grid()
    tuning_steps = 2 + int(bool(carts))
    if search_weights:
        config, decisions = _search_weights(stack, users.relevant, config, cf, grid)
    progress("tuning", 1, tuning_steps)
    history_segments = (Segment.LIGHT, Segment.REGULAR)
    weights, choices = _guarantee(
        stack, users.relevant, config.weights, cf, history_segments, config, None
    )
    config = replace(config, weights=weights)
    progress("tuning", 2, tuning_steps)
    if carts:
        config, cart_choices, cart_decisions = _tune_context_weights(
            snapshot, config, carts, grid, search_weights
        )
        choices += cart_choices
        decisions += cart_decisions
        progress("tuning", tuning_steps, tuning_steps)
    logger.info("tuned blend: %s", config.to_dict())
    return TuningResult(config, cf_estimates, cf_mix_score, tuple(decisions), tuple(choices))


def _search_weights(
    stack: _SignalStack,
    relevant: list[set[int]],
    config: BlendConfig,
    cf: npt.NDArray[np.float32],
    grid: list[Weights],
) -> tuple[BlendConfig, list[dict[str, Any]]]:
    """Segment thresholds and light/regular weights by grid search; a segment with fewer than
    `MIN_DECISION_CUSTOMERS` customers keeps its weights. Thresholds other than ``config``'s
    are adopted only when, with their best weights, they beat ``config``'s thresholds (with
    theirs) by more than one standard error per customer, as weights are (`pick_candidate`)."""
    candidates: list[tuple[BlendConfig, list[dict[str, Any]]]] = []
    per_customer: list[npt.NDArray[np.float64]] = []
    default_index = 0
    for regular_min_orders, regular_min_items in itertools.product((2, 3, 4), (None, 5, 8)):
        thresholds = SegmentThresholds(
            regular_min_orders=regular_min_orders, regular_min_items=regular_min_items
        )
        if thresholds == config.thresholds:
            default_index = len(candidates)
        candidate = replace(config, thresholds=thresholds)
        segs = _row_segments(stack, candidate)
        weights = dict(candidate.weights)
        scores = np.full(len(relevant), np.nan)
        decisions = []
        for segment in (Segment.LIGHT, Segment.REGULAR):
            rows = segs == segment
            default = grid.index(SEED_WEIGHTS[segment])
            if int(rows.sum()) < MIN_DECISION_CUSTOMERS:
                values = [_ndcg_values(stack, rows, relevant, grid[default], cf)]
                index, kept = default, True
            else:
                values = [_ndcg_values(stack, rows, relevant, w, cf) for w in grid]
                index, kept = pick_candidate(values, default), False
            chosen = values[0 if kept else index]
            weights[segment] = grid[index]
            scores[rows] = chosen
            decisions.append(
                {
                    "segment": segment.value,
                    "page": HISTORY_PAGE,
                    "weights": grid[index].as_dict(),
                    "ndcg@10": Estimate.of(chosen).to_dict(),
                    "standard_error_vs_seed": round(
                        0.0 if kept else _paired_error(chosen, values[default]), 4
                    ),
                    "too_few_customers": kept,
                }
            )
        candidates.append((replace(candidate, weights=weights), decisions))
        per_customer.append(scores)
    return candidates[pick_candidate(per_customer, default_index)]


def _tune_context_weights(
    snapshot: ModelSnapshot,
    config: BlendConfig,
    cases: list[CartCase],
    grid: list[Weights],
    search_weights: bool,
) -> tuple[BlendConfig, list[Choice], list[dict[str, Any]]]:
    """Cart pages: with ``search_weights`` the light and regular customers' context weights by
    NDCG@10 of the cart protocol; then the guarantee per segment. Each held-out order is also
    replayed anonymously, which is what a new customer's cart page is."""
    carts = cart_positions(snapshot, cases)
    if not carts.users:
        return config, [], []
    page = PageType.CART
    rows = [
        (u, Context(cart=(a,), page_type=page))
        for u, a in zip(carts.users, carts.anchors, strict=True)
    ]
    rows += [(None, context) for _, context in rows]
    relevant = carts.relevant + carts.relevant
    stack = _stack(snapshot, rows)
    cf = _cf_mix(stack, config.cf_models)
    segs = _row_segments(stack, config)
    weights = dict(config.context_weights)
    decisions: list[dict[str, Any]] = []
    for segment in (Segment.LIGHT, Segment.REGULAR) if search_weights else ():
        chosen = segs == segment
        if int(chosen.sum()) < MIN_DECISION_CUSTOMERS:
            continue
        values = [_ndcg_values(stack, chosen, relevant, w, cf, page) for w in grid]
        default = grid.index(weights[segment])
        index = pick_candidate(values, default)
        weights[segment] = grid[index]
        decisions.append(
            {
                "segment": segment.value,
                "page": CART_PAGE,
                "weights": grid[index].as_dict(),
                "ndcg@10": Estimate.of(values[index]).to_dict(),
                "standard_error_vs_seed": round(_paired_error(values[index], values[default]), 4),
                "too_few_customers": False,
            }
        )
    segments = (Segment.NEW, Segment.LIGHT, Segment.REGULAR)
    served, choices = _guarantee(stack, relevant, weights, cf, segments, config, page)
    return replace(config, context_weights=served), choices, decisions


def _settings(values: Mapping[str, Any]) -> str:
    """Hyperparameters as people read them: "ease_lambda 200, item_knn_k 50"."""
    return ", ".join(f"{name} {value}" for name, value in values.items())


def validation_summary(validation: Mapping[str, Any]) -> str:
    """The build output's account of the validation decisions (manifest ``validation``): the
    protocol, each CF model, the hyperparameters tried, and per segment and page kind whether
    the blend or its best single signal is served, with n and standard errors."""
    protocol = validation.get("protocol")
    if not protocol:
        return f"validation: none ({validation.get('skipped', 'no evaluation')})"
    held_out = (
        f"{protocol['held_out_lines']} held-out lines of {protocol['customers']} customers"
        if "held_out_lines" in protocol
        else f"{protocol['held_out_orders']} held-out orders of "
        f"{protocol['customers']} returning customers"
    )
    eligible = protocol.get("eligible_customers")
    sample = (
        f", a seeded sample of the {eligible} with two products or more"
        if eligible is not None and eligible > protocol["customers"]
        else ""
    )
    lines = [
        f"validation: {protocol['kind']}, {held_out} "
        f"({protocol['customers_with_new_products']} with new products){sample}; decisions "
        f"need {protocol['min_decision_customers']} customers"
    ]

    def estimate(raw: Mapping[str, Any]) -> str:
        return f"{raw['ndcg@10']:.4f} ± {raw['standard_error']:.4f} (n={raw['users']})"

    models = validation.get("cf_models", {})
    if models:
        lines.append(
            "  CF models alone, NDCG@10: "
            + ", ".join(f"{name} {estimate(raw)}" for name, raw in models.items())
        )
    search = validation.get("hyperparameters") or {}
    if search:
        stopped = "stopped by the budget" if search["stopped_by_budget"] else "all tried"
        lines.append(
            f"  hyperparameters: {len(search['trials'])} settings in "
            f"{search['budget_seconds']:.0f} s ({stopped}); "
            "chosen: " + (_settings(search["chosen"]) or "the defaults")
        )
        for trial in search["trials"]:
            lines.append(
                f"    {trial['model']:<8} {_settings(trial['parameters']):<36} "
                f"{trial['ndcg@10']:.4f} ± "
                f"{trial['standard_error']:.4f}{'  adopted' if trial['adopted'] else ''}"
            )
    fallback = protocol.get("fallback_from")
    if fallback:
        lines.append(f"  not the {fallback['kind']}: {fallback['reason']}")
    choices = validation.get("choices", [])
    if choices and "rule" in choices[0]:
        lines.append(f"  model choice by the {choices[0]['rule']}")
    for choice in choices:
        served = "blend" if choice["outcome"] != "signal" else f"{served_signal(choice)} alone"
        lines.append(
            f"  {choice['segment']:<7} {choice['page']:<7} serves {served:<16} blend "
            f"{estimate(choice['blend_ndcg@10'])}, best signal {choice['best_signal']} "
            f"{estimate(choice['best_signal_ndcg@10'])}, difference SE "
            f"{choice['difference_standard_error']:.4f} [{choice['outcome']}]" + _within(choice)
        )
    lines.extend(_page_lead_lines(validation.get("page_leads") or []))
    lines.extend(_due_par_lines(validation.get("due_par")))
    return "\n".join(lines)


def _by_value(scores: Mapping[str, Any]) -> str:
    """ "0 0.2222, 2 0.2985 ± 0.0111 (n=456)": each candidate's NDCG@10, the last with n."""
    if not scores:
        return "-"
    parts = [
        f"{value} {raw['ndcg@10']:.4f} ± {raw['standard_error']:.4f}"
        for value, raw in scores.items()
    ]
    return ", ".join(parts) + f" (n={next(iter(scores.values()))['users']})"


def _page_lead_lines(choices: list[Mapping[str, Any]]) -> list[str]:
    """The page leads (`page_mix.choose_page_leads`): what each page kind leads with and why."""
    if not choices:
        return []
    lines = [f"  page leads (related products first) by the {choices[0]['rule']}"]
    for choice in choices:
        if choice["outcome"] == "follows":
            lines.append(f"    {choice['page']:<8} {choice['lead']} (as {choice['follows']})")
            continue
        lines.append(
            f"    {choice['page']:<8} {choice['lead']} [{choice['outcome']}] NDCG@10 by lead: "
            + _by_value(choice["ndcg@10"])
        )
        bought = choice.get("on_bought_page")
        if bought:
            lines.append(
                "             on the bought product's own page (not deciding): "
                + _by_value(bought["ndcg@10"])
            )
    return lines


def _due_par_lines(choice: Mapping[str, Any] | None) -> list[str]:
    """The due-date lift (`next_basket.choose_due_par`): the value served and why."""
    if not choice:
        return []
    lines = [f"  due-date lift (due_par) {choice['due_par']} [{choice['outcome']}]"]
    if choice.get("reason"):
        lines[0] += f": {choice['reason']}"
        return lines
    lines[0] += f" by the rule: {choice['rule']}"
    lines.append("    repeat NDCG@10: " + _by_value(choice["repeat_ndcg@10"]))
    lines.append("    explore NDCG@10: " + _by_value(choice["explore_ndcg@10"]))
    return lines


def _within(choice: Mapping[str, Any]) -> str:
    """ ", best blend; within 1 SE: blend, cf" for a choice that records the rule's candidates."""
    if not choice.get("within_one_se") or choice["outcome"] == "too few":
        return ""
    return f"; best {choice['best']}, within 1 SE: {', '.join(choice['within_one_se'])}"


def served_signal(choice: Mapping[str, Any]) -> str:
    """The single signal a "signal" choice serves (builds before the one-standard-error rule
    recorded only the best signal, which was then the one served)."""
    return str(choice.get("served_signal") or choice["best_signal"])


def report_from_dict(raw: Mapping[str, Any]) -> EvaluationReport:
    """The inverse of `EvaluationReport.to_dict` (None metrics come back as NaN)."""
    from recograph.evaluation.metrics import SegmentResult

    results = {}
    for name, model in raw.get("models", {}).items():
        rows = tuple(
            SegmentResult(
                segment=segment,
                users=int(values["users"]),
                metrics={
                    k: float("nan") if v is None else float(v)
                    for k, v in values.items()
                    if k != "users"
                },
            )
            for segment, values in model["segments"].items()
        )
        results[name] = EvaluationResult(ks=tuple(model["ks"]), rows=rows)
    return EvaluationReport(
        results=results,
        users=int(raw.get("users", 0)),
        cutoff=raw.get("cutoff"),
        validation_cutoff=raw.get("validation_cutoff"),
    )
