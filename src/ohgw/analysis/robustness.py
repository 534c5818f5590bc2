"""Robustness as the study asks for it, beside the speed-up:

- retained speed-up under noise (exp-1, exp-2): for a treatment run on noisy data (label or token
  noise) and on the same task's clean data, the share of the clean reduction of T@tau (primary unit)
  that remains on noisy data, reduction_noisy / reduction_clean. Undefined where the clean data
  gave no speed-up (reduction <= 0 or NaN): there is nothing to retain.
- Delta OOD perplexity per rung (exp-2): at each rung level the scheduler decided at, per seed, the
  out-of-distribution perplexity at that epoch of the trial with the best validation score at that
  epoch (the configuration the scheduler ranks first there); the variant minus its baseline, paired
  by seed (positive = the variant's leader is worse out of distribution). Median of the paired
  differences with a bootstrap interval, and a paired Wilcoxon p, Bonferroni over each variant's
  rungs."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ohgw.analysis.collect import BASELINE, Collection, task_label
from ohgw.analysis.intervals import BOOTSTRAP_SEED, median_interval
from ohgw.analysis.measures import LEVEL, OOD_PPL, bounds, per
from ohgw.analysis.metrics import EPOCH, quantile, rung_levels
from ohgw.analysis.protocol import NOISE_SETTINGS, noisy
from ohgw.analysis.stats import bonferroni, wilcoxon_censored
from ohgw.analysis.trust import label, pct

VARIANT = ["scheduler", "warmstart", "eta_h"]


def clean_tasks(collection: Collection) -> dict[str, str]:
    """Each noisy task label of the collection -> the label of the same task on clean data."""
    return {task_label(r.record): task_label(r.record, without=NOISE_SETTINGS) for r in collection.replicates
            if noisy(r.record.get("config", {}).get("task", {}))}


def retained_table(paired: pd.DataFrame, clean_of: dict[str, str], unit: str) -> pd.DataFrame:
    """One row per noisy-data comparison of paired.csv (`clean_of`: its task -> the clean task) whose
    variant also ran on the clean data."""
    red, (low, high) = per("reduction", unit), bounds(per("reduction", unit))
    if paired.empty or red not in paired:
        return pd.DataFrame()
    rows = []
    for _, n in paired[paired["task"].isin(clean_of) & (paired["role"] != BASELINE)].iterrows():
        clean = paired[(paired["task"] == clean_of[n["task"]])
                       & np.logical_and.reduce([_same(paired[c], n[c]) for c in VARIANT])]
        if clean.empty:
            continue
        c = clean.iloc[0]
        note = ("no clean speed-up to retain" if not (math.isfinite(c[red]) and c[red] > 0) else
                "no noisy reduction: the noisy baseline's median is censored" if math.isnan(n[red]) else "")
        rows.append({"task_noisy": n["task"], "task_clean": c["task"], **{k: n[k] for k in VARIANT}, "role": n["role"],
                     "unit": unit, "n_pairs_clean": c["n_pairs"], "n_pairs_noisy": n["n_pairs"],
                     "reduction_clean": c[red], "reduction_clean_low": c[low], "reduction_clean_high": c[high],
                     "reduction_noisy": n[red], "reduction_noisy_low": n[low], "reduction_noisy_high": n[high],
                     "retained": math.nan if note else n[red] / c[red], "note": note})
    return pd.DataFrame(rows)


def _same(column: pd.Series, value) -> pd.Series:
    return column.isna() if pd.isna(value) else column == value


def retained_lines(table: pd.DataFrame) -> list[str]:
    lines = []
    for _, r in table.iterrows():
        name = f"{r['task_noisy']}/{r['scheduler']}: {label(r)}"
        kept = f"retained share undefined: {r['note']}" if r["note"] else f"retains {r['retained']:.0%} of it"
        lines.append(f"{name}: reduction {pct(r['reduction_noisy'])} on noisy data "
                     f"[{pct(r['reduction_noisy_low'])}, {pct(r['reduction_noisy_high'])}] against "
                     f"{pct(r['reduction_clean'])} on {r['task_clean']} "
                     f"[{pct(r['reduction_clean_low'])}, {pct(r['reduction_clean_high'])}] ({r['unit']}); {kept}")
    return lines


def ood_at_rungs(rep) -> dict[int, float]:
    """Per rung level the replicate reached: the OOD perplexity at that epoch of the trial with the best
    validation score at that epoch. A scheduler without rungs: its last epoch."""
    results, record = rep.results, rep.record
    if OOD_PPL not in results or results.empty:
        return {}
    levels = rung_levels(record) or [int(results[EPOCH].max())]
    out = {}
    for level in levels:
        at = results[results[EPOCH] == level].dropna(subset=[record["metric"], OOD_PPL])
        if at.empty:
            continue
        leader = at[record["metric"]].idxmax() if record["mode"] == "max" else at[record["metric"]].idxmin()
        out[int(level)] = float(at.loc[leader, OOD_PPL])
    return out


def ood_per_rung_table(collection: Collection) -> pd.DataFrame:
    """One row per (variant, rung level) against the baseline, over the seeds both reached it in."""
    groups = collection.groups()
    at = {key: {r.seed: ood_at_rungs(r) for r in reps} for key, reps in groups.items()}
    rows = []
    for key in groups:
        base_key = collection.baseline_of(key)
        if collection.role(key) == BASELINE or base_key is None:
            continue
        levels = sorted({lv for per_seed in at[key].values() for lv in per_seed})
        for level in levels:
            seeds = sorted(s for s in at[key] if level in at[key][s] and level in at[base_key].get(s, {}))
            if not seeds:
                continue
            b = np.array([at[base_key][s][level] for s in seeds])
            v = np.array([at[key][s][level] for s in seeds])
            delta, diff_low, diff_high = median_interval(v - b, np.random.default_rng(BOOTSTRAP_SEED), LEVEL)
            rows.append({**key._asdict(), "role": collection.role(key), "rung": level, "n_pairs": len(seeds),
                         "ood_ppl_baseline_median": quantile(b, 0.5), "ood_ppl_variant_median": quantile(v, 0.5),
                         "delta_ood_ppl_median": delta, "delta_ood_ppl_low": diff_low,
                         "delta_ood_ppl_high": diff_high, "p": wilcoxon_censored(b, v)})
    table = pd.DataFrame(rows)
    if len(table):
        table["p_bonf"] = table.groupby(["task", *VARIANT], dropna=False, sort=False)["p"].transform(
            lambda p: bonferroni(p.to_numpy(float)))
    return table


def ood_lines(table: pd.DataFrame, alpha: float) -> list[str]:
    lines = []
    if table.empty:
        return lines
    for (task, scheduler, warmstart, eta_h), rows in table.groupby(["task", *VARIANT], dropna=False, sort=False):
        name = f"{task}/{scheduler}: {label({'warmstart': warmstart, 'eta_h': eta_h})}"
        worse = rows[(rows["p_bonf"] < alpha) & (rows["delta_ood_ppl_median"] > 0)]
        better = rows[(rows["p_bonf"] < alpha) & (rows["delta_ood_ppl_median"] < 0)]
        cells = ", ".join(f"rung {r['rung']}: {r['delta_ood_ppl_median']:+.3g} [{r['delta_ood_ppl_low']:+.3g}, "
                          f"{r['delta_ood_ppl_high']:+.3g}]" for _, r in rows.iterrows())
        found = [f"{word} out of distribution at rungs " + ", ".join(map(str, rows_["rung"]))
                 for word, rows_ in (("worse", worse), ("better", better)) if len(rows_)]
        verdict = "; ".join(found) or f"no rung differs (Bonferroni p < {alpha:g})"
        lines.append(f"{name} vs baseline, Delta OOD ppl of the rung's leader (median over seeds): {cells}; {verdict}")
    return lines
