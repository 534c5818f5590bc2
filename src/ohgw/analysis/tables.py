"""The three tables: summary.csv (per variant), paired.csv (variant vs baseline over shared
seeds, with the strategy's success criteria) and hyperparams.csv (shift of psi' from x)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ohgw.analysis.collect import BASELINE, Collection, GroupKey, Replicate
from ohgw.analysis.metrics import CLASS_SCORES, UNITS, quantile, replicate_measures, trials
from ohgw.analysis.intervals import reduction
from ohgw.analysis.stats import bonferroni, histogram_kl, wilcoxon_censored
from ohgw.analysis.trust import (add_floor_verdicts, add_power, floor_measures, interval_measures, label, pct,
                                 step_measures)
from ohgw.hyperparams.space import SearchSpace
from ohgw.results.contract import ADJUSTED, HYPERGRADIENT, SAMPLED, column

# The strategy's success criteria
MIN_REDUCTION = 0.15        # median reduction of T@tau ...
MAX_P = 0.05                # ... with a (Bonferroni-corrected) p-value below this
MAX_SCORE_DROP = 0.002      # relative worsening of the best final validation score (accuracy, RMSE, ...)
MAX_PPL_REGRESSION = 0.5    # perplexity (the language study): its rise on the final test, absolute
MAX_EXTRA_COMPUTE_PCT = 5.0
MAX_PEAK_RATIO = 1.10
MAX_STD_RATIO = 1.10


def measures(collection: Collection) -> dict[GroupKey, pd.DataFrame]:
    """Per variant: one row of replicate measures per seed, indexed by seed."""
    return {key: pd.DataFrame([replicate_measures(r) for r in reps]).set_index("seed")
            for key, reps in collection.groups().items()}


def _spread(values, name: str) -> dict:
    return {f"{name}_median": quantile(values, 0.5), f"{name}_q25": quantile(values, 0.25),
            f"{name}_q75": quantile(values, 0.75)}


def _std(values) -> float:
    """Seed-wise std (ddof=1); undefined (NaN) when a value is censored or there is one seed."""
    v = np.asarray(values, dtype=float)
    return float(np.std(v, ddof=1)) if len(v) > 1 and np.all(np.isfinite(v)) else math.nan


def summary_table(collection: Collection, per_seed: dict[GroupKey, pd.DataFrame]) -> pd.DataFrame:
    rows = []
    for key, m in per_seed.items():
        rep = collection.groups()[key][0]
        row = {**key._asdict(), "n_seeds": len(m), "seeds": " ".join(map(str, m.index)),
               "tau": rep.record["tau"], "metric": rep.record["metric"],
               "n_censored": int(np.isinf(m["t_epochs"]).sum())}
        for u in UNITS:
            row.update(_spread(m[f"t_{u}"], f"t_{u}"), **{f"t_{u}_std": _std(m[f"t_{u}"])})
        row.update(_spread(m["best_val"], "best_val"), **_spread(m["test_of_best"], "test_of_best"))
        for col in ("auc_epochs", "ws_device_pct", "ws_flops_pct", "ws_step_equiv", "peak_mem_ratio", "device_s",
                    "epochs_used", "wallclock_used_s", "best_ood_ppl", "ece_of_best",
                    *(f"{c}_of_best" for c in CLASS_SCORES)):
            if col not in m:
                continue
            row[f"{col}_median"] = quantile(m[col], 0.5)
        rows.append(row)
    return pd.DataFrame(rows)


def paired_table(collection: Collection, per_seed: dict[GroupKey, pd.DataFrame]) -> pd.DataFrame:
    """Each variant vs its baseline over the seeds both have; a variant with no baseline
    (or no shared seed) gets a row that says so and no statistics."""
    rows = []
    for key, m in per_seed.items():
        if key.warmstart == BASELINE:
            continue
        base_key, floor_key = collection.baseline_of(key), collection.floor_of(key)
        first = collection.groups()[key][0]
        row = {"task": key.task, "scheduler": key.scheduler, "warmstart": key.warmstart,
               "eta_h": key.eta_h, "direction": first.direction, "metric": first.record["metric"],
               "mode": first.record["mode"]}
        seeds = [] if base_key is None else sorted(set(m.index) & set(per_seed[base_key].index))
        if not seeds:
            row.update(n_pairs=0, note="unpaired: no baseline replicate" + (
                "" if base_key is None else " with a shared seed"))
            rows.append(row)
            continue
        b, v = per_seed[base_key].loc[seeds], m.loc[seeds]
        reps = {k: {r.seed: r for r in collection.groups()[k]} for k in (base_key, key)}
        peaks = [x for s in seeds for x in trial_peak_ratios(reps[base_key][s], reps[key][s])]
        row.update(n_pairs=len(seeds), seeds=" ".join(map(str, seeds)), note="",
                   **paired_measures(b, v, peaks, row["mode"], row["metric"]), **interval_measures(b, v))
        if floor_key is not None and floor_key != key:
            shared = sorted(set(seeds) & set(per_seed[floor_key].index))
            if shared:
                row.update(floor_measures(per_seed[base_key].loc[shared], per_seed[floor_key].loc[shared],
                                          m.loc[shared]))
        rows.append(row)
    table = pd.DataFrame(rows)
    if "n_pairs" in table and (table["n_pairs"] > 0).any():
        p_cols = [f"p_{u}" for u in UNITS]
        corrected = bonferroni(table[p_cols].to_numpy().ravel()).reshape(len(table), len(UNITS))
        for i, u in enumerate(UNITS):
            table[f"p_bonf_{u}"] = corrected[:, i]
            table[f"crit_reduction_{u}"] = (table[f"reduction_{u}"] >= MIN_REDUCTION) & (table[f"p_bonf_{u}"] < MAX_P)
        add_power(table, int(table[p_cols].notna().to_numpy().sum()))
        add_floor_verdicts(table)
    return table


def paired_measures(b: pd.DataFrame, v: pd.DataFrame, trial_peaks=(), mode: str = "max",
                    metric: str = "val_acc") -> dict:
    """Statistics of one variant (v) against its baseline (b), rows aligned by seed;
    `trial_peaks`: its paired trials' process peak memory over the baseline's; `mode`: whether a
    larger score is better (score changes are signed so that positive = better); `metric`: the
    score's name (a perplexity is judged by its absolute rise)."""
    out = {}
    for u in UNITS:
        tb, tv = b[f"t_{u}"], v[f"t_{u}"]
        # relative reduction of the median time: defined while fewer than half are censored
        out[f"reduction_{u}"] = reduction(tb, tv)
        out[f"p_{u}"] = wilcoxon_censored(tb, tv)
        sb, sv = _std(tb), _std(tv)
        # equal times on every seed (std 0) are not inflated by equal times again
        out[f"std_ratio_{u}"] = sv / sb if sb > 0 else (1.0 if sv == 0 else math.inf) if sb == 0 else math.nan
        out[f"crit_std_{u}"] = bool(out[f"std_ratio_{u}"] <= MAX_STD_RATIO)
    sign = 1 if mode == "max" else -1  # a lower perplexity is better
    out["final_val_change_rel"] = quantile(sign * (v["best_val"] - b["best_val"]) / b["best_val"], 0.5)
    out["final_test_change_rel"] = quantile(sign * (v["test_of_best"] - b["test_of_best"]) / b["test_of_best"], 0.5)
    out["final_test_change_abs"] = quantile(sign * (v["test_of_best"] - b["test_of_best"]), 0.5)
    out["extra_device_pct"] = quantile(v["ws_device_pct"], 0.5)
    out["extra_flops_pct"] = quantile(v["ws_flops_pct"], 0.5)
    out["peak_mem_ratio"] = quantile(v["peak_mem_ratio"], 0.5)
    # the study's criterion: the whole trial process's peak against the baseline trial's
    out["trial_peak_ratio"] = quantile(list(trial_peaks), 0.5)
    out["n_trial_peak_pairs"] = len(trial_peaks)
    # the vision study judges the validation score's relative drop; the language study the test
    # perplexity's absolute rise; any other score (an RMSE) its relative worsening, as accuracy's
    out["crit_final_score"] = bool(out["final_test_change_abs"] >= -MAX_PPL_REGRESSION if is_perplexity(metric)
                                   else out["final_val_change_rel"] >= -MAX_SCORE_DROP)
    compute = [x for x in (out["extra_device_pct"], out["extra_flops_pct"]) if not math.isnan(x)]
    out["crit_compute"] = bool(compute) and max(compute) <= MAX_EXTRA_COMPUTE_PCT
    out["crit_memory"] = bool(out["trial_peak_ratio"] <= MAX_PEAK_RATIO)
    return out


def is_perplexity(metric) -> bool:
    return isinstance(metric, str) and metric.endswith("_ppl")


def criteria_lines(paired: pd.DataFrame) -> list[str]:
    """The strategy's success criteria, one block per comparison, as plain text."""
    lines = []
    n_tests = int(paired[[f"p_{u}" for u in UNITS]].notna().to_numpy().sum()) if "p_epochs" in paired else 0
    for _, r in paired.iterrows():
        name = f"{r['task']}/{r['scheduler']}: {label(r)} vs baseline"
        if not r["n_pairs"]:
            lines.append(f"{name}: {r['note']}")
            continue
        ok = lambda flag: "PASS" if flag else "FAIL"  # noqa: E731
        num = lambda x, f, why="not measured": f"n/a ({why})" if math.isnan(x) else format(x, f)  # noqa: E731
        lines.append(f"{name}, {int(r['n_pairs'])} paired seeds")
        # every pair improving gives the exact two-sided test's smallest p, then Bonferroni
        smallest_p = min(1.0, 2 / 2 ** int(r["n_pairs"]) * n_tests)
        if smallest_p >= MAX_P:
            lines.append(f"  note: with {int(r['n_pairs'])} paired seeds and {n_tests} tests the smallest possible "
                         f"corrected p is {smallest_p:.3g}: the T@tau criterion cannot pass; run more seeds")
        for u in UNITS:
            lines.append(f"  [{ok(r[f'crit_reduction_{u}'])}] T@tau ({u}) reduced >= {MIN_REDUCTION:.0%} "
                         f"with p < {MAX_P}: {num(r[f'reduction_{u}'], '+.1%', 'median not reached')} "
                         f"[95% CI {pct(r[f'reduction_{u}_low'])}, {pct(r[f'reduction_{u}_high'])}], "
                         f"p = {r[f'p_{u}']:.3g} (Bonferroni {r[f'p_bonf_{u}']:.3g})")
        if not is_perplexity(r.get("metric", "val_acc")):
            lines.append(f"  [{ok(r['crit_final_score'])}] best final {MAX_SCORE_DROP:.1%} relative worsening at most: "
                         f"{num(r['final_val_change_rel'], '+.2%')} (positive = better; on test "
                         f"{num(r['final_test_change_rel'], '+.2%')}, {num(r['final_test_change_abs'], '+.3g')})")
        else:
            # 0.0 - x: no "-0" where nothing changed
            lines.append(f"  [{ok(r['crit_final_score'])}] best trial's test perplexity {MAX_PPL_REGRESSION:g} "
                         f"higher at most: {num(0.0 - r['final_test_change_abs'], '+.3g')} (negative = better; its "
                         f"validation score {num(0.0 - r['final_val_change_rel'], '+.2%')})")
        lines.append(f"  [{ok(r['crit_compute'])}] extra compute <= {MAX_EXTRA_COMPUTE_PCT:g}%: "
                     f"{num(r['extra_device_pct'] / 100, '.2%')} of device-seconds, "
                     f"{num(r['extra_flops_pct'] / 100, '.2%')} of FLOPs")
        lines.append(f"  [{ok(r['crit_memory'])}] trial peak memory <= {MAX_PEAK_RATIO:.2f} x the baseline "
                     f"trial's: {num(r['trial_peak_ratio'], '.3f', 'no process peaks recorded')} x (median of "
                     f"{int(r['n_trial_peak_pairs'])} paired trials; one hyper-step's own peak is "
                     f"{num(r['peak_mem_ratio'], '.2f')} x a training step's)")
        for u in UNITS:
            lines.append(f"  [{ok(r[f'crit_std_{u}'])}] std of T@tau ({u}) inflated <= "
                         f"{MAX_STD_RATIO - 1:.0%}: ratio {num(r[f'std_ratio_{u}'], '.2f', 'a seed never reached tau, or one seed')}")
    return lines


def steps_table(collection: Collection) -> pd.DataFrame:
    """Per variant: the size and direction of its hyper-steps (trust.step_measures)."""
    rows = [{**key._asdict(), **step_measures(reps)} for key, reps in collection.groups().items()
            if key.warmstart != BASELINE]
    return pd.DataFrame(rows)


def search_space(rep: Replicate) -> SearchSpace:
    """The replicate's search space, as its task config declared it."""
    return SearchSpace.from_config(rep.record["config"]["task"]["search_space"])


def hyperparams_table(collection: Collection) -> pd.DataFrame:
    """Per variant and continuous hyperparameter: mean shift psi' - x on the search-space
    scale over all trials of all seeds, and KL(adjusted || sampled) between histograms on the
    search space's bounds."""
    rows = []
    for key, reps in collection.groups().items():
        if key.warmstart == BASELINE:
            continue
        per_trial = pd.concat([trials(r.results) for r in reps])
        for spec in search_space(reps[0]):
            if not spec.continuous or column(ADJUSTED, spec.name) not in per_trial:
                continue
            x, psi = (spec.to_scale(per_trial[column(p, spec.name)].astype(float).to_numpy())
                      for p in (SAMPLED, ADJUSTED))
            shift = pd.Series(psi - x)
            rows.append({**key._asdict(), "hyperparameter": spec.name, "n_trials": len(x),
                         "mean_x": x.mean(), "mean_psi": psi.mean(), "mean_shift": shift.mean(),
                         "mean_abs_shift": shift.abs().mean(), "max_abs_shift": shift.abs().max(),
                         "kl_adjusted_vs_sampled": histogram_kl(psi, x, spec.scale_low, spec.scale_high)})
    return pd.DataFrame(rows)


def paired_trials(base: Replicate, var: Replicate) -> list[int]:
    """The trial ids that trial k of the variant and trial k of the baseline share with the same
    sampled x (a scheduler whose sampling depends on results stops pairing them)."""
    tb, tv = trials(base.results), trials(var.results)
    hp = [column(SAMPLED, p.name) for p in search_space(var)]
    return [tid for tid in tv.index.intersection(tb.index)
            if all(_same(tv.loc[tid, c], tb.loc[tid, c]) for c in hp)]


def trial_peak_ratios(base: Replicate, var: Replicate) -> list[float]:
    """Per paired trial: the variant's process peak memory over the baseline's, both at the end
    of the trial's first epoch (its warm-start and one epoch of training, validation and test)."""
    if "process_peak_mb" not in var.results or "process_peak_mb" not in base.results:
        return []
    first = lambda rep: rep.results[rep.results["epoch"] == 1].set_index("trial_id")["process_peak_mb"]  # noqa: E731
    pb, pv = first(base), first(var)
    return [float(pv[t] / pb[t]) for t in paired_trials(base, var) if t in pb.index and t in pv.index and pb[t] > 0]


def trial_benefit(base: Replicate, var: Replicate) -> pd.DataFrame:
    """Trial k of the variant vs trial k of the baseline (same seed, same sampled x): the
    hyper-gradient's norm at x and the difference in validation score at the deepest epoch
    both trials reached."""
    metric = var.record["metric"]
    sign = 1 if var.record["mode"] == "max" else -1
    tb, tv = trials(base.results), trials(var.results)
    names = [p.name for p in search_space(var)]
    hg = [column(HYPERGRADIENT, n) for n in names if column(HYPERGRADIENT, n) in tv]
    rows = []
    for tid in paired_trials(base, var):
        epoch = min(tv.loc[tid, "epoch"], tb.loc[tid, "epoch"])
        score = lambda res: float(res.loc[(res["trial_id"] == tid) & (res["epoch"] == epoch), metric].iloc[-1])  # noqa: E731
        rows.append({"seed": var.seed, "trial_id": tid, "epoch": int(epoch),
                     "hg_norm": float(np.linalg.norm(tv.loc[tid, hg].astype(float).fillna(0.0))),
                     "benefit": sign * (score(var.results) - score(base.results))})
    return pd.DataFrame(rows, columns=["seed", "trial_id", "epoch", "hg_norm", "benefit"])


def _same(a, b) -> bool:
    if isinstance(a, (int, float, np.number)) and isinstance(b, (int, float, np.number)):
        return bool(np.isclose(float(a), float(b)))
    return str(a) == str(b)
