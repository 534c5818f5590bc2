"""The primitives of the per-replicate measures (ohgw.analysis.measures holds the registry): the
best-so-far curve in three units of cost (and in trials started), the time until it first reaches tau
(inf = censored, never reached), AUC, warm-start overhead, the rung levels a scheduler used."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ohgw.results.contract import ROW, WARMSTART


def row_column(name: str) -> str:
    """A results.csv column by the contract's name for it: a KeyError at import if it defines none."""
    return (ROW[name] if name in ROW else WARMSTART[name]).name


TRIAL_ID, EPOCH, WALLCLOCK, ELAPSED, TRAIN_STEPS, PROCESS_PEAK = (
    row_column(n) for n in ("trial_id", "epoch", "wallclock_s", "elapsed_s", "train_steps", "process_peak_mb"))
WS_SECONDS, WS_FLOPS, WS_PEAK, STEP_FLOPS, STEP_PEAK = (
    row_column(n) for n in ("ws_seconds", "ws_flops", "ws_peak_mb", "step_flops", "step_peak_mb"))

UNITS = ("wallclock_s", "device_s", "epochs")
# Trials started: the searcher's own cost measure (how many configurations it proposed). Not one
# of UNITS, so that the warm-start tables keep their columns; searcher comparisons read it.
ITERATIONS = "iterations"
UNIT_LABELS = {"wallclock_s": "wall-clock (s)", "device_s": "device-seconds (s)",
               "epochs": "epochs consumed", ITERATIONS: "trials started"}


def device_seconds(rows: pd.DataFrame) -> pd.Series:
    """Device-seconds spent by each row, rows in arrival order: the analysis's one definition. Each
    trial's cumulative process time (elapsed_s, start-up included, across pauses) grows by this much
    since its previous report; summed over rows it is the trials' process time."""
    elapsed = rows[ELAPSED].astype(float)
    return elapsed - elapsed.groupby(rows[TRIAL_ID]).shift(fill_value=0.0)


def progress(results: pd.DataFrame, record: dict) -> pd.DataFrame:
    """One row per reported epoch in arrival order with the cost spent so far in each unit,
    the score (the record's metric), its test counterpart and the best-so-far score.
    Iterations count the distinct trials seen so far (a trial counts as started from its first
    report: results.csv has no row before it)."""
    rows = arrival_order(results)
    score = rows[record["metric"]].astype(float)
    best = score.cummax() if record["mode"] == "max" else score.cummin()
    return pd.DataFrame({"trial_id": rows[TRIAL_ID], "epoch": rows[EPOCH],
                         "score": score, "test": rows[record["test_metric"]].astype(float),
                         "wallclock_s": rows[WALLCLOCK].astype(float),
                         "device_s": device_seconds(rows).cumsum(), "epochs": np.arange(1, len(rows) + 1),
                         ITERATIONS: (~rows[TRIAL_ID].duplicated()).cumsum().to_numpy(),
                         "best": best})


def arrival_order(results: pd.DataFrame) -> pd.DataFrame:
    """results.csv's rows in the order they reached the tuner, indexed 0.. like progress()."""
    return results.sort_values(WALLCLOCK, kind="stable").reset_index(drop=True)


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
    return results.sort_values(WALLCLOCK, kind="stable").groupby(TRIAL_ID).tail(1).set_index(TRIAL_ID)


def rung_levels(record: dict) -> list[int] | None:
    """The rung levels (epochs) at which the scheduler decided, as the record says (`rung_levels`;
    None: a scheduler without rungs). A record written before it recorded them: the levels its task's
    rungs settings imply, grace_period times powers of reduction_factor up to max_epochs."""
    if "rung_levels" in record:
        return None if record["rung_levels"] is None else [int(level) for level in record["rung_levels"]]
    task_cfg = record.get("config", {}).get("task", {})
    rungs_cfg = task_cfg.get("rungs", {})
    grace, factor = rungs_cfg.get("grace_period", 1), rungs_cfg.get("reduction_factor", 3)
    levels = []
    while grace <= task_cfg.get("max_epochs", grace):
        levels.append(grace)
        grace *= factor
    return levels


def overhead(results: pd.DataFrame, device_s: float) -> dict[str, float]:
    """Warm-start cost relative to the replicate: % of device-seconds, % of training FLOPs
    (only when the results count each trial's training steps in `train_steps`), FLOPs per
    trial in training steps, and peak memory over a normal step's peak."""
    per_trial = trials(results)
    if per_trial.empty or WS_SECONDS not in per_trial:
        return {"ws_device_pct": math.nan, "ws_flops_pct": math.nan, "ws_step_equiv": math.nan,
                "peak_mem_ratio": math.nan}
    ws_s = float(per_trial[WS_SECONDS].sum())
    flops_pct = math.nan
    if TRAIN_STEPS in per_trial:  # cumulative training steps of the trial
        train_flops = float((per_trial[STEP_FLOPS] * per_trial[TRAIN_STEPS]).sum())
        flops_pct = 100 * float(per_trial[WS_FLOPS].sum()) / train_flops if train_flops else math.nan
    step_peak = float(per_trial[STEP_PEAK].max())
    peak = max(step_peak, float(per_trial[WS_PEAK].max()))
    return {"ws_device_pct": 100 * ws_s / device_s if device_s else math.nan,
            "ws_flops_pct": flops_pct,
            # FLOPs of one trial's warm-start in units of one training step
            "ws_step_equiv": float((per_trial[WS_FLOPS] / per_trial[STEP_FLOPS]).mean()),
            "peak_mem_ratio": peak / step_peak if step_peak > 0 else math.nan}


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
