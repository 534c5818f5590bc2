"""Per-replicate measures: the best-so-far curve in three units of cost (and in trials started),
the time until it first reaches tau (inf = censored, never reached), AUC, final scores, warm-start
overhead."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

UNITS = ("wallclock_s", "device_s", "epochs")
# Trials started: the searcher's own cost measure (how many configurations it proposed). Not one
# of UNITS, so that the warm-start tables keep their columns; searcher comparisons read it.
ITERATIONS = "iterations"
UNIT_LABELS = {"wallclock_s": "wall-clock (s)", "device_s": "device-seconds (s)",
               "epochs": "epochs consumed", ITERATIONS: "trials started"}


def progress(results: pd.DataFrame, record: dict) -> pd.DataFrame:
    """One row per reported epoch in arrival order with the cost spent so far in each unit,
    the score (the record's metric), its test counterpart and the best-so-far score.
    Device-seconds add each trial's increase of its cumulative process time (elapsed_s)
    since its previous report; iterations count the distinct trials seen so far (a trial counts
    as started from its first report: results.csv has no row before it)."""
    rows = arrival_order(results)
    elapsed = rows["elapsed_s"].astype(float)
    increment = elapsed - elapsed.groupby(rows["trial_id"]).shift(fill_value=0.0)
    score = rows[record["metric"]].astype(float)
    best = score.cummax() if record["mode"] == "max" else score.cummin()
    return pd.DataFrame({"trial_id": rows["trial_id"], "epoch": rows["epoch"],
                         "score": score, "test": rows[record["test_metric"]].astype(float),
                         "wallclock_s": rows["wallclock_s"].astype(float),
                         "device_s": increment.cumsum(), "epochs": np.arange(1, len(rows) + 1),
                         ITERATIONS: (~rows["trial_id"].duplicated()).cumsum().to_numpy(),
                         "best": best})


def arrival_order(results: pd.DataFrame) -> pd.DataFrame:
    """results.csv's rows in the order they reached the tuner, indexed 0.. like progress()."""
    return results.sort_values("wallclock_s", kind="stable").reset_index(drop=True)


# A classifier's macro scores on the test split (ohgw.trial.class_scores), reported for the best trial
CLASS_SCORES = ("test_f1", "test_precision", "test_recall")


# Scores arrive as float32 values: 342/360 is logged as 0.94999999 and must count as 0.95.
TAU_TOLERANCE = 1e-6


def reached(best: pd.Series, tau: float, mode: str) -> pd.Series:
    return best >= tau - TAU_TOLERANCE if mode == "max" else best <= tau + TAU_TOLERANCE


def time_to_target(prog: pd.DataFrame, tau: float, mode: str, units=UNITS) -> dict[str, float]:
    """T@tau in each unit: the cost spent when the best-so-far first reached tau; inf if never."""
    hit = reached(prog["best"], tau, mode)
    if not hit.any():
        return {u: math.inf for u in units}
    row = prog.loc[hit.idxmax()]
    return {u: float(row[u]) for u in units}


def auc_epochs(best: pd.Series) -> float:
    """Area under the best-so-far curve over the epochs consumed, divided by their number:
    the mean best-so-far score after each epoch (1.0 = perfect from the first epoch on)."""
    return float(best.mean()) if len(best) else math.nan


def trials(results: pd.DataFrame) -> pd.DataFrame:
    """One row per trial (its last report: every warm-start field is final there)."""
    return results.sort_values("wallclock_s", kind="stable").groupby("trial_id").tail(1).set_index("trial_id")


def overhead(results: pd.DataFrame, device_s: float) -> dict[str, float]:
    """Warm-start cost relative to the replicate: % of device-seconds, % of training FLOPs
    (only when the results count each trial's training steps in `train_steps`), FLOPs per
    trial in training steps, and peak memory over a normal step's peak."""
    per_trial = trials(results)
    if per_trial.empty or "ws_seconds" not in per_trial:
        return {"ws_device_pct": math.nan, "ws_flops_pct": math.nan, "ws_step_equiv": math.nan,
                "peak_mem_ratio": math.nan}
    ws_s = float(per_trial["ws_seconds"].sum())
    flops_pct = math.nan
    if "train_steps" in per_trial:  # cumulative training steps of the trial
        train_flops = float((per_trial["step_flops"] * per_trial["train_steps"]).sum())
        flops_pct = 100 * float(per_trial["ws_flops"].sum()) / train_flops if train_flops else math.nan
    step_peak = float(per_trial["step_peak_mb"].max())
    peak = max(step_peak, float(per_trial["ws_peak_mb"].max()))
    return {"ws_device_pct": 100 * ws_s / device_s if device_s else math.nan,
            "ws_flops_pct": flops_pct,
            # FLOPs of one trial's warm-start in units of one training step
            "ws_step_equiv": float((per_trial["ws_flops"] / per_trial["step_flops"]).mean()),
            "peak_mem_ratio": peak / step_peak if step_peak > 0 else math.nan}


def replicate_measures(rep) -> dict:
    """Everything summary.csv aggregates over seeds, for one replicate."""
    r = rep.record
    prog = progress(rep.results, r)
    t = time_to_target(prog, float(r["tau"]), r["mode"], (*UNITS, ITERATIONS))
    if prog.empty:
        best_val = test_of_best = math.nan
    else:
        best_row = prog.loc[prog["score"].idxmax() if r["mode"] == "max" else prog["score"].idxmin()]
        best_val, test_of_best = float(best_row["score"]), float(best_row["test"])
    device_s = float(prog["device_s"].iloc[-1]) if len(prog) else 0.0
    extra = {}
    if "ood_ppl" in rep.results and not prog.empty:  # language models: drift, and the best trial's calibration
        extra["best_ood_ppl"] = float(rep.results["ood_ppl"].min())
        extra["ece_of_best"] = float(trials(rep.results).loc[best_row["trial_id"], "val_ece_top10"])
    if all(c in rep.results for c in CLASS_SCORES) and not prog.empty:  # the best report's macro scores
        best_report = arrival_order(rep.results).loc[best_row.name]
        extra.update({f"{c}_of_best": float(best_report[c]) for c in CLASS_SCORES})
    return {"seed": rep.seed, **extra, **{f"t_{u}": t[u] for u in t}, "best_val": best_val,
            "test_of_best": test_of_best, "auc_epochs": auc_epochs(prog["best"]),
            "device_s": device_s, "epochs_used": len(prog),
            "wallclock_used_s": float(prog["wallclock_s"].iloc[-1]) if len(prog) else 0.0,
            **overhead(rep.results, device_s)}


def quantile(values, q: float) -> float:
    """Linear-interpolation quantile that keeps censored values (inf) above every reached
    one: a quantile whose interpolation touches inf is inf. NaN (not measured) values are
    left out; NaN when none is left."""
    v = np.asarray(values, dtype=float)
    v = np.sort(v[~np.isnan(v)])
    if len(v) == 0:
        return math.nan
    pos = q * (len(v) - 1)
    lo, frac = int(math.floor(pos)), pos - math.floor(pos)
    if frac == 0:
        return float(v[lo])
    return float(v[lo] + (v[lo + 1] - v[lo]) * frac) if np.isfinite(v[lo + 1]) else math.inf
