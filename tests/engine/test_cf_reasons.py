"""The "Customers like you bought this" reason cites the CF model that scored the product,
on the tiny store (tests/tiny_store.py), worked out by hand.

Training rows (customer: products): c1 and c2 laptop + mouse, c3 laptop + keyboard, c4 and
c5 headphones + amp, c6 mouse, c7 headphones, c8 spare mouse. Each CF model alone is served
(``Request.cf_models``) to c1 (laptop, mouse: the first shown product is the keyboard), c3
(laptop, keyboard: the mouse) and c6 (mouse: the laptop).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from recograph.core.vocabulary import ReasonKind, Strategy
from recograph.engine import Item, Request, build_profile, recommend
from recograph.evaluation.evaluate import NO_POLICY
from recograph.recommenders.als import ALSModel, _fold_in
from recograph.recommenders.ease import EASEModel
from recograph.recommenders.item_knn import ItemKNN
from recograph.recommenders.protocol import CFProfile, largest_terms
from recograph.recommenders.sparse import row_dots
from recograph.recommenders.svd import SVDModel
from recograph.recommenders.user_knn import UserKNN
from recograph.snapshot import ModelSnapshot
from tests.engine.test_engine import pos
from tests.tiny_store import KEYBOARD, LAPTOP, MOUSE


def first_item(
    snapshot: ModelSnapshot, customer: int, models: tuple[tuple[str, float], ...]
) -> Item:
    user = snapshot.histories.index.position(customer)
    request = Request(user=user, strategy=Strategy.COLLABORATIVE, cf_models=models)
    return recommend(snapshot, request, NO_POLICY).items[0]


# (customer, the product shown first, the history product named)
CASES = [(1, KEYBOARD, LAPTOP), (3, MOUSE, LAPTOP), (6, LAPTOP, MOUSE)]


@pytest.mark.parametrize(("customer", "shown", "seed"), CASES)
def test_item_knn_cites_the_cosine_of_the_pair(
    tiny: ModelSnapshot, customer: int, shown: int, seed: int
) -> None:
    # Buyers: laptop {c1, c2, c3}, mouse {c1, c2, c6}, keyboard {c3}.
    cosine = {(LAPTOP, KEYBOARD): 1 / math.sqrt(3), (LAPTOP, MOUSE): 2 / 3, (MOUSE, LAPTOP): 2 / 3}
    item = first_item(tiny, customer, (("item_knn", 1.0),))
    name = tiny.catalogue.name[pos(tiny, seed)]
    assert item.position == pos(tiny, shown)
    assert item.reason.kind is ReasonKind.CUSTOMERS_LIKE_YOU
    assert item.reason.text == f"Customers like you bought this (often with {name})"
    assert item.reason.evidence == (pos(tiny, seed),)
    assert item.reason.metric == "similarity"
    assert item.reason.value == pytest.approx(cosine[(seed, shown)], rel=1e-6)
    model = tiny.cf_model("item_knn")
    assert isinstance(model, ItemKNN)
    assert item.reason.value == float(model.similarity[pos(tiny, seed), pos(tiny, shown)])


@pytest.mark.parametrize(("customer", "shown", "seed"), CASES)
def test_ease_cites_its_weight_from_the_named_product(
    tiny: ModelSnapshot, customer: int, shown: int, seed: int
) -> None:
    model = tiny.cf_model("ease")
    assert isinstance(model, EASEModel)
    # λ = 8 × the mean Gram diagonal over bought products, 8 × (3+3+1+3+2+1) / 6 = 17.33,
    # to three figures.
    lam = 17.3
    assert model.l2 == pytest.approx(lam)
    # B = -P / diag(P), P = (XᵀX + λI)⁻¹; the laptop/mouse/keyboard block of XᵀX + λI is
    # [[3+λ, 2, 1], [2, 3+λ, 0], [1, 0, 1+λ]], so B[x, i] = -cofactor(x, i) / cofactor(i, i):
    weight = {
        (LAPTOP, KEYBOARD): (3 + lam) / ((3 + lam) ** 2 - 4),
        (LAPTOP, MOUSE): 2 * (1 + lam) / ((3 + lam) * (1 + lam) - 1),
        (MOUSE, LAPTOP): 2 / (3 + lam),
    }
    item = first_item(tiny, customer, (("ease", 1.0),))
    assert item.position == pos(tiny, shown)
    assert item.reason.evidence == (pos(tiny, seed),)
    assert item.reason.metric == "EASE weight"
    assert item.reason.value == pytest.approx(weight[(seed, shown)], rel=1e-5)
    assert item.reason.value == float(model.weights[pos(tiny, seed), pos(tiny, shown)])
    assert item.reason.text.endswith(f"(often with {tiny.catalogue.name[pos(tiny, seed)]})")


def test_user_knn_counts_the_nearest_customers_who_bought_it(tiny: ModelSnapshot) -> None:
    # c1's nearest customers: c2 (the same basket), c3 (the laptop), c6 (the mouse); only
    # c3 bought the keyboard. c3's and c6's: c1 and c2, who both bought the mouse and laptop.
    model = tiny.cf_model("user_knn")
    assert isinstance(model, UserKNN)
    for customer, shown, bought, nearest in [
        (1, KEYBOARD, 1, 3),
        (3, MOUSE, 2, 2),
        (6, LAPTOP, 2, 2),
    ]:
        item = first_item(tiny, customer, (("user_knn", 1.0),))
        assert item.position == pos(tiny, shown)
        assert item.reason.kind is ReasonKind.CUSTOMERS_LIKE_YOU
        assert item.reason.evidence == ()  # its score has no term per history product
        assert item.reason.metric == "similar customers who bought it"
        assert item.reason.value == bought
        assert item.reason.text == (
            f"Customers like you bought this ({bought} of your {nearest} most similar "
            "customers did)"
        )
        user = tiny.histories.index.position(customer)
        row = model.neighbours[user]
        assert row.nnz == nearest
        assert tiny.interactions[row.indices, pos(tiny, shown)].sum() == bought


def _profile(snapshot: ModelSnapshot, customer: int, exact: bool = True) -> CFProfile:
    user = snapshot.histories.index.position(customer)
    profile = build_profile(snapshot, user)
    return CFProfile(profile.items, profile.values, user, exact, snapshot.interactions)


def test_svd_cites_the_latent_similarity_of_the_largest_term(tiny: ModelSnapshot) -> None:
    model = tiny.cf_model("svd")
    assert isinstance(model, SVDModel)
    item = first_item(tiny, 1, (("svd", 1.0),))
    laptop, mouse, keyboard = (pos(tiny, p) for p in (LAPTOP, MOUSE, KEYBOARD))
    assert item.position == keyboard
    assert item.reason.metric == "latent similarity"
    factors = model.item_factors.astype(np.float64)
    terms = {x: float(factors[x] @ factors[keyboard]) for x in (laptop, mouse)}
    seed = max(terms, key=lambda x: terms[x])
    assert item.reason.evidence == (seed,)
    assert item.reason.value == terms[seed]
    # The terms are the score: h = 1 on both, so their sum is SVD's score of the keyboard.
    score = model.score_at(_profile(tiny, 1), np.asarray([keyboard]))[0]
    assert sum(terms.values()) == pytest.approx(float(score), rel=1e-5)


def test_svd_evidence_equals_the_whole_matrix_in_float64(tiny: ModelSnapshot) -> None:
    # The shown and history rows are converted alone: bit for bit the figures of the whole
    # factor matrix converted first (as the evidence was worked out before).
    model = tiny.cf_model("svd")
    assert isinstance(model, SVDModel)
    profile = _profile(tiny, 1)
    shown = np.arange(tiny.n_items)
    factors = model.item_factors.astype(np.float64)
    figures = factors[shown] @ factors[profile.items].T
    terms = figures * profile.values.astype(np.float64)
    expected = largest_terms(profile.items, terms, figures, "latent similarity")
    assert model.evidence(profile, shown) == expected
    assert any(found is not None for found in expected)


def test_als_cites_the_largest_term_of_the_folded_in_score(tiny: ModelSnapshot) -> None:
    model = tiny.cf_model("als")
    assert isinstance(model, ALSModel)
    item = first_item(tiny, 6, (("als", 1.0),))
    assert item.position == pos(tiny, LAPTOP)
    assert item.reason.evidence == (pos(tiny, MOUSE),)  # c6's only product
    assert item.reason.metric == "latent contribution"
    # One history product: its term is the whole score of the history folded in.
    profile = _profile(tiny, 6, exact=False)
    folded = _fold_in(model, profile.items, profile.values)
    score = row_dots(model.item_factors, folded, np.asarray([pos(tiny, LAPTOP)]))[0]
    assert item.reason.value == pytest.approx(float(score), rel=1e-4)
    # Two products (c1): the two terms sum to the folded-in score of each product, so the
    # named one is at least the other (the score minus it).
    profile = _profile(tiny, 1, exact=False)
    shown = np.arange(tiny.n_items)
    evidence = model.evidence(profile, shown)
    folded = _fold_in(model, profile.items, profile.values)
    scores = row_dots(model.item_factors, folded, shown).tolist()
    named = [(e, s) for e, s in zip(evidence, scores, strict=True) if e is not None]
    assert len(named) >= 2
    for found, score in named:
        assert found.seed in profile.items.tolist()
        assert found.value >= score - found.value - 1e-6


def test_a_mix_cites_its_largest_weighted_model(tiny: ModelSnapshot) -> None:
    by_knn = first_item(tiny, 3, (("ease", 0.3), ("item_knn", 0.7)))
    assert by_knn.reason.metric == "similarity"
    assert by_knn.reason.value == pytest.approx(2 / 3, rel=1e-6)  # laptop-mouse cosine
    by_ease = first_item(tiny, 3, (("ease", 0.7), ("item_knn", 0.3)))
    assert by_ease.reason.metric == "EASE weight"
    assert by_ease.reason.value == pytest.approx(2 * 18.3 / (20.3 * 18.3 - 1), rel=1e-5)


def stored_figure(snapshot: ModelSnapshot, name: str, user: int, seed: int, item: int) -> float:
    """The figure a CF model holds for a reason, read from its stored arrays."""
    model = snapshot.cf_model(name)
    if isinstance(model, ItemKNN):
        return float(model.similarity[seed, item])
    if isinstance(model, EASEModel):
        return float(model.weights[seed, item])
    if isinstance(model, SVDModel):
        factors = model.item_factors.astype(np.float64)
        return float(factors[seed] @ factors[item])
    assert isinstance(model, UserKNN)
    neighbours = model.neighbours[user].indices
    return float((snapshot.interactions[neighbours, item] != 0).sum())


@pytest.mark.parametrize("name", ["item_knn", "ease", "svd", "user_knn", "als"])
def test_every_cf_reason_on_the_demo_store_equals_its_model_s_figure(
    snapshot: ModelSnapshot, name: str
) -> None:
    checked = 0
    for user in range(0, snapshot.interactions.shape[0], 20):
        request = Request(user=user, strategy=Strategy.COLLABORATIVE, cf_models=((name, 1.0),))
        profile = build_profile(snapshot, user)
        for item in recommend(snapshot, request, NO_POLICY).items:
            reason = item.reason
            if reason.kind is not ReasonKind.CUSTOMERS_LIKE_YOU or reason.metric is None:
                continue
            assert reason.value is not None
            seed = reason.evidence[0] if reason.evidence else -1
            if name == "user_knn":
                assert reason.evidence == ()
            else:  # the named product is one the customer bought
                assert seed in profile.items.tolist()
            if name == "als":  # a term of the folded-in score, computed: positive
                assert reason.value > 0
            else:
                assert reason.value == stored_figure(snapshot, name, user, seed, item.position)
            checked += 1
    assert checked >= 10
