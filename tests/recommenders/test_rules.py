"""Association rules on a five-basket set whose every rule is worked out by hand below.

Items 0..4 (4 is never bought). Baskets:
    B1 {0, 1}   B2 {0, 1, 2}   B3 {0, 2}   B4 {1, 3}   B5 {0, 1, 2, 3}
Counts (n = 5):
    {0} 4  {1} 4  {2} 3  {3} 2  {4} 0
    {0,1} 3 (B1 B2 B5)  {0,2} 3 (B2 B3 B5)  {1,2} 2 (B2 B5)  {1,3} 2 (B4 B5)
    {0,3} 1  {2,3} 1  {0,1,2} 2 (B2 B5)  other triples 1
With min_support 0.4 an itemset needs ceil(0.4·5) = 2 baskets, so the frequent sets are
{0} {1} {2} {3} {0,1} {0,2} {1,2} {1,3} {0,1,2}. With min_confidence 0.6 the rules are
(conf = n_AC/n_A, lift = n_AC·n/(n_A·n_C), leverage = (n_AC·n − n_A·n_C)/n²,
conviction = (n − n_C)·n_A / (n·(n_A − n_AC))):

    id  rule          n_AC n_A n_C  supp  conf  lift   leverage  conviction
    0   {2}   => {0}   3    3   4   0.6   1     15/12  3/25      inf
    1   {1,2} => {0}   2    2   4   0.4   1     10/8   2/25      inf
    2   {3}   => {1}   2    2   4   0.4   1     10/8   2/25      inf
    3   {0}   => {2}   3    4   3   0.6   3/4   15/12  3/25      2·4/5 = 1.6
    4   {0,1} => {2}   2    3   3   0.4   2/3   10/9   1/25      2·3/5 = 1.2
    5   {}    => {0}   4    5   4   0.8   4/5   1      0         1·5/5 = 1
    6   {}    => {1}   4    5   4   0.8   4/5   1      0         1
    7   {}    => {2}   3    5   3   0.6   3/5   1      0         2·5/10 = 1
    8   {0}   => {1}   3    4   4   0.6   3/4   15/16  −1/25     1·4/5 = 0.8
    9   {1}   => {0}   3    4   4   0.6   3/4   15/16  −1/25     0.8
    10  {0,2} => {1}   2    3   4   0.4   2/3   10/12  −2/25     1·3/5 = 0.6
    11  {2}   => {1}   2    3   4   0.4   2/3   10/12  −2/25     0.6

Rejected: {1}=>{2} and {1}=>{3} (conf 2/4). {}=>{2} sits exactly on the threshold (3/5 vs 0.6)
and is kept, as in arules; {}=>{3} (2/5) is not. The order is lift, confidence, support
(descending), then antecedent and consequent positions: rules 1 and 2 tie on every metric and
(1,2) < (3,); 5 and 6 tie and consequent (0,) < (1,); 10 and 11 tie and (0,2) < (2,).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recograph.build import build_artifacts
from recograph.recommenders import rules as rules_module
from recograph.recommenders.rules import (
    METRICS,
    RuleSet,
    antecedent_index,
    baskets_matrix,
    best_of_fired,
    best_rules_of_fired,
    fired_by,
    fired_rules,
    frequent_itemsets,
    mine_rules,
    mine_rules_with_report,
    rules_table,
    ruleset_from_counts,
    score_distinct,
    score_rules,
    score_two_distinct,
)
from tests.tiny_store import TINY_PARAMS, tiny_store

with warnings.catch_warnings():
    from mlxtend.frequent_patterns import association_rules, fpgrowth

BASKETS = [[0, 1], [0, 1, 2], [0, 2], [1, 3], [0, 1, 2, 3]]
N_ITEMS = 5
LABELS = ["bread", "milk", "butter", "beer", "caviar"]

EXPECTED_RULES = [
    ((2,), (0,)),
    ((1, 2), (0,)),
    ((3,), (1,)),
    ((0,), (2,)),
    ((0, 1), (2,)),
    ((), (0,)),
    ((), (1,)),
    ((), (2,)),
    ((0,), (1,)),
    ((1,), (0,)),
    ((0, 2), (1,)),
    ((2,), (1,)),
]
EXPECTED_COUNT = [3, 2, 2, 3, 2, 4, 4, 3, 3, 3, 2, 2]
EXPECTED_ANTECEDENT_COUNT = [3, 2, 2, 4, 3, 5, 5, 5, 4, 4, 3, 3]
EXPECTED_CONSEQUENT_COUNT = [4, 4, 4, 3, 3, 4, 4, 3, 4, 4, 4, 4]
EXPECTED_SUPPORT = [0.6, 0.4, 0.4, 0.6, 0.4, 0.8, 0.8, 0.6, 0.6, 0.6, 0.4, 0.4]
EXPECTED_CONFIDENCE = [1.0, 1.0, 1.0, 0.75, 2 / 3, 0.8, 0.8, 0.6, 0.75, 0.75, 2 / 3, 2 / 3]
EXPECTED_LIFT = [1.25, 1.25, 1.25, 1.25, 10 / 9, 1.0, 1.0, 1.0, 15 / 16, 15 / 16, 5 / 6, 5 / 6]
EXPECTED_LEVERAGE = [0.12, 0.08, 0.08, 0.12, 0.04, 0.0, 0.0, 0.0, -0.04, -0.04, -0.08, -0.08]
EXPECTED_CONVICTION = [np.inf, np.inf, np.inf, 1.6, 1.2, 1.0, 1.0, 1.0, 0.8, 0.8, 0.6, 0.6]


def _matrix(baskets: list[list[int]] = BASKETS) -> sp.csr_matrix:
    ids = np.repeat(np.arange(len(baskets)), [len(b) for b in baskets])
    items = np.array([i for b in baskets for i in b], dtype=np.int64)
    return baskets_matrix(ids, items, N_ITEMS)


def _pairs(rules: RuleSet) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    return [
        (tuple(rules.antecedent(r).tolist()), tuple(rules.consequent(r).tolist()))
        for r in range(len(rules))
    ]


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return mine_rules(_matrix(), min_support=0.4, min_confidence=0.6)


def test_baskets_matrix_collapses_duplicates_and_orders_rows_by_basket_id() -> None:
    matrix = baskets_matrix(np.array([30, 10, 30, 20, 10]), np.array([1, 0, 1, 2, 2]), 4)
    assert matrix.dtype == np.bool_
    np.testing.assert_array_equal(
        matrix.toarray(),
        [[True, False, True, False], [False, False, True, False], [False, True, False, False]],
    )


def test_baskets_matrix_rejects_positions_out_of_range() -> None:
    with pytest.raises(ValueError, match="item positions"):
        baskets_matrix(np.array([1, 2]), np.array([0, -1]), 3)


def test_rules_and_metrics_match_hand_derivation(rules: RuleSet) -> None:
    assert _pairs(rules) == EXPECTED_RULES
    assert rules.n_baskets == 5
    assert rules.n_items == N_ITEMS
    np.testing.assert_array_equal(rules.count, EXPECTED_COUNT)
    np.testing.assert_array_equal(rules.antecedent_count, EXPECTED_ANTECEDENT_COUNT)
    np.testing.assert_array_equal(rules.consequent_count, EXPECTED_CONSEQUENT_COUNT)
    np.testing.assert_array_equal(rules.support, EXPECTED_SUPPORT)
    np.testing.assert_array_equal(rules.confidence, EXPECTED_CONFIDENCE)
    np.testing.assert_array_equal(rules.lift, EXPECTED_LIFT)
    np.testing.assert_array_equal(rules.leverage, EXPECTED_LEVERAGE)
    np.testing.assert_array_equal(rules.conviction, EXPECTED_CONVICTION)
    np.testing.assert_array_equal(rules.lengths(), [2, 3, 2, 2, 3, 1, 1, 1, 2, 2, 3, 2])
    assert rules.antecedent_indices.dtype == np.int32
    assert rules.antecedent_indptr.dtype == np.int64


def test_min_len_drops_the_empty_antecedent_rules() -> None:
    rules = mine_rules(_matrix(), min_support=0.4, min_confidence=0.6, min_len=2)
    assert _pairs(rules) == [r for r in EXPECTED_RULES if r[0]]


def test_max_len_and_min_lift_filter_rules() -> None:
    short = mine_rules(_matrix(), min_support=0.4, min_confidence=0.6, max_len=2)
    assert _pairs(short) == [r for r in EXPECTED_RULES if len(r[0]) + len(r[1]) <= 2]
    lifted = mine_rules(_matrix(), min_support=0.4, min_confidence=0.6, min_lift=1.0)
    assert _pairs(lifted) == EXPECTED_RULES[:8]


def test_multi_item_consequents_on_request() -> None:
    # From {0,1,2} (count 2): {2}=>{0,1} has conf 2/3 and lift 2·5/(3·3) = 10/9;
    # {0}=>{1,2} and {1}=>{0,2} have conf 2/4 and are rejected.
    rules = mine_rules(_matrix(), min_support=0.4, min_confidence=0.6, single_consequent=False)
    pairs = _pairs(rules)
    assert len(pairs) == 13
    extra = pairs.index(((2,), (0, 1)))
    assert extra == 5  # lift 10/9 like rule 4, same conf and support, antecedent (2,) > (0, 1)
    assert rules.lift[extra] == 10 / 9
    assert rules.consequent_count[extra] == 3


def test_support_threshold_rounds_up_to_whole_baskets() -> None:
    # ceil(0.41·5) = 3 baskets: only {0} {1} {2} {0,1} {0,2} remain frequent.
    rules = mine_rules(_matrix(), min_support=0.41, min_confidence=0.6, min_len=2)
    assert _pairs(rules) == [((2,), (0,)), ((0,), (2,)), ((0,), (1,)), ((1,), (0,))]


def test_counts_and_other_sparse_formats_are_read_as_presence(rules: RuleSet) -> None:
    weighted = sp.coo_matrix(_matrix().astype(np.float32) * 2.0)
    again = mine_rules(weighted, min_support=0.4, min_confidence=0.6)
    assert _pairs(again) == EXPECTED_RULES
    np.testing.assert_array_equal(again.lift, rules.lift)


def test_frequent_itemsets_by_length() -> None:
    itemsets = frequent_itemsets(_matrix(), min_support=0.4)
    sets = [
        tuple(itemsets.indices[itemsets.indptr[i] : itemsets.indptr[i + 1]].tolist())
        for i in range(len(itemsets))
    ]
    assert sets == [(0,), (1,), (2,), (3,), (0, 1), (0, 2), (1, 2), (1, 3), (0, 1, 2)]
    np.testing.assert_array_equal(itemsets.count, [4, 4, 3, 2, 3, 3, 2, 2, 2])
    pairs = frequent_itemsets(_matrix(), min_support=0.4, min_len=2, max_len=2)
    np.testing.assert_array_equal(pairs.lengths(), [2, 2, 2, 2])
    np.testing.assert_array_equal(pairs.count, [3, 3, 2, 2])


def test_mining_is_deterministic_under_basket_order(rules: RuleSet) -> None:
    shuffled = [BASKETS[i][::-1] for i in (4, 2, 0, 3, 1)]
    again = mine_rules(_matrix(shuffled), min_support=0.4, min_confidence=0.6)
    for key, value in rules.to_arrays("").items():
        np.testing.assert_array_equal(again.to_arrays("")[key], value)


def test_empty_inputs_give_empty_rulesets() -> None:
    no_baskets = baskets_matrix(np.array([], dtype=np.int64), np.array([], dtype=np.int64), 3)
    assert no_baskets.shape == (0, 3)
    empty = mine_rules(no_baskets, min_support=0.1, min_confidence=0.1)
    assert len(empty) == 0
    assert (empty.n_baskets, empty.n_items) == (0, 3)
    assert len(frequent_itemsets(no_baskets, min_support=0.1)) == 0
    # No item is in all five baskets.
    nothing_frequent = mine_rules(_matrix(), min_support=1.0, min_confidence=0.1)
    assert len(nothing_frequent) == 0
    assert nothing_frequent.n_baskets == 5
    index = antecedent_index(nothing_frequent)
    assert index.shape == (N_ITEMS, 0)
    scored = score_rules(nothing_frequent, index, [0, 1])
    np.testing.assert_array_equal(scored.scores, np.zeros(N_ITEMS, dtype=np.float32))
    np.testing.assert_array_equal(scored.best_rule, np.full(N_ITEMS, -1))
    assert rules_table(nothing_frequent, LABELS).empty


# --- bounded mining ------------------------------------------------------------------------
# The frequent itemsets of the five baskets by count (see the module docstring):
#   count >= 2: {0} {1} {2} {3} {0,1} {0,2} {1,2} {1,3} {0,1,2}  (9)
#   count >= 3: {0} {1} {2} {0,1} {0,2}                          (5)
#   count >= 4: {0} {1}                                          (2)
#   count >= 5: none


def _itemsets(matrix: sp.csr_matrix, **kwargs: float) -> list[tuple[int, ...]]:
    found = frequent_itemsets(matrix, **kwargs)  # type: ignore[arg-type]
    return [
        tuple(found.indices[found.indptr[i] : found.indptr[i + 1]].tolist())
        for i in range(len(found))
    ]


@pytest.mark.parametrize(
    ("cap", "min_count", "n_itemsets"),
    [(None, 2, 9), (9, 2, 9), (8, 3, 5), (5, 3, 5), (4, 4, 2), (1, 5, 0)],
)
def test_itemset_cap_raises_support_to_the_smallest_count_that_fits(
    cap: int | None, min_count: int, n_itemsets: int
) -> None:
    capped = _itemsets(_matrix(), min_support=0.4, max_itemsets=cap)  # type: ignore[arg-type]
    assert len(capped) == n_itemsets
    assert capped == _itemsets(_matrix(), min_support=min_count / 5)
    rules, report = mine_rules_with_report(
        _matrix(), min_support=0.4, min_confidence=0.6, max_itemsets=cap
    )
    assert (report.requested_min_count, report.min_count) == (2, min_count)
    assert report.n_itemsets == n_itemsets
    assert report.raised == (min_count > 2)
    uncapped = mine_rules(_matrix(), min_support=min_count / 5, min_confidence=0.6)
    assert _pairs(rules) == _pairs(uncapped)
    np.testing.assert_array_equal(rules.lift, uncapped.lift)


def test_mining_report_says_what_support_was_applied_and_why() -> None:
    _, report = mine_rules_with_report(
        _matrix(), min_support=0.4, min_confidence=0.6, max_len=3, max_itemsets=8
    )
    assert report.to_dict() == {
        "n_baskets": 5,
        "max_len": 3,
        "max_itemsets": 8,
        "requested_min_count": 2,
        "requested_min_support": 0.4,
        "min_count": 3,
        "min_support": 0.6,
        "n_itemsets": 5,
        "support_raised": True,
        "seconds": round(report.seconds, 3),
        "reason": "more than 8 itemsets reach 2 baskets; 3 is the smallest basket count "
        "that keeps them within the cap",
    }
    _, kept = mine_rules_with_report(_matrix(), min_support=0.4, min_confidence=0.6)
    assert "reason" not in kept.to_dict()
    assert kept.to_dict()["support_raised"] is False


def _reference_rules(
    matrix: sp.csr_matrix,
    min_support: float,
    min_confidence: float,
    min_lift: float,
    max_len: int | None,
    min_len: int,
    single_consequent: bool,
) -> list[tuple[float, float, int, tuple[int, ...], tuple[int, ...]]]:
    """The miner as it was before bounded mining: mlxtend FP-Growth on the dense baskets and
    association_rules, then the thresholds and the sort in plain Python."""
    n = matrix.shape[0]
    min_count = max(1, math.ceil(min_support * n - 1e-9))
    frame = pd.DataFrame(matrix.toarray().astype(bool))
    found = fpgrowth(frame, min_support=(min_count - 0.5) / n, max_len=max_len)
    count_of = {
        tuple(sorted(int(i) for i in s)): round(float(supp) * n)
        for supp, s in zip(found["support"], found["itemsets"], strict=True)
    }
    candidates = [((), s) for s in count_of if len(s) == 1] if min_len <= 1 else []
    if any(len(s) >= 2 for s in count_of):
        split = association_rules(
            found, num_itemsets=n, metric="confidence", min_threshold=min_confidence - 1e-9
        )
        candidates += [
            (tuple(sorted(int(i) for i in a)), tuple(sorted(int(i) for i in c)))
            for a, c in zip(split["antecedents"], split["consequents"], strict=True)
        ]
    rows = []
    for ante, cons in candidates:
        if len(ante) + len(cons) < min_len or (single_consequent and len(cons) != 1):
            continue
        n_ac, n_a, n_c = count_of[tuple(sorted(ante + cons))], count_of.get(ante, n), count_of[cons]
        confidence, lift = n_ac / n_a, (n_ac * n) / (n_a * n_c)
        if confidence >= min_confidence and lift >= min_lift:
            rows.append((-lift, -confidence, -n_ac, ante, cons))
    return sorted(rows)


def _as_rows(rules: RuleSet) -> list[tuple[float, float, int, tuple[int, ...], tuple[int, ...]]]:
    return [
        (-float(rules.lift[r]), -float(rules.confidence[r]), -int(rules.count[r]), *pair)
        for r, pair in enumerate(_pairs(rules))
    ]


def _random_baskets(seed: int, n_baskets: int, n_items: int, max_size: int) -> sp.csr_matrix:
    """Baskets of 1..max_size items with skewed item popularity (a few items in most)."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_items + 1) ** 0.8
    sizes = rng.integers(1, max_size + 1, n_baskets)
    items = [rng.choice(n_items, size, replace=False, p=weights / weights.sum()) for size in sizes]
    ids = np.repeat(np.arange(n_baskets), sizes)
    return baskets_matrix(ids, np.concatenate(items), n_items)


@pytest.mark.parametrize(
    ("seed", "shape", "settings"),
    [
        (0, (60, 12, 6), (0.1, 0.3, 0.0, None, 1, True)),
        (1, (80, 20, 10), (0.08, 0.5, 1.0, 3, 2, True)),
        (2, (50, 15, 12), (0.15, 0.2, 0.0, 2, 1, True)),
        (3, (40, 10, 8), (0.2, 0.6, 0.0, None, 1, False)),
        (4, (120, 30, 25), (0.15, 0.5, 1.0, 3, 2, True)),
        (5, (30, 8, 8), (0.05, 0.0001, 0.0, None, 1, True)),
    ],
)
def test_rules_equal_mlxtend_fpgrowth_on_random_baskets(
    seed: int,
    shape: tuple[int, int, int],
    settings: tuple[float, float, float, int | None, int, bool],
) -> None:
    matrix = _random_baskets(seed, *shape)
    support, confidence, lift, max_len, min_len, single = settings
    rules = mine_rules(
        matrix,
        min_support=support,
        min_confidence=confidence,
        min_lift=lift,
        max_len=max_len,
        min_len=min_len,
        single_consequent=single,
    )
    expected = _reference_rules(matrix, support, confidence, lift, max_len, min_len, single)
    assert len(expected) > 20  # enough rules for the comparison to mean something
    assert _as_rows(rules) == expected


def test_itemsets_equal_mlxtend_fpgrowth_on_random_baskets() -> None:
    matrix = _random_baskets(6, 100, 25, 15)
    n = matrix.shape[0]
    found = fpgrowth(pd.DataFrame(matrix.toarray()), min_support=4.5 / n)
    expected = sorted(
        (len(s), tuple(sorted(int(i) for i in s)), round(float(supp) * n))
        for supp, s in zip(found["support"], found["itemsets"], strict=True)
    )
    itemsets = frequent_itemsets(matrix, min_support=5 / n)
    mined = [
        (
            int(length),
            tuple(itemsets.indices[itemsets.indptr[i] : itemsets.indptr[i + 1]].tolist()),
            int(count),
        )
        for i, (length, count) in enumerate(zip(itemsets.lengths(), itemsets.count, strict=True))
    ]
    assert len(expected) > 200
    assert mined == expected


def test_capped_mining_on_long_baskets_is_exact_at_the_support_it_reports() -> None:
    # Baskets of up to 150 of 200 items: over a million frequent triples at 3 baskets.
    matrix = _random_baskets(7, 60, 200, 150)
    rules, report = mine_rules_with_report(
        matrix, min_support=3 / 60, min_confidence=0.1, max_len=3, min_len=2, max_itemsets=5000
    )
    assert report.raised
    assert report.n_itemsets <= 5000
    at_applied = frequent_itemsets(matrix, min_support=report.min_count / 60, max_len=3)
    assert len(at_applied) == report.n_itemsets
    one_lower = frequent_itemsets(matrix, min_support=(report.min_count - 1) / 60, max_len=3)
    assert len(one_lower) > 5000  # the applied count is the smallest that fits the cap
    uncapped = mine_rules(
        matrix, min_support=report.min_count / 60, min_confidence=0.1, max_len=3, min_len=2
    )
    for key, value in uncapped.to_arrays("").items():
        np.testing.assert_array_equal(rules.to_arrays("")[key], value)


def test_ruleset_from_counts_sorts_and_filters_like_the_miner(rules: RuleSet) -> None:
    # The final step the Spark miner shares: given the rules in any order (and antecedents
    # unsorted), it gives the same arrays as mine_rules.
    order = [7, 3, 11, 0, 5, 9, 1, 10, 2, 8, 6, 4]
    again = ruleset_from_counts(
        [tuple(reversed(EXPECTED_RULES[r][0])) for r in order],
        [EXPECTED_RULES[r][1] for r in order],
        [EXPECTED_COUNT[r] for r in order],
        [EXPECTED_ANTECEDENT_COUNT[r] for r in order],
        [EXPECTED_CONSEQUENT_COUNT[r] for r in order],
        5,
        N_ITEMS,
        min_confidence=0.6,
    )
    for key, value in rules.to_arrays("").items():
        np.testing.assert_array_equal(again.to_arrays("")[key], value)
    lifted = ruleset_from_counts(
        [(2,), (0,)], [(0,), (1,)], [3, 3], [3, 4], [4, 4], 5, 5, min_lift=1
    )
    assert _pairs(lifted) == [((2,), (0,))]


def test_build_records_the_cap_and_the_support_it_applied() -> None:
    # Tiny store, 8 baskets. Products (at least 2 baskets): laptop 3, mouse 3, headphones 3,
    # amp 2, {laptop, mouse} 2, {headphones, amp} 2: six itemsets; at 3 baskets, three.
    # Categories (at least 1 basket): the same five categories' singles (laptops 3, mice 4,
    # keyboards 1, headphones 3, amps 2) and three pairs: eight; at 2 baskets six; at 3, three.
    capped = build_artifacts(
        tiny_store(), None, replace(TINY_PARAMS, rule_max_itemsets=5), evaluate=False
    )
    mining = capped.manifest["rule_mining"]
    assert capped.manifest["parameters"]["rule_max_itemsets"] == 5
    assert {
        k: mining["product"][k] for k in ("requested_min_count", "min_count", "n_itemsets")
    } == {
        "requested_min_count": 2,
        "min_count": 3,
        "n_itemsets": 3,
    }
    assert {
        k: mining["category"][k] for k in ("requested_min_count", "min_count", "n_itemsets")
    } == {
        "requested_min_count": 1,
        "min_count": 3,
        "n_itemsets": 3,
    }
    assert mining["product"]["support_raised"]
    assert mining["category"]["support_raised"]
    assert capped.manifest["counts"]["product_rules"] == 0  # no pair reaches 3 baskets
    default = build_artifacts(tiny_store(), None, TINY_PARAMS, evaluate=False)
    mining = default.manifest["rule_mining"]
    assert (mining["product"]["min_count"], mining["product"]["n_itemsets"]) == (2, 6)
    assert (mining["category"]["min_count"], mining["category"]["n_itemsets"]) == (1, 8)
    assert not mining["product"]["support_raised"]
    assert default.manifest["counts"]["product_rules"] == 4


def test_invalid_support_is_rejected() -> None:
    with pytest.raises(ValueError, match="min_support"):
        mine_rules(_matrix(), min_support=0.0, min_confidence=0.5)


def test_antecedent_index_maps_items_to_the_rules_they_trigger(rules: RuleSet) -> None:
    index = antecedent_index(rules)
    assert index.shape == (N_ITEMS, 12)
    rows = [index.indices[index.indptr[i] : index.indptr[i + 1]].tolist() for i in range(5)]
    assert rows == [[3, 4, 8, 10], [1, 4, 9], [0, 1, 10, 11], [2], []]
    np.testing.assert_array_equal(index.data, np.ones(12, dtype=np.int32))


def test_fired_rules_need_the_whole_antecedent(rules: RuleSet) -> None:
    index = antecedent_index(rules)
    # Empty antecedents (5, 6, 7) always fire; {1,2} needs both items.
    np.testing.assert_array_equal(fired_rules(rules, index, [0, 1]), [3, 4, 5, 6, 7, 8, 9])
    np.testing.assert_array_equal(fired_rules(rules, index, [2]), [0, 5, 6, 7, 11])
    np.testing.assert_array_equal(fired_rules(rules, index, [1, 2]), [0, 1, 5, 6, 7, 9, 11])
    np.testing.assert_array_equal(fired_rules(rules, index, []), [5, 6, 7])
    # Duplicates, unknown (-1) and out-of-range positions are ignored.
    np.testing.assert_array_equal(fired_rules(rules, index, [3, 3, -1, 7]), [2, 5, 6, 7])


def test_antecedent_columns_pad_each_rule_with_the_always_marked_place(rules: RuleSet) -> None:
    columns = rules.antecedent_columns
    assert columns is not None
    assert columns.shape == (2, 12)  # the longest antecedent is {1, 2}
    assert columns[:, 1].tolist() == [1, 2]
    assert columns[:, 5].tolist() == [N_ITEMS, N_ITEMS]  # an empty antecedent: all padding
    for rule in range(len(rules)):
        listed = [i for i in columns[:, rule].tolist() if i != N_ITEMS]
        assert listed == rules.antecedent(rule).tolist()
    assert rules.fired_mask.tolist() == [False] * N_ITEMS + [True]
    assert not columns.flags.writeable
    assert not rules.fired_mask.flags.writeable


def test_score_rules_takes_the_best_fired_rule_per_consequent(rules: RuleSet) -> None:
    index = antecedent_index(rules)
    # Context {0,1}: item 2 is the consequent of rules 3 (conf 3/4), 4 (2/3) and 7 (3/5);
    # items 0 and 1 are in the context, so they score 0.
    scored = score_rules(rules, index, [0, 1])
    np.testing.assert_array_equal(scored.scores, np.array([0, 0, 0.75, 0, 0], np.float32))
    np.testing.assert_array_equal(scored.best_rule, [-1, -1, 3, -1, -1])
    # Context {2}: item 0 via rule 0 (conf 1) over rule 5 (4/5); item 1 via rule 6 (4/5)
    # over rule 11 (2/3).
    scored = score_rules(rules, index, [2])
    np.testing.assert_array_equal(scored.scores, np.array([1, 0.8, 0, 0, 0], np.float32))
    np.testing.assert_array_equal(scored.best_rule, [0, 6, -1, -1, -1])
    # Empty context: only the empty-antecedent rules 5, 6, 7.
    scored = score_rules(rules, index, [])
    np.testing.assert_array_equal(scored.scores, np.array([0.8, 0.8, 0.6, 0, 0], np.float32))
    np.testing.assert_array_equal(scored.best_rule, [5, 6, 7, -1, -1])
    assert scored.scores.dtype == np.float32
    assert scored.best_rule.dtype == np.int64


def test_score_rules_other_metrics_and_ties(rules: RuleSet) -> None:
    index = antecedent_index(rules)
    # Context {1,2} by lift: item 0 is reached by rules 0 and 1 (both 1.25), 5 (1) and
    # 9 (15/16); the tie goes to the lower rule id.
    scored = score_rules(rules, index, [1, 2], metric="lift")
    np.testing.assert_array_equal(scored.scores, np.array([1.25, 0, 0, 0, 0], np.float32))
    np.testing.assert_array_equal(scored.best_rule, [0, -1, -1, -1, -1])
    # Context {2} by support: item 0 via rule 5 (0.8) over rule 0 (0.6).
    scored = score_rules(rules, index, [2], metric="support")
    np.testing.assert_array_equal(scored.best_rule, [5, 6, -1, -1, -1])
    # Conviction can be infinite (confidence 1).
    scored = score_rules(rules, index, [3], metric="conviction")
    assert scored.scores[1] == np.inf
    assert scored.best_rule[1] == 2
    with pytest.raises(ValueError, match="metric"):
        score_rules(rules, index, [3], metric="zhang")


def _best_rules_by_hand(
    rules: RuleSet, context: set[int], metric: str
) -> tuple[list[float], list[int]]:
    """`score_rules` in plain Python: per item outside the context, the highest value of a
    fired rule whose consequent holds it, then the lowest such rule id."""
    best: dict[int, tuple[float, int]] = {}
    values = getattr(rules, metric)
    for rule in range(len(rules)):
        if not set(rules.antecedent(rule).tolist()) <= context:
            continue
        for item in rules.consequent(rule).tolist():
            known = best.get(item)
            if item not in context and (known is None or values[rule] > known[0]):
                best[item] = (float(values[rule]), rule)
    scores = [float(np.float32(best[i][0])) if i in best else 0.0 for i in range(N_ITEMS)]
    return scores, [best[i][1] if i in best else -1 for i in range(N_ITEMS)]


@pytest.mark.parametrize("columns", [True, False])
@pytest.mark.parametrize(
    ("single_consequent", "min_len"), [(True, 1), (False, 1), (True, 2), (False, 2)]
)
def test_score_rules_matches_the_rules_by_hand_on_every_context(
    monkeypatch: pytest.MonkeyPatch, single_consequent: bool, min_len: int, columns: bool
) -> None:
    """Every context of the five items, every metric: the ranking-based reduction picks the
    same rule and value as the definition; one fired pass reduced by several metrics
    (`fired_by`, `best_of_fired`) gives what `score_rules` gives for each. Without the
    empty-antecedent rules (``min_len`` 2) some contexts fire nothing. The fired rules read
    by columns, or (past `COLUMNS_MAX`) counted from the antecedent index."""
    if not columns:
        monkeypatch.setattr(rules_module, "COLUMNS_MAX", 0)
    ruleset = mine_rules(
        _matrix(),
        min_support=0.2,
        min_confidence=0.3,
        min_len=min_len,
        single_consequent=single_consequent,
    )
    index = antecedent_index(ruleset)
    for bits in range(2**N_ITEMS):
        context = [i for i in range(N_ITEMS) if bits >> i & 1]
        found, fired = fired_by(ruleset, index, context)
        for metric in METRICS:
            scored = score_rules(ruleset, index, context, metric=metric)
            scores, best_rule = _best_rules_by_hand(ruleset, set(context), metric)
            assert scored.scores.tolist() == scores, (context, metric)
            assert scored.best_rule.tolist() == best_rule, (context, metric)
            again = best_of_fired(ruleset, fired, found, metric)
            np.testing.assert_array_equal(again.scores, scored.scores)
            np.testing.assert_array_equal(again.best_rule, scored.best_rule)
            alone = best_rules_of_fired(ruleset, fired, found, metric)
            np.testing.assert_array_equal(alone, scored.best_rule)
            assert (scored.scores.dtype, scored.best_rule.dtype) == (np.float32, np.int64)


@pytest.mark.parametrize("columns", [True, False])
@pytest.mark.parametrize("single_consequent", [True, False])
def test_two_contexts_scored_together_as_each_alone(
    monkeypatch: pytest.MonkeyPatch, columns: bool, single_consequent: bool
) -> None:
    """`score_two_distinct` on every pair of contexts of the five items gives what
    `score_distinct` gives each, bit for bit: read by columns in one pass, or (multi-item
    consequents, rule sets past `COLUMNS_MAX`) one context after the other."""
    if not columns:
        monkeypatch.setattr(rules_module, "COLUMNS_MAX", 0)
    ruleset = mine_rules(
        _matrix(), min_support=0.2, min_confidence=0.3, single_consequent=single_consequent
    )
    assert (ruleset.antecedent_columns is not None) is columns
    assert (ruleset.paired is not None) is (columns and single_consequent)
    index = antecedent_index(ruleset)
    contexts = [
        np.array([i for i in range(N_ITEMS) if bits >> i & 1], dtype=np.int64)
        for bits in range(2**N_ITEMS)
    ]
    for first in contexts:
        for second in contexts:
            together = score_two_distinct(ruleset, index, first, second)
            for scored, context in zip(together, (first, second), strict=True):
                alone = score_distinct(ruleset, index, context)
                assert scored.scores.tobytes() == alone.scores.tobytes()
                assert scored.best_rule.tolist() == alone.best_rule.tolist()
                assert (scored.scores.dtype, scored.best_rule.dtype) == (np.float32, np.int64)


def test_arrays_round_trip_through_npz(rules: RuleSet, tmp_path: Path) -> None:
    arrays = rules.to_arrays("rules_")
    assert arrays["rules_n_baskets"].shape == ()
    assert set(arrays) >= {"rules_antecedent_indptr", "rules_conviction", "rules_n_items"}
    path = tmp_path / "rules.npz"
    np.savez(path, allow_pickle=False, **arrays)
    with np.load(path, allow_pickle=False) as loaded:
        again = RuleSet.from_arrays(dict(loaded), "rules_")
    assert len(again) == 12
    assert (again.n_baskets, again.n_items) == (5, N_ITEMS)
    for key, value in arrays.items():
        np.testing.assert_array_equal(again.to_arrays("rules_")[key], value)
        assert again.to_arrays("rules_")[key].dtype == value.dtype


def test_from_arrays_rejects_missing_or_inconsistent_arrays(rules: RuleSet) -> None:
    arrays = rules.to_arrays("")
    with pytest.raises(KeyError, match="lift"):
        RuleSet.from_arrays({k: v for k, v in arrays.items() if k != "lift"}, "")
    with pytest.raises(ValueError, match="lift"):
        RuleSet.from_arrays({**arrays, "lift": arrays["lift"][:-1]}, "")
    with pytest.raises(ValueError, match="n_items"):
        RuleSet.from_arrays({**arrays, "n_items": np.array(2)}, "")


def test_rules_table_labels_each_side(rules: RuleSet) -> None:
    table = rules_table(rules, LABELS)
    assert list(table.columns) == [
        "antecedents",
        "consequents",
        "support",
        "confidence",
        "lift",
        "leverage",
        "conviction",
        "count",
        "length",
    ]
    assert table.loc[1, "antecedents"] == ("milk", "butter")
    assert table.loc[1, "consequents"] == ("bread",)
    assert table.loc[5, "antecedents"] == ()
    assert table["count"].tolist() == EXPECTED_COUNT
    with pytest.raises(ValueError, match="labels"):
        rules_table(rules, LABELS[:3])
