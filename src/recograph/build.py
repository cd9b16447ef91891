"""The offline build: store export → fitted signals → honest evaluation → published artifacts.

``build_artifacts`` is the whole pipeline; ``fit_snapshot`` fits every signal on a store and
returns the same `ModelSnapshot` the server loads, which is what makes the evaluation (run on
a snapshot fitted before a temporal cutoff) describe what the server does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from recograph import artifacts
from recograph.catalogue import Catalogue, Histories, IntArray, Purchases, StrArray
from recograph.core.ids import IdIndex
from recograph.dataset import StoreData
from recograph.evaluation import split as splits
from recograph.evaluation.evaluate import (
    MIN_DECISION_CUSTOMERS,
    Estimate,
    EvaluationReport,
    TuningResult,
    ValidationSet,
    evaluate_cart_completion,
    evaluate_models,
    pick_candidate,
    signal_values,
    tune_blend,
    validation_set,
)
from recograph.evaluation.habits import habit_effects
from recograph.evaluation.next_basket import choose_due_par, default_due_par, next_basket_table
from recograph.evaluation.page_mix import choose_page_leads, page_precision
from recograph.progress import Progress, no_progress
from recograph.recommenders.candidates import resolve_ranking
from recograph.recommenders.content import FIELD_WEIGHTS, Field, fit_content
from recograph.recommenders.intent import planted_metrics, planted_patterns
from recograph.recommenders.interactions import DEFAULT_SIGNAL, Signal, interaction_matrix
from recograph.recommenders.popularity import fit_popularity
from recograph.recommenders.protocol import CFModel
from recograph.recommenders.registry import cf_entry, cf_names, cf_registry, search_grids
from recograph.recommenders.repeat import fit_repeat
from recograph.recommenders.rules import (
    MiningReport,
    RuleSet,
    baskets_matrix,
    mine_rules_with_report,
)
from recograph.snapshot import BlendConfig, ModelSnapshot

logger = logging.getLogger(__name__)

StepCallback = Callable[[str, float], None]


def fit_steps() -> tuple[str, ...]:
    """The steps of `fit_snapshot`, in order (one per registered CF model): one fit's
    progress is how many of them are done."""
    return ("catalogue", "interactions", "rules", *cf_names(), "content", "popularity")


FIT_STEPS = fit_steps()  # the built-in models' steps
VALIDATION_LAST_ORDERS = 1  # orders held out per returning customer for validation
# Validation holds out last orders only where returning customers are at least this share of the
# buying customers: a majority rule, so the holdout speaks for most of the customers served.
MIN_RETURNING_SHARE = 0.5
# Cart pages replayed per validation or test split at most (a seeded sample above): at 1,000
# cases the standard error of NDCG@10 is about 0.01, a fraction of the differences decided,
# while each case costs every signal of a cart page (twice in validation: as the customer and
# anonymous); on stores of long orders the item holdout yields thousands of cases.
MAX_CART_CASES = 1000


def cart_case_cap(params: BuildParams) -> int:
    """Cart cases to replay: `MAX_CART_CASES`, or fewer when ``eval_max_users`` asks for fewer."""
    return min(params.eval_max_users, MAX_CART_CASES)


@dataclass(frozen=True)
class BuildParams:
    """Every hyperparameter of the build, recorded in the manifest."""

    seed: int = 42
    signal: Signal = DEFAULT_SIGNAL
    item_knn_k: int | None = None  # None: `scaled_knn_k` of the catalogue
    user_knn_k: int = 30
    svd_factors: int | None = None  # None: `auto_factors` of the data's size
    als_factors: int | None = None
    als_regularization: float = 0.05
    als_iterations: int = 15
    als_alpha: float = 2.0
    ease_l2: float | None = None  # None: `scaled_ease_l2` of the data
    ease_max_items: int = 20_000
    content_k: int = 20
    # Content field weights (`content.FIELD_WEIGHTS` for the others): what `--tune` searches.
    content_category_weight: float = FIELD_WEIGHTS[Field.CATEGORY]
    content_spec_weight: float = FIELD_WEIGHTS[Field.SPEC]
    # Product rules need a handful of baskets behind them whatever the store's size.
    product_min_support: float = 0.0005
    product_min_count: int = 5
    product_min_confidence: float = 0.05
    category_min_support: float = 0.005
    category_min_confidence: float = 0.05
    min_lift: float = 1.0
    rule_max_len: int = 3
    # Orders of hundreds of lines hold millions of frequent itemsets at the supports above;
    # past this many (per level: products, categories) the support is raised to the smallest
    # basket count that fits, and the manifest's ``rule_mining`` says so. None: no cap.
    rule_max_itemsets: int | None = 100_000
    half_life_days: float = 30.0
    test_fraction: float = 0.2
    eval_max_users: int = 3000
    keep: int = 5
    # "two-stage" (candidates from stored lists, then the blend on them), "full" scoring, or
    # "auto": two-stage above `candidates.TWO_STAGE_MIN_PRODUCTS` products, full below.
    ranking: str = "auto"
    # The validation holdout (`validation_holdout`): "auto" (each returning customer's last
    # order where that speaks for the store, else a per-customer item holdout), "item" (the
    # item holdout: for a store judged on products held out at random, as a benchmark's
    # stratified split) or "last-order".
    validation: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["signal"] = self.signal.value
        return raw

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> BuildParams:
        """Parameters recorded in a manifest (unknown keys ignored, missing ones default)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}
        if "signal" in values:
            values["signal"] = Signal(values["signal"])
        return cls(**values)


@dataclass
class StepTimer:
    """Times named steps and reports each one as it ends (progress for the CLI)."""

    on_step: StepCallback | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        elapsed = time.perf_counter() - started
        self.timings[name] = self.timings.get(name, 0.0) + elapsed
        logger.debug("step %s took %.3f s", name, elapsed)
        if self.on_step is not None:
            self.on_step(name, elapsed)


def fit_progress(progress: Progress, task: str, then: StepCallback | None = None) -> StepCallback:
    """An ``on_step`` that reports one fit's `fit_steps` done as ``task`` (other steps, and
    every step to ``then``, pass through)."""
    done: set[str] = set()
    steps = fit_steps()

    def on_step(name: str, seconds: float) -> None:
        if name in steps:
            done.add(name)
            progress(task, len(done), len(steps))
        if then is not None:
            then(name, seconds)

    return on_step


@dataclass(frozen=True)
class BuildResult:
    version: str
    path: Path | None
    manifest: dict[str, Any]
    report: EvaluationReport | None
    cart_report: EvaluationReport | None = None  # cart pages (`evaluate_cart_completion`)


def auto_factors(n_users: int, n_items: int) -> int:
    """Latent factors for a store's size: 50 for large stores, fewer when the data is small.

    Too many factors on a small matrix reconstruct each customer's own purchases and nothing
    else (on the demo store 50 factors scored NDCG@10 0.066, 8 factors 0.146 on held-out
    orders), so the count grows with the smaller side of the matrix: one factor per 120.
    """
    return int(np.clip(min(n_users, n_items) // 120, 4, 50))


# EASE's λ against the mean diagonal of XᵀX (buyers per bought product with binary purchases):
# the diagonal is what λ competes with, so a fixed λ over-regularises small stores and
# under-regularises large ones. Measured: on the demo store (mean diagonal 27) validation
# NDCG@10 was 0.173 / 0.191 / 0.195 / 0.195 / 0.194 at 1 / 4 / 8 / 16 / 32 × the diagonal; on
# a 2,269-movie ratings store (mean 27) the best of λ 50-2000 on held-out ratings was 200.
EASE_L2_PER_BUYER = 8.0
MIN_EASE_L2 = 10.0


def scaled_ease_l2(matrix: Any) -> float:
    """EASE's λ for a customers × products matrix: `EASE_L2_PER_BUYER` × the mean Gram
    diagonal over bought products (at least `MIN_EASE_L2`)."""
    csr = sp.csr_matrix(matrix)
    diagonal = np.asarray(csr.multiply(csr).sum(axis=0)).ravel()
    bought = diagonal[diagonal > 0]
    mean = float(bought.mean()) if bought.size else 0.0
    return round(max(MIN_EASE_L2, EASE_L2_PER_BUYER * mean), 1)


def scaled_knn_k(n_items: int) -> int:
    """Item-kNN neighbours for a catalogue: a fifth of it, between 10 and 50.

    On validation the best k did not grow with the catalogue: 34-68 on the demo store (291
    products: NDCG@10 0.200-0.204, against 0.193 at 17), 48 on a 2,269-movie ratings store
    (0.037, against 0.030 at 96 and 0.029 at 192); so 50 from 250 products on, and a fifth of
    a smaller catalogue, where 50 neighbours would be nearly all of it."""
    return int(np.clip(n_items // 5, 10, 50))


def resolve_params(params: BuildParams, matrix: Any) -> BuildParams:
    """``params`` with every data-scaled default (None) replaced by its value for ``matrix``."""
    n_users, n_items = matrix.shape
    factors = auto_factors(n_users, n_items)
    return replace(
        params,
        item_knn_k=params.item_knn_k or scaled_knn_k(n_items),
        ease_l2=params.ease_l2 or scaled_ease_l2(matrix),
        svd_factors=params.svd_factors or factors,
        als_factors=params.als_factors or factors,
    )


def sorted_products(data: StoreData) -> pd.DataFrame:
    """Products in position order (ascending id), as the content model indexes them."""
    return data.products.sort_values("product_id", kind="stable").reset_index(drop=True)


def content_field_weights(params: BuildParams) -> dict[Field, float]:
    return {
        Field.CATEGORY: params.content_category_weight,
        Field.SPEC: params.content_spec_weight,
    }


def restrict_before(data: StoreData, cutoff: pd.Timestamp) -> StoreData:
    """The store as it stood just before ``cutoff``: later orders, lines and reviews dropped."""
    orders = data.orders[data.orders["order_date"] < cutoff]
    lines = data.order_items[data.order_items["order_id"].isin(orders["order_id"])]
    reviews = data.reviews[data.reviews["created_at"] < cutoff]
    return replace(data, orders=orders, order_items=lines, reviews=reviews)


def data_fingerprint(data: StoreData) -> str:
    """sha256 over every frame's content, so the manifest says which input a build saw."""
    digest = hashlib.sha256()
    for name in ("products", "customers", "orders", "order_items", "reviews"):
        frame: pd.DataFrame = getattr(data, name)
        if "specs" in frame:
            frame = frame.assign(specs=frame["specs"].map(lambda s: repr(sorted(s.items()))))
        hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        digest.update(name.encode())
        digest.update(hashed.tobytes())
    return digest.hexdigest()


def _mine(
    order_ids: np.ndarray[Any, Any],
    positions: np.ndarray[Any, Any],
    n: int,
    min_support: float,
    min_count: int,
    min_confidence: float,
    params: BuildParams,
) -> tuple[RuleSet, MiningReport]:
    baskets = baskets_matrix(order_ids, positions, n)
    support = max(min_support, min_count / max(baskets.shape[0], 1))
    return mine_rules_with_report(
        baskets,
        min_support=min(support, 1.0),
        min_confidence=min_confidence,
        min_lift=params.min_lift,
        max_len=params.rule_max_len,
        min_len=2,
        max_itemsets=params.rule_max_itemsets,
    )


def fit_cf_models(
    matrix: sp.csr_matrix, params: BuildParams, timer: StepTimer
) -> dict[str, CFModel]:
    """Every registered CF model fitted on ``matrix`` (``params`` resolved), one timed step
    each, in registry order; an optional model whose fit declines is left out."""
    values = params.to_dict()
    fitted: dict[str, CFModel] = {}
    for entry in cf_registry():
        with timer.step(entry.name):
            model = entry.fit(matrix, values)
        if model is not None:
            fitted[entry.name] = model
    return fitted


def fit_snapshot(
    data: StoreData,
    params: BuildParams,
    blend: BlendConfig | None = None,
    *,
    version: str = "unpublished",
    timer: StepTimer | None = None,
) -> ModelSnapshot:
    """Fit every signal on ``data`` (completed orders) and assemble the serving snapshot."""
    timer = timer or StepTimer()
    with timer.step("catalogue"):
        catalogue = catalogue_from_products(data.products)
        histories = histories_from_store(data, catalogue.index)
        lines = data.completed_lines()
        lines = lines.assign(item=catalogue.index.positions(lines["product_id"].to_numpy()))
        lines = lines[lines["item"] >= 0]
    with timer.step("interactions"):
        matrix = interaction_matrix(
            lines, histories.index, catalogue.index, params.signal, data.reviews
        )
    with timer.step("rules"):
        order_ids = lines["order_id"].to_numpy()
        product_rules, product_mining = _mine(
            order_ids,
            lines["item"].to_numpy(),
            len(catalogue),
            params.product_min_support,
            params.product_min_count,
            params.product_min_confidence,
            params,
        )
        category_rules, category_mining = _mine(
            order_ids,
            catalogue.category[lines["item"].to_numpy()],
            catalogue.n_categories,
            params.category_min_support,
            1,
            params.category_min_confidence,
            params,
        )
    params = resolve_params(params, matrix)
    cf = fit_cf_models(matrix, params, timer)
    with timer.step("content"):
        content = fit_content(
            sorted_products(data),
            k=params.content_k,
            field_weights=content_field_weights(params),
        )
    with timer.step("popularity"):
        now = (
            lines["order_date"].max()
            if len(lines)
            else pd.Timestamp(datetime.now(UTC).replace(tzinfo=None))
        )
        popularity = fit_popularity(
            lines,
            catalogue.item_ids,
            catalogue.category,
            catalogue.n_categories,
            now=pd.Timestamp(now).to_pydatetime(),
            half_life_days=params.half_life_days,
        )
        repeat = fit_repeat(
            lines, catalogue.category, catalogue.n_categories, user_ids=histories.user_ids
        )
    return ModelSnapshot(
        version=version,
        manifest={
            "version": version,
            "rule_mining": {
                "product": product_mining.to_dict(),
                "category": category_mining.to_dict(),
            },
        },
        catalogue=catalogue,
        histories=histories,
        interactions=matrix,
        cf=cf,
        content=content,
        popularity=popularity,
        repeat=repeat,
        product_rules=product_rules,
        category_rules=category_rules,
        blend=blend or BlendConfig(),
        ranking=resolve_ranking(params.ranking, len(catalogue.item_ids)),
    )


class FitFunction(Protocol):
    """Fits a snapshot (`fit_snapshot`, or another engine's drop-in such as Spark's)."""

    def __call__(
        self,
        data: StoreData,
        params: BuildParams,
        blend: BlendConfig | None = None,
        *,
        version: str = "unpublished",
        timer: StepTimer | None = None,
    ) -> ModelSnapshot: ...


def _counts(data: StoreData, snapshot: ModelSnapshot) -> dict[str, int]:
    return {
        "products": len(data.products),
        "customers": len(data.customers),
        "orders": len(data.orders),
        "order_items": len(data.order_items),
        "reviews": len(data.reviews),
        "completed_orders": int((data.orders["status"] == "completed").sum()),
        "interactions": int(snapshot.interactions.nnz),
        "product_rules": len(snapshot.product_rules),
        "category_rules": len(snapshot.category_rules),
        "categories": snapshot.catalogue.n_categories,
    }


# Hyperparameter search (issue 12 item 3): cheapest models first, one parameter at a time.
DEFAULT_TUNE_BUDGET = 60.0


@dataclass(frozen=True)
class Trial:
    """One hyperparameter setting scored on validation (the CF model served alone)."""

    model: str
    parameters: dict[str, Any]
    score: Estimate
    seconds: float
    adopted: bool  # the default (first trial of a model) or a value that replaced it

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "parameters": self.parameters,
            **self.score.to_dict(),
            "seconds": round(self.seconds, 3),
            "adopted": self.adopted,
        }


def _refit(
    snapshot: ModelSnapshot, params: BuildParams, model: str, products: pd.DataFrame
) -> ModelSnapshot:
    """``snapshot`` with ``model`` refitted on its own interactions (content: on
    ``products``, in position order) under ``params``."""
    if model in cf_names():
        refitted = cf_entry(model).fit(snapshot.interactions, params.to_dict())
        if refitted is None:
            raise ValueError(f"{model!r} declined to fit on the validation matrix")
        return snapshot.with_cf_model(model, refitted)
    if model == "content":
        content = fit_content(
            products, k=params.content_k, field_weights=content_field_weights(params)
        )
        return replace(snapshot, content=content)
    raise ValueError(f"no hyperparameters to search for {model!r}")


def search_space(params: BuildParams) -> list[tuple[str, str, list[Any]]]:
    """(model, parameter, values) in the order searched: each registered CF model's grid,
    cheap fits first (item-kNN, SVD, then EASE's dense inverse, then ALS;
    `registry.search_grids`), then the content field weights; values around the
    data-scaled defaults."""
    return [
        *search_grids(params.to_dict()),
        ("content", "content_category_weight", [1.0, 6.0]),
        ("content", "content_spec_weight", [1.0, 4.0]),
    ]


def tune_hyperparameters(
    snapshot: ModelSnapshot,
    validation: ValidationSet,
    params: BuildParams,
    budget_seconds: float,
    products: pd.DataFrame,
) -> tuple[ModelSnapshot, BuildParams, list[Trial], bool]:
    """Search `search_space` on the validation customers until ``budget_seconds`` are spent.

    A value replaces the current one only when its model, served alone, beats the current
    setting by more than one standard error of the paired difference (`pick_candidate`).
    Returns the snapshot with the chosen models, the chosen parameters, every trial, and
    whether the budget stopped the search before the end."""
    started = time.perf_counter()
    trials: list[Trial] = []
    current: dict[str, npt.NDArray[np.float64]] = {}
    for model, name, values in search_space(params):
        if model in cf_names() and snapshot.cf_model(model) is None:
            continue  # an optional model this store does not fit
        if model not in current:
            clock = time.perf_counter()
            current[model] = signal_values(validation, snapshot, model)
            trials.append(
                Trial(
                    model,
                    {name: getattr(params, name)},
                    Estimate.of(current[model]),
                    time.perf_counter() - clock,
                    True,
                )
            )
        for value in values:
            if time.perf_counter() - started > budget_seconds:
                logger.info(
                    "tuning budget of %.0f s spent after %d trials", budget_seconds, len(trials)
                )
                return snapshot, params, trials, True
            clock = time.perf_counter()
            candidate_params = replace(params, **{name: value})
            candidate = _refit(snapshot, candidate_params, model, products)
            values_now = signal_values(validation, candidate, model)
            adopted = pick_candidate([current[model], values_now], default=0) == 1
            trials.append(
                Trial(
                    model,
                    {name: value},
                    Estimate.of(values_now),
                    time.perf_counter() - clock,
                    adopted,
                )
            )
            if adopted:
                snapshot, params, current[model] = candidate, candidate_params, values_now
    return snapshot, params, trials, False


def drop_orders(data: StoreData, order_ids: Any) -> StoreData:
    """The store without the given orders (their lines go too; reviews stay)."""
    kept = ~data.orders["order_id"].isin(order_ids)
    orders = data.orders[kept]
    lines = data.order_items[data.order_items["order_id"].isin(orders["order_id"])]
    return replace(data, orders=orders, order_items=lines)


def drop_lines(data: StoreData, held: pd.DataFrame) -> StoreData:
    """The store without the order lines in ``held`` (matched on order_id and product_id); an
    order left with no line goes too (reviews stay)."""
    keys = held[["order_id", "product_id"]].drop_duplicates().assign(held=True)
    marked = data.order_items[["order_id", "product_id"]].merge(
        keys, on=["order_id", "product_id"], how="left"
    )
    kept_lines = ~marked["held"].fillna(False).to_numpy(dtype=bool)
    lines = data.order_items.loc[kept_lines]
    emptied = set(held["order_id"].tolist()) - set(lines["order_id"].tolist())
    orders = data.orders[~data.orders["order_id"].isin(emptied)]
    return replace(data, orders=orders, order_items=lines)


@dataclass(frozen=True)
class ValidationHoldout:
    """The split validation decides on, the store its models are fitted on, and the manifest's
    description of the protocol."""

    split: splits.Split
    targets: dict[int, set[int]]
    fit_on: StoreData
    protocol: dict[str, Any]


VALIDATION_CHOICES = ("auto", "item", "last-order")


def validation_holdout(
    train: StoreData, seed: int, max_customers: int | None = None, choice: str = "auto"
) -> ValidationHoldout:
    """Each returning customer's last order held out (`splits.customer_holdout`), what serving
    faces for them; a seeded per-customer item holdout (`splits.item_holdout`) instead where
    that does not speak for the store's customers: fewer than `MIN_DECISION_CUSTOMERS` of them
    with new products (a store of one basket per customer), or returning customers fewer than
    `MIN_RETURNING_SHARE` of the buying customers (mostly one-off customers, whom a last-order
    holdout never sees, while the item holdout scores every customer with two products).
    The item holdout takes products from at most ``max_customers`` customers (a seeded
    sample; the build passes the number validation scores, ``eval_max_users``), so the models
    are fitted on every other customer's whole history. Raises ValueError when neither holdout
    is possible. ``choice`` "item" or "last-order" (`BuildParams.validation`) takes that
    holdout whenever it is possible."""
    if choice not in VALIDATION_CHOICES:
        raise ValueError(f"validation {choice!r}: expected one of {', '.join(VALIDATION_CHOICES)}")
    lines = train.completed_lines()
    last_order: splits.Split | None = None
    buyers = int(lines["customer_id"].nunique())
    try:
        last_order = splits.customer_holdout(lines, VALIDATION_LAST_ORDERS)
        last_targets = splits.test_targets(last_order)
        returning = int(last_order.test["customer_id"].nunique())
        shortfall = f"{len(last_targets)} returning customers with new products in their last order"
        if len(last_targets) >= MIN_DECISION_CUSTOMERS and returning < MIN_RETURNING_SHARE * buyers:
            shortfall = (
                f"{returning} of {buyers} buying customers returned "
                f"({returning / buyers:.0%}, under {MIN_RETURNING_SHARE:.0%}): a last-order "
                "holdout would decide for the few who return, not the one-off majority"
            )
    except ValueError as exc:
        last_targets, shortfall, returning = {}, str(exc), 0
    speaks_for_store = returning >= MIN_RETURNING_SHARE * buyers
    if choice == "last-order" and last_order is not None and last_targets:
        return _last_order_validation_holdout(train, last_order, last_targets, buyers)
    if choice != "item" and (
        last_order is not None and len(last_targets) >= MIN_DECISION_CUSTOMERS and speaks_for_store
    ):
        return _last_order_validation_holdout(train, last_order, last_targets, buyers)
    try:
        by_item = splits.item_holdout(lines, seed, splits.DEFAULT_KEEP_FRACTION, max_customers)
    except ValueError:
        if last_order is None:
            raise
        return _last_order_validation_holdout(train, last_order, last_targets, buyers)
    if choice == "item":
        shortfall = "the build's validation choice is 'item'"
    why = (
        f"asked for ({shortfall})"
        if choice == "item"
        else (
            f"fallback, as the per-customer holdout does not speak for this store "
            f"({shortfall}; it needs {MIN_DECISION_CUSTOMERS} customers with new products "
            f"and returning customers at least {MIN_RETURNING_SHARE:.0%} of the buyers)"
        )
    )
    return _item_validation_holdout(
        train, by_item, why, shortfall, returning, buyers, max_customers
    )


def _last_order_validation_holdout(
    train: StoreData, last_order: splits.Split, targets: dict[int, set[int]], buyers: int
) -> ValidationHoldout:
    """`validation_holdout`'s first choice: the per-customer holdout and its protocol record."""
    protocol = {
        "kind": "per-customer holdout",
        "description": (
            f"the last {VALIDATION_LAST_ORDERS} order(s) of each customer with more orders "
            "before the test cutoff held out; new products of those orders are the targets; "
            "cart pages replay each held-out order with one product in the cart"
        ),
        "last_orders": VALIDATION_LAST_ORDERS,
        "held_out_orders": int(last_order.test["order_id"].nunique()),
        "customers": int(last_order.test["customer_id"].nunique()),
        "customers_with_new_products": len(targets),
        "buying_customers": buyers,
        "min_returning_share": MIN_RETURNING_SHARE,
        "min_decision_customers": MIN_DECISION_CUSTOMERS,
        "test": "temporal: orders from the test cutoff on (metrics.cutoff)",
    }
    fit_on = drop_orders(train, last_order.test["order_id"].unique())
    return ValidationHoldout(last_order, targets, fit_on, protocol)


def _item_validation_holdout(
    train: StoreData,
    holdout: splits.Split,
    why: str,
    shortfall: str,
    returning: int,
    buyers: int,
    max_customers: int | None,
) -> ValidationHoldout:
    """`validation_holdout`'s fallback: the per-customer item holdout and its protocol record."""
    targets = splits.test_targets(holdout)
    keep = splits.DEFAULT_KEEP_FRACTION
    lines = train.completed_lines()
    products = lines.groupby("customer_id")["product_id"].nunique()
    eligible = int((products >= 2).sum())
    sampled = max_customers is not None and eligible > max_customers
    sample_note = (
        f"; only a seeded {max_customers} of the {eligible} customers with two products (the "
        "customers validation scores) hold products out, the others keep every line for the "
        "fit"
        if sampled
        else ""
    )
    protocol = {
        "kind": "per-customer item holdout",
        "description": (
            f"{why}: each customer with at least 2 distinct products before the test cutoff keeps "
            f"a seeded {keep:.0%} of them and the lines of the rest are held out (the "
            "Recommenders stratified protocol); the held-out products are the targets; cart "
            f"pages replay each order's held-out products with one of them in the cart{sample_note}"
        ),
        "keep_fraction": keep,
        "eligible_customers": eligible,
        "max_customers": max_customers,
        "held_out_lines": len(holdout.test),
        "held_out_orders": int(holdout.test["order_id"].nunique()),
        "customers": int(holdout.test["customer_id"].nunique()),
        "customers_with_new_products": len(targets),
        "returning_customers": returning,
        "buying_customers": buyers,
        "min_returning_share": MIN_RETURNING_SHARE,
        "min_decision_customers": MIN_DECISION_CUSTOMERS,
        "fallback_from": {"kind": "per-customer holdout", "reason": shortfall},
        "test": "temporal: orders from the test cutoff on (metrics.cutoff)",
    }
    return ValidationHoldout(holdout, targets, drop_lines(train, holdout.test), protocol)


def _validate(
    train: StoreData,
    params: BuildParams,
    fit: FitFunction,
    tune: bool,
    tune_budget: float,
    progress: Progress = no_progress,
) -> tuple[TuningResult, BuildParams, dict[str, Any], dict[str, Any] | None]:
    """The validation decisions on a holdout inside the training period (`validation_holdout`:
    each returning customer's last order, or per-customer items where too few return), the
    models fitted on the rest: the blend, the page leads (`choose_page_leads`) and the
    due-date lift (`choose_due_par`). Returns the tuning (its config holding all three), the
    parameters, the manifest's ``validation`` record and the store habits' effects on that
    holdout (`habit_effects`)."""
    try:
        chosen = validation_holdout(train, params.seed, params.eval_max_users, params.validation)
    except ValueError as exc:
        logger.warning("no validation decisions: %s", exc)
        return TuningResult(BlendConfig()), params, {"protocol": None, "skipped": str(exc)}, None
    holdout, targets = chosen.split, chosen.targets
    if chosen.protocol["kind"] != "per-customer holdout":
        logger.info(
            "validation on a %s: %s", chosen.protocol["kind"], chosen.protocol["description"]
        )
    snapshot = fit(
        chosen.fit_on,
        params,
        timer=StepTimer(fit_progress(progress, "fit for validation")),
    )
    search: dict[str, Any] = {}
    if tune:
        validation = validation_set(snapshot, targets, params.seed, params.eval_max_users)
        if int(validation.rows.sum()) >= MIN_DECISION_CUSTOMERS:
            resolved = resolve_params(params, snapshot.interactions)
            snapshot, tuned, trials, stopped = tune_hyperparameters(
                snapshot, validation, resolved, tune_budget, sorted_products(train)
            )
            changed = {
                name: getattr(tuned, name)
                for _, name, _ in search_space(resolved)
                if getattr(tuned, name) != getattr(resolved, name)
            }
            params = replace(params, **changed)
            search = {
                "budget_seconds": tune_budget,
                "stopped_by_budget": stopped,
                "chosen": changed,
                "trials": [trial.to_dict() for trial in trials],
            }
    carts = splits.cart_cases(holdout, params.seed, cart_case_cap(params))
    tuning = tune_blend(
        snapshot,
        targets,
        params.seed,
        max_users=params.eval_max_users,
        search_weights=tune,
        carts=carts,
        progress=progress,
    )
    # The page mixes and the due-date lift, each the store's own on the same validation.
    leads, lead_choices = choose_page_leads(
        replace(snapshot, blend=tuning.config), carts, params.seed
    )
    config = replace(tuning.config, page_leads=leads)
    view = _last_order_view(train, params, fit, replace(snapshot, blend=config), chosen)
    if view is None:
        due = default_due_par("the store has no returning customer to hold a last order of")
    else:
        due = choose_due_par(view[0], view[1], params.seed, params.eval_max_users)
    config = replace(config, due_par=due.due_par)
    tuning = replace(tuning, config=config)
    habits = None
    if view is not None:
        served = replace(view[0], blend=config)
        habits = habit_effects(served, view[1], params.seed, params.eval_max_users)
    record = {
        "protocol": chosen.protocol,
        **tuning.to_dict(),
        "page_leads": [choice.to_dict() for choice in lead_choices],
        "due_par": due.to_dict(),
        "hyperparameters": search,
    }
    return tuning, params, record, habits


def _last_order_view(
    train: StoreData,
    params: BuildParams,
    fit: FitFunction,
    served: ModelSnapshot,
    chosen: ValidationHoldout,
) -> tuple[ModelSnapshot, splits.Split] | None:
    """Each returning customer's last order held out, and a snapshot serving ``served``'s
    blend fitted on the rest (``served`` itself when validation held out last orders): where
    the habits' effects (`habit_effects`) and the due-date lift (`choose_due_par`) are
    measured. An item holdout cannot show them (its targets are never re-buys, and it cuts
    the histories the habits are learned from), so after that fallback the last-order split,
    when the store has one at all, is fitted on its own; with no returning customer there is
    none (None)."""
    if chosen.protocol["kind"] == "per-customer holdout":
        return served, chosen.split
    try:
        last_order = splits.customer_holdout(train.completed_lines(), VALIDATION_LAST_ORDERS)
    except ValueError:
        return None
    snapshot = fit(drop_orders(train, last_order.test["order_id"].unique()), params)
    return replace(snapshot, blend=served.blend), last_order


def build_artifacts(
    data: StoreData,
    artifacts_root: Path | None,
    params: BuildParams | None = None,
    *,
    evaluate: bool = True,
    tune: bool = False,
    tune_budget: float = DEFAULT_TUNE_BUDGET,
    on_step: StepCallback | None = None,
    engine: str = "local",
    extra_manifest: Mapping[str, Any] | None = None,
    fit: FitFunction = fit_snapshot,
    timer: StepTimer | None = None,
    progress: Progress = no_progress,
) -> BuildResult:
    """Evaluate on a temporal holdout, fit on everything, publish (when a root is given).

    1. Validation inside the training period, on each returning customer's last order
       (`splits.customer_holdout`): choose the served CF model (and, with ``tune``, the blend
       weights and segment thresholds), then serve a single signal wherever the blend scores
       below it by more than one standard error, then how many related products lead each
       page kind and how strongly products that are due are lifted (the manifest's
       ``validation``: ``page_leads``, ``due_par``).
    2. Test split: fit on the orders before the cutoff, score every row on the orders after.
    3. Refit on all data with the chosen blend and publish atomically.

    ``progress`` hears each fit's steps, the evaluation's customers and the tuning's grid.
    """
    params = params or BuildParams()
    timer = timer or StepTimer(fit_progress(progress, "fit on all orders", on_step))
    blend = BlendConfig()
    report: EvaluationReport | None = None
    cart_report: EvaluationReport | None = None
    habits: dict[str, Any] | None = None
    next_basket: dict[str, Any] | None = None
    validation: dict[str, Any] = {}
    lines = data.completed_lines()
    can_evaluate = evaluate and lines["order_date"].nunique() >= 4
    if can_evaluate:
        test_cutoff = splits.choose_cutoff(lines, params.test_fraction)
        train = restrict_before(data, test_cutoff)
        with timer.step("validation"):
            tuning, params, validation, habits = _validate(
                train, params, fit, tune, tune_budget, progress
            )
            blend = tuning.config
        with timer.step("evaluation"):
            test_snapshot = fit(
                train, params, blend, timer=StepTimer(fit_progress(progress, "fit for evaluation"))
            )
            test_split = splits.temporal_split(lines, test_cutoff)
            report = evaluate_models(
                test_snapshot,
                splits.test_targets(test_split),
                params.seed,
                max_users=params.eval_max_users,
                progress=progress,
            )
            report = replace(report, cutoff=str(test_cutoff))
            cases = splits.cart_cases(test_split, params.seed, cart_case_cap(params))
            cart_report = evaluate_cart_completion(test_snapshot, cases, params.seed)
            next_basket = next_basket_table(
                test_snapshot, test_split, params.seed, params.eval_max_users
            )
    version = artifacts.new_version()
    snapshot = fit(data, params, blend, version=version, timer=timer)
    manifest: dict[str, Any] = {
        "engine": engine,
        "seed": params.seed,
        "parameters": {
            **resolve_params(params, snapshot.interactions).to_dict(),
            "svd_factors": int(snapshot.svd.item_factors.shape[1]),
            "als_factors": int(snapshot.als.item_factors.shape[1]),
        },
        "data_fingerprint": data_fingerprint(data),
        "counts": _counts(data, snapshot),
        "timings": {name: round(value, 4) for name, value in timer.timings.items()},
        "blend": blend.to_dict(),
        "ranking": snapshot.ranking.value,
        "rule_mining": snapshot.manifest.get("rule_mining", {}),
        "metrics": _metrics(report, cart_report, snapshot, next_basket),
        "validation": validation,
        **({"habits": habits} if habits is not None else {}),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **dict(extra_manifest or {}),
    }
    path = None
    if artifacts_root is not None:
        with timer.step("publish"):
            path = artifacts.publish(
                snapshot.to_arrays(), manifest, artifacts_root, version=version, keep=params.keep
            )
        manifest["timings"] = {name: round(value, 4) for name, value in timer.timings.items()}
    return BuildResult(
        version=version, path=path, manifest=manifest, report=report, cart_report=cart_report
    )


def _metrics(
    report: EvaluationReport | None,
    cart: EvaluationReport | None,
    snapshot: ModelSnapshot,
    next_basket: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest's ``metrics``: the history table, cart pages under ``cart``, repeat and
    explore items under ``next_basket``, and related products against the demo store's
    planted categories under ``intents``."""
    if report is None:
        return {}
    metrics = report.to_dict()
    if cart is not None:
        metrics["cart"] = cart.to_dict()
    if next_basket is not None:
        metrics["next_basket"] = next_basket
    planted = planted_metrics(
        snapshot.catalogue,
        snapshot.product_rules,
        snapshot.content.similarity,
        snapshot.histories,
    )
    intents = planted.get("intents")
    if isinstance(intents, dict):
        intents["pages"] = page_precision(snapshot, planted_patterns(), int(intents["k"]))
    metrics.update(planted)
    return metrics


# ------------------------------------------------------------- the export as flat arrays


def to_epoch_seconds(values: pd.Series) -> IntArray:
    """Naive-UTC datetimes to int64 epoch seconds."""
    stamps = pd.to_datetime(values).to_numpy(dtype="datetime64[s]")
    return np.asarray(stamps.astype(np.int64), dtype=np.int64)


def _str_array(values: Any) -> StrArray:
    array = np.asarray(list(values), dtype=np.str_)
    return array if array.size else np.zeros(0, dtype="<U1")


def catalogue_from_products(products: pd.DataFrame) -> Catalogue:
    """The catalogue in ascending product_id order; categories sorted by name."""
    frame = products.sort_values("product_id", kind="stable").reset_index(drop=True)
    category_names = np.array(sorted(frame["category"].unique()), dtype=np.str_)
    category = np.searchsorted(category_names, frame["category"].to_numpy(np.str_))
    return Catalogue(
        item_ids=frame["product_id"].to_numpy(np.int64),
        sku=_str_array(frame["sku"]),
        name=_str_array(frame["name"]),
        brand=_str_array(frame["brand"]),
        category=category.astype(np.int32),
        category_names=category_names if category_names.size else np.zeros(0, dtype="<U1"),
        price=frame["price"].to_numpy(np.float64),
        cost=frame["cost"].to_numpy(np.float64),
        stock=frame["stock"].to_numpy(np.int64),
        promoted=frame["promoted"].to_numpy(np.bool_),
        created_at=to_epoch_seconds(frame["created_at"]),
        description=_str_array(frame["description"]),
        specs_json=_str_array(json.dumps(s, sort_keys=True) for s in frame["specs"]),
    )


def _indptr(owner_positions: npt.NDArray[np.int64], n_owners: int) -> IntArray:
    counts = np.bincount(owner_positions, minlength=n_owners) if n_owners else np.zeros(0)
    indptr = np.zeros(n_owners + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr


def histories_from_store(data: StoreData, items: IdIndex) -> Histories:
    """Arrays for every customer of the export, with all of their orders and reviews."""
    customers = data.customers.sort_values("customer_id", kind="stable")
    users = IdIndex.from_ids(customers["customer_id"].to_numpy(np.int64))
    orders = data.orders.assign(user=users.positions(data.orders["customer_id"].to_numpy()))
    orders = orders[orders["user"] >= 0].sort_values(
        ["user", "order_date", "order_id"], kind="stable"
    )
    order_index = IdIndex.from_ids(orders["order_id"].to_numpy(np.int64))
    lines = data.order_items.assign(
        order=order_index.positions(data.order_items["order_id"].to_numpy()),
        item=items.positions(data.order_items["product_id"].to_numpy()),
    )
    lines = lines[(lines["order"] >= 0) & (lines["item"] >= 0)].sort_values(
        ["order", "item"], kind="stable"
    )
    reviews = data.reviews.assign(
        user=users.positions(data.reviews["customer_id"].to_numpy()),
        item=items.positions(data.reviews["product_id"].to_numpy()),
    )
    reviews = reviews[(reviews["user"] >= 0) & (reviews["item"] >= 0)].sort_values(
        ["user", "created_at", "review_id"], kind="stable"
    )
    user_order_indptr = _indptr(orders["user"].to_numpy(np.int64), len(users))
    order_date = to_epoch_seconds(orders["order_date"])
    order_status = _str_array(orders["status"])
    order_line_indptr = _indptr(lines["order"].to_numpy(np.int64), len(order_index))
    line_item = lines["item"].to_numpy(np.int32)
    return Histories(
        user_ids=users.ids,
        user_name=_str_array(customers["name"]),
        user_email=_str_array(customers["email"]),
        user_created_at=to_epoch_seconds(customers["created_at"]),
        user_order_indptr=user_order_indptr,
        order_ids=order_index.ids,
        order_date=order_date,
        order_status=order_status,
        order_total=orders["grand_total"].to_numpy(np.float64),
        order_line_indptr=order_line_indptr,
        line_item=line_item,
        line_qty=lines["qty"].to_numpy(np.int64),
        line_price=lines["price"].to_numpy(np.float64),
        user_review_indptr=_indptr(reviews["user"].to_numpy(np.int64), len(users)),
        review_ids=reviews["review_id"].to_numpy(np.int64),
        review_item=reviews["item"].to_numpy(np.int32),
        review_rating=reviews["rating"].to_numpy(np.int64),
        review_date=to_epoch_seconds(reviews["created_at"]),
        purchases=Purchases.count(
            user_order_indptr, order_status, order_date, order_line_indptr, line_item
        ),
    )
