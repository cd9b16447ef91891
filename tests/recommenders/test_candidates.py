"""Two-stage ranking (recommenders/candidates.py) on the hand-made tiny store: the stored lists
are what the orders say, every signal on its support equals full scoring, and where the
candidates cover the catalogue the answers are full scoring's to the last reason."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recograph import artifacts
from recograph.build import build_artifacts
from recograph.engine import BusinessRules, Context, Request, Strategy, recommend
from recograph.recommenders import candidates as stage
from recograph.recommenders.blend import PageType
from recograph.recommenders.protocol import CFRequest
from recograph.recommenders.sparse import weighted_row_sum
from recograph.snapshot import CF_MODELS, ModelSnapshot, load_snapshot
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


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny-two-stage")
    params = dataclasses.replace(TINY_PARAMS, ranking="two-stage")  # auto: full at this size
    build_artifacts(tiny_store(), root, params, evaluate=False)
    return root


@pytest.fixture(scope="module")
def tiny(tiny_root: Path) -> ModelSnapshot:
    return load_snapshot(tiny_root)


def pos(snapshot: ModelSnapshot, product_id: int) -> int:
    position = snapshot.catalogue.index.position(product_id)
    assert position is not None
    return position


def ids(snapshot: ModelSnapshot, positions: object) -> list[int]:
    return [int(snapshot.catalogue.item_ids[p]) for p in np.asarray(positions).tolist()]


def test_stored_lists_rank_by_buyers_ties_by_position(tiny: ModelSnapshot) -> None:
    lists = tiny.lists
    # Distinct buyers: laptop, mouse, headphones 3 each; amp 2; keyboard and spare mouse 1
    # (c1's keyboard order was canceled); the cable none, so it is in no popularity list.
    assert ids(tiny, lists.popular) == [LAPTOP, MOUSE, HEADPHONES, AMP, KEYBOARD, SPARE_MOUSE]
    mice = tiny.catalogue.category_position("Wireless Mice")
    assert mice is not None
    assert ids(tiny, stage.rows_of(lists.category_popular, [mice])) == [MOUSE, SPARE_MOUSE]
    assert lists.overall_max == 3.0
    assert lists.category_overall_max[mice] == 3.0
    # The never-bought promoted cable is still listed where promoted products are.
    cables = tiny.catalogue.category_position("DACs & Balanced Cables")
    assert ids(tiny, lists.promoted_popular) == [CABLE]
    assert ids(tiny, stage.rows_of(lists.category_promoted, [cables])) == [CABLE]


def test_fired_rules_give_their_consequents_and_confidences(tiny: ModelSnapshot) -> None:
    # Laptop in the cart: laptop → mouse (2 of 3 laptop baskets), laptop → keyboard (1 of 3,
    # below the minimum count of 2, so no rule): only the mouse, with confidence 2/3.
    laptop = np.array([pos(tiny, LAPTOP)], dtype=np.int64)
    hits = stage.rule_hits(
        tiny.product_rules, tiny.product_rule_index, tiny.product_rules_always, laptop
    )
    assert ids(tiny, hits.positions) == [MOUSE]
    assert hits.values.tolist() == pytest.approx([2 / 3])
    rule = int(hits.rule[0])
    assert ids(tiny, tiny.product_rules.antecedent(rule)) == [LAPTOP]
    # The seeds themselves are never their own candidates (amp → headphones, headphones → amp).
    both = np.array([pos(tiny, HEADPHONES), pos(tiny, AMP)], dtype=np.int64)
    hits = stage.rule_hits(
        tiny.product_rules, tiny.product_rule_index, tiny.product_rules_always, both
    )
    assert hits.positions.size == 0


def test_neighbour_rows_on_their_support_equal_the_dense_sum(tiny: ModelSnapshot) -> None:
    rows = np.array([pos(tiny, LAPTOP), pos(tiny, AMP)], dtype=np.int64)
    weights = np.array([1.0, 0.5])
    for matrix in (tiny.item_knn.similarity, tiny.content.similarity):
        dense = weighted_row_sum(matrix, rows, weights)
        sparse = stage.row_sum(matrix, rows, weights)
        assert sparse.positions.tolist() == np.flatnonzero(dense > 0).tolist()
        assert sparse.values.tolist() == dense[dense > 0].tolist()  # the same additions
        everything = np.arange(tiny.n_items, dtype=np.int64)
        assert sparse.at(everything).tolist() == np.where(dense > 0, dense, 0).tolist()


def _requests(snapshot: ModelSnapshot) -> list[Request]:
    laptop, amp, mouse = pos(snapshot, LAPTOP), pos(snapshot, AMP), pos(snapshot, MOUSE)
    mice = snapshot.catalogue.category_position("Wireless Mice")
    assert mice is not None
    requests = [Request(user=u, limit=2) for u in range(snapshot.interactions.shape[0])]
    requests += [
        Request(limit=3),
        Request(context=Context(cart=(laptop,), page_type=PageType.CART), limit=2),
        Request(user=2, context=Context(cart=(amp,), page_type=PageType.CART), limit=2),
        Request(user=0, context=Context(current=laptop, page_type=PageType.PRODUCT), limit=2),
        Request(context=Context(category=mice, page_type=PageType.CATEGORY), limit=1),
        Request(user=5, exclude=(laptop,), limit=3),
        Request(user=1, limit=2, rank_offset=2, exclude=(mouse,)),
        Request(user=3, strategy=Strategy.CONTENT, in_stock_only=False, limit=3),
        Request(user=0, categories=(mice,), in_stock_only=False, explain=True, limit=1),
        Request(user=6, live_purchases=(laptop,), explain=True, limit=2),
    ]
    # Every CF model alone and a mix of a dense and a sparse one, for customers as trained
    # and with a live purchase (the history changed since the build).
    for name in (*CF_MODELS, "svd+user_knn"):
        mix = tuple((part, 0.5 if "+" in name else 1.0) for part in name.split("+"))
        for user in range(snapshot.interactions.shape[0]):
            requests.append(
                Request(user=user, strategy=Strategy.COLLABORATIVE, cf_models=mix, limit=2)
            )
        requests.append(Request(user=2, cf_models=mix, live_purchases=(laptop,), limit=3))
    requests.append(Request(user=4, limit=10))  # more than the store holds: full scoring decides
    return requests


@pytest.mark.parametrize("list_size", [stage.CF_LIST_SIZE, 1])
def test_where_the_candidates_cover_the_catalogue_answers_equal_full_scoring(
    tiny: ModelSnapshot, list_size: int
) -> None:
    # With lists of one product the dense CF models bring only each customer's best new
    # product (and their own above it); the popularity lists still hold every product, so
    # every answer must still be full scoring's, normalisation included.
    tiny = _with_cf_lists(tiny, list_size)
    full = dataclasses.replace(tiny, ranking=stage.Ranking.FULL)
    assert tiny.ranking is stage.Ranking.TWO_STAGE
    business = BusinessRules(promoted_positions=(2,), margin_weight=0.2)
    used: list[stage.Ranking] = []
    for request in _requests(tiny):
        two, one = recommend(tiny, request, business), recommend(full, request, business)
        used.append(two.ranking)
        assert two.items == one.items, request
        assert (two.explanation, two.has_more, two.trace) == (
            one.explanation,
            one.has_more,
            one.trace,
        ), request
        assert two.items  # a real list was compared, not two empty ones
        assert one.ranking is stage.Ranking.FULL
        assert one.scored == tiny.n_items
    # Short pages are ranked on the candidates; a page longer than they are falls back.
    assert used[-1] is stage.Ranking.FULL
    assert used.count(stage.Ranking.TWO_STAGE) >= len(used) - 3, used


def _with_cf_lists(snapshot: ModelSnapshot, size: int) -> ModelSnapshot:
    models = stage.dense_cf_models({name: snapshot.cf_model(name) for name in CF_MODELS})
    lists = stage.fit_cf_lists(models, snapshot.interactions, size=size)
    return dataclasses.replace(snapshot, cf_lists=lists)


def _dense_scores(snapshot: ModelSnapshot, name: str, user: int) -> np.ndarray:
    matrix = snapshot.interactions
    history = np.zeros(snapshot.n_items, dtype=np.float32)
    span = slice(matrix.indptr[user], matrix.indptr[user + 1])
    history[matrix.indices[span]] = matrix.data[span]
    model = snapshot.cf_model(name)
    assert model is not None
    return model.score(CFRequest(history=history, user=user, exact=True, interactions=matrix))


def test_stored_cf_lists_hold_each_customers_best_new_products_and_what_beats_them(
    tiny: ModelSnapshot,
) -> None:
    # SVD, ALS and EASE score every product, so their candidates are stored per customer:
    # the `size` best positive products the customer did not buy, then every product
    # scoring at least the last of them (their own included), best first. Checked against
    # each model's full scoring of the customer's training row.
    assert sorted(tiny.customer_lists.rows) == ["als", "ease", "svd"]
    matrix = tiny.interactions
    listed = 0
    for size in (1, 2, stage.CF_LIST_SIZE):
        lists = _with_cf_lists(tiny, size).customer_lists
        for name, rows in lists.rows.items():
            for user in range(matrix.shape[0]):
                scores = _dense_scores(tiny, name, user)
                owned = set(matrix.indices[matrix.indptr[user] : matrix.indptr[user + 1]])
                new = sorted(
                    (p for p in range(tiny.n_items) if p not in owned), key=lambda p: -scores[p]
                )
                new = [p for p in new if scores[p] > 0][:size]
                last = scores[new[-1]] if len(new) == size else 0.0
                expected = [p for p in range(tiny.n_items) if scores[p] > 0 and scores[p] >= last]
                expected.sort(key=lambda p: (-scores[p], p))
                got = stage.rows_of(rows, [user]).tolist()
                assert got == expected, (name, size, user)
                listed += len(got)
    assert listed > 0


def test_dense_models_score_candidates_as_they_score_the_catalogue(tiny: ModelSnapshot) -> None:
    # Bit for bit: a candidate's score is its full-scoring score whichever products are asked.
    from recograph.recommenders.protocol import CFProfile

    matrix = tiny.interactions
    with_scorer = []
    for name in CF_MODELS:
        model = tiny.cf_model(name)
        assert model is not None
        if hasattr(model, "scorer"):
            with_scorer.append(name)
        for user in range(matrix.shape[0]):
            span = slice(matrix.indptr[user], matrix.indptr[user + 1])
            items = np.asarray(matrix.indices[span], dtype=np.int64)
            profile = CFProfile(items, matrix.data[span], user, True, matrix)
            full = _dense_scores(tiny, name, user)
            # a dense model's scorer (its per-customer part made once) answers alike, asked
            # again and again
            scorer = getattr(model, "scorer", None)
            once = scorer(profile) if scorer is not None else None
            for positions in ([0], [6, 1], list(range(tiny.n_items))):
                asked = np.asarray(positions, dtype=np.int64)
                assert model.score_at(profile, asked).tolist() == full[asked].tolist(), name
                if once is not None:
                    assert once(asked).tolist() == full[asked].tolist(), name
    assert with_scorer == ["svd", "als", "ease"]  # the dense models: each scorer was checked


def test_candidates_hold_what_full_scoring_ranks_top(tiny: ModelSnapshot) -> None:
    # A laptop in the cart of an anonymous visitor: full scoring ranks the mouse first (the
    # only fired rule), and the mouse is the rule signal's candidate, at full-scoring value.
    full = dataclasses.replace(tiny, ranking=stage.Ranking.FULL)
    request = Request(
        context=Context(cart=(pos(tiny, LAPTOP),), page_type=PageType.CART),
        strategy=Strategy.RULES,
    )
    top = recommend(full, request).items[0]
    assert ids(tiny, [top.position]) == [MOUSE]
    assert recommend(tiny, request).items[0] == top


def test_auto_ranking_is_two_stage_only_above_the_crossover_size() -> None:
    assert stage.resolve_ranking("auto", stage.TWO_STAGE_MIN_PRODUCTS) is stage.Ranking.FULL
    assert stage.resolve_ranking("auto", stage.TWO_STAGE_MIN_PRODUCTS + 1) is (
        stage.Ranking.TWO_STAGE
    )
    assert stage.resolve_ranking("full", 10**6) is stage.Ranking.FULL
    assert stage.resolve_ranking("two-stage", 3) is stage.Ranking.TWO_STAGE


def test_lists_round_trip_and_ranking_is_recorded(tiny: ModelSnapshot, tmp_path: Path) -> None:
    published = artifacts.publish(
        tiny.to_arrays(), {**tiny.manifest, "ranking": "full"}, tmp_path, version="v1"
    )
    again = load_snapshot(published)
    assert again.ranking is stage.Ranking.FULL
    stored = {**tiny.lists.to_arrays(), **tiny.customer_lists.to_arrays()}
    assert any(name.startswith("candidates.cf.svd.") for name in stored)
    for name, array in stored.items():
        assert again.to_arrays()[name].tolist() == array.tolist(), name


@pytest.mark.parametrize(
    ("old_format", "missing"),
    [(2, "candidates."), (4, "candidates.cf."), (5, "order_baskets."), (5, "purchases.")],
)
def test_a_build_without_candidate_lists_is_refused_by_its_format(
    tiny_root: Path, tmp_path: Path, old_format: int, missing: str
) -> None:
    # Format 3 added the candidate lists, format 5 the per-customer CF lists, format 6 the
    # purchase table and the order baskets.
    old = artifacts.publish(
        {k: v for k, v in load_snapshot(tiny_root).to_arrays().items() if missing not in k},
        {"version": "v-old"},
        tmp_path,
        version="v-old",
    )
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["format_version"] = old_format
    (old / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        artifacts.ArtifactError,
        match=f"artifact format {old_format}, this server reads format {artifacts.FORMAT_VERSION}",
    ):
        load_snapshot(old, verify=False)


def test_full_scoring_is_a_build_and_a_serving_choice(tmp_path: Path) -> None:
    from recograph.online.config import ServingConfig
    from recograph.settings import SettingsError

    result = build_artifacts(
        tiny_store(), tmp_path, dataclasses.replace(TINY_PARAMS, ranking="full"), evaluate=False
    )
    assert result.manifest["ranking"] == "full"
    assert load_snapshot(tmp_path).ranking is stage.Ranking.FULL
    assert ServingConfig.from_env({"RECOGRAPH_RANKING": "Full"}).ranking == "full"
    assert ServingConfig.from_env({}).ranking is None
    with pytest.raises(SettingsError, match="RECOGRAPH_RANKING must be one of two-stage, full"):
        ServingConfig.from_env({"RECOGRAPH_RANKING": "fast"})


def test_top_overlap_is_the_mean_share_of_full_scorings_items_kept() -> None:
    from recograph_lab.bench.quality import top_overlap

    two_stage = np.array([[1, 2, -1], [3, 4, 5]])
    full = np.array([[2, 1, 7], [3, 9, -1]])
    # Row 1 keeps 2 of full scoring's {2, 1, 7}; row 2 keeps 1 of {3, 9}: (2/3 + 1/2) / 2.
    assert top_overlap(two_stage, full) == pytest.approx((2 / 3 + 1 / 2) / 2)


def test_bench_ranking_compares_both_rankings_on_one_snapshot(tiny: ModelSnapshot) -> None:
    from recograph_lab.bench.ranking import measure, requests_for

    requests = requests_for(tiny, customers=3, seed=1, limit=2)
    # 3 customers × (home, cart, product page) and an anonymous cart and home page each
    assert len(requests) == 15
    assert sum(r.user is None for r in requests) == 6
    row = measure(tiny, requests, (("svd", 1.0),), repeats=1)
    assert (row.cf_models, row.requests) == ("svd 1", 15)
    # the tiny store's candidates cover it: every list is full scoring's
    assert (row.identical, row.top10_overlap) == (15, 1.0)
    assert row.ranked_two_stage >= 12  # short pages: the candidates decided
    assert 0 < row.scored_mean <= row.scored_max <= tiny.n_items


def test_a_sparse_signal_brings_its_best_among_what_the_filter_leaves() -> None:
    # Positions 0, 1, 3 are dropped (a history's own products): the two best overall are
    # 0 and 1 (so the maximum is a candidate), the two best of the rest 2 and 4.
    signal = stage.Sparse(
        np.array([0, 1, 2, 3, 4, 5], dtype=np.int64),
        np.array([5.0, 4.0, 3.0, 2.5, 2.0, 1.0]),
    )
    dropped = np.array([0, 1, 3], dtype=np.int64)
    assert sorted(set(signal.best_shown(2, dropped).tolist())) == [0, 1, 2, 4]
    assert sorted(signal.best_shown(2, np.zeros(0, dtype=np.int64)).tolist()) == [0, 1]
    assert sorted(signal.best_shown(6, dropped).tolist()) == [0, 1, 2, 3, 4, 5]


def _with_popular(snapshot: ModelSnapshot, popular: list[int]) -> ModelSnapshot:
    """The snapshot with only ``popular`` (product ids) in its popularity and promoted lists:
    the signals bring the rest (in the tiny store the lists alone hold every product)."""
    lists = snapshot.lists
    none = np.zeros(0, dtype=np.int32)

    def empty(rows: sp.csr_matrix) -> sp.csr_matrix:
        return sp.csr_matrix(rows.shape, dtype=np.int8)

    bare = dataclasses.replace(
        lists,
        popular=np.asarray([pos(snapshot, p) for p in popular], dtype=np.int32),
        trending=none,
        promoted_popular=none,
        promoted_trending=none,
        category_popular=empty(lists.category_popular),
        category_trending=empty(lists.category_trending),
        category_promoted=empty(lists.category_promoted),
    )
    return dataclasses.replace(snapshot, candidates=bare)


@pytest.mark.parametrize("name", ["item_knn", "user_knn"])
def test_a_historys_own_products_do_not_crowd_out_a_sparse_signals_candidates(
    tiny: ModelSnapshot, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # Customer 0 (c1) owns the laptop and the mouse. Item-kNN scores them 0.667 each (each
    # other's neighbour) and the keyboard 0.577 (the laptop's); user-kNN (the neighbours'
    # purchases) scores them 1.5 and 1.707 and the keyboard 0.5. With room for two per signal
    # and only the headphones and the amp (scored 0 by both) in the popular list, a signal's
    # best two were the customer's own products, which the already-bought filter removes:
    # the candidate stage answered the headphones where full scoring answers the keyboard.
    # Its best among the products the filter leaves is a candidate too now.
    monkeypatch.setattr(stage, "SIGNAL_LIMIT", 2)
    bare = _with_popular(tiny, [HEADPHONES, AMP])
    full = dataclasses.replace(bare, ranking=stage.Ranking.FULL)
    request = Request(user=0, strategy=Strategy.COLLABORATIVE, cf_models=((name, 1.0),), limit=1)
    two, one = recommend(bare, request), recommend(full, request)
    assert ids(tiny, [item.position for item in two.items]) == [KEYBOARD]
    assert two.items == one.items
    assert two.ranking is stage.Ranking.TWO_STAGE
    assert two.scored == 5  # laptop, mouse, keyboard; headphones, amp


def test_union_is_the_sorted_distinct_positions_of_every_part() -> None:
    rng = np.random.default_rng(7)
    parts = [rng.integers(0, 50, size=n) for n in (0, 1, 30, 200)]
    assert stage.union(parts).tolist() == np.unique(np.concatenate(parts)).tolist()
    assert stage.union(parts).dtype == np.int64
    assert stage.union([]).tolist() == []
    assert stage.union([np.zeros(0, dtype=np.int32)]).tolist() == []


def test_store_wide_lists_cap_each_category_and_their_length() -> None:
    # Category 0 holds the four best sellers; a cap of 2 lets category 1's reach the list.
    values = np.array([9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 0.0, 4.0])
    category = np.array([0, 0, 0, 0, 1, 1, 1, 2])
    assert stage.best_capped(values, category, size=10, per_category=2).tolist() == [
        0,
        1,
        4,
        5,
        7,
    ]
    # never-sold products (value 0) are not listed; the length is bounded, ties by position
    assert stage.best_capped(values, category, size=3, per_category=2).tolist() == [0, 1, 4]
    assert stage.best_capped(values, category, size=10, per_category=9).tolist() == [
        0,
        1,
        2,
        3,
        4,
        5,
        7,
    ]


def test_many_rows_bring_only_their_best_by_the_given_value() -> None:
    rows = stage.row_arrays(
        sp.csr_matrix(
            (np.ones(5, dtype=np.int8), np.array([1, 4, 2, 3, 0]), np.array([0, 2, 5])),
            shape=(2, 6),
        )
    )
    value = np.array([0.5, 0.1, 0.9, 0.9, 0.3, 0.0])
    assert stage.best_of_rows(rows, [0, 1], 3, lambda p: value[p]).tolist() == [2, 3, 0]
    # within the limit every listed position comes, in the rows' order
    assert stage.best_of_rows(rows, [0, 1], 9, lambda p: value[p]).tolist() == [1, 4, 2, 3, 0]
    assert stage.best_of_rows(rows, [1], 2, lambda p: value[p]).tolist() == [2, 3]


def test_row_arrays_are_the_csr_rows_or_their_heads() -> None:
    matrix = sp.csr_matrix(
        (np.ones(6, dtype=np.int8), np.array([1, 4, 2, 3, 0, 5]), np.array([0, 2, 2, 6])),
        shape=(3, 6),
    )
    assert [r.tolist() for r in stage.row_arrays(matrix)] == [[1, 4], [], [2, 3, 0, 5]]
    assert [r.tolist() for r in stage.row_arrays(matrix, 3)] == [[1, 4], [], [2, 3, 0]]
    assert stage.joined(stage.row_arrays(matrix), [2, 0]).tolist() == [2, 3, 0, 5, 1, 4]
    assert stage.joined(stage.row_arrays(matrix), []).tolist() == []
    # one row read as a slice: what `rows_of` gathers for that row alone
    for row in range(matrix.shape[0]):
        assert stage.row_of(matrix, row).tolist() == stage.rows_of(matrix, [row]).tolist()
        assert stage.row_of(matrix, row).dtype == np.int64


def test_bench_ranking_pairs_ndcg_of_both_rankings_per_customer(tiny: ModelSnapshot) -> None:
    from recograph_lab.bench.quality import Users
    from recograph_lab.bench.ranking import quality_rows

    # Two customers, each with one target: the headphones and the amp.
    users = Users(
        positions=np.array([0, 1], dtype=np.int64),
        targets=[{pos(tiny, HEADPHONES)}, {pos(tiny, AMP)}],
        history=[set(), set()],
        remove_seen=False,
    )
    rows = quality_rows(tiny, users)
    assert [r.row for r in rows] == ["hybrid (served default)", "hybrid + stock + business rules"]
    for row in rows:
        assert row.users == 2
        # the tiny store's candidates cover it: both rankings answer alike
        assert (row.difference, row.difference_se, row.top10_overlap) == (0.0, 0.0, 1.0)
        assert row.two_stage_ndcg == row.full_ndcg
        assert 0.0 <= row.full_ndcg <= 1.0


def test_estimate_in_categories_sums_each_signal_on_its_support_as_the_lookups_do(
    tiny: ModelSnapshot,
) -> None:
    # The terms taken on each support and summed per product equal `_partial`'s lookups over
    # the supports' union, bit for bit, with the estimate's CF signal or another in its place.
    from recograph.engine import Weights, _Estimate

    rng = np.random.default_rng(11)
    n = tiny.n_items
    category = tiny.catalogue.category

    def signal(size: int) -> stage.Sparse:
        positions = np.sort(rng.choice(n, size, replace=False)).astype(np.int64)
        return stage.Sparse(positions, rng.random(size) / 7 + 0.01)

    strength = rng.random(tiny.catalogue.n_categories).astype(np.float32)
    weights = Weights(cf=0.4, content=0.2, rules=0.3, popularity=0.1)
    wanted = np.unique(category[[0, 3, n - 1]]).astype(np.int64)
    heads = np.asarray([0], dtype=np.int64)
    for size in (1, n // 2, n):
        estimate = _Estimate(tiny, weights, signal(size), signal(max(1, size - 1)), strength)
        other = signal(n // 3 + 1)
        for cf in (None, other):
            got = estimate.in_categories(wanted, heads, cf)
            used = estimate.cf if cf is None else cf
            expected = estimate._in_categories_by_lookup(wanted, heads, (used, estimate.content))
            assert got.positions.tolist() == expected.positions.tolist()
            assert got.values.tobytes() == expected.values.tobytes()
            assert got.positions.size > 0
