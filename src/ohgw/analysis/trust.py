"""What a measured effect can be trusted for: its confidence interval, the noise floor of the
harness's own machinery (the A/A control), the seeds the study's criterion would need, and the
size and direction of the hyper-steps behind it.

The noise floor: the A/A control (role floor: warm-start `aa`) costs what OHGW costs and trains
exactly as the baseline does; its effect against the baseline is what scheduling noise (the order
in which reports arrive, timing) does on its own. A variant stands above the floor when its times,
paired seed by seed with the A/A control's, are shorter with a confidence interval that excludes
no change and a (Bonferroni-corrected) paired Wilcoxon test that rejects it; a positive control
(role positive_control: `planted`) that does not stand above the floor says the study cannot resolve
effects of its size. Intervals and the floor's measures are ohgw.analysis.measures'.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ohgw.analysis.collect import FLOOR, POSITIVE_CONTROL
from ohgw.analysis.intervals import seeds_needed
from ohgw.analysis.measures import LEVEL, per
from ohgw.analysis.metrics import trials
from ohgw.analysis.stats import bonferroni
from ohgw.hyperparams.space import SearchSpace
from ohgw.results.contract import ADJUSTED, SAMPLED, column

CRITERION = 0.15         # the study's reduction to detect (the power line)
POWER = 0.8
LR_NAMES = ("log_lr", "lr")
STEP_PREFIX = "mean_abs_step_"  # steps.csv: mean_abs_step_<hyperparameter>


def add_power(table: pd.DataFrame, unit: str, alpha: float) -> None:
    """seeds_needed_<unit>: paired seeds the CRITERION would need at the family's Bonferroni-corrected
    `alpha`, from each comparison's observed spread in the primary unit."""
    if per("spread", unit) in table:
        table[per("seeds_needed", unit)] = [seeds_needed(s, CRITERION, alpha, POWER)
                                            for s in table[per("spread", unit)]]


def add_floor_verdicts(table: pd.DataFrame, unit: str, alpha: float) -> None:
    """Bonferroni-correct the primary unit's vs-floor p-values as a family of their own (every variant
    compared with the A/A control) and say whether each variant is faster than the floor, slower, or
    within it (its interval against the A/A control includes no change)."""
    p_col = per("p_vs_floor", unit)
    if p_col not in table:
        return
    table[per("p_bonf_vs_floor", unit)] = bonferroni(table[p_col].to_numpy(float))
    table[per("floor_verdict", unit)] = [_verdict(r, unit, alpha) for _, r in table.iterrows()]


def _verdict(row, u: str, alpha: float) -> str:
    """Faster (slower) than the floor: the interval against the A/A control lies above (below)
    no change AND the corrected paired test rejects no change; else within the floor."""
    low, high = row.get(per("vs_floor", u) + "_low", math.nan), row.get(per("vs_floor", u) + "_high", math.nan)
    if not (isinstance(low, float) and not math.isnan(low)):
        return ""
    significant = row.get(per("p_bonf_vs_floor", u), 1.0) < alpha
    if low > 0 and significant:
        return "faster than the floor"
    if high < 0 and significant:
        return "slower than the floor"
    return "within the floor"


def step_measures(reps) -> dict:
    """Size and direction of the hyper-steps of a variant's trials (all seeds): the mean
    |psi' - x| of each continuous hyperparameter on the search-space scale, the mean step norm,
    and the fraction of trials whose learning rate went down (short horizons bias it there)."""
    per_trial = pd.concat([trials(r.results) for r in reps])
    space = SearchSpace.from_config(reps[0].record["config"]["task"]["search_space"])
    moves = {}
    for spec in space:
        if spec.continuous and column(ADJUSTED, spec.name) in per_trial:
            x, psi = (spec.to_scale(per_trial[column(p, spec.name)].astype(float).to_numpy())
                      for p in (SAMPLED, ADJUSTED))
            moves[spec.name] = psi - x
    out = {"n_trials": len(per_trial),
           "step_norm_mean": float(np.mean(np.sqrt(sum(d ** 2 for d in moves.values())))) if moves else math.nan}
    out.update({f"{STEP_PREFIX}{n}": float(np.mean(np.abs(d))) for n, d in moves.items()})
    lr = next((n for n in LR_NAMES if n in moves), None)
    moved = moves[lr][moves[lr] != 0] if lr else np.array([])
    out["lr_down_fraction"] = float(np.mean(moved < 0)) if len(moved) else math.nan
    out["lr_moved_trials"] = int(len(moved))
    # trials whose hyper-step fell back to a central difference where autograd failed (hgvia_ says for which)
    fallback = per_trial.get("ws_fd_fallback")
    out["fd_fallback_trials"] = int((fallback.fillna(0) > 0).sum()) if fallback is not None else 0
    return out


def floor_lines(paired: pd.DataFrame, steps: pd.DataFrame, u: str) -> list[str]:
    """Plain statements per comparison in the primary unit `u`: the effect and its interval, the floor
    beside it, the verdict, the power line, the steps behind it; and what the positive control says."""
    lines = []
    alpha = paired.attrs.get("corrected_alpha", math.nan)
    col = lambda base: per(base, u)  # noqa: E731
    for _, r in paired.iterrows():
        if not r.get("n_pairs"):
            continue
        name = f"{r['task']}/{r['scheduler']}: {label(r)}"
        effect = f"T@tau ({u}) {pct(r[col('reduction')])} shorter than the baseline " \
                 f"[{LEVEL:.0%} CI {pct(r[col('reduction') + '_low'])}, {pct(r[col('reduction') + '_high'])}]"
        if r.get("role") == FLOOR:
            lines.append(f"{name} (the A/A control, the noise floor): {effect}")
        elif has_value(r.get("n_floor_pairs")) and r["n_floor_pairs"] > 0:  # n/a where the baseline's median is censored
            lines.append(f"{name}: {effect}; the A/A floor over the same seeds: {pct(r[col('floor')])} "
                         f"[{pct(r[col('floor') + '_low'])}, {pct(r[col('floor') + '_high'])}]; against the A/A "
                         f"control {pct(r[col('vs_floor')])} [{pct(r[col('vs_floor') + '_low'])}, "
                         f"{pct(r[col('vs_floor') + '_high'])}], p = {r[col('p_vs_floor')]:.3g} "
                         f"(Bonferroni {r[col('p_bonf_vs_floor')]:.3g}): {r[col('floor_verdict')].upper()}")
        else:
            lines.append(f"{name}: {effect}; no A/A control in this comparison: no noise floor")
        need = r.get(col("seeds_needed"), math.inf)
        lines.append(f"  power: paired spread of log(T_variant/T_baseline) {r[col('spread')]:.3g} over "
                     f"{int(r[col('n_reached_pairs')])} pairs that both reached tau; a {CRITERION:.0%} reduction at "
                     f"alpha {alpha:.3g} (Bonferroni) with power {POWER:.0%} would need "
                     f"{'an unknown number of' if not math.isfinite(need) else int(need)} seeds; "
                     f"this comparison has {int(r['n_pairs'])}")
        s = _row_of(steps, r)
        if s is not None:
            down = "n/a" if math.isnan(s["lr_down_fraction"]) else f"{s['lr_down_fraction']:.0%} of " \
                   f"{s['lr_moved_trials']}"
            sizes = ", ".join(f"{k[len(STEP_PREFIX):]} {v:.2g}" for k, v in s.items() if k.startswith(STEP_PREFIX))
            lines.append(f"  steps: mean |psi' - x| (search-space scale) {sizes}; learning rate moved down in {down} "
                         f"trials" + (f"; autograd failed and a central difference stood in (hgvia_) in "
                                      f"{s['fd_fallback_trials']} of {s['n_trials']} trials"
                                      if s.get("fd_fallback_trials") else ""))
    for _, r in paired.iterrows():
        if r.get("role") == POSITIVE_CONTROL and r.get("n_pairs"):
            verdict = r.get(col("floor_verdict"), "")
            lines.append(f"positive control {r['task']}/{r['scheduler']}: {verdict or 'no A/A control to compare with'}"
                         + ("" if verdict == "faster than the floor" else
                            f": this study cannot resolve an effect of its size ({pct(r[col('reduction')])}) "
                            "with these seeds"))
    return lines


def _row_of(table: pd.DataFrame, r):
    """The row of `table` for the comparison r's variant (same task, scheduler, name, eta_h)."""
    for _, row in table.iterrows():
        if (row["task"], row["scheduler"], row["warmstart"]) == (r["task"], r["scheduler"], r["warmstart"]) and (
                row["eta_h"] == r["eta_h"] or not (has_value(row["eta_h"]) or has_value(r["eta_h"]))):
            return row
    return None


def has_value(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def label(r) -> str:
    return r["warmstart"] if not has_value(r["eta_h"]) else f"{r['warmstart']} (eta_h={r['eta_h']:g})"


def pct(x) -> str:
    if not isinstance(x, (int, float)) or math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "-inf" if x < 0 else "inf"
    return f"{x:+.1%}"
