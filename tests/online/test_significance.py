"""The tests on simulated data: they find a real difference with the right sign, and on data
without one they are significant about as often as their level says, even when visitors see
many impressions (clustered outcomes) — which a naive per-impression test is not."""

from __future__ import annotations

import numpy as np

from recograph.online import stats

REPLICATES = 400
VISITORS = 200
IMPRESSIONS_EACH = 10


def clicks(rng: np.random.Generator, mean: float) -> np.ndarray:
    """Per visitor, clicks out of IMPRESSIONS_EACH, with a visitor-level rate ~ Beta (mean,
    concentration 10): outcomes of one visitor are correlated (ICC 1/11)."""
    rates = rng.beta(10 * mean, 10 * (1 - mean), size=VISITORS)
    return rng.binomial(IMPRESSIONS_EACH, rates).astype(np.float64)


def rate_test(a: np.ndarray, b: np.ndarray, *, clustered: bool) -> stats.TestResult:
    trials = np.full(VISITORS, float(IMPRESSIONS_EACH))
    deff_a = stats.design_effect(a, trials) if clustered else 1.0
    deff_b = stats.design_effect(b, trials) if clustered else 1.0
    n = VISITORS * IMPRESSIONS_EACH
    found = stats.two_proportion_ztest(a.sum(), n, b.sum(), n, deff1=deff_a, deff2=deff_b)
    assert found is not None
    return found


def test_rates_false_positives_near_alpha_and_real_differences_found() -> None:
    rng = np.random.default_rng(2026)
    corrected = naive = detected = wrong_sign = 0
    for _ in range(REPLICATES):
        a, b = clicks(rng, 0.20), clicks(rng, 0.20)
        corrected += rate_test(a, b, clustered=True).p_value < 0.05
        naive += rate_test(a, b, clustered=False).p_value < 0.05
        better = rate_test(clicks(rng, 0.20), clicks(rng, 0.26), clustered=True)
        detected += better.p_value < 0.05
        wrong_sign += better.p_value < 0.05 and better.statistic < 0
    # Design effect 1 + 9/11 ≈ 1.8: the naive test rejects ~15 % of true nulls.
    assert 0.025 <= corrected / REPLICATES <= 0.08, corrected
    assert naive / REPLICATES >= 0.11, naive
    assert detected / REPLICATES >= 0.85, detected
    assert wrong_sign == 0


def revenue(rng: np.random.Generator, buy: float, sessions: int = 600) -> np.ndarray:
    """Per-session revenue: most sessions buy nothing, purchases are log-normal (skewed)."""
    bought = rng.random(sessions) < buy
    return np.where(bought, rng.lognormal(4.0, 0.8, size=sessions), 0.0)


def test_welch_on_revenue_per_session() -> None:
    rng = np.random.default_rng(7)
    false_positives = detected = 0
    for _ in range(REPLICATES):
        null = stats.welch_test(revenue(rng, 0.1), revenue(rng, 0.1))
        real = stats.welch_test(revenue(rng, 0.1), revenue(rng, 0.2))
        assert null is not None
        assert real is not None
        false_positives += null.p_value < 0.05
        detected += real.p_value < 0.05 and real.statistic > 0
    assert 0.02 <= false_positives / REPLICATES <= 0.08, false_positives
    # Means 7.5 against 15 (purchases average e^4.32 = 75), variances 1016 and 1919 per
    # session: z = 7.5 / sqrt(2935 / 600) = 3.39, power ≈ 0.93.
    assert detected / REPLICATES >= 0.85, detected
