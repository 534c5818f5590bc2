"""What a measured effect can be trusted for: its confidence interval, the noise floor of the
harness's own machinery (the A/A control), the seeds the study's criterion would need, and the
size and direction of the hyper-steps behind it.

The noise floor: the A/A control (warm-start direction `zero`) costs what OHGW costs and trains
exactly as the baseline does; its effect against the baseline is what scheduling noise (the order
in which reports arrive, timing) does on its own. A variant stands above the floor when its times,
paired seed by seed with the A/A control's, are shorter with a confidence interval that excludes
no change and a (Bonferroni-corrected) paired Wilcoxon test that rejects it; a positive control (direction `planted`) that does not stand above the floor says the
study cannot resolve effects of its size.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ohgw.analysis.intervals import bootstrap_reduction, hodges_lehmann, log_ratios, reduction, seeds_needed
from ohgw.analysis.metrics import UNITS, trials
from ohgw.analysis.stats import bonferroni, wilcoxon_censored
from ohgw.hyperparams.space import SearchSpace
from ohgw.results.contract import ADJUSTED, SAMPLED, column

LEVEL = 0.95             # confidence level of every interval
CRITERION = 0.15         # the study's reduction to detect (the power line)
POWER = 0.8
LR_NAMES = ("log_lr", "lr")


def interval_measures(b: pd.DataFrame, v: pd.DataFrame) -> dict:
    """Per unit: the bootstrap interval of the median reduction, the Hodges-Lehmann reduction
    of the paired ratio with its interval, and the paired spread of log-ratios."""
    out = {}
    for u in UNITS:
        tb, tv = b[f"t_{u}"].to_numpy(float), v[f"t_{u}"].to_numpy(float)
        out[f"reduction_{u}_low"], out[f"reduction_{u}_high"] = bootstrap_reduction(tb, tv, LEVEL)
        ratios = log_ratios(tb, tv)
        shift, low, high = hodges_lehmann(ratios, LEVEL)
        # a shift of log(T_v/T_b) is a reduction of 1 - exp(shift); the interval flips
        out[f"hl_reduction_{u}"] = 1 - math.exp(shift) if math.isfinite(shift) else math.nan
        out[f"hl_reduction_{u}_low"] = 1 - math.exp(high) if not math.isnan(high) else math.nan
        out[f"hl_reduction_{u}_high"] = 1 - math.exp(low) if not math.isnan(low) else math.nan
        out[f"spread_{u}"] = float(np.std(ratios, ddof=1)) if len(ratios) > 1 else math.nan
        out[f"n_reached_pairs_{u}"] = len(ratios)
    return out


def add_power(table: pd.DataFrame, n_tests: int) -> None:
    """seeds_needed_<unit>: paired seeds the CRITERION would need at the Bonferroni-corrected
    alpha of this table, from each comparison's observed spread."""
    from ohgw.analysis.tables import MAX_P

    alpha = MAX_P / max(n_tests, 1)
    for u in UNITS:
        if f"spread_{u}" in table:
            table[f"seeds_needed_{u}"] = [seeds_needed(s, CRITERION, alpha, POWER) for s in table[f"spread_{u}"]]
    table.attrs["corrected_alpha"] = alpha


def floor_measures(b: pd.DataFrame, aa: pd.DataFrame, v: pd.DataFrame) -> dict:
    """Over the seeds all three share (rows aligned by seed), per unit: the floor (the A/A
    control's reduction against the baseline, with its interval), and the variant against the
    A/A control: reduction of the median time, its interval, the paired Wilcoxon p."""
    out = {"n_floor_pairs": len(v)}
    for u in UNITS:
        tb, ta, tv = (f[f"t_{u}"].to_numpy(float) for f in (b, aa, v))
        out[f"floor_{u}"] = reduction(tb, ta)
        out[f"floor_{u}_low"], out[f"floor_{u}_high"] = bootstrap_reduction(tb, ta, LEVEL)
        out[f"vs_floor_{u}"] = reduction(ta, tv)
        out[f"vs_floor_{u}_low"], out[f"vs_floor_{u}_high"] = bootstrap_reduction(ta, tv, LEVEL)
        out[f"p_vs_floor_{u}"] = wilcoxon_censored(ta, tv)
    return out


def add_floor_verdicts(table: pd.DataFrame) -> None:
    """Bonferroni-correct the vs-floor p-values as a family of their own and say per unit
    whether each variant is faster than the floor, slower, or within it (its interval against
    the A/A control includes no change)."""
    p_cols = [f"p_vs_floor_{u}" for u in UNITS]
    if not all(c in table for c in p_cols):
        return
    corrected = bonferroni(table[p_cols].to_numpy(float).ravel()).reshape(len(table), len(p_cols))
    for i, u in enumerate(UNITS):
        table[f"p_bonf_vs_floor_{u}"] = corrected[:, i]
        table[f"floor_verdict_{u}"] = [_verdict(r, u) for _, r in table.iterrows()]


def _verdict(row, u: str) -> str:
    """Faster (slower) than the floor: the interval against the A/A control lies above (below)
    no change AND the corrected paired test rejects no change; else within the floor."""
    from ohgw.analysis.tables import MAX_P

    low, high = row.get(f"vs_floor_{u}_low", math.nan), row.get(f"vs_floor_{u}_high", math.nan)
    if not (isinstance(low, float) and not math.isnan(low)):
        return ""
    significant = row.get(f"p_bonf_vs_floor_{u}", 1.0) < MAX_P
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
    out.update({f"mean_abs_step_{n}": float(np.mean(np.abs(d))) for n, d in moves.items()})
    lr = next((n for n in LR_NAMES if n in moves), None)
    moved = moves[lr][moves[lr] != 0] if lr else np.array([])
    out["lr_down_fraction"] = float(np.mean(moved < 0)) if len(moved) else math.nan
    out["lr_moved_trials"] = int(len(moved))
    return out


def floor_lines(paired: pd.DataFrame, steps: pd.DataFrame, units=("epochs",)) -> list[str]:
    """Plain statements per comparison: the effect and its interval, the floor beside it, the
    verdict, the power line, the steps behind it; and what the positive control says."""
    lines = []
    alpha = paired.attrs.get("corrected_alpha", math.nan)
    for _, r in paired.iterrows():
        if not r.get("n_pairs"):
            continue
        name = f"{r['task']}/{r['scheduler']}: {label(r)}"
        for u in units:
            effect = f"T@tau ({u}) {pct(r[f'reduction_{u}'])} shorter than the baseline " \
                     f"[{LEVEL:.0%} CI {pct(r[f'reduction_{u}_low'])}, {pct(r[f'reduction_{u}_high'])}]"
            if r.get("direction") == "zero":
                lines.append(f"{name} (the A/A control, the noise floor): {effect}")
            elif isinstance(r.get(f"floor_{u}"), float) and not math.isnan(r.get(f"floor_{u}")):
                lines.append(f"{name}: {effect}; the A/A floor over the same seeds: {pct(r[f'floor_{u}'])} "
                             f"[{pct(r[f'floor_{u}_low'])}, {pct(r[f'floor_{u}_high'])}]; against the A/A control "
                             f"{pct(r[f'vs_floor_{u}'])} [{pct(r[f'vs_floor_{u}_low'])}, "
                             f"{pct(r[f'vs_floor_{u}_high'])}], p = {r[f'p_vs_floor_{u}']:.3g} "
                             f"(Bonferroni {r[f'p_bonf_vs_floor_{u}']:.3g}): {r[f'floor_verdict_{u}'].upper()}")
            else:
                lines.append(f"{name}: {effect}; no A/A control in this comparison: no noise floor")
            need = r.get(f"seeds_needed_{u}", math.inf)
            lines.append(f"  power: paired spread of log(T_variant/T_baseline) {r[f'spread_{u}']:.3g} over "
                         f"{int(r[f'n_reached_pairs_{u}'])} pairs that both reached tau; a {CRITERION:.0%} reduction at "
                         f"alpha {alpha:.3g} (Bonferroni) with power {POWER:.0%} would need "
                         f"{'an unknown number of' if not math.isfinite(need) else int(need)} seeds; "
                         f"this comparison has {int(r['n_pairs'])}")
        s = _row_of(steps, r)
        if s is not None:
            down = "n/a" if math.isnan(s["lr_down_fraction"]) else f"{s['lr_down_fraction']:.0%} of " \
                   f"{s['lr_moved_trials']}"
            sizes = ", ".join(f"{k[len('mean_abs_step_'):]} {v:.2g}" for k, v in s.items() if k.startswith("mean_abs_step_"))
            lines.append(f"  steps: mean |psi' - x| (search-space scale) {sizes}; learning rate moved down in {down} "
                         f"trials")
    for _, r in paired.iterrows():
        if r.get("direction") == "planted" and r.get("n_pairs"):
            verdict = r.get(f"floor_verdict_{units[0]}", "")
            lines.append(f"positive control {r['task']}/{r['scheduler']}: {verdict or 'no A/A control to compare with'}"
                         + ("" if verdict == "faster than the floor" else
                            f": this study cannot resolve an effect of its size ({pct(r[f'reduction_{units[0]}'])}) "
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
