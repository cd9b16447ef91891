"""Item-kNN (recommenders/item_knn.py) on tiny matrices whose cosines are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics.pairwise import cosine_similarity

from recograph.recommenders import item_knn
from recograph.recommenders.item_knn import (
    explain_item_knn,
    fit_item_knn,
    score_item_knn,
    topk_cosine,
)
from recograph.recommenders.protocol import CFProfile
from tests.recommenders.cf_matrices import (
    CHECKERBOARD,
    EMPTY_ITEM,
    GROUPS,
    INV_SQRT_6,
    SMALL,
    SQRT_2_3,
    csr,
    neighbour_dict,
)


def test_item_knn_neighbours_are_exactly_the_own_group_at_cosine_one_half() -> None:
    model = fit_item_knn(CHECKERBOARD, k=10)
    for group in GROUPS:
        for item in group:
            expected = {int(j): 0.5 for j in group if j != item}
            assert neighbour_dict(model.similarity, int(item)) == pytest.approx(expected)
    assert model.similarity[EMPTY_ITEM].nnz == 0


def test_item_knn_cosines_by_hand() -> None:
    model = fit_item_knn(SMALL, k=3)
    expected = {
        0: {1: SQRT_2_3, 2: INV_SQRT_6},
        1: {0: SQRT_2_3, 2: 2 / 3},
        2: {0: INV_SQRT_6, 1: 2 / 3, 3: 1 / np.sqrt(3)},
        3: {2: 1 / np.sqrt(3)},
    }
    for item, neighbours in expected.items():
        assert neighbour_dict(model.similarity, item) == pytest.approx(neighbours)
    assert model.similarity.dtype == np.float32


def test_item_knn_keeps_top_k_per_row() -> None:
    model = fit_item_knn(SMALL, k=1)
    assert neighbour_dict(model.similarity, 0) == pytest.approx({1: SQRT_2_3})
    assert neighbour_dict(model.similarity, 1) == pytest.approx({0: SQRT_2_3})
    assert neighbour_dict(model.similarity, 2) == pytest.approx({1: 2 / 3})
    assert neighbour_dict(model.similarity, 3) == pytest.approx({2: 1 / np.sqrt(3)})


def test_item_knn_ties_go_to_the_lower_index() -> None:
    # Product 0 is bought by customers 0 and 1; products 1 and 2 by one each: equal cosines.
    X = csr([[1, 1, 0], [1, 0, 1]])
    model = fit_item_knn(X, k=1)
    assert neighbour_dict(model.similarity, 0) == pytest.approx({1: 1 / np.sqrt(2)})


def test_item_knn_score_is_history_times_similarity() -> None:
    model = fit_item_knn(SMALL, k=3)
    history = np.array([2, 0, 0, 1], dtype=np.float32)
    expected = np.array([0, 2 * SQRT_2_3, 2 * INV_SQRT_6 + 1 / np.sqrt(3), 0])
    np.testing.assert_allclose(score_item_knn(model, history), expected, rtol=1e-6)


def test_item_knn_explain_names_the_strongest_history_item() -> None:
    model = fit_item_knn(SMALL, k=3)
    source, similarity = explain_item_knn(model, [0, 3], 2) or (-1, 0.0)
    assert source == 3
    assert similarity == pytest.approx(1 / np.sqrt(3))
    weighted = explain_item_knn(model, [0, 3], 2, history_weights=[2.0, 1.0])
    assert weighted is not None
    assert weighted[0] == 0
    assert weighted[1] == pytest.approx(INV_SQRT_6)
    assert explain_item_knn(model, [3], 1) is None
    assert explain_item_knn(model, [], 1) is None


def test_topk_cosine_matches_brute_force_and_does_not_depend_on_blocks() -> None:
    rng = np.random.default_rng(7)
    dense = rng.random((40, 25)) * (rng.random((40, 25)) < 0.3)
    matrix = sp.csr_matrix(dense.astype(np.float32))
    k = 4
    single = topk_cosine(matrix, k)
    blocked = topk_cosine(matrix, k, block_nnz=1)
    assert (single != blocked).nnz == 0
    brute = cosine_similarity(dense)
    np.fill_diagonal(brute, 0.0)
    for i in range(40):
        positive = np.flatnonzero(brute[i] > 0)
        best = positive[np.argsort(-brute[i, positive], kind="stable")][:k]
        expected = {int(j): float(brute[i, j]) for j in best}
        assert neighbour_dict(single, i) == pytest.approx(expected, rel=1e-5)


def test_history_of_the_wrong_length_is_refused() -> None:
    model = fit_item_knn(SMALL)
    with pytest.raises(ValueError, match="shape"):
        score_item_knn(model, np.ones(3, dtype=np.float32))


def test_dense_neighbours_of_a_small_catalogue_score_and_explain_as_the_sparse_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A small catalogue's dense copy (`ItemKNN.dense_similarity`) gives bit for bit the
    scores and evidence of the CSR rows it stands for."""
    rng = np.random.default_rng(7)
    X = sp.csr_matrix((rng.random((80, 40)) < 0.15).astype(np.float32))
    dense_model = fit_item_knn(X, k=6)
    assert dense_model.dense_similarity is not None
    monkeypatch.setattr(item_knn, "DENSE_MAX_ITEMS", 0)
    sparse_model = fit_item_knn(X, k=6)
    assert sparse_model.dense_similarity is None
    shown = np.arange(40, dtype=np.int64)
    for size in (1, 2, 5, 12, 40):
        items = np.sort(rng.choice(40, size=size, replace=False)).astype(np.int64)
        values = rng.choice([0.5, 1.0, 1.7, 3.0], size=size).astype(np.float32)
        history = np.zeros(40, dtype=np.float32)
        history[items] = values
        dense_scores = score_item_knn(dense_model, history)
        np.testing.assert_array_equal(dense_scores, score_item_knn(sparse_model, history))
        assert dense_scores.dtype == np.float32
        for model in (dense_model, sparse_model):  # the history as positions and values
            np.testing.assert_array_equal(model.score_history(items, values), dense_scores)
        profile = CFProfile(items, values, None, False, X)
        assert dense_model.evidence(profile, shown) == sparse_model.evidence(profile, shown)
