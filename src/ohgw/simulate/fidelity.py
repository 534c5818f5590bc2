"""Does the replay behave like the real harness? Real replicates restricted to a table's sample
(`+scheduler.configurations=...`, the recording's) against simulated ones of the same scheduler,
variant and workers: the T@tau distributions side by side, per unit (epochs, device-seconds,
wall-clock seconds), with a two-sample test (Mann-Whitney U; Kolmogorov-Smirnov beside it) and
medians with bootstrap intervals.

    python -m ohgw.simulate.fidelity REAL_DIR SIMULATED_DIR --out fidelity.csv
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ohgw.analysis.intervals import median_interval
from ohgw.analysis.metrics import progress, time_to_target
from ohgw.errors import one_line_errors
from ohgw.results.records import RecordsError

UNITS = ("epochs", "device_s", "wallclock_s")
RESAMPLES = 2000
LEVEL = 0.95


def t_at_tau(dirs: list[Path | str]) -> pd.DataFrame:
    """One row per replicate below `dirs` (directories or archives): its variant, seed, workers, whether
    simulated and on which clock (ohgw.simulate.times), T@tau in each unit (inf: never reached)."""
    from ohgw.simulate.table import replicates

    rows = []
    for rep in replicates(dirs):
        r = rep.record
        t = time_to_target(progress(rep.results, r), r["tau"], r["mode"], UNITS)
        rows.append({"scheduler": r["scheduler"], "warmstart": r["warmstart"], "eta_h": r["eta_h"], "seed": r["seed"],
                     "n_workers": r["runtime"]["n_workers"], "simulated": "simulated" in r,
                     "times": r["simulated"].get("times", "own") if "simulated" in r else None, **t})
    return pd.DataFrame(rows)


def compare(real: pd.DataFrame, simulated: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Per unit: medians with intervals, the fraction never reaching tau, and the two-sample tests
    (never-reached counted as the largest value, as the rank tests can)."""
    from scipy.stats import ks_2samp, mannwhitneyu

    rng = np.random.default_rng(seed)
    out = []
    for unit in UNITS:
        a, b = real[unit].to_numpy(float), simulated[unit].to_numpy(float)
        cap = np.nanmax(np.r_[a[np.isfinite(a)], b[np.isfinite(b)], 0.0]) * 2 + 1
        a_c, b_c = np.where(np.isfinite(a), a, cap), np.where(np.isfinite(b), b, cap)
        (m_a, lo_a, hi_a), (m_b, lo_b, hi_b) = (median_interval(x, rng, LEVEL, RESAMPLES) for x in (a_c, b_c))
        out.append({"unit": unit, "n_real": len(a), "n_simulated": len(b),
                    "median_real": m_a if m_a < cap else math.inf, "median_real_low": lo_a,
                    "median_real_high": hi_a if hi_a < cap else math.inf,
                    "median_simulated": m_b if m_b < cap else math.inf, "median_simulated_low": lo_b,
                    "median_simulated_high": hi_b if hi_b < cap else math.inf,
                    "never_real": float(np.mean(~np.isfinite(a))), "never_simulated": float(np.mean(~np.isfinite(b))),
                    "p_mannwhitney": float(mannwhitneyu(a_c, b_c).pvalue), "p_ks": float(ks_2samp(a_c, b_c).pvalue)})
    return pd.DataFrame(out)


@one_line_errors(RecordsError)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ohgw.simulate.fidelity", description=__doc__.split("\n\n")[0])
    parser.add_argument("real", type=Path)
    parser.add_argument("simulated", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="the comparison's CSV (its replicates' T@tau beside it)")
    args = parser.parse_args(argv)
    real, simulated = t_at_tau([args.real]), t_at_tau([args.simulated])
    if real["simulated"].any() or not simulated["simulated"].all():
        raise RecordsError("the first directory must hold real replicates, the second simulated ones")
    table = compare(real, simulated)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    pd.concat([real, simulated]).to_csv(args.out.with_name(args.out.stem + "_replicates.csv"), index=False)
    print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
