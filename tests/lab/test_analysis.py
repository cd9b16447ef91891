"""Notebook helpers (recograph_lab.analysis) on the hand-made tiny store and hand-made arrays."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from recograph.build import BuildResult, build_artifacts, fit_snapshot, to_epoch_seconds
from recograph.dataset import StoreData
from recograph.engine import (
    Context,
    Request,
    build_profile,
    recommend,
    with_limit,
)
from recograph.evaluation.evaluate import NO_POLICY
from recograph.recommenders.blend import SEED_WEIGHTS, PageType
from recograph.recommenders.content import neighbours
from recograph.recommenders.rules import baskets_matrix, mine_rules
from recograph.snapshot import ModelSnapshot
from recograph_lab import analysis
from tests.tiny_store import (
    AMP,
    CABLE,
    HEADPHONES,
    KEYBOARD,
    LAPTOP,
    MOUSE,
    SPARE_MOUSE,
    TINY_PARAMS,
    tiny_store,
)

PARAMS = TINY_PARAMS


@pytest.fixture(scope="module")
def tiny() -> ModelSnapshot:
    return fit_snapshot(tiny_store(), PARAMS)


@pytest.fixture(scope="module")
def tiny_build() -> BuildResult:
    """Evaluated on the tiny store: test period from 2026-07-01 (orders o7 and o8)."""
    return build_artifacts(tiny_store(), None, PARAMS, evaluate=True)


def pos(snapshot: ModelSnapshot, product_id: int) -> int:
    position = snapshot.catalogue.index.position(product_id)
    assert position is not None
    return position


def user(snapshot: ModelSnapshot, customer_id: int) -> int:
    position = snapshot.histories.index.position(customer_id)
    assert position is not None
    return position


# ---------------------------------------------------------------------------- the data


def test_product_revenue_ranks_completed_revenue_and_accumulates_shares() -> None:
    revenue = analysis.product_revenue(tiny_store())
    # laptop 3 × 1200, headphones 3 × 300, amp 2 × 150, mouse 3 × 40, keyboard 90 (its
    # canceled order does not count), spare mouse 30, cable never ordered.
    assert revenue["product_id"].tolist() == [
        LAPTOP,
        HEADPHONES,
        AMP,
        MOUSE,
        KEYBOARD,
        SPARE_MOUSE,
        CABLE,
    ]
    assert revenue["revenue"].tolist() == [3600.0, 900.0, 300.0, 120.0, 90.0, 30.0, 0.0]
    assert revenue["rank"].tolist() == [1, 2, 3, 4, 5, 6, 7]
    assert revenue["share"].tolist() == pytest.approx(
        [v / 5040 for v in (3600, 900, 300, 120, 90, 30, 0)]
    )
    assert revenue["cumulative_share"].iloc[1] == pytest.approx(4500 / 5040)
    assert revenue["cumulative_share"].iloc[-1] == pytest.approx(1.0)
    assert analysis.top_share(revenue, 2) == pytest.approx(4500 / 5040)
    assert analysis.top_share(revenue, 20) == pytest.approx(1.0)


def test_matrix_summary_counts_cells_rows_and_columns(tiny: ModelSnapshot) -> None:
    matrix = tiny.interactions.copy()
    matrix.data.flags.writeable = False  # as in a loaded snapshot
    summary = analysis.matrix_summary(matrix)
    # Customers 1-5 bought two products each, 6-8 one, 9 nothing; nobody bought the cable.
    assert summary == analysis.MatrixSummary(
        customers=9,
        products=7,
        interactions=13,
        sparsity=1 - 13 / 63,
        customers_without_purchases=1,
        products_never_bought=1,
        median_products_per_buyer=2.0,
        median_buyers_per_product=2.5,  # buyers 3, 3, 1, 3, 2, 1
    )


# ---------------------------------------------------------------------------- rules


def test_also_bought_lists_one_to_one_rules_with_their_counts() -> None:
    labels = ["Laptops", "Mice", "Keyboards", "Headphones", "Amps"]
    baskets = [{0, 1}, {0, 1}, {0, 2}, {3, 4}, {3, 4}, {1}, {3}, {1}, {0, 1, 2}]
    order_ids = [b for b, items in enumerate(baskets) for _ in items]
    items = [i for basket in baskets for i in sorted(basket)]
    rules = mine_rules(
        baskets_matrix(order_ids, items, len(labels)),
        min_support=0.1,
        min_confidence=0.05,
        max_len=3,
        min_len=2,
    )
    table = analysis.also_bought(rules, labels, "Laptops")
    # 9 baskets; laptops in 4, mice in 5, keyboards in 2; laptops with mice 3, with keyboards 2.
    # {Laptops, Mice} → Keyboards has two antecedents and is left out.
    assert table["consequent"].tolist() == ["Keyboards", "Mice"]
    assert table["baskets"].tolist() == [2, 3]
    assert table["antecedent_baskets"].tolist() == [4, 4]
    assert table["consequent_baskets"].tolist() == [2, 5]
    assert table["n_baskets"].tolist() == [9, 9]
    assert table["support"].tolist() == pytest.approx([2 / 9, 3 / 9])
    assert table["confidence"].tolist() == pytest.approx([2 / 4, 3 / 4])
    assert table["lift"].tolist() == pytest.approx([(2 / 4) / (2 / 9), (3 / 4) / (5 / 9)])
    with pytest.raises(KeyError, match="'Tablets' names 0 positions"):
        analysis.also_bought(rules, labels, "Tablets")
    with pytest.raises(ValueError, match="need 5 labels, got 2"):
        analysis.also_bought(rules, labels[:2], "Laptops")


# ---------------------------------------------------------------------------- factors


def test_category_loadings_average_the_factors_of_each_category() -> None:
    factors = np.array([[1.0, 0.0], [3.0, 2.0], [0.0, -1.0], [-2.0, 4.0]])
    category = np.array([0, 0, 1, 1])
    loadings = analysis.category_loadings(factors, category, ["A", "B", "C"])
    assert loadings.index.tolist() == ["A", "B"]  # C has no product
    assert loadings.columns.tolist() == ["factor 1", "factor 2"]
    assert loadings.to_numpy().tolist() == [[2.0, 1.0], [-1.0, 1.5]]
    bought = np.array([True, True, True, False])
    only = analysis.category_loadings(factors, category, ["A", "B", "C"], items=bought)
    assert only.to_numpy().tolist() == [[2.0, 1.0], [0.0, -1.0]]

    poles = analysis.factor_poles(loadings, n=1)
    # factor 1: A 2, B -1 (standard deviation 1.5); factor 2: A 1, B 1.5 (0.25).
    assert poles.to_dict("records") == [
        {"factor": "factor 1", "spread": 1.5, "high": "A", "low": "B"},
        {"factor": "factor 2", "spread": 0.25, "high": "B", "low": "A"},
    ]


# ---------------------------------------------------------------------------- content


def test_content_table_names_the_neighbours_and_shared_features(tiny: ModelSnapshot) -> None:
    mouse = pos(tiny, MOUSE)
    table = analysis.content_table(tiny, mouse, limit=3)
    matches = neighbours(tiny.content, mouse, 3)
    assert table["product_id"].tolist() == [
        int(tiny.catalogue.item_ids[m.position]) for m in matches
    ]
    assert table["similarity"].tolist() == [m.similarity for m in matches]
    assert table.loc[0, "product_id"] == SPARE_MOUSE  # same brand, category and specs
    assert table.loc[0, "name"] == "Glide Wireless Mouse Mini"
    assert table.loc[0, "category"] == "Wireless Mice"
    assert table.loc[0, "shared"] == ", ".join(matches[0].shared_features)


# ---------------------------------------------------------------------------- recommendations


def test_recommendation_table_shows_ranks_ids_and_reasons(tiny: ModelSnapshot) -> None:
    context = Context(cart=(pos(tiny, LAPTOP),), page_type=PageType.CART)
    result = recommend(tiny, Request(context=context, limit=3), NO_POLICY)
    table = analysis.recommendation_table(tiny, result)
    assert table.columns.tolist() == [
        "rank",
        "product_id",
        "name",
        "category",
        "score",
        "reason",
        "why",
    ]
    assert table["rank"].tolist() == [1, 2, 3]
    assert table.loc[0, "product_id"] == MOUSE  # bought with laptops in two of three baskets
    assert table.loc[0, "reason"] == "BOUGHT_TOGETHER"
    assert table["why"].tolist() == [item.reason.text for item in result.items]
    assert table["score"].tolist() == [item.score for item in result.items]


def _store_with_repeat_customers() -> StoreData:
    """Customer 1 ordered on 2026-01-01, 03-15 and 05-20 (plus a canceled order); customer 2
    placed two orders at the same second."""
    data = tiny_store()
    extra = pd.DataFrame(
        {
            "order_id": pd.Series([10, 11, 12], dtype="int64"),
            "customer_id": pd.Series([1, 1, 2], dtype="int64"),
            "status": ["completed", "completed", "completed"],
            "grand_total": [90.0, 150.0, 25.0],
            "order_date": pd.to_datetime(["2026-03-15", "2026-05-20", "2026-02-01"]),
        }
    )
    lines = pd.DataFrame(
        {
            "order_id": pd.Series([10, 11, 12], dtype="int64"),
            "product_id": pd.Series([KEYBOARD, AMP, CABLE], dtype="int64"),
            "product_name": ["Clack TKL Keyboard", "Volt Headphone Amp", "Volt Balanced Cable"],
            "qty": pd.Series([1, 1, 1], dtype="int64"),
            "price": [90.0, 150.0, 25.0],
            "category": ["Mechanical Keyboards", "Headphone Amplifiers", "DACs & Balanced Cables"],
        }
    )
    return replace(
        data,
        orders=pd.concat([data.orders, extra], ignore_index=True),
        order_items=pd.concat([data.order_items, lines], ignore_index=True),
    )


def test_history_cutoff_replays_the_first_n_orders() -> None:
    snapshot = fit_snapshot(_store_with_repeat_customers(), PARAMS)
    first = user(snapshot, 1)
    dates = to_epoch_seconds(pd.Series(pd.to_datetime(["2026-01-01", "2026-05-20"])))
    assert analysis.history_cutoff(snapshot, first, 0) == int(dates[0])
    assert analysis.history_cutoff(snapshot, first, 1) == int(dates[0]) + 1
    assert analysis.history_cutoff(snapshot, first, 3) == int(dates[1]) + 1
    for n_orders in (0, 1, 2, 3):
        before = analysis.history_cutoff(snapshot, first, n_orders)
        assert build_profile(snapshot, first, before).n_orders == n_orders
    with pytest.raises(ValueError, match="has 3 completed orders"):
        analysis.history_cutoff(snapshot, first, 4)
    second = user(snapshot, 2)
    assert analysis.history_cutoff(snapshot, second, 2) > analysis.history_cutoff(
        snapshot, second, 0
    )
    with pytest.raises(ValueError, match="orders 1 and 2 share a timestamp"):
        analysis.history_cutoff(snapshot, second, 1)


# ---------------------------------------------------------------------------- evaluation


def test_replay_holdout_refits_before_the_build_cutoff(tiny_build: BuildResult) -> None:
    holdout = analysis.replay_holdout(tiny_store(), tiny_build, PARAMS)
    # 8 completed orders, the last 2 (o7: c7 headphones, o8: c8 spare mouse) are the test.
    assert holdout.cutoff == pd.Timestamp("2026-07-01")
    assert holdout.targets == {7: {HEADPHONES}, 8: {SPARE_MOUSE}}
    assert holdout.snapshot.interactions.nnz == 13 - 2
    assert holdout.snapshot.blend.to_dict() == tiny_build.manifest["blend"]

    unevaluated = build_artifacts(tiny_store(), None, PARAMS, evaluate=False)
    with pytest.raises(ValueError, match="not evaluated"):
        analysis.replay_holdout(tiny_store(), unevaluated, PARAMS)


def test_evaluation_users_are_the_known_target_customers(tiny: ModelSnapshot) -> None:
    targets = {8: {SPARE_MOUSE}, 7: {HEADPHONES, 999}, 4242: {MOUSE}}
    users = analysis.evaluation_users(tiny, targets, seed=7)
    assert users.positions.tolist() == [user(tiny, 7), user(tiny, 8)]  # 4242 is unknown
    assert users.relevant == [{pos(tiny, HEADPHONES)}, {pos(tiny, SPARE_MOUSE)}]
    sampled = analysis.evaluation_users(tiny, targets, seed=7, max_users=1)
    assert len(sampled.positions) == 1
    assert int(sampled.positions[0]) in users.positions.tolist()


def test_rankings_are_the_engine_lists_and_reproduce_the_report(
    tiny_build: BuildResult,
) -> None:
    holdout = analysis.replay_holdout(tiny_store(), tiny_build, PARAMS)
    snapshot = holdout.snapshot
    users = analysis.evaluation_users(snapshot, holdout.targets, PARAMS.seed)
    factories = analysis.curve_rows(snapshot, ["popularity", "rules", "hybrid"])
    ranked = {name: analysis.rankings(snapshot, users, f, 10) for name, f in factories.items()}
    # c7 and c8 bought nothing before the cutoff: popularity is trending over the training
    # period, which ends 2026-06-01 with a mouse; the headphones and the amp (April, May) tie
    # next, then the laptop (Jan-Mar) and the keyboard (Mar); nobody bought the spare mouse
    # or the cable before the cutoff, but short lists are filled in catalogue order.
    expected_new = [MOUSE, HEADPHONES, AMP, LAPTOP, KEYBOARD, SPARE_MOUSE, CABLE]
    for row in range(2):
        assert ranked["popularity"][row].tolist() == [
            *(pos(snapshot, p) for p in expected_new),
            -1,
            -1,
            -1,
        ]
    for name, recommended in ranked.items():
        for row, customer in enumerate(users.positions.tolist()):
            request = with_limit(factories[name](customer), 10)
            expected = [item.position for item in recommend(snapshot, request, NO_POLICY).items]
            assert recommended[row, : len(expected)].tolist() == expected
            assert (recommended[row, len(expected) :] == -1).all()
    curves = analysis.metric_curves(ranked, users, [10]).set_index("row")
    report = tiny_build.report
    assert report is not None
    assert curves.loc["popularity", "ndcg"] == pytest.approx(report.ndcg10("popularity"))
    assert curves.loc["rules", "ndcg"] == pytest.approx(report.ndcg10("rules"))
    assert curves.loc["hybrid", "ndcg"] == pytest.approx(report.ndcg10("hybrid (seed weights)"))
    # c7's headphones come 2nd, c8's spare mouse 6th.
    expected_ndcg = (1 / math.log2(3) + 1 / math.log2(7)) / 2
    assert curves.loc["popularity", "ndcg"] == pytest.approx(expected_ndcg)
    with pytest.raises(KeyError, match="unknown rows"):
        analysis.curve_rows(snapshot, ["bogus"])


def test_random_rankings_leave_out_purchases_and_are_seeded(tiny: ModelSnapshot) -> None:
    customers = [user(tiny, 1), user(tiny, 9)]
    users = analysis.EvaluationUsers(np.array(customers, dtype=np.int64), [set(), set()])
    ranked = analysis.random_rankings(tiny, users, 5, seed=3)
    # Customer 1 bought the laptop and the mouse: the other five products, each once.
    others = {pos(tiny, p) for p in (KEYBOARD, HEADPHONES, AMP, SPARE_MOUSE, CABLE)}
    assert sorted(ranked[0].tolist()) == sorted(others)
    assert len(set(ranked[1].tolist())) == 5
    assert (analysis.random_rankings(tiny, users, 5, seed=3) == ranked).all()


def test_metric_curves_at_every_k_on_hand_made_rankings() -> None:
    users = analysis.EvaluationUsers(np.array([0, 1], dtype=np.int64), [{3}, {0, 2}])
    ranked = {"hand": np.array([[3, 0, 1], [5, 2, -1]], dtype=np.int64)}
    curves = analysis.metric_curves(ranked, users, [1, 2, 3], n_items=6, head_items=[3])
    ndcg_second = (1 / math.log2(3)) / (1 + 1 / math.log2(3))  # user 2: hit at rank 2 of 2
    expected = pd.DataFrame(
        {
            "row": ["hand"] * 3,
            "k": [1, 2, 3],
            "precision": [0.5, 0.5, 1 / 3],
            "recall": [0.5, 0.75, 0.75],
            "ndcg": [0.5, (1 + ndcg_second) / 2, (1 + ndcg_second) / 2],
            "map": [0.5, 0.625, 0.625],
            "hit_rate": [0.5, 1.0, 1.0],
            "coverage": [2 / 6, 4 / 6, 5 / 6],
            "long_tail": [0.5, 0.75, 0.8],
        }
    )
    pd.testing.assert_frame_equal(curves, expected)


def test_segment_table_holds_one_metric_per_row_and_segment(tiny_build: BuildResult) -> None:
    report = tiny_build.report
    assert report is not None
    table = analysis.segment_table(report)
    assert table.index.tolist() == [*report.results, "users"]
    first = next(iter(report.results.values()))
    for name in report.results:
        for segment in table.columns:
            expected = report.results[name].row(segment).metrics["ndcg@10"]
            assert table.loc[name, segment] == expected or (
                math.isnan(expected) and math.isnan(table.loc[name, segment])
            )
    assert table.loc["users"].tolist() == [float(r.users) for r in first.rows]


def test_weights_frame_lists_segments_by_signal() -> None:
    frame = analysis.weights_frame(SEED_WEIGHTS)
    assert frame.index.tolist() == ["new", "light", "regular"]
    assert frame.columns.tolist() == ["cf", "content", "rules", "popularity"]
    assert frame.to_numpy().tolist() == [
        [0.0, 0.4, 0.4, 0.2],
        [0.0, 0.5, 0.5, 0.0],
        [0.4, 0.3, 0.3, 0.0],
    ]
