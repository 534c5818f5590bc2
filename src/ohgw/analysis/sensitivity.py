"""eta_h sensitivity as numbers: where a variant ran at three or more eta_h, the speed-up of each
seed against the baseline of the same seed, a curve fitted to it over log10 eta_h (LOESS, as the
vision study names it, or a cubic spline, as the language study does: the protocol's
`sensitivity.fit`), the eta_h of the largest fitted speed-up with a percentile bootstrap interval over
seeds, and the width of the near-optimal region (where the fitted speed-up is at least `near` times
its peak; none where the peak is not a speed-up).

The speed-up of a seed is 1 - T_variant / T_baseline in the protocol's primary unit, its times under
the censoring rule of T@tau's spread (a seed that never reached tau counts at the cost its replicate
consumed: ohgw.analysis.measures.capped), so that every seed keeps its place in the fit."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.interpolate import CubicSpline
from statsmodels.nonparametric.smoothers_lowess import lowess

from ohgw.analysis.collect import BASELINE, Collection, GroupKey
from ohgw.analysis.measures import LEVEL, capped, per

GRID = 201                 # points of log10 eta_h the fitted curve is read at
BOOTSTRAP_SAMPLES = 1000
BOOTSTRAP_SEED = 0         # fixed: the same report every time
MIN_ETAS = 3


def sweeps(collection: Collection) -> dict[tuple[str, str, str], list[GroupKey]]:
    """(task, scheduler, variant) -> its groups, where the variant ran at MIN_ETAS or more eta_h."""
    by_variant: dict = {}
    for key in collection.groups():
        if key.eta_h is not None and collection.role(key) != BASELINE:
            by_variant.setdefault((key.task, key.scheduler, key.warmstart), []).append(key)
    return {k: sorted(keys, key=lambda g: g.eta_h) for k, keys in sorted(by_variant.items())
            if len({g.eta_h for g in keys}) >= MIN_ETAS}


def speedups(base: pd.DataFrame, variants: dict[float, pd.DataFrame], unit: str) -> pd.DataFrame:
    """One row per (seed, eta_h) the baseline shares: seed, log10 eta_h, 1 - T_v / T_b (capped times)."""
    name = per("t", unit)
    tb = pd.Series(capped(base, name), index=base.index)
    rows = []
    for eta, frame in variants.items():
        tv = pd.Series(capped(frame, name), index=frame.index)
        for seed in tv.index.intersection(tb.index):
            if tb[seed] > 0 and np.isfinite(tb[seed]) and np.isfinite(tv[seed]):
                rows.append({"seed": seed, "log_eta": math.log10(eta), "speedup": 1 - tv[seed] / tb[seed]})
    return pd.DataFrame(rows, columns=["seed", "log_eta", "speedup"])


def fit(x: np.ndarray, y: np.ndarray, grid: np.ndarray, kind: str, frac: float) -> np.ndarray:
    """The fitted speed-up at `grid` (log10 eta_h) of the points (x: log10 eta_h, y: speed-up): LOESS
    over every point (statsmodels' lowess: local linear, `frac` of the points each, its default
    robustifying iterations), or the not-a-knot cubic spline through the mean speed-up at each eta_h
    (exact for a cubic)."""
    if kind == "loess":
        return lowess(y, x, frac=frac, xvals=grid)
    xs, where = np.unique(x, return_inverse=True)
    return CubicSpline(xs, np.bincount(where, weights=y) / np.bincount(where))(grid)


def optimum(grid: np.ndarray, curve: np.ndarray, near: float) -> tuple[float, float, float, float]:
    """(log10 eta_h at the peak, the peak, the near-optimal region's ends): the contiguous run of the
    grid around the peak where the curve is at least `near` x the peak (NaN ends where the peak is
    not a speed-up, > 0)."""
    i = int(np.nanargmax(curve))
    peak = float(curve[i])
    if not peak > 0:
        return float(grid[i]), peak, math.nan, math.nan
    inside = curve >= near * peak
    lo, hi = i, i
    while lo > 0 and inside[lo - 1]:
        lo -= 1
    while hi < len(grid) - 1 and inside[hi + 1]:
        hi += 1
    return float(grid[i]), peak, float(grid[lo]), float(grid[hi])


def analyse(points: pd.DataFrame, kind: str, frac: float, near: float, level: float = LEVEL,
            samples: int = BOOTSTRAP_SAMPLES, seed: int = BOOTSTRAP_SEED) -> dict:
    """The fitted optimum of one sweep, its bootstrap interval (seeds resampled with all their
    points) and the near-optimal region, log10 eta_h and eta_h."""
    grid = np.linspace(points["log_eta"].min(), points["log_eta"].max(), GRID)
    x, y = points["log_eta"].to_numpy(float), points["speedup"].to_numpy(float)
    best, peak, low, high = optimum(grid, fit(x, y, grid, kind, frac), near)
    seeds = points["seed"].to_numpy()
    rows = [np.flatnonzero(seeds == s) for s in np.unique(seeds)]  # a seed's points, resampled together
    rng = np.random.default_rng(seed)
    draws = []
    for pick in rng.integers(0, len(rows), size=(samples, len(rows))):
        i = np.concatenate([rows[j] for j in pick])
        if len(np.unique(x[i])) >= MIN_ETAS:
            draws.append(optimum(grid, fit(x[i], y[i], grid, kind, frac), near)[0])
    ci = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf") if draws else [math.nan] * 2
    return {"n_seeds": len(rows), "n_points": len(points), "fit": kind, "eta_best": 10 ** best,
            "eta_best_low": 10 ** float(ci[0]), "eta_best_high": 10 ** float(ci[1]), "peak_speedup": peak,
            "near": near, "region_low": 10 ** low if math.isfinite(low) else math.nan,
            "region_high": 10 ** high if math.isfinite(high) else math.nan,
            "region_width_decades": high - low if math.isfinite(low) else math.nan}


def sensitivity_table(collection: Collection, per_seed: dict[GroupKey, pd.DataFrame], protocol) -> pd.DataFrame:
    """One row per swept variant: its fitted optimum, interval and near-optimal region."""
    rows = []
    for (task, scheduler, warmstart), keys in sweeps(collection).items():
        base = collection.baseline_of(keys[0])
        if base is None:
            continue
        points = speedups(per_seed[base], {k.eta_h: per_seed[k] for k in keys}, protocol.primary_unit)
        if points["log_eta"].nunique() < MIN_ETAS:
            continue
        s = protocol.sensitivity
        rows.append({"task": task, "scheduler": scheduler, "warmstart": warmstart, "unit": protocol.primary_unit,
                     "etas": " ".join(f"{k.eta_h:g}" for k in keys),
                     **analyse(points, s.fit, s.frac, s.near)})
    return pd.DataFrame(rows)


def sensitivity_lines(table: pd.DataFrame) -> list[str]:
    lines = []
    for _, r in table.iterrows():
        region = "none (no eta_h gives a speed-up)" if math.isnan(r["region_width_decades"]) else \
            f"{r['region_low']:.3g} to {r['region_high']:.3g} ({r['region_width_decades']:.2f} decades)"
        lines.append(f"{r['task']}/{r['scheduler']}: {r['warmstart']} at eta_h {r['etas']}, {int(r['n_seeds'])} seeds: "
                     f"{r['fit']} fit of the speed-up in {r['unit']}; largest at eta_h = {r['eta_best']:.3g} "
                     f"[{LEVEL:.0%} bootstrap over seeds {r['eta_best_low']:.3g}, {r['eta_best_high']:.3g}], "
                     f"fitted speed-up {r['peak_speedup']:+.1%}; within {r['near']:.0%} of it: {region}")
    return lines
