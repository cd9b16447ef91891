"""Content similarity on hand-made catalogues whose TF-IDF can be worked out on paper."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from recograph.recommenders import content
from recograph.recommenders.content import (
    ContentModel,
    explain_content,
    feature_matrix,
    fit_content,
    neighbours,
    price_bands,
    score_content,
    spec_token,
)

SONY, BOSE, LAPTOP, MOUSE = 0, 1, 2, 3


def product(
    product_id: int,
    name: str = "",
    brand: str = "",
    category: str = "Misc",
    price: float = 10.0,
    description: str = "",
    specs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "product_id": product_id,
        "sku": f"SKU-{product_id}",
        "name": name,
        "brand": brand,
        "category": category,
        "price": price,
        "description": description,
        "specs": specs or {},
        "stock": 3,
        "promoted": False,
        "cost": 1.0,
        "created_at": pd.Timestamp("2024-01-01"),
    }


def frame(*rows: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def catalogue() -> pd.DataFrame:
    """Two over-ear ANC headphones, a laptop and a mouse; all four are wireless.

    So "wireless:yes" is in 3 of 4 products (idf 1 + ln(5/4)) while "anc:yes" and
    "form_factor:over-ear" are in 2 (idf 1 + ln(5/3)): for the headphone pair ANC and
    over-ear explain more than wireless. The shared category "Headphones" is listed last.
    """
    return frame(
        product(
            1,
            "Sony WH-1000XM5",
            "Sony",
            "Headphones",
            350.0,
            "Industry leading comfort.",
            {"form_factor": "over-ear", "wireless": "yes", "anc": "yes", "color": "black"},
        ),
        product(
            2,
            "Bose QuietComfort 45",
            "Bose",
            "Headphones",
            300.0,
            "Quiet luxury.",
            {"form_factor": "Over-Ear", "wireless": True, "ANC": "yes", "color": "white"},
        ),
        product(
            3,
            "Dell XPS 13",
            "Dell",
            "Laptops",
            1200.0,
            "Thin and light.",
            {"screen": "13 inch", "wireless": "yes"},
        ),
        product(
            4,
            "Logitech MX Master",
            "Logitech",
            "Mice",
            99.0,
            "Precise scrolling.",
            {"wireless": "yes", "dpi": 4000},
        ),
    )


@pytest.fixture(scope="module")
def model() -> ContentModel:
    return fit_content(catalogue(), k=20)


def test_nearest_neighbour_of_a_headphone_is_the_other_with_its_shared_specs(
    model: ContentModel,
) -> None:
    nearest = neighbours(model, SONY, limit=1)
    assert [(m.position, m.shared_features) for m in nearest] == [
        (BOSE, ("ANC", "over-ear", "wireless"))
    ]
    assert neighbours(model, BOSE, limit=1)[0].position == SONY


def test_neighbours_are_sorted_and_exclude_the_item_itself(model: ContentModel) -> None:
    for item in range(4):
        found = neighbours(model, item, limit=10)
        assert item not in [m.position for m in found]
        assert [m.similarity for m in found] == sorted((m.similarity for m in found), reverse=True)
    # Sony shares only "wireless" with the laptop and the mouse; the laptop has fewer other
    # features, so its (normalised) wireless weight and similarity are higher.
    assert [(m.position, m.shared_features) for m in neighbours(model, SONY, 10)[1:]] == [
        (LAPTOP, ("wireless",)),
        (MOUSE, ("wireless",)),
    ]
    assert model.similarity.diagonal().tolist() == [0.0] * 4
    assert neighbours(model, SONY, limit=0) == []


def test_similarity_is_the_field_weighted_tfidf_cosine() -> None:
    # Two "Cables" of equal price differing only in colour. Tokens and weights:
    #   category:cables  df 2 → idf 1,            field weight 3 → 3
    #   price_band:mid   df 2 → idf 1,            field weight 1 → 1
    #   colour:red|blue  df 1 → idf 1 + ln(3/2),  field weight 2 → 2(1 + ln 1.5)
    # cosine = (3² + 1²) / (3² + 1² + 4(1 + ln 1.5)²)
    cables = frame(
        product(1, category="Cables", specs={"colour": "red"}),
        product(2, category="Cables", specs={"colour": "blue"}),
    )
    expected = 10.0 / (10.0 + 4.0 * (1.0 + math.log(1.5)) ** 2)
    found = neighbours(fit_content(cables), 0, limit=5)
    assert len(found) == 1
    assert found[0].position == 1
    assert found[0].similarity == pytest.approx(expected, rel=1e-6)
    # Only the category and the price band are shared; the category comes last.
    assert found[0].shared_features == ("mid-range", "Cables")


def test_a_product_nobody_bought_gets_neighbours_from_its_attributes() -> None:
    new = product(
        5,
        "Sony WH-1000XM4",
        "Sony",
        "Headphones",
        280.0,
        "Previous generation.",
        {"form_factor": "over-ear", "wireless": "yes", "anc": "yes"},
    )
    model = fit_content(pd.concat([catalogue(), frame(new)], ignore_index=True))
    # Same specs as both headphones, but also the brand (and the name word "sony", which is
    # shown with the brand's spelling rather than as a second, lowercase "sony").
    assert [(m.position, m.shared_features) for m in neighbours(model, 4, limit=2)] == [
        (SONY, ("ANC", "over-ear", "Sony")),
        (BOSE, ("ANC", "over-ear", "wireless")),
    ]


def test_k_limits_the_neighbours_kept_per_item() -> None:
    model = fit_content(catalogue(), k=1)
    assert np.diff(model.similarity.indptr).tolist() == [1, 1, 1, 1]
    assert model.shared_features.shape == (4, 3)


def test_ties_go_to_the_lower_position() -> None:
    twins = frame(*(product(i, "Cable", "Acme", "Cables", 5.0) for i in range(1, 5)))
    model = fit_content(twins, k=2)
    assert [m.position for m in neighbours(model, 0, 5)] == [1, 2]
    assert [m.position for m in neighbours(model, 3, 5)] == [0, 1]
    assert neighbours(model, 0, 5)[0].similarity == pytest.approx(1.0)


def test_score_content_sums_the_seed_rows(model: ContentModel) -> None:
    expected = np.zeros(4)
    for seed, weight in ((SONY, 1.0), (LAPTOP, 2.0)):
        for match in neighbours(model, seed, limit=10):
            expected[match.position] += weight * match.similarity
    scores = score_content(model, [SONY, LAPTOP], [1.0, 2.0])
    assert scores.dtype == np.float32
    np.testing.assert_allclose(scores, expected, rtol=1e-6)
    # Unweighted seeds weigh 1; unknown positions (-1, as IdIndex returns) are ignored.
    unweighted = score_content(model, [SONY, -1, LAPTOP])
    np.testing.assert_allclose(
        unweighted, score_content(model, [SONY]) + score_content(model, [LAPTOP]), rtol=1e-6
    )
    assert score_content(model, []).tolist() == [0.0] * 4


def test_score_seeds_is_score_content_of_the_engines_seeds(model: ContentModel) -> None:
    """The engine's fast path: int64 positions and float32 weights, the same float32 sums
    bit for bit (an unknown position, -1, still ignored)."""
    for seeds, weights in (([LAPTOP, SONY], [0.25, 1.0]), ([SONY, -1, BOSE], [0.5, 1.0, 0.25])):
        fast = content.score_seeds(
            model, np.array(seeds, dtype=np.int64), np.array(weights, dtype=np.float32)
        )
        assert fast.dtype == np.float32
        assert fast.tolist() == score_content(model, seeds, weights).tolist()
    empty = content.score_seeds(model, np.zeros(0, np.int64), np.zeros(0, np.float32))
    assert empty.tolist() == [0.0] * 4


def test_score_content_rejects_mismatched_weights(model: ContentModel) -> None:
    with pytest.raises(ValueError, match="one weight per seed"):
        score_content(model, [SONY, BOSE], [1.0])


def test_explain_content_names_the_most_similar_seed(model: ContentModel) -> None:
    found = explain_content(model, [LAPTOP, BOSE], SONY)
    assert found is not None
    seed, similarity, labels = found
    assert (seed, labels) == (BOSE, ("ANC", "over-ear", "wireless"))
    assert similarity == pytest.approx(neighbours(model, BOSE, 1)[0].similarity)
    assert explain_content(model, [], SONY) is None
    # With k=1 the laptop keeps only its nearest item, the mouse: nothing explains Sony.
    assert explain_content(fit_content(catalogue(), k=1), [LAPTOP], SONY) is None


def test_round_trip_through_npz_without_pickle(model: ContentModel, tmp_path: Path) -> None:
    path = tmp_path / "content.npz"
    np.savez(path, allow_pickle=False, **model.to_arrays("content."))
    with np.load(path, allow_pickle=False) as arrays:
        loaded = ContentModel.from_arrays(dict(arrays), "content.")
    assert loaded.similarity.indices.dtype == np.int32
    assert loaded.similarity.data.dtype == np.float32
    assert (loaded.similarity != model.similarity).nnz == 0
    np.testing.assert_array_equal(loaded.shared_features, model.shared_features)
    np.testing.assert_array_equal(loaded.feature_labels, model.feature_labels)
    assert [neighbours(loaded, i, 5) for i in range(4)] == [
        neighbours(model, i, 5) for i in range(4)
    ]


def test_from_arrays_rejects_inconsistent_arrays(model: ContentModel) -> None:
    arrays = model.to_arrays("content.")
    arrays["content.shared_features"] = arrays["content.shared_features"][:-1]
    with pytest.raises(ValueError, match="shared_features"):
        ContentModel.from_arrays(arrays, "content.")


def test_empty_catalogue() -> None:
    model = fit_content(frame(product(1)).iloc[:0])
    assert model.similarity.shape == (0, 0)
    assert score_content(model, []).shape == (0,)
    arrays = model.to_arrays("c.")
    assert ContentModel.from_arrays(arrays, "c.").similarity.shape == (0, 0)


def test_one_product_and_blank_products_give_no_nan() -> None:
    one = fit_content(frame(product(1, "Thing", "Acme", "Misc", 1.0, "words", {"a": "b"})))
    assert one.similarity.nnz == 0
    assert neighbours(one, 0, 5) == []
    assert score_content(one, [0]).tolist() == [0.0]
    assert explain_content(one, [0], 0) is None

    blank = fit_content(frame(product(1, category=""), product(2, category="")))
    assert not np.isnan(blank.similarity.data).any()
    # Only the (equal) price band is left to share.
    [match] = neighbours(blank, 0, 5)
    assert (match.position, match.shared_features) == (1, ("mid-range",))
    assert match.similarity == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("anc", "yes", ("anc:yes", "ANC")),
        ("ANC", True, ("anc:yes", "ANC")),
        ("wireless", "True", ("wireless:yes", "wireless")),
        ("wireless", False, ("wireless:no", "no wireless")),
        ("form_factor", "Over Ear", ("form_factor:over-ear", "Over Ear")),
        ("Form Factor", " over-ear ", ("form_factor:over-ear", "over-ear")),
        ("buttons", "6.0", ("buttons:6", "buttons 6")),
        ("dpi", 4000, ("dpi:4000", "DPI 4000")),
        ("weight_kg", 0.25, ("weight_kg:0.25", "weight 0.25 kg")),
        ("battery_wh", "70", ("battery_wh:70", "battery 70 Wh")),
        ("read_mb_s", "1000", ("read_mb_s:1000", "read 1000 MB/s")),
        (
            "colour_temperature_k",
            "2700-6500",
            ("colour_temperature_k:2700-6500", "colour temperature 2700-6500 K"),
        ),
        ("ai_tracking", "false", ("ai_tracking:no", "no AI tracking")),
        ("5g", "true", ("5g:yes", "5G")),
        ("category", "cables", ("spec_category:cables", "cables")),
        ("colour", "  ", None),
        ("", "x", None),
    ],
)
def test_spec_tokens_stay_whole_and_read_well(
    key: str, value: object, expected: tuple[str, str] | None
) -> None:
    assert spec_token(key, value) == expected


def test_price_bands_are_quartiles_within_the_category() -> None:
    products = frame(
        product(1, category="A", price=40.0),
        product(2, category="A", price=10.0),
        product(3, category="B", price=999.0),
        product(4, category="A", price=30.0),
        product(5, category="A", price=20.0),
        product(6, category="C", price=5.0),
        product(7, category="C", price=5.0),
    )
    # A: 10 budget, 20 mid, 30 premium, 40 flagship; a lone or equal-priced product is mid.
    assert price_bands(products).tolist() == [3, 0, 1, 2, 1, 1, 1]


def test_blockwise_top_k_equals_brute_force(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many small blocks, frequent (dense) and rare (sparse) features: same as X·Xᵀ top-k."""
    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(40)]
    rows = [
        product(
            i,
            f"Item {rng.choice(words)}",
            f"Brand{rng.integers(3)}",
            f"Cat{rng.integers(4)}",
            float(rng.integers(1, 50)),
            " ".join(rng.choice(words, 6)),
            {"size": str(rng.integers(3)), "wireless": bool(rng.integers(2))},
        )
        for i in range(60)
    ]
    products = frame(*rows)
    monkeypatch.setattr("recograph.recommenders.content._BLOCK_CELLS", 60 * 7)
    k = 5
    model = fit_content(products, k=k)

    matrix, _, _ = feature_matrix(products)
    full = np.clip((matrix @ matrix.T).toarray(), 0.0, 1.0)
    np.fill_diagonal(full, 0.0)
    for item in range(60):
        found = neighbours(model, item, limit=k)
        expected = sorted(range(60), key=lambda j: (-full[item, j], j))[:k]
        # Equal up to float32 rounding: compare the similarities, then the set where distinct.
        np.testing.assert_allclose(
            [m.similarity for m in found], full[item, expected], rtol=1e-5, atol=1e-6
        )
        # ... and each neighbour found is the product with that similarity (ties allowed)
        np.testing.assert_allclose(
            [full[item, m.position] for m in found],
            [m.similarity for m in found],
            rtol=1e-5,
            atol=1e-6,
        )
        assert all(len(m.shared_features) >= 1 for m in found)


def test_shared_free_text_words_never_explain_a_pair() -> None:
    # Two cables alike in words only ("braided", "chassis"): the words still make them similar,
    # but read alone they are tokens, so the explanation names the price band and category.
    cables = frame(
        product(1, "Braided chassis cable", category="Cables", description="Braided chassis."),
        product(2, "Braided chassis lead", category="Cables", description="Braided chassis."),
    )
    found = neighbours(fit_content(cables), 0, limit=5)
    assert [m.position for m in found] == [1]
    assert found[0].shared_features == ("mid-range", "Cables")


def test_a_small_catalogue_scores_from_its_dense_rows_as_from_the_sparse_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`ContentModel.dense_similarity` gives bit for bit the sums of the CSR rows."""
    dense_model = fit_content(catalogue(), k=3)
    assert dense_model.dense_similarity is not None
    monkeypatch.setattr(content, "DENSE_MAX_ITEMS", 0)
    sparse_model = fit_content(catalogue(), k=3)
    assert sparse_model.dense_similarity is None
    for seeds, weights in (
        ([SONY], [1.0]),
        ([LAPTOP, SONY, MOUSE], [0.25, 1.0, 0.5]),
        ([MOUSE, -1, BOSE], None),
    ):
        dense_scores = score_content(dense_model, seeds, weights)
        assert dense_scores.dtype == np.float32
        np.testing.assert_array_equal(dense_scores, score_content(sparse_model, seeds, weights))
