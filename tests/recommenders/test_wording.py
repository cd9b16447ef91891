"""`recommenders.wording`: the reasons' snapshot-only texts, worded once at load as the engine
worded them per item (category rules as sentences, product rules' antecedents as names)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

from recograph.recommenders.rules import RuleSet, mine_rules
from recograph.recommenders.wording import ReasonWording, buyers, joined
from tests.recommenders.test_intent import _catalogue


@pytest.mark.parametrize(
    ("category", "said"),
    [
        ("Laptops", "Laptop"),
        ("Wireless Mice", "Wireless Mouse"),
        ("Accessories", "Accessory"),
        ("Watches", "Watch"),
        ("Boxes", "Box"),
        ("Glass", "Glass"),
        ("Audio & Video", "Audio & Video"),
    ],
)
def test_buyers_says_a_category_as_its_buyers(category: str, said: str) -> None:
    assert buyers(category) == said


def test_joined_names_one_two_and_more() -> None:
    assert joined(["A"]) == "A"
    assert joined(["A", "B"]) == "A and B"
    assert joined(["A", "B", "C"]) == "A, B and C"


def _rules(baskets: list[list[int]], n_items: int) -> RuleSet:
    rows = np.repeat(np.arange(len(baskets)), [len(b) for b in baskets])
    columns = np.array([i for b in baskets for i in b], dtype=np.int64)
    matrix = sp.csr_matrix((np.ones(len(columns)), (rows, columns)), shape=(len(baskets), n_items))
    return mine_rules(matrix, min_support=0.4, min_confidence=0.6)


def test_each_rule_is_worded_with_its_antecedent_and_lift() -> None:
    """Categories 0 Cases, 1 Laptops, 2 Wireless Mice; products 0 Air, 1 Pro, 2 Mouse M.
    Every rule's wording names its own antecedent and figure."""
    names = ["Air", "Pro", "Mouse M"]
    catalogue = replace(
        _catalogue(["Laptops", "Laptops", "Wireless Mice", "Cases"]),
        name=np.array([*names, "Sleeve"]),
    )
    baskets = [[0, 1], [0, 1, 2], [0, 2], [1, 2], [0, 1, 2]]
    category_rules = _rules([[1, 2], [0, 1, 2], [0, 1], [1, 2], [0, 2]], 3)
    product_rules = _rules(baskets, 3)
    assert len(category_rules)
    assert len(product_rules)
    wording = ReasonWording.of(catalogue, product_rules, category_rules)
    assert wording.category_names == ("Cases", "Laptops", "Wireless Mice")
    # by hand: {Laptops} => {Wireless Mice} holds in 3 of 5 baskets of 4 with laptops and 4 with
    # mice (lift 3·5/(4·4) = 0.9375); {Air, Pro} => {Mouse M} in 2 of 3 (lift 2·5/(3·4))
    (laptop_mice,) = [w for w in wording.category_rules if w.text.startswith("Laptop buyers")]
    assert laptop_mice.text == "Laptop buyers often add Wireless Mice (category lift 0.9)"
    assert laptop_mice.lift == 0.9375
    (air_pro,) = [w for w in wording.product_rules if w.antecedent == (0, 1)]
    assert air_pro.names == "Air and Pro"
    assert air_pro.lift == pytest.approx(10 / 12)
    assert air_pro.text == "Bought together with Air and Pro (lift 0.8)"
    assert wording.popular == ("Popular in Cases", "Popular in Laptops", "Popular in Wireless Mice")
    assert wording.trending == (
        "Trending in Cases",
        "Trending in Laptops",
        "Trending in Wireless Mice",
    )
    said = ["Case", "Laptop", "Wireless Mouse"]
    for rule, worded in enumerate(wording.category_rules):
        antecedent = tuple(category_rules.antecedent(rule).tolist())
        (consequent,) = category_rules.consequent(rule).tolist()
        lift = float(category_rules.lift[rule])
        assert worded.antecedent == antecedent
        assert worded.categories == frozenset(antecedent)
        assert worded.lift == lift
        who = " + ".join(said[c] for c in antecedent)
        added = wording.category_names[consequent]
        assert worded.text == f"{who} buyers often add {added} (category lift {lift:.1f})"
    for rule, named in enumerate(wording.product_rules):
        antecedent = tuple(product_rules.antecedent(rule).tolist())
        assert named.antecedent == antecedent
        assert named.lift == float(product_rules.lift[rule])
        assert named.names == (joined([names[p] for p in antecedent]) if antecedent else "")
        assert named.text == f"Bought together with {named.names} (lift {named.lift:.1f})"
