"""Scoring every model on held-out orders with the server's own code, and tuning the blend.

Rows are produced by `recograph.engine.recommend` (the function the server calls) on a snapshot
fitted before the cutoff, except ``random``, which has no scoring function. Evaluation turns
business rules off (no promoted slots, no category cap) and keeps out-of-stock products, so the
rows compare models; the row ``hybrid + business rules`` shows what store policy costs.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from recograph.engine import (
    FILLER_WEIGHT,
    BusinessRules,
    Context,
    Request,
    Strategy,
    build_profile,
    buy_again,
    compute_signals,
    filter_mask,
    mix_buy_again,
    owned_damping,
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
from recograph.evaluation.split import CartCase, SegmentThresholds
from recograph.evaluation.split import segments as segment_names
from recograph.progress import Progress, every, no_progress
from recograph.recommenders.blend import (
    SEED_WEIGHTS,
    PageType,
    Segment,
    SignalName,
    Weights,
    blend,
    normalise,
    shift_for_page,
)
from recograph.snapshot import CF_MODELS, BlendConfig, ModelSnapshot

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
    for name in CF_MODELS:
        if name == "ease" and snapshot.ease is None:
            continue
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


def _cart_positions(snapshot: ModelSnapshot, cases: list[CartCase]) -> _Carts:
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
    carts = _cart_positions(snapshot, cases)
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

    signals: dict[SignalName, npt.NDArray[np.float32]]
    cf_models: dict[str, npt.NDArray[np.float32]]
    excluded: npt.NDArray[np.bool_]
    n_orders: npt.NDArray[np.int64]
    n_items: npt.NDArray[np.int64]
    damping: npt.NDArray[np.float32]  # `engine.owned_damping` of each row
    again: npt.NDArray[np.float32]  # `engine.buy_again` of each row
    repeat_share: float


def _stack(
    snapshot: ModelSnapshot,
    rows: list[tuple[int | None, Context]],
    tick: Callable[[int], None] = lambda done: None,
) -> _SignalStack:
    """Every signal of every (customer, page) row, normalised, with what the filters remove."""
    everything = Weights(cf=1.0, content=1.0, rules=1.0, popularity=1.0)
    n_rows, n_items = len(rows), snapshot.n_items
    signals = {s: np.zeros((n_rows, n_items), dtype=np.float32) for s in SignalName}
    models = [m for m in CF_MODELS if m != "ease" or snapshot.ease is not None]
    cf = {m: np.zeros((n_rows, n_items), dtype=np.float32) for m in models}
    excluded = np.zeros((n_rows, n_items), dtype=np.bool_)
    n_orders = np.zeros(n_rows, dtype=np.int64)
    n_hist = np.zeros(n_rows, dtype=np.int64)
    damping = np.ones((n_rows, n_items), dtype=np.float32)
    again = np.zeros((n_rows, n_items), dtype=np.float32)
    for row, (user, context) in enumerate(rows):
        tick(row + 1)
        profile = build_profile(snapshot, user)
        for name in models:
            computed = compute_signals(snapshot, profile, context, Weights(cf=1.0), ((name, 1.0),))
            cf[name][row] = normalise(computed.raw[SignalName.CF])
        computed = compute_signals(snapshot, profile, context, everything, (("item_knn", 1.0),))
        for signal, raw in computed.raw.items():
            signals[signal][row] = normalise(raw)
        request = Request(user=user, context=context, in_stock_only=False)
        allowed, _ = filter_mask(snapshot, request, profile)
        excluded[row] = ~allowed
        n_orders[row] = profile.n_orders
        n_hist[row] = profile.items.size
        damping[row] = owned_damping(snapshot, profile, context)
        again[row] = buy_again(snapshot, profile)
    return _SignalStack(
        signals, cf, excluded, n_orders, n_hist, damping, again, snapshot.repeat.share
    )


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
) -> npt.NDArray[np.float64]:
    """NDCG@10 of each chosen row under ``weights`` (shifted for ``page`` as the engine does)."""
    if not rows.any():
        return np.zeros(0, dtype=np.float64)
    weights = shift_for_page(weights, page)
    parts = {s: m[rows] for s, m in stack.signals.items()}
    parts[SignalName.CF] = cf[rows]
    used = {s: v for s, v in parts.items() if weights.get(s) > 0}
    total = blend(used, weights) if used else np.zeros_like(parts[SignalName.POPULARITY])
    # as `engine.recommend` does: popularity breaks ties, owned categories are damped, owned
    # products that come back are mixed in by the store's repeat share
    total = (total + FILLER_WEIGHT * parts[SignalName.POPULARITY]) * stack.damping[rows]
    total = mix_buy_again(total, stack.again[rows], stack.repeat_share)
    recommended = top_k(total, K_MAX, stack.excluded[rows])
    chosen = [r for r, keep in zip(relevant, rows, strict=True) if keep]
    return np.asarray(ndcg_at_k(recommended, chosen, K_MAX), dtype=np.float64)


def _ndcg(
    stack: _SignalStack,
    rows: npt.NDArray[np.bool_],
    relevant: list[set[int]],
    weights: Weights,
    cf: npt.NDArray[np.float32],
) -> float:
    values = _ndcg_values(stack, rows, relevant, weights, cf)
    return float(np.nanmean(values)) if np.isfinite(values).any() else 0.0


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


def tune_blend(
    snapshot: ModelSnapshot,
    targets: Mapping[int, set[int]],
    seed: int,
    *,
    max_users: int = 3000,
    search_weights: bool = False,
    carts: list[CartCase] | None = None,
    progress: Progress = no_progress,
) -> BlendConfig:
    """Choose the served CF mix on the validation split; with ``search_weights`` also the
    weights of light and regular customers and the segment thresholds (grid search, NDCG@10),
    and, given ``carts`` (`split.cart_cases` of the validation split), their context weights
    on cart pages. ``progress`` hears "validation" (customers scored) and "tuning" (the grid's
    threshold pairs, then the cart weights)."""
    users = evaluation_users(snapshot, targets, seed, max_users)
    base = snapshot.blend
    if len(users.positions) == 0:
        return base
    n_users = len(users.positions)
    stack = _stack(
        snapshot,
        [(user, Context()) for user in users.positions.tolist()],
        every(progress, "validation", n_users, 100),
    )
    with_history = stack.n_items > 0
    only_cf = Weights(cf=1.0)
    scores = {
        name: _ndcg(stack, with_history, users.relevant, only_cf, matrix)
        for name, matrix in stack.cf_models.items()
    }
    ranked = sorted(scores, key=lambda name: (-scores[name], name))
    logger.info(
        "validation NDCG@10 per CF model: %s",
        ", ".join(f"{name} {scores[name]:.4f}" for name in ranked),
    )
    cf_models: tuple[tuple[str, float], ...] = ((ranked[0], 1.0),)
    if len(ranked) > 1:
        pair = 0.5 * stack.cf_models[ranked[0]] + 0.5 * stack.cf_models[ranked[1]]
        if _ndcg(stack, with_history, users.relevant, only_cf, pair) > scores[ranked[0]]:
            cf_models = ((ranked[0], 0.5), (ranked[1], 0.5))
    cf = _cf_mix(stack, cf_models)
    config = replace(base, cf_models=cf_models)
    if not search_weights:
        return config
    best_total = -1.0
    best = config
    grid = _weight_grid()
    threshold_grid = list(itertools.product((2, 3, 4), (None, 5, 8)))
    tuning_steps = len(threshold_grid) + int(bool(carts))
    for step, (regular_min_orders, regular_min_items) in enumerate(threshold_grid, start=1):
        thresholds = SegmentThresholds(
            regular_min_orders=regular_min_orders, regular_min_items=regular_min_items
        )
        candidate = replace(config, thresholds=thresholds)
        segs = _row_segments(stack, candidate)
        weights = dict(candidate.weights)
        total = 0.0
        for segment in (Segment.LIGHT, Segment.REGULAR):
            rows = segs == segment
            if not rows.any():
                continue
            values = [_ndcg_values(stack, rows, users.relevant, w, cf) for w in grid]
            index = pick_candidate(values, grid.index(SEED_WEIGHTS[segment]))
            weights[segment] = grid[index]
            total += float(np.nansum(values[index]))
        if total > best_total + 1e-12:
            best_total, best = total, replace(candidate, weights=weights)
        progress("tuning", step, tuning_steps)
    if carts:
        best = _tune_context_weights(snapshot, best, carts, grid)
        progress("tuning", tuning_steps, tuning_steps)
    logger.info("tuned blend: %s", best.to_dict())
    return best


def _tune_context_weights(
    snapshot: ModelSnapshot, config: BlendConfig, cases: list[CartCase], grid: list[Weights]
) -> BlendConfig:
    """Light and regular customers' weights on cart pages, by NDCG@10 of the cart protocol
    (new customers keep theirs: they have no history for the grid's CF share)."""
    carts = _cart_positions(snapshot, cases)
    if not carts.users:
        return config
    page = PageType.CART
    rows = [
        (u, Context(cart=(a,), page_type=page))
        for u, a in zip(carts.users, carts.anchors, strict=True)
    ]
    stack = _stack(snapshot, rows)
    cf = _cf_mix(stack, config.cf_models)
    segs = _row_segments(stack, config)
    weights = dict(config.context_weights)
    for segment in (Segment.LIGHT, Segment.REGULAR):
        chosen = segs == segment
        if not chosen.any():
            continue
        values = [_ndcg_values(stack, chosen, carts.relevant, w, cf, page) for w in grid]
        weights[segment] = grid[pick_candidate(values, grid.index(weights[segment]))]
    return replace(config, context_weights=weights)


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
