"""The miner against published R arules results on the Groceries data set.

The expected figures are the published ones listed in shared/datasets/SOURCES.md, section 1a
(arules apriori: single-item consequents, maxlen 10). Each threshold setting is mined once.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import scipy.sparse as sp

from recograph.recommenders.rules import (
    RuleSet,
    baskets_matrix,
    frequent_itemsets,
    mine_rules,
    rules_table,
)
from tests.conftest import SHARED_DATASETS

GROCERIES = SHARED_DATASETS / "groceries" / "groceries.csv"

# The label list is sorted, so positions are stable; arules' own item order does not change
# any count or metric.
Groceries = tuple[sp.csr_matrix, list[str]]


@pytest.fixture(scope="module")
def groceries() -> Groceries:
    if not GROCERIES.is_file():
        pytest.skip(f"{GROCERIES} is absent")
    baskets = [line.split(",") for line in GROCERIES.read_text().splitlines() if line]
    labels = sorted({item for basket in baskets for item in basket})
    position = {label: i for i, label in enumerate(labels)}
    ids = np.repeat(np.arange(len(baskets)), [len(b) for b in baskets])
    items = np.array([position[item] for basket in baskets for item in basket])
    return baskets_matrix(ids, items, len(labels)), labels


def _lengths(rules: RuleSet) -> dict[int, int]:
    return dict(sorted(Counter(rules.lengths().tolist()).items()))


def _top(rules: RuleSet, labels: list[str], n: int) -> list[tuple[set[str], str, float]]:
    """The first n rules as (antecedent labels, consequent label, lift to 7 digits)."""
    return [
        (
            {labels[i] for i in rules.antecedent(r)},
            labels[int(rules.consequent(r)[0])],
            float(f"{rules.lift[r]:.7g}"),
        )
        for r in range(n)
    ]


@pytest.fixture(scope="module")
def supp001_conf05(groceries: Groceries) -> RuleSet:
    return mine_rules(groceries[0], min_support=0.001, min_confidence=0.5)


@pytest.fixture(scope="module")
def supp001_conf08(groceries: Groceries) -> RuleSet:
    return mine_rules(groceries[0], min_support=0.001, min_confidence=0.8)


@pytest.fixture(scope="module")
def supp006_conf025(groceries: Groceries) -> RuleSet:
    return mine_rules(groceries[0], min_support=0.006, min_confidence=0.25, min_len=2)


def test_basket_matrix_matches_summary(groceries: Groceries) -> None:
    matrix, labels = groceries
    assert matrix.shape == (9835, 169)
    assert matrix.nnz == 43367
    counts = np.asarray(matrix.sum(axis=0)).ravel()
    assert counts[labels.index("whole milk")] == 2513
    assert counts[labels.index("yogurt")] == 1372


def test_support_0001_confidence_05(supp001_conf05: RuleSet, groceries: Groceries) -> None:
    rules = supp001_conf05
    assert len(rules) == 5668
    assert _lengths(rules) == {2: 11, 3: 1461, 4: 3211, 5: 939, 6: 46}
    assert _top(rules, groceries[1], 3) == [
        ({"Instant food products", "soda"}, "hamburger meat", 18.99565),
        ({"popcorn", "soda"}, "salty snack", 16.69779),
        ({"baking powder", "flour"}, "sugar", 16.40807),
    ]


def test_support_0001_confidence_08(supp001_conf08: RuleSet, groceries: Groceries) -> None:
    rules = supp001_conf08
    assert len(rules) == 410
    assert _lengths(rules) == {3: 29, 4: 229, 5: 140, 6: 12}
    assert round(float(rules.lift.min()), 3) == 3.131
    assert round(float(rules.lift.max()), 3) == 11.235
    top = rules_table(rules, groceries[1]).iloc[0]
    assert set(top["antecedents"]) == {"liquor", "red/blush wine"}
    assert top["consequents"] == ("bottled beer",)
    assert float(f"{top['support']:.7g}") == 0.001931876
    assert float(f"{top['confidence']:.7g}") == 0.9047619
    assert float(f"{top['lift']:.5g}") == 11.235
    assert float(f"{top['lift']:.7g}") == 11.23527
    # The next two tie at lift 8.34040, support 0.001016777, confidence 0.9090909.
    assert {frozenset(a) for a in rules_table(rules, groceries[1])["antecedents"][1:3]} == {
        frozenset({"citrus fruit", "other vegetables", "soda", "fruit/vegetable juice"}),
        frozenset({"tropical fruit", "other vegetables", "whole milk", "yogurt", "oil"}),
    }
    np.testing.assert_array_equal(rules.count[1:3], [10, 10])
    assert float(f"{rules.lift[1]:.6g}") == 8.3404


def test_support_0006_confidence_025_minlen_2(
    supp006_conf025: RuleSet, groceries: Groceries
) -> None:
    rules = supp006_conf025
    assert len(rules) == 463
    assert _lengths(rules) == {2: 150, 3: 297, 4: 16}
    assert round(float(rules.lift.min()), 4) == 0.9932
    assert round(float(np.median(rules.lift)), 4) == 1.9332
    assert round(float(rules.lift.mean()), 4) == 2.0351
    assert round(float(rules.lift.max()), 4) == 3.9565
    assert _top(rules, groceries[1], 5) == [
        ({"herbs"}, "root vegetables", 3.956477),
        ({"berries"}, "whipped/sour cream", 3.796886),
        ({"other vegetables", "tropical fruit", "whole milk"}, "root vegetables", 3.768074),
        ({"beef", "other vegetables"}, "root vegetables", 3.688692),
        ({"other vegetables", "tropical fruit"}, "pip fruit", 3.482649),
    ]
    assert rules.count[0] == 69


def test_minlen_1_adds_the_empty_antecedent_rule(groceries: Groceries) -> None:
    # Without minlen=2, arules adds {} => {whole milk}: its support 0.2555 reaches the 0.25
    # confidence threshold, and no other item's does.
    rules = mine_rules(groceries[0], min_support=0.006, min_confidence=0.25)
    assert len(rules) == 464
    empty = np.flatnonzero(rules.lengths() == 1)
    assert len(empty) == 1
    table = rules_table(rules, groceries[1]).iloc[int(empty[0])]
    assert table["antecedents"] == ()
    assert table["consequents"] == ("whole milk",)
    assert table["count"] == 2513
    assert table["lift"] == 1.0


def test_support_0005_confidence_05(groceries: Groceries) -> None:
    rules = mine_rules(groceries[0], min_support=0.005, min_confidence=0.5)
    assert len(rules) == 120


def test_items_passing_the_support_filter(groceries: Groceries) -> None:
    assert len(frequent_itemsets(groceries[0], min_support=0.006, max_len=1)) == 109
    assert len(frequent_itemsets(groceries[0], min_support=0.005, max_len=1)) == 120


def test_frequent_itemsets_support_0001_length_2_to_4(groceries: Groceries) -> None:
    itemsets = frequent_itemsets(groceries[0], min_support=0.001, min_len=2, max_len=4)
    assert len(itemsets) == 12949
    assert set(itemsets.lengths().tolist()) == {2, 3, 4}
    assert int(itemsets.count.min()) == 10
