"""Confidence intervals and power for paired comparisons over seeds.

- `bootstrap_reduction`: percentile bootstrap, resampling seed pairs, of the reduction of the
  median time, 1 - median(variant) / median(baseline), the number the success criterion reads.
- `hodges_lehmann`: the Hodges-Lehmann estimate of the paired shift and its exact confidence
  interval from the Wilcoxon signed-rank distribution (the interval that test inverts), applied to
  log(T_variant / T_baseline), so that exp(-shift) - 1 ... is a relative reduction.
- `seeds_needed`: how many paired seeds a two-sided test at `alpha` needs to detect a given
  relative reduction with the wanted power, from the observed paired spread of log-ratios.

Censored times (inf) are kept by the bootstrap (a median that lands on one is inf); the
log-ratio statistics use the pairs where both reached the target.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import stats

BOOTSTRAP_SAMPLES = 4000
BOOTSTRAP_SEED = 0  # fixed: the same report every time


def _median(v: np.ndarray) -> float:
    """Median keeping censored values (inf) above every reached one."""
    from ohgw.analysis.metrics import quantile

    return quantile(v, 0.5)


def reduction(baseline, variant) -> float:
    """1 - median(variant) / median(baseline); NaN where the baseline's median is censored."""
    mb, mv = _median(np.asarray(baseline, float)), _median(np.asarray(variant, float))
    if not (math.isfinite(mb) and mb > 0):
        return math.nan
    return 1 - mv / mb


def bootstrap_reduction(baseline, variant, level: float = 0.95, samples: int = BOOTSTRAP_SAMPLES,
                        seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile interval of `reduction` over resampled seed pairs (rows aligned by seed).
    (NaN, NaN) with fewer than 2 pairs; a resample whose baseline median is censored counts as
    -inf (the variant cannot be shown faster there), so an interval can reach -inf."""
    b, v = np.asarray(baseline, float), np.asarray(variant, float)
    if len(b) < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(b), size=(samples, len(b)))
    values = np.array([reduction(b[i], v[i]) for i in picks])
    values = np.where(np.isnan(values), -math.inf, values)
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
    return float(low), float(high)


def median_interval(x, rng: np.random.Generator, level: float = 0.95,
                    samples: int = BOOTSTRAP_SAMPLES) -> tuple[float, float, float]:
    """(median, low, high): the median of `x` and its percentile bootstrap interval (`samples`
    resamples drawn from `rng`, so that callers fix the stream); NaNs without values."""
    x = np.asarray(x, float)
    if len(x) == 0:
        return math.nan, math.nan, math.nan
    boot = np.median(rng.choice(x, (samples, len(x))), axis=1)
    low, high = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    return float(np.median(x)), float(low), float(high)


@lru_cache(maxsize=None)
def _signed_rank_cdf(n: int) -> np.ndarray:
    """P(W+ <= w) for w = 0 .. n(n+1)/2 under the null (exact, by counting subsets of ranks)."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1.0
    for rank in range(1, n + 1):
        counts[rank:] = counts[rank:] + counts[:-rank].copy()
    return np.cumsum(counts) / 2.0 ** n


def signed_rank_critical(n: int, level: float = 0.95) -> int:
    """The largest c with P(W+ <= c) <= (1 - level) / 2: the two-sided test at 1 - level rejects
    when W+ <= c (tables list this c; e.g. n = 10, level 0.95: 8). -1 when none exists."""
    cdf = _signed_rank_cdf(n)
    below = np.nonzero(cdf <= (1 - level) / 2)[0]
    return int(below[-1]) if len(below) else -1


def hodges_lehmann(differences, level: float = 0.95) -> tuple[float, float, float]:
    """(estimate, low, high) of the paired shift: the median of the Walsh averages
    (d_i + d_j) / 2, i <= j, and the exact interval between the (c+1)-th smallest and the
    (c+1)-th largest of them, c = signed_rank_critical. With too few pairs for that level the
    interval is (-inf, inf)."""
    d = np.asarray(differences, float)
    d = d[np.isfinite(d)]
    if len(d) == 0:
        return math.nan, math.nan, math.nan
    i, j = np.triu_indices(len(d))
    walsh = np.sort((d[i] + d[j]) / 2)
    c = signed_rank_critical(len(d), level)
    if c < 0:
        return float(np.median(walsh)), -math.inf, math.inf
    return float(np.median(walsh)), float(walsh[c]), float(walsh[len(walsh) - 1 - c])


def log_ratios(baseline, variant) -> np.ndarray:
    """log(T_variant / T_baseline) over the pairs where both reached the target."""
    b, v = np.asarray(baseline, float), np.asarray(variant, float)
    both = np.isfinite(b) & np.isfinite(v) & (b > 0) & (v > 0)
    return np.log(v[both] / b[both])


def seeds_needed(spread: float, reduction_to_detect: float = 0.15, alpha: float = 0.05,
                 power: float = 0.8, efficiency: float = 3 / math.pi) -> float:
    """Paired seeds a two-sided test at `alpha` needs to detect a relative reduction of
    `reduction_to_detect` (a shift of log(1 - r) in the log-ratio) with `power`, when the paired
    log-ratios have standard deviation `spread`: the smallest n at which the paired t-test's
    approximation holds, ((t_{1-alpha/2, n-1} + t_{power, n-1}) * spread / |log(1 - r)|)^2 <= n,
    over the Wilcoxon test's asymptotic relative efficiency (3/pi under normality). inf where the
    spread is unknown. (One t refinement of the normal approximation, as before, took a df of about
    1 for small spreads, whose t quantiles are huge: 39 seeds for a spread of 0.084, where 5 do.)"""
    if not (math.isfinite(spread) and spread >= 0):
        return math.inf
    shift = abs(math.log(1 - reduction_to_detect))
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    n = max(2, math.floor((z * spread / shift) ** 2))  # the normal approximation: a lower bound
    while ((stats.t.ppf(1 - alpha / 2, n - 1) + stats.t.ppf(power, n - 1)) * spread / shift) ** 2 > n:
        n += 1
    return max(2.0, math.ceil(n / efficiency))
