"""The analysis's measures, one registry: each has a name (its column), a unit, a one-line
description and the function that computes it.

- REPLICATE: per replicate (one seed of one variant), from its record and results.csv; summary.csv
  gives the statistics each one lists over seeds.
- PAIRED: per comparison of a variant with its baseline over the seeds both have (paired.csv); the
  protocol's criteria name them (ohgw.analysis.protocol).
- FLOOR: the same comparison beside the A/A control, over the seeds all three have.

A measure defined per unit of cost (T@tau in wall-clock, device-seconds, epochs) or per split (the
final score on validation or test) is one entry per unit or split, named `<base>_<unit>`
(`final_<split>_<...>`); the protocol names its base, and its primary unit or split picks the entry.
Tables, the protocol and the report read this module; adding a measure is one entry here."""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import numpy as np
import pandas as pd

from ohgw.analysis.intervals import bootstrap_reduction, hodges_lehmann, log_ratios, reduction
from ohgw.analysis.metrics import (CLASS_SCORES, ITERATIONS, UNIT_LABELS, UNITS, arrival_order, auc_epochs, overhead,
                                   progress, quantile, row_column, time_to_target, trials)
from ohgw.analysis.stats import wilcoxon_censored

LEVEL = 0.95        # confidence level of every interval
SPLITS = ("val", "test")


OOD_PPL, ECE = row_column("ood_ppl"), row_column("val_ece_top10")


def per(base: str, key: str) -> str:
    """The column of a measure defined per unit: reduction + epochs -> reduction_epochs."""
    return f"{base}_{key}"


def bounds(name: str) -> tuple[str, str]:
    """The columns of an interval's ends."""
    return f"{name}_low", f"{name}_high"


@dataclass(frozen=True)
class Measure:
    name: str
    unit: str
    description: str
    function: Callable
    stats: tuple[str, ...] = ("median",)  # replicate measures: the statistics summary.csv gives over seeds
    shown: tuple[str, ...] = ()           # replicate: the statistics the report shows; else ("value",) if shown
    columns: tuple[str, ...] = ()         # several columns computed at once (an interval); default (name,)
    base: str = ""                        # defined per unit or split: the name the protocol uses ...
    key: str = ""                         # ... and this entry's unit or split
    cap: str = ""                         # T@tau: the replicate measure of the cost consumed in the same unit

    @property
    def out(self) -> tuple[str, ...]:
        return self.columns or (self.name,)

    def generic(self, text: str) -> str:
        """`text` (a column) with this entry's unit or split as a placeholder."""
        if not self.key:
            return text
        return text.replace(self.key, "<unit>" if self.key in (*UNITS, ITERATIONS) else "<split>", 1)


def compute(registry: dict, subject) -> dict:
    """Every measure of `registry` on `subject`, column by column; a measure that does not apply
    to it (None) is left out."""
    out = {}
    for m in registry.values():
        value = m.function(subject)
        if value is None:
            continue
        out.update(zip(m.out, value) if len(m.out) > 1 else {m.name: value})
    return out


# -- per replicate -------------------------------------------------------------------------------

class Seen:
    """One replicate as its measures read it: what several measures share is computed once."""

    def __init__(self, rep):
        self.record, self.results = rep.record, rep.results

    @cached_property
    def progress(self) -> pd.DataFrame:
        return progress(self.results, self.record)

    @cached_property
    def times(self) -> dict[str, float]:
        return time_to_target(self.progress, float(self.record["tau"]), self.record["mode"], (*UNITS, ITERATIONS))

    @cached_property
    def best(self):
        """The report (a row of progress) with the best validation score; None without reports."""
        p = self.progress
        if p.empty:
            return None
        return p.loc[p["score"].idxmax() if self.record["mode"] == "max" else p["score"].idxmin()]

    @cached_property
    def device_s(self) -> float:
        return float(self.progress["device_s"].iloc[-1]) if len(self.progress) else 0.0

    @cached_property
    def overhead(self) -> dict[str, float]:
        return overhead(self.results, self.device_s)

    def of_best(self, column: str) -> float | None:
        """`column` of the best report; None where results.csv has no such column."""
        if column not in self.results or self.best is None:
            return None
        return float(arrival_order(self.results).loc[self.best.name, column])


_T_WORDS = {"wallclock_s": "seconds of the tuning loop",
            "device_s": "device-seconds (each trial's process time, start-up included, summed over trials)",
            "epochs": "epochs consumed (reports received)", ITERATIONS: "trials started (distinct trial ids reported)"}


def _t(unit: str, cap: str) -> Measure:
    in_tables = unit in UNITS  # trials started: the searcher comparison's cost only
    return Measure(per("t", unit), UNIT_LABELS[unit],
                   f"T@tau: {_T_WORDS[unit]} until the best-so-far validation score first reached tau; inf = never "
                   "(censored); std: censored seeds counted at the cost their replicate consumed",
                   lambda s: s.times[unit], stats=("median", "q25", "q75", "std") if in_tables else (),
                   shown=("median", "q25", "q75", "std") if unit == "epochs" else ("median",) if in_tables else (),
                   base="t", key=unit, cap=cap)


def _best_score(column: str) -> Callable:
    return lambda s: math.nan if s.best is None else float(s.best[column])


def _best_ood(s: Seen) -> float | None:
    return float(s.results[OOD_PPL].min()) if OOD_PPL in s.results and s.best is not None else None


def _ece_of_best(s: Seen) -> float | None:
    if ECE not in s.results or s.best is None:
        return None
    return float(trials(s.results).loc[s.best["trial_id"], ECE])


def _class_score(column: str) -> Measure:
    return Measure(f"{column}_of_best", "score", f"classifiers: macro {column[len('test_'):]} on the test split of "
                   "the best validation report", lambda s: s.of_best(row_column(column)),
                   shown=("median",) if column == "test_f1" else ())


_REPLICATE = [
    _t("wallclock_s", "wallclock_used_s"), _t("device_s", "device_s"), _t("epochs", "epochs_used"), _t(ITERATIONS, ""),
    Measure("best_val", "score", "best validation score over all reports of the replicate (its metric)",
            _best_score("score"), stats=("median", "q25", "q75"), shown=("median",)),
    Measure("test_of_best", "score", "test score of the report with the best validation score",
            _best_score("test"), stats=("median", "q25", "q75"), shown=("median",)),
    Measure("auc_epochs", "score", "mean best-so-far score after each epoch consumed (the area under the "
            "best-so-far curve per epoch)", lambda s: auc_epochs(s.progress["best"]), shown=("median",)),
    Measure("ws_device_pct", "%", "the warm-start's seconds, all trials, as a share of the replicate's "
            "device-seconds", lambda s: s.overhead["ws_device_pct"], shown=("median",)),
    Measure("ws_flops_pct", "%", "the warm-start's FLOPs as a share of the trials' training FLOPs (step_flops x "
            "each trial's train_steps)", lambda s: s.overhead["ws_flops_pct"]),
    Measure("ws_step_equiv", "training steps", "FLOPs of one trial's warm-start in units of one training step",
            lambda s: s.overhead["ws_step_equiv"], shown=("median",)),
    Measure("peak_mem_ratio", "x", "peak memory of one hyper-step over a normal training step's peak",
            lambda s: s.overhead["peak_mem_ratio"], shown=("median",)),
    Measure("device_s", "device-s", "device-seconds the replicate consumed in all", lambda s: s.device_s),
    Measure("epochs_used", "epochs", "epochs the replicate consumed in all", lambda s: len(s.progress)),
    Measure("wallclock_used_s", "s", "seconds of the tuning loop at its last report",
            lambda s: float(s.progress["wallclock_s"].iloc[-1]) if len(s.progress) else 0.0),
    Measure("best_ood_ppl", "perplexity", "language models: the lowest out-of-distribution perplexity of any "
            "report", _best_ood, shown=("median",)),
    Measure("ece_of_best", "", "language models: the best trial's expected calibration error over the top-10 "
            "token probabilities (at its last report)", _ece_of_best, shown=("median",)),
    *(_class_score(c) for c in CLASS_SCORES),
]
REPLICATE = {m.name: m for m in _REPLICATE}


def replicate_measures(rep) -> dict:
    """Every replicate measure of one replicate, and its seed."""
    return {"seed": rep.seed, **compute(REPLICATE, Seen(rep))}


def capped(frame: pd.DataFrame, name: str) -> np.ndarray:
    """The censoring rule of T@tau's spread: a seed that never reached tau (inf) counts at the cost
    its replicate consumed in the same unit, a lower bound of its T@tau, so that the std is that of
    T@tau capped at the budget spent. Any other measure as it is."""
    values = frame[name].to_numpy(float)
    cap = REPLICATE[name].cap if name in REPLICATE else ""
    if not cap or cap not in frame:
        return values
    return np.where(np.isinf(values), frame[cap].to_numpy(float), values)


def capped_std(frame: pd.DataFrame, name: str) -> float:
    """Seed-wise std (ddof=1) under the censoring rule (`capped`); NaN with fewer than 2 seeds."""
    v = capped(frame, name)
    v = v[~np.isnan(v)]
    return float(np.std(v, ddof=1)) if len(v) > 1 else math.nan


STATS = {"median": lambda f, n: quantile(f[n], 0.5), "q25": lambda f, n: quantile(f[n], 0.25),
         "q75": lambda f, n: quantile(f[n], 0.75), "std": capped_std}


def summarise(frame: pd.DataFrame) -> dict:
    """summary.csv's statistics of each replicate measure over the seeds (rows) of `frame`."""
    return {f"{name}_{stat}": STATS[stat](frame, name) for name, m in REPLICATE.items() if name in frame
            for stat in m.stats}


def shown(registry: dict, columns) -> list[str]:
    """The columns of `registry`'s measures that the report shows, in the registry's order, of those in
    `columns`."""
    out = []
    for m in registry.values():
        names = [f"{m.name}_{stat}" for stat in m.shown] if registry is REPLICATE else list(m.out) if m.shown else []
        out += [c for c in names if c in columns]
    return out


# -- per comparison: a variant against its baseline ----------------------------------------------

@dataclass
class Pair:
    """A variant's (v) and its baseline's (b) per-seed measures, rows aligned by seed; `mode`:
    whether a larger score is better; `trial_peaks`: each paired trial's process peak memory over
    the baseline trial's."""
    b: pd.DataFrame
    v: pd.DataFrame
    mode: str = "max"
    trial_peaks: tuple = ()

    def times(self, unit: str) -> tuple[np.ndarray, np.ndarray]:
        return self.b[per("t", unit)].to_numpy(float), self.v[per("t", unit)].to_numpy(float)


def _std_ratio(pair: Pair, unit: str) -> float:
    sb, sv = capped_std(pair.b, per("t", unit)), capped_std(pair.v, per("t", unit))
    if math.isnan(sb) or math.isnan(sv):
        return math.nan
    if sb == 0:  # equal times on every seed are not inflated by equal times again
        return 1.0 if sv == 0 else math.inf
    return sv / sb


def _hl(pair: Pair, unit: str) -> tuple[float, float, float]:
    """The Hodges-Lehmann shift of log(T_v/T_b) as a reduction, 1 - exp(shift): the interval flips."""
    shift, low, high = hodges_lehmann(log_ratios(*pair.times(unit)), LEVEL)
    as_reduction = lambda x: math.nan if math.isnan(x) else 1 - math.exp(x)  # noqa: E731
    return (as_reduction(shift) if math.isfinite(shift) else math.nan), as_reduction(high), as_reduction(low)


def _spread(pair: Pair, unit: str) -> float:
    ratios = log_ratios(*pair.times(unit))
    return float(np.std(ratios, ddof=1)) if len(ratios) > 1 else math.nan


def _final_change(split: str, relative: bool) -> Callable:
    column = "best_val" if split == "val" else "test_of_best"
    sign = lambda pair: 1 if pair.mode == "max" else -1  # noqa: E731 - positive = better, minimised too

    def change(pair: Pair) -> float:
        diff = sign(pair) * (pair.v[column] - pair.b[column])
        return quantile(diff / pair.b[column] if relative else diff, 0.5)
    return change


def _per_unit(u: str) -> list[Measure]:
    reduction_u = per("reduction", u)
    return [
        Measure(reduction_u, "share", "1 - median(variant) / median(baseline) of T@tau over the paired seeds "
                "(positive = faster); NaN where the baseline's median is censored",
                lambda p: reduction(*p.times(u)), shown=("value",), base="reduction", key=u),
        Measure(reduction_u + "_ci", "share", f"{LEVEL:.0%} percentile bootstrap interval of the reduction, "
                "resampling seed pairs (4000 resamples, fixed seed); a resample whose baseline median is censored "
                "counts as -inf", lambda p: bootstrap_reduction(*p.times(u), LEVEL), shown=("value",),
                columns=bounds(reduction_u), base="reduction_ci", key=u),
        Measure(per("p", u), "p", "two-sided paired Wilcoxon signed-rank p of T@tau (censored ranked worse than "
                "every reached time; zero differences dropped), uncorrected", lambda p: wilcoxon_censored(*p.times(u)),
                base="p", key=u),
        Measure(per("std_ratio", u), "x", "seed-wise std of T@tau, variant over baseline, censored seeds counted at "
                "the cost their replicate consumed (T@tau capped at the budget spent); 1 where both are 0",
                lambda p: _std_ratio(p, u), base="std_ratio", key=u),
        Measure(per("hl_reduction", u), "share", "1 - exp(Hodges-Lehmann estimate of the paired "
                f"log(T_variant/T_baseline)), with its exact {LEVEL:.0%} interval from the signed-rank distribution, "
                "over the pairs where both reached tau", lambda p: _hl(p, u),
                columns=(per("hl_reduction", u), *bounds(per("hl_reduction", u))), base="hl_reduction", key=u),
        Measure(per("spread", u), "log-ratio", "std of the paired log(T_variant/T_baseline) over the pairs that "
                "both reached tau", lambda p: _spread(p, u), base="spread", key=u),
        Measure(per("n_reached_pairs", u), "seeds", "paired seeds in which both reached tau",
                lambda p: len(log_ratios(*p.times(u))), base="n_reached_pairs", key=u),
    ]


def _per_split(split: str) -> list[Measure]:
    final = "the final score on the split (validation: the best validation score; test: the test score of the " \
            "best validation report)"
    return [
        Measure(f"final_{split}_change_rel", "share", f"median over seeds of the relative change of {final}, "
                "(variant - baseline) / baseline, signed so that positive = better", _final_change(split, True),
                shown=("value",), base="final_change_rel", key=split),
        Measure(f"final_{split}_change_abs", "score", f"median over seeds of the change of {final}, signed so that "
                "positive = better (a perplexity's fall)", _final_change(split, False),
                base="final_change_abs", key=split),
    ]


_PAIRED = [
    *(m for u in UNITS for m in _per_unit(u)),
    *(m for s in SPLITS for m in _per_split(s)),
    Measure("extra_device_pct", "%", "median over seeds of the warm-start's share of the replicate's "
            "device-seconds", lambda p: quantile(p.v["ws_device_pct"], 0.5), shown=("value",)),
    Measure("extra_flops_pct", "%", "median over seeds of the warm-start's share of the training FLOPs",
            lambda p: quantile(p.v["ws_flops_pct"], 0.5)),
    Measure("peak_mem_ratio", "x", "median over seeds of a hyper-step's peak memory over a training step's",
            lambda p: quantile(p.v["peak_mem_ratio"], 0.5), shown=("value",)),
    Measure("trial_peak_ratio", "x", "median over paired trials of the trial process's peak memory (CUDA "
            "max-allocated, or the peak resident set on CPU) after its first epoch over the baseline trial's",
            lambda p: quantile(list(p.trial_peaks), 0.5), shown=("value",)),
    Measure("n_trial_peak_pairs", "trials", "paired trials with a process peak in both",
            lambda p: len(p.trial_peaks)),
]
PAIRED = {m.name: m for m in _PAIRED}


def paired_measures(pair: Pair) -> dict:
    """Every paired measure of one comparison."""
    return compute(PAIRED, pair)


# -- beside the A/A control (the noise floor) -------------------------------------------------------

@dataclass
class Trio:
    """Baseline (b), A/A control (aa) and variant (v) per-seed measures over the seeds all three have."""
    b: pd.DataFrame
    aa: pd.DataFrame
    v: pd.DataFrame

    def t(self, which: str, unit: str) -> np.ndarray:
        return getattr(self, which)[per("t", unit)].to_numpy(float)


def _floor_unit(u: str) -> list[Measure]:
    return [
        Measure(per("floor", u), "share", "the noise floor: the A/A control's reduction of T@tau against the "
                "baseline", lambda s: reduction(s.t("b", u), s.t("aa", u)), shown=("value",), base="floor", key=u),
        Measure(per("floor", u) + "_ci", "share", "its bootstrap interval",
                lambda s: bootstrap_reduction(s.t("b", u), s.t("aa", u), LEVEL), columns=bounds(per("floor", u)),
                base="floor_ci", key=u),
        Measure(per("vs_floor", u), "share", "the variant's reduction of T@tau against the A/A control",
                lambda s: reduction(s.t("aa", u), s.t("v", u)), shown=("value",), base="vs_floor", key=u),
        Measure(per("vs_floor", u) + "_ci", "share", "its bootstrap interval",
                lambda s: bootstrap_reduction(s.t("aa", u), s.t("v", u), LEVEL), shown=("value",),
                columns=bounds(per("vs_floor", u)), base="vs_floor_ci", key=u),
        Measure(per("p_vs_floor", u), "p", "paired Wilcoxon p of the variant against the A/A control, uncorrected",
                lambda s: wilcoxon_censored(s.t("aa", u), s.t("v", u)), base="p_vs_floor", key=u),
    ]


_FLOOR = [Measure("n_floor_pairs", "seeds", "seeds the baseline, the A/A control and the variant share",
                  lambda s: len(s.v), shown=("value",)),
          *(m for u in UNITS for m in _floor_unit(u))]
FLOOR = {m.name: m for m in _FLOOR}


def floor_measures(trio: Trio) -> dict:
    return compute(FLOOR, trio)


# -- naming a measure ---------------------------------------------------------------------------------

def column_of(name: str, unit: str, split: str, registry: dict = PAIRED) -> str:
    """The column a protocol's measure `name` judges: the measure itself, or for one defined per unit
    or split (its base) the entry of `unit` or `split`. KeyError if the registry has neither."""
    judged = {m.name: m for m in registry.values() if m.name in m.out}  # an interval's ends are not one value
    if name in judged:
        return name
    for m in judged.values():
        if m.base == name and m.key in (unit, split):
            return m.name
    raise KeyError(name)


def judgeable(registry: dict = PAIRED) -> list[str]:
    """The names a protocol's criterion may give: single-valued measures, by their base where defined
    per unit or split."""
    return sorted({m.base or m.name for m in registry.values() if m.name in m.out})


def definitions(registries=(REPLICATE, PAIRED, FLOOR)) -> list[str]:
    """One line per measure, one for all units or splits of a measure defined per unit or split: what
    the report's definitions list."""
    lines, done = [], set()
    for registry in registries:
        for m in registry.values():
            if m.generic(m.name) in done:
                continue
            done.add(m.generic(m.name))
            names = ", ".join(m.generic(c) for c in m.out)
            lines.append(f"- **{names}**" + (f" ({m.unit})" if m.unit else "") + f": {m.description}")
    return lines
