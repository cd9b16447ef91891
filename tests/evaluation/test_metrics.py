"""Ranking metrics against values computed by hand on tiny rankings, and top-k selection."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.sparse as sp

from recograph.core import ranking
from recograph.evaluation.metrics import (
    average_precision_at_k,
    catalogue_coverage,
    evaluate_rankings,
    format_table,
    hit_rate_at_k,
    long_tail_share,
    ndcg_at_k,
    popular_head,
    precision_at_k,
    recall_at_k,
    top_k,
)

LOG2_3 = math.log2(3)

# Four users, K_max = 5, -1 = empty slot.
RECOMMENDED = np.array(
    [
        [3, 0, 1, 2, 4],  # user 0: its one relevant item (0) at rank 2
        [1, 5, 2, -1, -1],  # user 1: relevant 1 and 2 at ranks 1 and 3; 7 never shown
        [6, 7, 8, 9, 5],  # user 2: nothing relevant, so not evaluated
        [-1, -1, -1, -1, -1],  # user 3: no recommendation at all
    ],
    dtype=np.int64,
)
RELEVANT: list[set[int]] = [{0}, {1, 2, 7}, set(), {4}]

# Per user at k=5 (user 2 is NaN: no relevant item).
# precision: 1/5, 2/5 (empty slots count as misses), -, 0
P5 = [0.2, 0.4, 0.0]
# recall: 1/1, 2/3, -, 0
R5 = [1.0, 2 / 3, 0.0]
# NDCG: user 0 DCG = 1/log2(3), ideal = 1 (one relevant item, though K = 5);
#       user 1 DCG = 1/log2(2) + 1/log2(4) = 1.5, ideal = 1 + 1/log2(3) + 1/log2(4)
NDCG5 = [1 / LOG2_3, 1.5 / (1 + 1 / LOG2_3 + 0.5), 0.0]
# AP: user 0 (1/2) / min(1, 5); user 1 (1/1 + 2/3) / min(3, 5) = 5/9
AP5 = [0.5, 5 / 9, 0.0]
HR5 = [1.0, 1.0, 0.0]
EVALUATED = [0, 1, 3]


def _defined(values: np.ndarray) -> list[float]:
    assert math.isnan(values[2])
    return [float(values[i]) for i in EVALUATED]


def test_precision_at_5() -> None:
    assert _defined(precision_at_k(RECOMMENDED, RELEVANT, 5)) == pytest.approx(P5)


def test_recall_at_5_uses_all_relevant_items() -> None:
    assert _defined(recall_at_k(RECOMMENDED, RELEVANT, 5)) == pytest.approx(R5)


def test_ndcg_at_5_with_fewer_relevant_items_than_k() -> None:
    ndcg = ndcg_at_k(RECOMMENDED, RELEVANT, 5)
    assert ndcg[0] == pytest.approx(1 / math.log2(3))  # relevant={0} ranked 2nd of K=5
    assert _defined(ndcg) == pytest.approx(NDCG5)


def test_average_precision_at_5() -> None:
    assert _defined(average_precision_at_k(RECOMMENDED, RELEVANT, 5)) == pytest.approx(AP5)


def test_hit_rate_at_5() -> None:
    assert _defined(hit_rate_at_k(RECOMMENDED, RELEVANT, 5)) == HR5


def test_metrics_at_2() -> None:
    # User 0's hit is at rank 2, user 1 has one hit (rank 1) in the first two slots.
    assert _defined(precision_at_k(RECOMMENDED, RELEVANT, 2)) == pytest.approx([0.5, 0.5, 0.0])
    assert _defined(recall_at_k(RECOMMENDED, RELEVANT, 2)) == pytest.approx([1.0, 1 / 3, 0.0])
    # user 1: DCG = 1, ideal = two hits = 1 + 1/log2(3)
    assert _defined(ndcg_at_k(RECOMMENDED, RELEVANT, 2)) == pytest.approx(
        [1 / LOG2_3, 1 / (1 + 1 / LOG2_3), 0.0]
    )
    # user 0: (1/2) / min(1, 2); user 1: (1/1) / min(3, 2)
    assert _defined(average_precision_at_k(RECOMMENDED, RELEVANT, 2)) == pytest.approx(
        [0.5, 0.5, 0.0]
    )


def test_a_perfect_ranking_scores_one() -> None:
    recommended = np.array([[4, 2, 9]])
    relevant = [{2, 4, 9, 11}]  # more relevant items than k
    for metric in (ndcg_at_k, average_precision_at_k, precision_at_k, hit_rate_at_k):
        assert metric(recommended, relevant, 3).tolist() == [1.0]
    assert recall_at_k(recommended, relevant, 3).tolist() == [0.75]  # 3 of 4, plain |relevant|


def test_repeated_items_and_array_relevance_count_once() -> None:
    recommended = np.array([[1, 1, 2]])
    # Item 1 counts at rank 1 only: 2 hits of 3 slots, not 3.
    assert precision_at_k(recommended, [{1, 2}], 3).tolist() == [pytest.approx(2 / 3)]
    # Relevance given as an array with a duplicate: |relevant| = 1.
    assert recall_at_k(recommended, [np.array([2, 2])], 3).tolist() == [1.0]


def test_bad_shapes_are_rejected() -> None:
    with pytest.raises(ValueError, match="k must be between 1 and K_max=5"):
        precision_at_k(RECOMMENDED, RELEVANT, 6)
    with pytest.raises(ValueError, match="relevant has 3 entries for 4 users"):
        recall_at_k(RECOMMENDED, RELEVANT[:3], 5)
    with pytest.raises(ValueError, match="2-D"):
        ndcg_at_k(np.array([1, 2]), [{1}], 1)


def test_evaluate_rankings_averages_over_users_with_relevant_items() -> None:
    result = evaluate_rankings(RECOMMENDED, RELEVANT, ks=(5, 2))
    assert result.ks == (2, 5)
    row = result.row("all")
    assert row.users == 3  # user 2 has nothing relevant
    assert row.metrics["precision@5"] == pytest.approx(0.2)  # (0.2 + 0.4 + 0) / 3
    assert row.metrics["recall@5"] == pytest.approx(5 / 9)  # (1 + 2/3 + 0) / 3
    assert row.metrics["ndcg@5"] == pytest.approx(sum(NDCG5) / 3)
    assert row.metrics["map@5"] == pytest.approx(19 / 54)  # (1/2 + 5/9 + 0) / 3
    assert row.metrics["hit_rate@5"] == pytest.approx(2 / 3)
    assert row.metrics["precision@2"] == pytest.approx(1 / 3)  # (1/2 + 1/2 + 0) / 3
    assert "coverage@5" not in row.metrics
    assert [r.segment for r in result.rows] == ["all"]


def test_evaluate_rankings_per_segment() -> None:
    labels = np.array(["regular", "new", "vip", "light"])
    result = evaluate_rankings(RECOMMENDED, RELEVANT, ks=(5,), segments=labels)
    # Known segments in their order, then others alphabetically; "vip" has only user 2.
    assert [(r.segment, r.users) for r in result.rows] == [
        ("all", 3),
        ("new", 1),
        ("light", 1),
        ("regular", 1),
        ("vip", 0),
    ]
    assert result.row("new").metrics["precision@5"] == pytest.approx(0.4)  # user 1
    assert result.row("regular").metrics["ndcg@5"] == pytest.approx(1 / LOG2_3)  # user 0
    assert result.row("light").metrics["hit_rate@5"] == 0.0  # user 3
    assert math.isnan(result.row("vip").metrics["recall@5"])
    with pytest.raises(KeyError, match="no segment 'gold'"):
        result.row("gold")
    with pytest.raises(ValueError, match="segments has shape"):
        evaluate_rankings(RECOMMENDED, RELEVANT, ks=(5,), segments=labels[:2])


def test_coverage_and_long_tail_values() -> None:
    # Top-2 of all users: {3, 0, 1, 5, 6, 7} = 6 of 10 items; top-5: every item 0–9.
    assert catalogue_coverage(RECOMMENDED, 10, 2) == pytest.approx(0.6)
    assert catalogue_coverage(RECOMMENDED, 10, 5) == 1.0
    # Head {0, 1}. Top-2: filled 3, 0, 1, 5, 6, 7 → 4 outside the head of 6 slots.
    assert long_tail_share(RECOMMENDED, {0, 1}, 2) == pytest.approx(4 / 6)
    # Top-5: 13 filled slots, 3 of them in the head (0 and 1 for user 0, 1 for user 1).
    assert long_tail_share(RECOMMENDED, np.array([0, 1]), 5) == pytest.approx(10 / 13)
    assert math.isnan(long_tail_share(np.full((2, 3), -1), {0}, 3))
    with pytest.raises(ValueError, match="n_items"):
        catalogue_coverage(RECOMMENDED, 0, 2)


def test_evaluate_rankings_reports_coverage_and_long_tail_of_evaluated_users() -> None:
    result = evaluate_rankings(RECOMMENDED, RELEVANT, ks=(2, 5), n_items=10, head_items={0, 1})
    row = result.row("all")
    # Users 0, 1, 3 only. Top-2: {3, 0, 1, 5} → 4/10; top-5: {0, ..., 5} → 6/10.
    assert row.metrics["coverage@2"] == pytest.approx(0.4)
    assert row.metrics["coverage@5"] == pytest.approx(0.6)
    # Top-2: 3, 0, 1, 5 → 2 of 4 outside {0, 1}; top-5: 8 filled, 3 in the head → 5/8.
    assert row.metrics["long_tail@2"] == pytest.approx(0.5)
    assert row.metrics["long_tail@5"] == pytest.approx(5 / 8)


def test_to_dict_is_json_ready() -> None:
    labels = np.array(["regular", "new", "vip", "light"])
    result = evaluate_rankings(RECOMMENDED, RELEVANT, ks=(5,), segments=labels, n_items=10)
    data = result.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["ks"] == [5]
    segments = data["segments"]
    assert isinstance(segments, dict)
    assert segments["all"]["users"] == 3
    assert segments["all"]["recall@5"] == 0.555556  # 5/9 rounded to 6 digits
    assert segments["vip"] == {"users": 0} | {
        key: None for key in segments["all"] if key != "users"
    }


def test_format_table_has_a_row_per_model_and_segment() -> None:
    # One user, relevant {1} ranked 2nd: at k=1 nothing; at k=2 P 1/2, R 1, NDCG 1/log2(3),
    # AP (1/2)/1, HR 1; coverage 2 of 4 items; long tail: item 1 of the 2 slots is not head.
    one = evaluate_rankings(np.array([[0, 1]]), [{1}], ks=(1, 2), n_items=4, head_items={0})
    segmented = evaluate_rankings(
        np.array([[0, 1]]), [{1}], ks=(1, 2), segments=np.array(["light"])
    )
    lines = format_table({"pop": one, "als": segmented}).splitlines()
    assert lines[0].split() == [
        *("model", "segment", "P@1", "R@1", "NDCG@1", "MAP@1", "HR@1"),
        *("P@2", "R@2", "NDCG@2", "MAP@2", "HR@2", "coverage@2", "longtail@2", "users"),
    ]
    assert set(lines[1]) == {"-", " "}
    assert lines[2].split() == [
        *("pop", "all", "0.0000", "0.0000", "0.0000", "0.0000", "0.0000"),
        *("0.5000", "1.0000", "0.6309", "0.5000", "1.0000", "0.5000", "0.5000", "1"),
    ]
    assert lines[3].split()[:2] == ["als", "all"]
    assert lines[3].split()[-3:] == ["-", "-", "1"]  # no coverage or long tail asked for
    assert lines[4].split()[:2] == ["als", "light"]
    assert len(lines) == 5
    # Columns line up: every row ends its "users" column where the header does.
    assert {len(line) for line in lines} == {len(lines[0])}


def test_top_k_breaks_ties_towards_lower_positions() -> None:
    scores = np.array([[0.1, 0.5, 0.5, 0.9, 0.5], [1, 1, 1, 1, 1]], dtype=np.float32)
    assert top_k(scores, 3).tolist() == [[3, 1, 2], [0, 1, 2]]
    # Fewer items than k: the rest is -1.
    assert top_k(scores, 7).tolist() == [[3, 1, 2, 4, 0, -1, -1], [0, 1, 2, 3, 4, -1, -1]]
    assert top_k(np.zeros(1000, dtype=np.float32), 4).tolist() == [0, 1, 2, 3]


def test_top_k_matches_a_full_stable_sort() -> None:
    rng = np.random.default_rng(7)
    scores = rng.integers(0, 4, size=(40, 60)).astype(np.float32)  # many ties
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :9]
    assert np.array_equal(top_k(scores, 9), expected)


def test_top_k_never_returns_excluded_or_unscored_items() -> None:
    scores = np.array([[0.1, 0.5, 0.5, 0.9, 0.5], [1, 1, 1, 1, 1]], dtype=np.float32)
    exclude = sp.csr_matrix(([1.0, 1.0], ([0, 1], [3, 0])), shape=(2, 5))
    assert top_k(scores, 3, exclude=exclude).tolist() == [[1, 2, 4], [1, 2, 3]]
    dense = np.array([[True, True, True, False, False], [False] * 5])
    assert top_k(scores, 3, exclude=dense).tolist() == [[3, 4, -1], [0, 1, 2]]
    # -inf and NaN are not candidates.
    assert top_k(np.array([-np.inf, 2.0, np.nan, 1.0]), 3).tolist() == [1, 3, -1]


def test_top_k_on_one_vector() -> None:
    vector = np.array([0.2, 0.7, 0.7])
    assert top_k(vector, 2).tolist() == [1, 2]
    assert top_k(vector, 2, exclude=np.array([False, True, False])).tolist() == [2, 0]
    assert top_k(vector, 2, exclude=sp.csr_matrix(np.array([[0, 0, 1]]))).tolist() == [1, 0]


def test_top_k_in_row_blocks_gives_the_same_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 3, size=(7, 5)).astype(np.float32)
    exclude = sp.random(7, 5, density=0.3, random_state=1, format="csr")
    whole = top_k(scores, 3, exclude=exclude)
    monkeypatch.setattr(ranking, "_BLOCK_ELEMENTS", 10)  # two rows per block
    assert np.array_equal(top_k(scores, 3, exclude=exclude), whole)


def test_top_k_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="k must be at least 1"):
        top_k(np.zeros((2, 3)), 0)
    with pytest.raises(ValueError, match="exclude has shape"):
        top_k(np.zeros((2, 3)), 1, exclude=np.zeros((2, 4), dtype=bool))
    with pytest.raises(ValueError, match="1-D or 2-D"):
        top_k(np.zeros((2, 3, 4)), 1)


def test_popular_head() -> None:
    # Units sold per item position; the tie between positions 1 and 2 keeps both in order.
    assert popular_head(np.array([1, 5, 5, 0]), 3).tolist() == [1, 2, 0]
    assert popular_head(np.array([3, 1]), 20).tolist() == [0, 1]
