"""Searcher comparison (searchers.csv): when replicates of one (task, warm-start variant, eta_h)
ran under more than one scheduler, each scheduler against a reference scheduler, paired by seed.

The reference is `grid` if present, else `random`, else the alphabetically first scheduler: the
strategy a searcher must beat. Per pair of replicates of the same seed: the iterations (trials
started) and device-seconds until the best-so-far first reaches tau, and until it first comes
within `margin` of the best score any scheduler of the comparison found (so that a task whose tau
nobody reaches still ranks its searchers); the best validation score; the test score of the best
trial; the compute consumed. Costs get the reduction of the median against the reference with its
bootstrap interval; costs and the best validation score a paired Wilcoxon p (censored times
ranked worst), Bonferroni-corrected over every test of this table. The statistics are
ohgw.analysis.intervals and .stats; the per-replicate measures ohgw.analysis.metrics."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ohgw.analysis.collect import AnalysisError, Collection, GroupKey
from ohgw.analysis.intervals import bootstrap_reduction, reduction
from ohgw.analysis.metrics import ITERATIONS, progress, quantile, time_to_target
from ohgw.analysis.stats import bonferroni, wilcoxon_censored
from ohgw.analysis.trust import label, pct

REFERENCE_ORDER = ("grid", "random")  # the first present is the reference
DEFAULT_MARGIN = 0.01                 # absolute score difference to the best any scheduler found

# Costs compared against the reference: table name -> (per-seed column, words for the report)
COSTS = {
    "iterations_to_tau": (f"t_{ITERATIONS}", "iterations to tau"),
    "device_s_to_tau": ("t_device_s", "device-seconds to tau"),
    "iterations_to_margin": (f"margin_{ITERATIONS}", "iterations to the margin"),
    "device_s_to_margin": ("margin_device_s", "device-seconds to the margin"),
}
# Medians shown beside the costs, per scheduler and its reference
OUTCOMES = ("best_val", "test_of_best", "device_s", "epochs_used")


@dataclass
class Comparison:
    """The replicates of one (task, variant, eta_h) under several schedulers."""
    task: str
    warmstart: str
    eta_h: float | None
    keys: dict[str, GroupKey]     # scheduler -> its group
    reference: str
    mode: str
    best_any: float               # the best validation score any scheduler's replicate found
    margin: float

    @property
    def target(self) -> float:
        """The score within `margin` of best_any."""
        return self.best_any - self.margin if self.mode == "max" else self.best_any + self.margin

    def label(self) -> str:
        return f"{self.task}/{self.keys[self.reference].label()}"


def reference_of(schedulers) -> str:
    """grid if present, else random if present, else the alphabetically first."""
    names = sorted(schedulers)
    return next((n for n in REFERENCE_ORDER if n in names), names[0])


def comparisons(collection: Collection, per_seed: dict[GroupKey, pd.DataFrame],
                margin: float = DEFAULT_MARGIN) -> list[Comparison]:
    """One per (task, variant, eta_h) that ran under more than one scheduler (collect has checked
    that nothing but the scheduler differs between them)."""
    if not (margin >= 0 and math.isfinite(margin)):
        raise AnalysisError(f"margin must be a finite score difference >= 0, not {margin}")
    by_variant: dict[tuple, dict[str, GroupKey]] = {}
    for key in collection.groups():
        by_variant.setdefault((key.task, key.warmstart, key.eta_h), {})[key.scheduler] = key
    out = []
    for (task, warmstart, eta_h), keys in sorted(by_variant.items(), key=lambda kv: str(kv[0])):
        if len(keys) < 2:
            continue
        mode = collection.groups()[next(iter(keys.values()))][0].record["mode"]
        best = pd.concat([per_seed[k]["best_val"] for k in keys.values()])
        out.append(Comparison(task, warmstart, eta_h, dict(sorted(keys.items())), reference_of(keys), mode,
                              float(best.max() if mode == "max" else best.min()), margin))
    return out


def with_margin_costs(comparison: Comparison, collection: Collection,
                      per_seed: dict[GroupKey, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Per scheduler: its per-seed measures plus the iterations and device-seconds until its
    best-so-far first came within the margin of the comparison's best (inf if never)."""
    out = {}
    for scheduler, key in comparison.keys.items():
        costs = {rep.seed: time_to_target(progress(rep.results, rep.record), comparison.target, comparison.mode,
                                          (ITERATIONS, "device_s"))
                 for rep in collection.groups()[key]}
        margin = pd.DataFrame.from_dict(costs, orient="index").add_prefix("margin_")
        out[scheduler] = per_seed[key].join(margin)
    return out


def searchers_table(collection: Collection, per_seed: dict[GroupKey, pd.DataFrame],
                    comps: list[Comparison]) -> pd.DataFrame:
    """One row per (task, variant, eta_h, scheduler) of every comparison, the reference's row
    first (its medians over all its seeds, no test); empty when no sweep varied the scheduler."""
    rows = []
    for comp in comps:
        frames = with_margin_costs(comp, collection, per_seed)
        ref = frames[comp.reference]
        for scheduler in [comp.reference, *(s for s in frames if s != comp.reference)]:
            m = frames[scheduler]
            row = {"task": comp.task, "warmstart": comp.warmstart, "eta_h": comp.eta_h, "scheduler": scheduler,
                   "reference": comp.reference, "mode": comp.mode, "margin": comp.margin,
                   "best_any": comp.best_any, "margin_target": comp.target, "n_seeds": len(m)}
            if scheduler == comp.reference:
                row.update(n_pairs=0, note="reference", **medians(m, m))
            else:
                seeds = sorted(set(m.index) & set(ref.index))
                row.update(n_pairs=len(seeds), seeds=" ".join(map(str, seeds)),
                           note="" if seeds else "unpaired: no seed shared with the reference")
                if seeds:
                    row.update(paired_measures(ref.loc[seeds], m.loc[seeds], comp.mode))
            rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    tested = [c for c in (*(f"p_{name}" for name in COSTS), "p_best_val") if c in table]
    corrected = bonferroni(table[tested].to_numpy(float).ravel()).reshape(len(table), len(tested))
    for i, col in enumerate(tested):
        table[col.replace("p_", "p_bonf_", 1)] = corrected[:, i]
    return table


def medians(ref: pd.DataFrame, m: pd.DataFrame) -> dict:
    """Medians of a scheduler's (m) and its reference's (ref) costs and outcomes, and the seeds
    whose best-so-far never reached each target."""
    out = {}
    for name, (col, _) in COSTS.items():
        out.update({f"{name}_median": quantile(m[col], 0.5), f"{name}_ref_median": quantile(ref[col], 0.5),
                    f"n_censored_{name}": int(np.isinf(m[col]).sum()),
                    f"n_censored_{name}_ref": int(np.isinf(ref[col]).sum())})
    for col in OUTCOMES:
        out.update({f"{col}_median": quantile(m[col], 0.5), f"{col}_ref_median": quantile(ref[col], 0.5)})
    return out


def paired_measures(ref: pd.DataFrame, m: pd.DataFrame, mode: str) -> dict:
    """A scheduler (m) against the reference (ref), rows aligned by seed."""
    out = medians(ref, m)
    for name, (col, _) in COSTS.items():
        tr, tm = ref[col].to_numpy(float), m[col].to_numpy(float)
        out[f"reduction_{name}"] = reduction(tr, tm)
        out[f"reduction_{name}_low"], out[f"reduction_{name}_high"] = bootstrap_reduction(tr, tm)
        out[f"p_{name}"] = wilcoxon_censored(tr, tm)
    sign = 1 if mode == "max" else -1  # positive = better, for a minimised score too
    out["best_val_change"] = quantile(sign * (m["best_val"] - ref["best_val"]), 0.5)
    out["test_of_best_change"] = quantile(sign * (m["test_of_best"] - ref["test_of_best"]), 0.5)
    # a score has no censoring; the test ranks the paired differences all the same
    out["p_best_val"] = wilcoxon_censored(sign * ref["best_val"].to_numpy(float), sign * m["best_val"].to_numpy(float))
    return out


def searcher_lines(table: pd.DataFrame) -> list[str]:
    """Plain lines per comparison: its reference and margin, then each scheduler against it."""
    lines = []
    for _, r in table.iterrows():
        name = f"{r['task']}/{label(r)}"
        if r["note"] == "reference":
            lines.append(f"{name}: reference {r['reference']} (grid, else random, else the alphabetically first); "
                         f"margin {r['margin']:g} from the best score any scheduler found ({r['best_any']:.4g}): "
                         f"target {r['margin_target']:.4g}")
            continue
        if not r["n_pairs"]:
            lines.append(f"{name}: {r['scheduler']} vs {r['reference']}: {r['note']}")
            continue
        lines.append(f"{name}: {r['scheduler']} vs {r['reference']}, {int(r['n_pairs'])} paired seeds ({r['seeds']})")
        for cost, (_, words) in COSTS.items():
            lines.append(f"  {words}: median {_num(r[f'{cost}_median'])} vs {_num(r[f'{cost}_ref_median'])}, "
                         f"reduction {pct(r[f'reduction_{cost}'])} [95% CI {pct(r[f'reduction_{cost}_low'])}, "
                         f"{pct(r[f'reduction_{cost}_high'])}], p = {r[f'p_{cost}']:.3g} "
                         f"(Bonferroni {r[f'p_bonf_{cost}']:.3g}); never reached: "
                         f"{int(r[f'n_censored_{cost}'])} vs {int(r[f'n_censored_{cost}_ref'])} seeds")
        lines.append(f"  best validation score: median {r['best_val_median']:.4g} vs {r['best_val_ref_median']:.4g}, "
                     f"paired change {r['best_val_change']:+.4g} (positive = better), p = {r['p_best_val']:.3g} "
                     f"(Bonferroni {r['p_bonf_best_val']:.3g}); test score of the best trial "
                     f"{r['test_of_best_median']:.4g} vs {r['test_of_best_ref_median']:.4g}")
        lines.append(f"  compute consumed: {r['device_s_median']:.4g} vs {r['device_s_ref_median']:.4g} "
                     f"device-seconds, {r['epochs_used_median']:g} vs {r['epochs_used_ref_median']:g} epochs")
    return lines


def _num(x: float) -> str:
    return "inf (not reached)" if math.isinf(x) else f"{x:.4g}"
