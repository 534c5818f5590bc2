"""Confidence intervals and power against known answers: published signed-rank critical values,
the interval scipy's exact Wilcoxon test inverts, scipy's bootstrap, statsmodels' t-test power."""
import math

import numpy as np
import pytest
from scipy import stats

from ohgw.analysis.intervals import (bootstrap_reduction, hodges_lehmann, log_ratios, reduction, seeds_needed,
                                     signed_rank_critical)


@pytest.mark.parametrize("n, critical", [(6, 0), (8, 3), (10, 8), (15, 25), (20, 52), (25, 89)])
def test_signed_rank_critical_values_match_the_published_table(n, critical):
    # two-sided alpha = 0.05: the largest W with P(W+ <= W) <= 0.025 (e.g. Hollander & Wolfe, table A.4)
    assert signed_rank_critical(n) == critical
    assert signed_rank_critical(5) == -1  # five pairs cannot reach 0.05 two-sided


def test_hodges_lehmann_interval_is_what_the_exact_wilcoxon_test_inverts():
    d = np.random.default_rng(3).normal(0.3, 1.0, 12)
    estimate, low, high = hodges_lehmann(d)
    walsh = [(a + b) / 2 for i, a in enumerate(d) for b in d[i:]]
    assert estimate == pytest.approx(np.median(walsh))

    def p(shift):
        return stats.wilcoxon(d - shift, method="exact").pvalue

    eps = 1e-9
    # inside the interval the shift is not rejected at 0.05; just outside it is
    assert p(low + eps) >= 0.05 and p(high - eps) >= 0.05
    assert p(low - eps) < 0.05 and p(high + eps) < 0.05


def test_hodges_lehmann_of_one_to_ten():
    assert hodges_lehmann(np.arange(1.0, 11.0)) == (5.5, 3.0, 8.0)
    estimate, low, high = hodges_lehmann([1.0, 2.0, 3.0])  # too few pairs for 95%
    assert estimate == 2.0 and (low, high) == (-math.inf, math.inf)


def test_bootstrap_of_a_constant_reduction_is_that_reduction():
    base = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    assert reduction(base, 0.8 * base) == pytest.approx(0.2)
    low, high = bootstrap_reduction(base, 0.8 * base)
    assert low == pytest.approx(0.2) and high == pytest.approx(0.2)


def test_bootstrap_interval_agrees_with_scipys_percentile_bootstrap():
    rng = np.random.default_rng(7)
    base = rng.lognormal(3.0, 0.3, 20)
    variant = base * rng.lognormal(-0.1, 0.2, 20)
    ours = bootstrap_reduction(base, variant, samples=20000)
    theirs = stats.bootstrap((base, variant), lambda b, v: 1 - np.median(v) / np.median(b), paired=True,
                             vectorized=False, n_resamples=20000, method="percentile",
                             random_state=np.random.default_rng(1)).confidence_interval
    assert ours[0] == pytest.approx(theirs.low, abs=0.015) and ours[1] == pytest.approx(theirs.high, abs=0.015)


def test_a_censored_baseline_median_reaches_minus_infinity():
    low, high = bootstrap_reduction([10.0, math.inf, math.inf], [5.0, 5.0, 5.0])
    assert low == -math.inf and high == 1.0 - 5.0 / 10.0
    assert list(log_ratios([10.0, math.inf, 4.0], [5.0, 5.0, math.inf])) == [math.log(0.5)]


@pytest.mark.parametrize("spread, alpha", [(0.47, 0.05 / 6), (0.15, 0.05 / 6), (0.3, 0.05), (0.084, 0.05), (0.05, 0.05 / 6)])
def test_seeds_needed_matches_the_t_tests_power_over_wilcoxons_efficiency(spread, alpha):
    from statsmodels.stats.power import TTestPower

    effect = abs(math.log(0.85)) / spread
    t_test = TTestPower().solve_power(effect_size=effect, alpha=alpha, power=0.8, alternative="two-sided")
    assert abs(seeds_needed(spread, 0.15, alpha) - math.ceil(t_test / (3 / math.pi))) <= 1
    assert seeds_needed(math.nan) == math.inf
