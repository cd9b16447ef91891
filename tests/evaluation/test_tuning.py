"""Blend tuning: the tuner scores what the engine serves, and adopts a candidate only when it
beats the default by more than the noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recograph.build import (
    MIN_EASE_L2,
    BuildParams,
    BuildResult,
    content_field_weights,
    resolve_params,
    scaled_ease_l2,
    scaled_knn_k,
    sorted_products,
    tune_hyperparameters,
)
from recograph.core.vocabulary import PageType, Segment, SignalName, Weights
from recograph.dataset import StoreData
from recograph.engine import BusinessRules, Context, Request, recommend
from recograph.evaluation import evaluate
from recograph.evaluation.evaluate import NO_POLICY, pick_candidate
from recograph.evaluation.metrics import ndcg_at_k
from recograph.recommenders.blend import SEED_WEIGHTS
from recograph.recommenders.content import FIELD_WEIGHTS, Field
from recograph.settings import Settings
from recograph.snapshot import BlendConfig, ModelSnapshot
from tests.serving_helpers import app_client


def test_pick_candidate_needs_more_than_one_standard_error() -> None:
    base = np.array([0.2, 0.4, 0.1, 0.3])
    # Better by 0.1 for every user: no spread, so any gain counts.
    assert pick_candidate([base, base + 0.1], default=0) == 1
    # Better by 0.05 on average with differences 0.3, -0.2, 0.25, -0.15: their standard
    # deviation is 0.2677, the standard error 0.2677 / 2 = 0.134 > 0.05, so the default stays.
    noisy = base + np.array([0.3, -0.2, 0.25, -0.15])
    assert pick_candidate([base, noisy], default=0) == 0
    assert pick_candidate([noisy, base], default=1) == 1
    # The default is the best: kept; equal best means: the lower index wins.
    assert pick_candidate([base + 0.1, base], default=0) == 0
    assert pick_candidate([base, base + 0.1, base + 0.1], default=0) == 1
    # Users with nothing to find (NaN) take no part.
    with_nan = np.array([0.2, 0.4, 0.1, np.nan])
    assert pick_candidate([with_nan, with_nan + 0.1], default=0) == 1
    # Fewer than two comparable users: no evidence, the default.
    assert pick_candidate([np.array([0.1]), np.array([0.9])], default=0) == 0


def test_the_tuner_scores_exactly_what_the_engine_serves(snapshot: ModelSnapshot) -> None:
    # The tuner ranks from stacked signals for speed. When its blend differed from
    # `engine.recommend` (it left out the damping of categories the customer owns) it chose
    # weights for a model nobody served; on the demo store those lost on the test split.
    # Targets: unbought products of the categories each customer owns, where damping acts.
    category = snapshot.catalogue.category
    matrix = snapshot.interactions
    rows: list[tuple[int | None, Context]] = []
    relevant: list[set[int]] = []
    for user in range(0, 400, 5):
        owned = matrix.indices[matrix.indptr[user] : matrix.indptr[user + 1]]
        if owned.size == 0:
            continue
        same = set(np.flatnonzero(np.isin(category, category[owned])).tolist()) - set(owned)
        if not same:
            continue
        anchor = int(owned[0])
        rows += [(user, Context()), (user, Context(cart=(anchor,), page_type=PageType.CART))]
        relevant += [same, same]
    assert len(rows) >= 60
    stack = evaluate._stack(snapshot, rows)
    cf = sum(
        (np.float32(w) * stack.cf_models[name] for name, w in snapshot.blend.cf_models),
        start=np.zeros_like(stack.signals[SignalName.POPULARITY]),
    )
    candidates = [Weights(content=1.0), Weights(content=0.5, rules=0.5), Weights(cf=0.9, rules=0.1)]
    # The tuner ranks with the engine's own `final_scores`, margin weight included (its copy
    # of the formula used to leave the margin out).
    margin = BusinessRules(promoted_positions=(), margin_weight=0.3, max_per_category=None)
    for weights, policy in [(w, NO_POLICY) for w in candidates] + [(candidates[2], margin)]:
        for page in (None, PageType.CART):
            chosen = np.array([context.page_type is page for _, context in rows])
            tuner = evaluate._ndcg_values(
                stack, chosen, relevant, weights, cf, page, policy.margin_weight
            )
            served = []
            for (user, context), targets in zip(rows, relevant, strict=True):
                if context.page_type is not page:
                    continue
                request = Request(user=user, context=context, weights=weights, in_stock_only=False)
                ranked = [item.position for item in recommend(snapshot, request, policy).items]
                row = np.array([ranked + [-1] * (10 - len(ranked))])
                served.append(float(ndcg_at_k(row, [targets], 10)[0]))
            assert tuner.tolist() == pytest.approx(served), f"{weights} on {page}"


def _hand_stack(
    snapshot: ModelSnapshot, n_rows: int
) -> tuple[evaluate._SignalStack, list[set[int]]]:
    """Light customers (one order, one product) over a 20-product catalogue: CF puts products
    0-9 first for everyone, content puts each row's one relevant product (10 + row % 10)
    first, rules and popularity are zero; nothing is filtered or damped."""
    n_items = 20
    relevant = [{10 + row % 10} for row in range(n_rows)]
    cf = np.zeros((n_rows, n_items), dtype=np.float32)
    cf[:, :10] = 1.0
    content = np.zeros((n_rows, n_items), dtype=np.float32)
    for row, (item,) in enumerate(relevant):
        content[row, item] = 1.0
    zeros = np.zeros((n_rows, n_items), dtype=np.float32)
    signals = {
        SignalName.CF: cf,
        SignalName.CONTENT: content,
        SignalName.RULES: zeros,
        SignalName.POPULARITY: zeros,
    }
    stack = evaluate._SignalStack(
        snapshot=snapshot,
        signals=signals,
        cf_models={"item_knn": cf},
        excluded=np.zeros((n_rows, n_items), dtype=np.bool_),
        n_orders=np.ones(n_rows, dtype=np.int64),
        n_items=np.ones(n_rows, dtype=np.int64),
        damping=np.ones((n_rows, n_items), dtype=np.float32),
        again=np.zeros((n_rows, n_items), dtype=np.float32),
        due=np.zeros((n_rows, n_items), dtype=np.float32),
        lead=np.zeros((n_rows, n_items), dtype=np.bool_),
    )
    return stack, relevant


def test_a_blend_below_the_best_single_signal_is_replaced_by_it(snapshot: ModelSnapshot) -> None:
    stack, relevant = _hand_stack(snapshot, 40)
    config = BlendConfig()
    # CF-heavy weights put products 0-9 in the top 10: NDCG@10 0 for all 40 customers; content
    # alone ranks each one's product first: NDCG@10 1, so the difference is 1 with no spread.
    cf_heavy = {**SEED_WEIGHTS, Segment.LIGHT: Weights(cf=0.9, content=0.1)}
    served, choices = evaluate._guarantee(
        stack, relevant, cf_heavy, stack.signals[SignalName.CF], (Segment.LIGHT,), config, None
    )
    assert served[Segment.LIGHT] == Weights(content=1.0)
    assert served[Segment.REGULAR] == SEED_WEIGHTS[Segment.REGULAR]
    (choice,) = choices
    assert (choice.segment, choice.page, choice.outcome) == ("light", "history", "signal")
    assert choice.best_signal == "content"
    assert choice.blend_score == evaluate.Estimate(0.0, 0.0, 40)
    assert choice.best_score == evaluate.Estimate(1.0, 0.0, 40)
    assert choice.standard_error == 0.0
    assert choice.served_signal == "content"
    assert (choice.best, choice.within_one_se) == ("content", ("content",))
    # The seed light weights (content 0.5, rules 0.5) rank as content does. Before the
    # one-standard-error rule the blend stayed; now content alone, as good and simpler, is
    # served (a deliberate change: a blend must beat its simpler parts by more than the noise).
    served, (choice,) = evaluate._guarantee(
        stack, relevant, SEED_WEIGHTS, stack.signals[SignalName.CF], (Segment.LIGHT,), config, None
    )
    assert served[Segment.LIGHT] == Weights(content=1.0)
    assert (choice.outcome, choice.blend_score.mean, choice.best_score.mean) == ("signal", 1.0, 1.0)
    assert (choice.best, choice.within_one_se) == ("content", ("blend", "content"))
    assert choice.to_dict()["rule"] == evaluate.ONE_SE_RULE


def test_the_simplest_configuration_within_one_standard_error_is_served() -> None:
    base = np.array([0.2, 0.4, 0.1, 0.3])
    noisy = base + np.array([0.3, -0.2, 0.25, -0.15])  # 0.5, 0.2, 0.35, 0.15: mean 0.3
    zeros = np.zeros(4)
    # The blend (0.3, 0.5, 0.2, 0.4: mean 0.35) beats CF and popularity (0.25) by 0.1 on every
    # customer: the paired difference has no spread (standard error 0), so the blend is served.
    values = {"blend": base + 0.1, "cf": base, "content": zeros, "rules": zeros, "popularity": base}
    assert evaluate.simplest_within_one_se(values) == ("blend", "blend", ["blend"])
    # The blend is best (0.30); its differences from CF are 0.3, -0.2, 0.25, -0.15 (mean 0.05,
    # std 0.2614, paired standard error 0.1307): CF alone (0.25) is within it and served.
    # Popularity (0.15: gap 0.15 > 0.1307) and content and rules (0: the differences are the
    # blend's values 0.5, 0.2, 0.35, 0.15, gap 0.3, standard error 0.0791) are not.
    values = {
        "blend": noisy,
        "cf": base,
        "content": zeros,
        "rules": zeros,
        "popularity": base - 0.1,
    }
    assert evaluate.simplest_within_one_se(values) == ("cf", "blend", ["blend", "cf"])
    # Popularity at 0.24 (gap 0.06, paired standard error 0.1307) is within too, and simplest.
    values["popularity"] = base - 0.01
    assert evaluate.simplest_within_one_se(values) == (
        "popularity",
        "blend",
        ["blend", "cf", "popularity"],
    )
    # Equally simple candidates: the better mean wins (CF 0.25 against content 0.24).
    values = {"blend": noisy, "cf": base, "content": base - 0.01, "popularity": zeros}
    assert evaluate.simplest_within_one_se(values)[0] == "cf"
    # Customers with nothing to find (NaN) take no part (the difference still has no spread).
    values = {"blend": np.append(base + 0.1, np.nan), "cf": np.append(base, np.nan)}
    assert evaluate.simplest_within_one_se(values) == ("blend", "blend", ["blend"])


def test_the_one_standard_error_rule_uses_the_paired_difference() -> None:
    # Four customers, and a fifth with nothing to find (NaN for every candidate: no part).
    # CF 0.5, 0.6, 0.1, 0.2: mean 0.35. Its own standard error: deviations ±0.15, ±0.25, std
    # sqrt(0.17 / 3) = 0.2380, / √4 = 0.1190.
    cf = np.array([0.5, 0.6, 0.1, 0.2, np.nan])
    # Popularity is 0.1 below CF for every customer (mean 0.25): the gap has no spread, paired
    # standard error 0 < 0.1. Against CF's own error (0.1190) it would look tied, and as the
    # simplest it would be served: the customers' spread is not noise between the two.
    popularity = cf - 0.1
    # Rules 0.3, 0.6, 0.1, 0.3 (mean 0.325): differences 0.2, 0, 0, -0.1, mean 0.025, deviations
    # 0.175, -0.025, -0.025, -0.125, std sqrt(0.0475 / 3) = 0.1258, paired error 0.0629 >= 0.025.
    rules = np.array([0.3, 0.6, 0.1, 0.3, np.nan])
    values = {"cf": cf, "rules": rules, "popularity": popularity}
    # Within one paired standard error of CF: CF and rules (both one signal; CF scores higher).
    assert evaluate.simplest_within_one_se(values) == ("cf", "cf", ["cf", "rules"])
    record = evaluate.candidate_record(values)
    assert record["cf"] == {
        "ndcg@10": 0.35,
        "standard_error": 0.119,
        "users": 4,
        "below_best": 0.0,
        "paired_standard_error": 0.0,
    }
    assert record["popularity"] == {
        "ndcg@10": 0.25,
        "standard_error": 0.119,
        "users": 4,
        "below_best": 0.1,
        "paired_standard_error": 0.0,
    }
    assert (record["rules"]["below_best"], record["rules"]["paired_standard_error"]) == (
        0.025,
        0.0629,
    )


def test_no_decision_on_too_few_customers(snapshot: ModelSnapshot) -> None:
    stack, relevant = _hand_stack(snapshot, evaluate.MIN_DECISION_CUSTOMERS - 1)
    cf_heavy = {**SEED_WEIGHTS, Segment.LIGHT: Weights(cf=0.9, content=0.1)}
    served, (choice,) = evaluate._guarantee(
        stack,
        relevant,
        cf_heavy,
        stack.signals[SignalName.CF],
        (Segment.LIGHT,),
        BlendConfig(),
        None,
    )
    assert served[Segment.LIGHT] == Weights(cf=0.9, content=0.1)
    assert choice.outcome == "too few"
    assert choice.blend_score.users == evaluate.MIN_DECISION_CUSTOMERS - 1


def test_the_build_records_the_protocol_and_serves_what_it_chose(demo_build: BuildResult) -> None:
    validation = demo_build.manifest["validation"]
    protocol = validation["protocol"]
    assert protocol["kind"] == "per-customer holdout"
    assert "fallback_from" not in protocol  # the demo has returning customers: no item holdout
    assert protocol["held_out_orders"] == protocol["customers"] > 300
    assert protocol["min_decision_customers"] == evaluate.MIN_DECISION_CUSTOMERS
    for estimate in validation["cf_models"].values():
        assert estimate["users"] >= evaluate.MIN_DECISION_CUSTOMERS
        assert estimate["standard_error"] > 0
    choices = {(c["segment"], c["page"]): c for c in validation["choices"]}
    assert set(choices) == {
        ("light", "history"),
        ("regular", "history"),
        ("new", "cart"),
        ("light", "cart"),
        ("regular", "cart"),
    }
    blend = BlendConfig.from_dict(demo_build.manifest["blend"])
    for (segment, page), choice in choices.items():
        weights = blend.weights if page == "history" else blend.context_weights
        assert Weights.from_dict(choice["served"]) == weights[Segment(segment)]
        blend_score = choice["blend_ndcg@10"]["ndcg@10"]
        best = choice["best_signal_ndcg@10"]["ndcg@10"]
        # One-standard-error rule: the simplest configuration within one SE of the best is
        # served; the blend only when nothing simpler is.
        assert choice["best"] in choice["within_one_se"]
        # Each candidate's figures say why: within one SE means its gap below the best is at
        # most the standard error of the paired difference.
        figures = choice["candidates"]
        assert set(figures) == {"blend", "cf", "content", "rules", "popularity"}
        assert figures["blend"]["ndcg@10"] == blend_score
        for name, figure in figures.items():
            gap, error = figure["below_best"], figure["paired_standard_error"]
            if abs(gap - error) > 1e-4:  # figures rounded to 4 places: no claim at the edge
                kept = name in choice["within_one_se"]
                assert kept == (gap <= error), (segment, page, name, figure)
        if choice["outcome"] == "signal":
            assert choice["served_signal"] in choice["within_one_se"]
            assert (
                Weights.from_dict(choice["served"])
                == evaluate.SINGLE_SIGNALS[choice["served_signal"]]
            )
        else:
            assert choice["outcome"] == "blend"
            assert choice["within_one_se"] == ["blend"]
            assert blend_score >= best - choice["difference_standard_error"]


async def test_model_info_says_which_was_served(
    artifacts_root: Path, snapshot: ModelSnapshot
) -> None:
    settings = Settings(artifacts_dir=artifacts_root, database_url="")
    query = """{ modelInfo { validationProtocol modelChoices { segment page outcome bestSignal
        blendNdcg bestSignalNdcg differenceStandardError customers served { signal weight }
        servedSignal best withinOneStandardError rule } } }"""
    async with app_client(settings) as client:
        response = await client.post("/graphql", json={"query": query})
    info = response.json()["data"]["modelInfo"]
    validation = snapshot.manifest["validation"]
    assert info["validationProtocol"] == validation["protocol"]
    assert len(info["modelChoices"]) == len(validation["choices"])
    for shown, recorded in zip(info["modelChoices"], validation["choices"], strict=True):
        assert shown["outcome"] == recorded["outcome"]
        assert shown["bestSignal"] == recorded["best_signal"]
        assert shown["blendNdcg"] == recorded["blend_ndcg@10"]["ndcg@10"]
        assert shown["bestSignalNdcg"] == recorded["best_signal_ndcg@10"]["ndcg@10"]
        assert shown["customers"] == recorded["blend_ndcg@10"]["users"]
        assert shown["servedSignal"] == recorded["served_signal"]
        assert shown["best"] == recorded["best"]
        assert shown["withinOneStandardError"] == recorded["within_one_se"]
        assert shown["rule"] == recorded["rule"] == evaluate.ONE_SE_RULE
        served = {w["signal"].lower(): w["weight"] for w in shown["served"]}
        total = sum(recorded["served"].values())
        expected = {k: v / total for k, v in recorded["served"].items() if v > 0}
        assert served == pytest.approx(expected)


def test_defaults_scale_with_the_data() -> None:
    # Buyers per product (the Gram diagonal of binary purchases): 3, 1 and 0 (never bought):
    # the mean over bought products is 2, so λ = 8 × 2 = 16.
    matrix = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 0], [1, 0, 0]], dtype=np.float32))
    assert scaled_ease_l2(matrix) == 16.0
    assert scaled_ease_l2(sp.csr_matrix((2, 3), dtype=np.float32)) == MIN_EASE_L2
    assert [scaled_knn_k(n) for n in (4, 120, 291, 100_000)] == [10, 24, 50, 50]
    resolved = resolve_params(BuildParams(svd_factors=7), matrix)
    assert (resolved.ease_l2, resolved.item_knn_k, resolved.svd_factors) == (16.0, 10, 7)
    assert resolved.als_factors == 4  # auto_factors of a 3 × 3 matrix
    assert resolve_params(BuildParams(ease_l2=50.0, item_knn_k=3), matrix).ease_l2 == 50.0


def test_the_search_stops_when_the_budget_is_spent(
    snapshot: ModelSnapshot, demo_store: StoreData
) -> None:
    matrix = snapshot.interactions
    users = [u for u in range(200) if matrix.indptr[u + 1] > matrix.indptr[u]][:40]
    customer_ids = snapshot.histories.index.ids[users]
    targets = {int(c): {int(snapshot.catalogue.index.ids[0])} for c in customer_ids}
    validation = evaluate.validation_set(snapshot, targets, seed=1)
    params = resolve_params(BuildParams(), matrix)
    tuned_snapshot, tuned, trials, stopped = tune_hyperparameters(
        snapshot, validation, params, budget_seconds=0.0, products=sorted_products(demo_store)
    )
    # Only the first model's default was scored before the budget check stopped the search.
    assert stopped
    assert [(t.model, t.parameters, t.adopted) for t in trials] == [
        ("item_knn", {"item_knn_k": params.item_knn_k}, True)
    ]
    assert tuned == params
    assert tuned_snapshot is snapshot


def test_build_output_states_what_is_served(demo_build: BuildResult) -> None:
    validation = demo_build.manifest["validation"]
    text = evaluate.validation_summary(validation)
    protocol = validation["protocol"]
    assert text.splitlines()[0] == (
        f"validation: per-customer holdout, {protocol['held_out_orders']} held-out orders of "
        f"{protocol['customers']} returning customers ({protocol['customers_with_new_products']}"
        f" with new products); decisions need {evaluate.MIN_DECISION_CUSTOMERS} customers"
    )
    for choice in validation["choices"]:
        served = "blend" if choice["outcome"] != "signal" else f"{choice['served_signal']} alone"
        line = next(
            x for x in text.splitlines() if x.split()[:2] == [choice["segment"], choice["page"]]
        )
        assert f"serves {served} " in line
        assert f"[{choice['outcome']}]" in line
        assert f"blend {choice['blend_ndcg@10']['ndcg@10']:.4f} ± " in line


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--tune", "--tune-budget", "0"], "must be a positive number of seconds"),
        (["--tune", "--tune-budget", "soon"], "not a number of seconds"),
        (["--tune-budget", "30"], "--tune-budget needs --tune"),
    ],
)
def test_tune_budget_rejects_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    from recograph.cli import main

    try:
        status = main(["build", "--data", str(tmp_path), "--artifacts", str(tmp_path), *arguments])
    except SystemExit as exc:  # argparse refuses a bad value with exit status 2
        status = int(exc.code or 0)
    assert status == 2
    assert message in capsys.readouterr().err


def test_searched_content_field_weights_reach_the_model(demo_store: StoreData) -> None:
    # Category weight near 0: products of one category share almost nothing through it, so
    # the similarities of a product to its neighbours change; the default build is unchanged.
    from recograph.recommenders.content import fit_content

    products = sorted_products(demo_store)
    default = fit_content(products, k=5)
    assert content_field_weights(BuildParams()) == {
        Field.CATEGORY: FIELD_WEIGHTS[Field.CATEGORY],
        Field.SPEC: FIELD_WEIGHTS[Field.SPEC],
    }
    same = fit_content(products, k=5, field_weights=content_field_weights(BuildParams()))
    assert (same.similarity != default.similarity).nnz == 0
    weights = content_field_weights(BuildParams(content_category_weight=1e-6))
    changed = fit_content(products, k=5, field_weights=weights)
    assert (changed.similarity != default.similarity).nnz > 0


def test_thresholds_change_only_on_evidence(snapshot: ModelSnapshot) -> None:
    # Every customer has one order of one product: light under every candidate threshold, so
    # all candidates score the same and the configured thresholds stay (the first candidate,
    # regular from 2 orders, used to win such ties).
    stack, relevant = _hand_stack(snapshot, 40)
    config = BlendConfig()
    grid = evaluate._weight_grid()
    tuned, decisions = evaluate._search_weights(
        stack, relevant, config, stack.signals[SignalName.CF], grid
    )
    assert tuned.thresholds == config.thresholds
    # Light weights: content alone finds each customer's product (NDCG@10 1 for all 40); the
    # seed (content 0.5, rules 0.5) already does, so it stays; regular has no customers.
    assert tuned.weights[Segment.LIGHT] == SEED_WEIGHTS[Segment.LIGHT]
    light, regular = decisions
    assert light["ndcg@10"] == {"ndcg@10": 1.0, "standard_error": 0.0, "users": 40}
    assert regular["too_few_customers"] is True
