"""Intervals and tests for online metrics (scipy.stats for the distributions and Welch's test).

Rates are per impression, but visitors are what is randomised, and one visitor sees many
impressions whose outcomes are correlated. The variance of a rate is therefore estimated over
visitors (the randomisation unit) and folded into a design effect ``deff`` ≥ 1 (Kish): the
Wilson interval uses the effective sample size ``n / deff``, and the two-proportion z-test
divides its statistic by the square root of the averaged design effect (the Rao–Scott
correction). With one impression per visitor both are exactly the textbook versions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# scipy.stats (~40 MB: it brings scipy.optimize, .integrate, .interpolate, .spatial, ...) is
# imported by the functions that use it, when an admin asks for online metrics, not by every
# serving worker at start.
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class TestResult:
    """A two-sided test of "no difference": its statistic and p-value."""

    statistic: float
    p_value: float


def z_quantile(confidence: float) -> float:
    """The two-sided normal quantile: 1.959964 for 0.95."""
    from scipy import stats  # see above

    return float(stats.norm.ppf(0.5 + confidence / 2))


def wilson_interval(successes: float, trials: float, confidence: float = 0.95) -> Interval:
    """Wilson score interval of a proportion (trials may be an effective, fractional n)."""
    if trials <= 0:
        return Interval(0.0, 1.0)
    z = z_quantile(confidence)
    p = successes / trials
    z2n = z * z / trials
    centre = (p + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(p * (1 - p) / trials + z2n / (4 * trials)) / (1 + z2n)
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


def clustered_ratio_variance(numerators: Floats, denominators: Floats) -> float:
    """Variance of ``sum(num) / sum(den)`` with clusters as the independent units (delta
    method, no small-sample factor): ``Σ (num_k − r·den_k)² / (Σ den_k)²``."""
    total = float(denominators.sum())
    if total <= 0:
        return 0.0
    ratio = float(numerators.sum()) / total
    residuals = numerators - ratio * denominators
    return float(residuals @ residuals) / (total * total)


def design_effect(successes: Floats, trials: Floats) -> float:
    """Clustered variance of the pooled rate over its binomial variance, at least 1.

    ``successes`` and ``trials`` are per cluster (visitor)."""
    n = float(trials.sum())
    if n <= 0:
        return 1.0
    p = float(successes.sum()) / n
    binomial = p * (1 - p) / n
    if binomial <= 0:
        return 1.0
    return max(1.0, clustered_ratio_variance(successes, trials) / binomial)


def two_proportion_ztest(
    x1: float,
    n1: float,
    x2: float,
    n2: float,
    *,
    deff1: float = 1.0,
    deff2: float = 1.0,
) -> TestResult | None:
    """Pooled two-proportion z-test of ``x2/n2 − x1/n1``; with design effects, the
    Rao–Scott-corrected version. None when the pooled rate is 0 or 1 (nothing to test)."""
    from scipy import stats  # see above

    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    if pooled <= 0 or pooled >= 1:
        return None
    se = math.sqrt(pooled * (1 - pooled) * (deff1 / n1 + deff2 / n2))
    z = (x2 / n2 - x1 / n1) / se
    return TestResult(z, float(2 * stats.norm.sf(abs(z))))


def rate_difference_interval(
    p1: float, n1: float, p2: float, n2: float, confidence: float = 0.95
) -> Interval:
    """Wald interval of ``p2 − p1`` (effective sample sizes), for the uplift's uncertainty."""
    z = z_quantile(confidence)
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2) if n1 > 0 and n2 > 0 else math.inf
    return Interval(p2 - p1 - z * se, p2 - p1 + z * se)


def mean_interval(values: Sequence[float] | Floats, confidence: float = 0.95) -> Interval | None:
    """Student-t interval of a mean; None with fewer than two values."""
    from scipy import stats  # see above

    data = np.asarray(values, dtype=np.float64)
    if data.size < 2:
        return None
    mean = float(data.mean())
    se = float(data.std(ddof=1)) / math.sqrt(data.size)
    t = float(stats.t.ppf(0.5 + confidence / 2, data.size - 1))
    return Interval(mean - t * se, mean + t * se)


def welch_test(
    baseline: Sequence[float] | Floats, other: Sequence[float] | Floats
) -> TestResult | None:
    """Welch's t-test of ``mean(other) − mean(baseline)`` (scipy); None without variance."""
    from scipy import stats  # see above

    a = np.asarray(baseline, dtype=np.float64)
    b = np.asarray(other, dtype=np.float64)
    if a.size < 2 or b.size < 2 or (a.var(ddof=1) == 0 and b.var(ddof=1) == 0):
        return None
    result = stats.ttest_ind(b, a, equal_var=False)
    return TestResult(float(result.statistic), float(result.pvalue))


def welch_interval(
    baseline: Sequence[float] | Floats,
    other: Sequence[float] | Floats,
    confidence: float = 0.95,
) -> Interval | None:
    """Interval of ``mean(other) − mean(baseline)`` with Welch–Satterthwaite degrees of
    freedom; None when it is undefined."""
    from scipy import stats  # see above

    a = np.asarray(baseline, dtype=np.float64)
    b = np.asarray(other, dtype=np.float64)
    if a.size < 2 or b.size < 2:
        return None
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    if va + vb == 0:
        return None
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    t = float(stats.t.ppf(0.5 + confidence / 2, df))
    diff = float(b.mean() - a.mean())
    half = t * math.sqrt(va + vb)
    return Interval(diff - half, diff + half)


def normal_difference_test(
    value1: float, variance1: float, value2: float, variance2: float
) -> TestResult | None:
    """z-test of ``value2 − value1`` for independent estimates with known variances."""
    from scipy import stats  # see above

    se = math.sqrt(variance1 + variance2)
    if se <= 0:
        return None
    z = (value2 - value1) / se
    return TestResult(z, float(2 * stats.norm.sf(abs(z))))
