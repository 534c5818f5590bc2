"""Does the nudge help a trial? The trial-level paired effect on a curves table (ohgw.simulate.table),
without any scheduler: for each configuration and training seed, a variant's curve against the
baseline's (same configuration, same seed: the same initial weights, data order and draws), in
epochs to tau and in the area under the curve (the mean validation score over the epochs).

    python -m ohgw.simulate.pairs TABLE --out DIR     # pairs.csv (every pair), trial_effect.csv (per variant)

trial_effect.csv: per variant, the pairs, the median AUC difference with a bootstrap interval over
configurations, the fractions of pairs it raised and lowered, how many reached tau sooner and later,
and the Spearman correlation of the AUC difference with each hyperparameter's sampled value (where in
the space the nudge helps), with its p-value.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ohgw.analysis.intervals import median_interval
from ohgw.errors import one_line_errors
from ohgw.results.records import RecordsError

BASELINE = "baseline"
RESAMPLES = 2000
LEVEL = 0.95


def epochs_to(curve: np.ndarray, tau: float, mode: str) -> float:
    """First epoch (from 1) at which the curve reaches tau; inf if it never does."""
    from ohgw.analysis.metrics import TAU_TOLERANCE

    hit = curve >= tau - TAU_TOLERANCE if mode == "max" else curve <= tau + TAU_TOLERANCE
    return float(np.argmax(hit) + 1) if hit.any() else math.inf


def pairs(blackboxes: dict, meta: dict) -> pd.DataFrame:
    """One row per (variant, configuration, training seed): the variant's and the baseline's
    epochs to tau and AUC, and their differences (variant minus baseline)."""
    base = blackboxes[BASELINE]
    metric = base.objectives_names.index(meta["metric"])
    sign = 1.0 if meta["mode"] == "max" else -1.0  # an AUC difference > 0: the variant did better
    hps = base.hyperparameters
    rows = []
    for label, bb in sorted(blackboxes.items()):
        if label == BASELINE:
            continue
        for c in range(len(hps)):
            for s, seed in enumerate(meta["seeds"]):
                mine, theirs = bb.objectives_evaluations[c, s, :, metric], base.objectives_evaluations[c, s, :, metric]
                t_v, t_b = epochs_to(mine, meta["tau"], meta["mode"]), epochs_to(theirs, meta["tau"], meta["mode"])
                rows.append({"variant": label, "role": meta["variants"][label]["role"], "config": c, "seed": seed,
                             **{f"x_{n}": hps.iloc[c][n] for n in hps.columns},
                             "auc": float(mine.mean()), "auc_baseline": float(theirs.mean()),
                             "auc_diff": _auc_difference(mine, theirs, sign),
                             "t_tau": t_v, "t_tau_baseline": t_b,
                             "t_tau_diff": t_v - t_b if math.isfinite(t_v) and math.isfinite(t_b) else math.nan,
                             "reached": int(math.isfinite(t_v)), "reached_baseline": int(math.isfinite(t_b))})
    return pd.DataFrame(rows)


def _auc_difference(mine: np.ndarray, theirs: np.ndarray, sign: float) -> float:
    """Variant minus baseline, signed so that > 0 is better. A diverged curve's AUC is the worst
    (an RMSE of inf): two diverged curves are equal (0), one diverged is an infinite difference."""
    a, b = float(mine.mean()), float(theirs.mean())
    return 0.0 if a == b else sign * (a - b)


def _mean(values: np.ndarray) -> float:
    """The mean; NaN where configurations diverged one way and others the other (inf and -inf)."""
    with np.errstate(invalid="ignore"):
        return float(values.mean())


def effect(table: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Per variant: the distribution of its paired AUC differences and where in the space they lie."""
    from scipy.stats import spearmanr

    rng = np.random.default_rng(seed)
    out = []
    hp_columns = [c for c in table.columns if c.startswith("x_")]
    for label, rows in table.groupby("variant", sort=True):
        # the configuration is the unit; where one seed's variant diverged alone and the other seed's
        # baseline did (+inf and -inf), the configuration is neither helped nor hurt: 0
        per_config = rows.groupby("config")["auc_diff"].mean().fillna(0.0).to_numpy()
        _, low, high = median_interval(per_config, rng, LEVEL, RESAMPLES)
        both = rows.dropna(subset=["t_tau_diff"])
        line = {"variant": label, "role": rows["role"].iloc[0], "pairs": len(rows), "configs": len(per_config),
                "auc_diff_median": float(np.median(per_config)), "auc_diff_low": float(low),
                "auc_diff_high": float(high), "auc_diff_mean": _mean(per_config),
                "frac_raised": float((rows["auc_diff"] > 0).mean()), "frac_lowered": float((rows["auc_diff"] < 0).mean()),
                "frac_equal": float((rows["auc_diff"] == 0).mean()),
                "pairs_both_reached": len(both), "reached_sooner": int((both["t_tau_diff"] < 0).sum()),
                "reached_later": int((both["t_tau_diff"] > 0).sum()),
                "reached_only_variant": int(((rows["reached"] == 1) & (rows["reached_baseline"] == 0)).sum()),
                "reached_only_baseline": int(((rows["reached"] == 0) & (rows["reached_baseline"] == 1)).sum())}
        for column in hp_columns:
            varies = rows["auc_diff"].nunique() > 1
            rho, p = spearmanr(rows[column], rows["auc_diff"]) if varies else (math.nan, math.nan)
            line[f"rho_{column[2:]}"], line[f"p_{column[2:]}"] = float(rho), float(p)
        out.append(line)
    return pd.DataFrame(out)


@one_line_errors(RecordsError)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ohgw.simulate.pairs", description=__doc__.split("\n\n")[0])
    parser.add_argument("table", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    from ohgw.simulate.table import load
    from ohgw.tuner.quiet import import_blackbox_repository

    import_blackbox_repository()
    blackboxes, meta = load(args.table)
    if BASELINE not in blackboxes:
        raise RecordsError(f"{args.table} has no {BASELINE} curves to pair with")
    table = pairs(blackboxes, meta)
    summary = effect(table)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "pairs.csv", index=False)
    summary.to_csv(args.out / "trial_effect.csv", index=False)
    print(summary[["variant", "pairs", "auc_diff_median", "auc_diff_low", "auc_diff_high", "frac_raised",
                   "frac_lowered", "reached_sooner", "reached_later"]].to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
