"""Paired statistics: Wilcoxon signed-rank with censored times, Bonferroni, KL of histograms."""
from __future__ import annotations

import math

import numpy as np
from scipy import stats


def uncensor(a, b) -> tuple[np.ndarray, np.ndarray]:
    """Replace inf (never reached) by a time worse than any reached one, and far enough
    out that a difference involving a censored time outranks every difference between
    reached times. Two censored times tie (difference 0)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    finite = np.concatenate([a[np.isfinite(a)], b[np.isfinite(b)]])
    span = float(finite.max() - finite.min()) if len(finite) else 0.0
    worse = (float(finite.max()) if len(finite) else 0.0) + span + 1.0
    return np.where(np.isinf(a), worse, a), np.where(np.isinf(b), worse, b)


def wilcoxon_censored(baseline, variant) -> float:
    """Two-sided paired Wilcoxon signed-rank p-value (scipy; zero differences dropped).
    1.0 when every pair ties, NaN when there are no pairs."""
    base, var = uncensor(baseline, variant)
    if len(base) == 0:
        return math.nan
    diff = var - base
    if not np.any(diff != 0):
        return 1.0
    return float(stats.wilcoxon(diff, zero_method="wilcox", alternative="two-sided").pvalue)


def bonferroni(pvalues) -> np.ndarray:
    """min(1, p * m), m = the number of tests that have a p-value (NaN stays NaN)."""
    p = np.asarray(pvalues, dtype=float)
    m = int(np.sum(~np.isnan(p)))
    return np.minimum(1.0, p * m)


def histogram_kl(p_values, q_values, low: float, high: float, bins: int = 10,
                 pseudo: float = 0.5) -> float:
    """KL(P || Q) in nats between histograms of two samples on common bins over [low, high];
    `pseudo` counts are added to every bin so empty bins do not make it infinite."""
    edges = np.linspace(low, high, bins + 1)
    p = np.histogram(np.clip(p_values, low, high), edges)[0] + pseudo
    q = np.histogram(np.clip(q_values, low, high), edges)[0] + pseudo
    p, q = p / p.sum(), q / q.sum()
    return float(np.sum(p * np.log(p / q)))
