"""`blend.normalise`: one request's row and a batch of rows give the same float32 values;
`blend.dominant_signals`: the largest float32 weighted contribution, ties to the first signal."""

from __future__ import annotations

import numpy as np

from recograph.recommenders.blend import (
    SignalName,
    Weights,
    contributions,
    dominant_signals,
    normalise,
)


def _reference(row: np.ndarray) -> np.ndarray:
    """The definition: negatives and non-finite values 0, the rest ÷ the row's maximum."""
    clean = np.where(np.isfinite(row) & (row > 0), row, 0).astype(np.float32)
    peak = clean.max() if clean.size else np.float32(0)
    return clean / peak if peak > 0 else clean


def test_a_row_is_scaled_by_its_maximum_exactly_as_defined() -> None:
    rows = [
        np.array([0.0, 0.25, 3.0, 1.5], dtype=np.float32),  # clean
        np.array([-0.0, 0.0, 2.0], dtype=np.float32),  # negative zero
        np.array([-1.0, 0.5, 2.0], dtype=np.float32),
        np.array([np.nan, 0.5, 2.0], dtype=np.float32),
        np.array([np.inf, 0.5], dtype=np.float32),
        np.zeros(3, dtype=np.float32),
        np.zeros(0, dtype=np.float32),
        np.array([0.1, 0.7], dtype=np.float64),
    ]
    for row in rows:
        got = normalise(row)
        expected = _reference(row)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, expected)
        assert not np.signbit(got).any()
        assert got is not row


def test_a_batch_is_scaled_row_by_row_like_single_rows() -> None:
    batch = np.array([[0.0, 2.0, 1.0], [-1.0, 0.5, 0.25]], dtype=np.float32)
    np.testing.assert_array_equal(normalise(batch), np.stack([normalise(r) for r in batch]))


def _dominant_by_hand(
    normalised: dict[SignalName, np.ndarray], weights: Weights, item: int
) -> SignalName | None:
    """Signal by signal in `SignalName` order: the first strictly largest float32 product."""
    total = weights.total()
    best, best_value = None, np.float32(0)
    for signal in SignalName:
        if weights.get(signal) > 0 and signal in normalised:
            value = normalised[signal][item] * np.float32(weights.get(signal) / total)
            if value > best_value:
                best, best_value = signal, value
    return best


def test_dominant_signal_is_the_largest_weighted_contribution_ties_to_the_first() -> None:
    cf = np.array([0.5, 0.0, 0.3, 1.0, 0.0], dtype=np.float32)
    rules = np.array([0.5, 0.0, 0.9, 0.1, 0.2], dtype=np.float32)
    weights = Weights(cf=1.0, rules=1.0)
    normalised = {SignalName.CF: cf, SignalName.RULES: rules}
    # item 0: a tie goes to CF (first in SignalName order); item 1: nothing scores
    assert dominant_signals(normalised, weights, [0, 1, 2, 3, 4]) == [
        SignalName.CF,
        None,
        SignalName.RULES,
        SignalName.CF,
        SignalName.RULES,
    ]
    assert dominant_signals(normalised, weights, []) == []
    assert dominant_signals(normalised, Weights(), [0, 1]) == [None, None]
    rng = np.random.default_rng(3)
    weights = Weights(cf=0.3, content=0.2, rules=0.4, popularity=0.1)
    signals = {s: rng.choice([0.0, 0.25, 0.5, 1.0], size=50).astype(np.float32) for s in SignalName}
    items = list(range(50))
    assert dominant_signals(signals, weights, items) == [
        _dominant_by_hand(signals, weights, i) for i in items
    ]


def test_contributions_give_each_weighted_signal_value_and_share_one_signal_or_several() -> None:
    cf = np.array([0.5, 0.0, 1e-45, 1.0], dtype=np.float32)
    rules = np.array([0.25, 0.0, 0.0, 0.5], dtype=np.float32)
    normalised = {SignalName.CF: cf, SignalName.RULES: rules}
    only_cf = Weights(cf=1.0, popularity=3.0)  # popularity has weight but no signal here
    parts, dominant = contributions(normalised, only_cf, [3, 0, 1, 2], lambda *part: part)
    share = 0.25
    assert parts == [
        ((SignalName.CF, 1.0, share),),
        ((SignalName.CF, 0.5, share),),
        ((SignalName.CF, 0.0, share),),
        ((SignalName.CF, float(np.float32(1e-45)), share),),
    ]
    # the smallest float32 times its share rounds to 0 in float32: nothing dominates
    assert dominant == [SignalName.CF, SignalName.CF, None, None]
    both = Weights(cf=1.0, rules=3.0)
    parts, dominant = contributions(normalised, both, [0, 1], lambda *part: part)
    assert parts == [
        ((SignalName.CF, 0.5, 0.25), (SignalName.RULES, 0.25, 0.75)),
        ((SignalName.CF, 0.0, 0.25), (SignalName.RULES, 0.0, 0.75)),
    ]
    assert dominant == [SignalName.RULES, None]
