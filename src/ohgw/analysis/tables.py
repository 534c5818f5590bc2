"""The tables: summary.csv (per variant), paired.csv (variant vs baseline over shared seeds, judged
by the protocol), steps.csv and hyperparams.csv (shift of psi' from x). Their measures come from one
registry (ohgw.analysis.measures)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ohgw.analysis.collect import BASELINE, Collection, GroupKey, Replicate, task_label
from ohgw.analysis.measures import (FLOOR, LEVEL, PAIRED, Pair, Trio, floor_measures, paired_measures, per,
                                    replicate_measures, summarise)
from ohgw.analysis.metrics import EPOCH, PROCESS_PEAK, TRIAL_ID, UNITS, trials
from ohgw.analysis.protocol import Protocol, judge, noisy
from ohgw.analysis.stats import histogram_kl
from ohgw.analysis.trust import add_floor_verdicts, add_power, label, pct, step_measures
from ohgw.hyperparams.space import SearchSpace
from ohgw.results.contract import ADJUSTED, HYPERGRADIENT, SAMPLED, column


def measures(collection: Collection) -> dict[GroupKey, pd.DataFrame]:
    """Per variant: one row of replicate measures per seed, indexed by seed."""
    return {key: pd.DataFrame([replicate_measures(r) for r in reps]).set_index("seed")
            for key, reps in collection.groups().items()}


def summary_table(collection: Collection, per_seed: dict[GroupKey, pd.DataFrame]) -> pd.DataFrame:
    rows = []
    for key, m in per_seed.items():
        rep = collection.groups()[key][0]
        rows.append({**key._asdict(), "role": collection.role(key), "n_seeds": len(m),
                     "seeds": " ".join(map(str, m.index)), "tau": rep.record["tau"], "metric": rep.record["metric"],
                     "n_censored": int(np.isinf(m[per("t", "epochs")]).sum()), **summarise(m)})
    return pd.DataFrame(rows)


def paired_table(collection: Collection, per_seed: dict[GroupKey, pd.DataFrame], protocol: Protocol) -> pd.DataFrame:
    """Each variant vs its baseline over the seeds both have, judged by the protocol; a variant with no
    baseline (or no shared seed) gets a row that says so and no statistics."""
    rows = []
    for key, m in per_seed.items():
        role = collection.role(key)
        if role == BASELINE:
            continue
        base_key, floor_key = collection.baseline_of(key), collection.floor_of(key)
        first = collection.groups()[key][0]
        row = {"task": key.task, "scheduler": key.scheduler, "warmstart": key.warmstart, "eta_h": key.eta_h,
               "role": role, "metric": first.record["metric"], "mode": first.record["mode"]}
        seeds = [] if base_key is None else sorted(set(m.index) & set(per_seed[base_key].index))
        if not seeds:
            row.update(n_pairs=0, note="unpaired: no baseline replicate" + (
                "" if base_key is None else " with a shared seed"))
            rows.append(row)
            continue
        reps = {k: {r.seed: r for r in collection.groups()[k]} for k in (base_key, key)}
        peaks = tuple(x for s in seeds for x in trial_peak_ratios(reps[base_key][s], reps[key][s]))
        row.update(n_pairs=len(seeds), seeds=" ".join(map(str, seeds)), note="",
                   **paired_measures(Pair(per_seed[base_key].loc[seeds], m.loc[seeds], row["mode"], peaks)))
        if floor_key is not None and floor_key != key:
            shared = sorted(set(seeds) & set(per_seed[floor_key].index))
            if shared:
                row.update(floor_measures(Trio(per_seed[base_key].loc[shared], per_seed[floor_key].loc[shared],
                                               m.loc[shared])))
        rows.append(row)
    noisy_tasks = {task_label(r.record) for r in collection.replicates
                   if noisy(r.record.get("config", {}).get("task", {}))}
    table = judge(pd.DataFrame(rows), protocol, noisy_tasks)
    if "n_pairs" in table and (table["n_pairs"] > 0).any():
        add_power(table, protocol.primary_unit, table.attrs["corrected_alpha"])
        add_floor_verdicts(table, protocol.primary_unit, protocol.alpha)
    return table


def criteria_lines(paired: pd.DataFrame, protocol: Protocol) -> list[str]:
    """The protocol's success criteria, one block per comparison, as plain text: the primary unit's
    criteria judged, the other units' reductions beside them."""
    lines = []
    u = protocol.primary_unit
    m = paired.attrs.get("m", 0)
    for _, r in paired.iterrows():
        name = f"{r['task']}/{r['scheduler']}: {label(r)} vs baseline"
        if not r["n_pairs"]:
            lines.append(f"{name}: {r['note']}")
            continue
        family = "in the protocol's family" if r["in_family"] else f"role {r['role']}: outside the protocol's family"
        lines.append(f"{name}, {int(r['n_pairs'])} paired seeds ({family})")
        if r["in_family"]:
            # every pair improving gives the exact two-sided test's smallest p, then Bonferroni
            smallest_p = min(1.0, 2 / 2 ** int(r["n_pairs"]) * max(m, 1))
            if smallest_p >= protocol.alpha:
                lines.append(f"  note: with {int(r['n_pairs'])} paired seeds and m = {m} the smallest possible "
                             f"corrected p is {smallest_p:.3g}: a significance criterion cannot pass; run more seeds")
        for c in protocol.criteria:
            verdict = r.get(f"crit_{c.name}")
            if verdict is None or (isinstance(verdict, float) and math.isnan(verdict)):
                continue
            column_name = protocol.column(c)
            sig = f" and Bonferroni p < {protocol.alpha:g}" if c.significant else ""
            lines.append(f"  [{'PASS' if verdict else 'FAIL'}] {c.name}: {column_name} {c.bound()}{sig}: "
                         f"{_value(r, column_name)}" + (_test_text(r, u) if c.significant else ""))
        others = [f"{v}: {pct(r[per('reduction', v)])} [{pct(r[per('reduction', v) + '_low'])}, "
                  f"{pct(r[per('reduction', v) + '_high'])}], p = {r[per('p', v)]:.3g}" for v in UNITS if v != u]
        lines.append(f"  (not judged) T@tau in {', '.join(others)} (uncorrected)")
    return lines


def _value(r, column_name: str) -> str:
    """A measure's value as the report prints it, with its interval where it has one."""
    value = r.get(column_name, math.nan)
    if not isinstance(value, (int, float)) or math.isnan(value):
        return "n/a (not measured)"
    unit = (PAIRED.get(column_name) or FLOOR.get(column_name)).unit
    text = pct(value) if unit == "share" else f"{value:.3g}%" if unit == "%" else f"{value:.3g}"
    low, high = r.get(column_name + "_low"), r.get(column_name + "_high")
    return text + (f" [{LEVEL:.0%} CI {pct(low)}, {pct(high)}]" if low is not None and unit == "share" else "")


def _test_text(r, u: str) -> str:
    return f", p = {r[per('p', u)]:.3g} (Bonferroni {r[per('p_bonf', u)]:.3g})"


def steps_table(collection: Collection) -> pd.DataFrame:
    """Per variant: the size and direction of its hyper-steps (trust.step_measures)."""
    rows = [{**key._asdict(), "role": collection.role(key), **step_measures(reps)}
            for key, reps in collection.groups().items() if collection.role(key) != BASELINE]
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
        if collection.role(key) == BASELINE:
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
    if PROCESS_PEAK not in var.results or PROCESS_PEAK not in base.results:
        return []
    first = lambda rep: rep.results[rep.results[EPOCH] == 1].set_index(TRIAL_ID)[PROCESS_PEAK]  # noqa: E731
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
        epoch = min(tv.loc[tid, EPOCH], tb.loc[tid, EPOCH])
        score = lambda res: float(res.loc[(res[TRIAL_ID] == tid) & (res[EPOCH] == epoch), metric].iloc[-1])  # noqa: E731
        rows.append({"seed": var.seed, "trial_id": tid, "epoch": int(epoch),
                     "hg_norm": float(np.linalg.norm(tv.loc[tid, hg].astype(float).fillna(0.0))),
                     "benefit": sign * (score(var.results) - score(base.results))})
    return pd.DataFrame(rows, columns=["seed", "trial_id", "epoch", "hg_norm", "benefit"])


def _same(a, b) -> bool:
    if isinstance(a, (int, float, np.number)) and isinstance(b, (int, float, np.number)):
        return bool(np.isclose(float(a), float(b)))
    return str(a) == str(b)
