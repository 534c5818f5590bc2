"""The study's statistical protocol as data, and its application to the paired table.

An experiment config declares it (`protocol:`, on top of conf/protocol/strategy.yaml, the strategy's
defaults); every replicate records it in its config, and a record without one is judged by the
strategy's defaults. It says:

- the primary unit: the T@tau unit the criteria judge (the others are reported, not judged);
- alpha, and the Bonferroni family: the primary-unit tests against the baseline of the variants whose
  role is in `family`, corrected by m (declared, or the number of tests found);
- the success criteria: each names a paired measure of the registry (ohgw.analysis.measures) and a
  bound, `significant` adds "and the family's corrected p below alpha", `when` restricts it to clean
  or noisy data (label or token noise);
- the split the final score is judged on;
- the verdict: the share of the treatments' comparisons (the study's tuples) in which every
  criterion holds, against `verdict_share`;
- how an eta_h sweep's sensitivity curve is fitted (ohgw.analysis.sensitivity)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from ohgw import CONF_DIR
from ohgw.analysis.collect import AnalysisError, Collection, TREATMENT
from ohgw.analysis.measures import SPLITS, UNITS, column_of, judgeable, per
from ohgw.analysis.trust import label
from ohgw.warmstart.variants import ROLES

STRATEGY = CONF_DIR / "protocol" / "strategy.yaml"
WHEN = ("any", "clean", "noisy")
NOISE_SETTINGS = ("label_noise", "token_noise")  # data conditions that make data noisy (`when: noisy`)
FITS = ("loess", "spline")
KEYS = ("primary_unit", "alpha", "family", "m", "final_split", "verdict_share", "criteria", "sensitivity")
CRITERION_KEYS = ("measure", "min", "max", "significant", "when")


@dataclass(frozen=True)
class Criterion:
    name: str
    measure: str                 # a paired measure, or the base of one defined per unit or split
    min: float | None = None
    max: float | None = None
    significant: bool = False    # also: the family's corrected p of the primary unit below alpha
    when: str = "any"

    def bound(self) -> str:
        parts = ([] if self.min is None else [f">= {self.min:g}"]) + ([] if self.max is None else [f"<= {self.max:g}"])
        return " and ".join(parts)


@dataclass(frozen=True)
class Sensitivity:
    fit: str = "loess"
    frac: float = 0.8
    near: float = 0.9


@dataclass(frozen=True)
class Protocol:
    primary_unit: str
    alpha: float
    family: tuple[str, ...]
    m: int | None
    final_split: str
    verdict_share: float
    criteria: tuple[Criterion, ...]
    sensitivity: Sensitivity
    source: str                  # where it came from: the records' config, or the strategy's defaults

    def column(self, criterion: Criterion) -> str:
        return column_of(criterion.measure, self.primary_unit, self.final_split)

    @property
    def p(self) -> str:
        return per("p", self.primary_unit)

    @property
    def p_bonf(self) -> str:
        return per("p_bonf", self.primary_unit)

    def lines(self, m_used: int | None = None, found: int | None = None) -> list[str]:
        """The protocol in words, for the report."""
        m = "as many as found" if self.m is None else f"{self.m}, as declared"
        if m_used is not None:
            m = f"{m_used}" + (f" (declared; {found} found)" if self.m is not None else " (the tests found)")
        out = [f"source: {self.source}",
               f"primary unit: T@tau in {self.primary_unit} (the other units are reported, not judged)",
               f"alpha {self.alpha:g}; Bonferroni family: the {self.primary_unit} test against the baseline of each "
               f"variant whose role is {' or '.join(self.family)}; m = {m}",
               f"final score judged on the {self.final_split} split",
               "criteria:"]
        for c in self.criteria:
            sig = f", and Bonferroni p < {self.alpha:g}" if c.significant else ""
            where = "" if c.when == "any" else f" ({c.when} data only)"
            out.append(f"  {c.name}: {self.column(c)} {c.bound()}{sig}{where}")
        out.append("  censoring: T@tau of a seed that never reached tau is ranked worse than every reached one by "
                   "the Wilcoxon test and the medians; its spread (std) counts it at the cost its replicate "
                   "consumed (T@tau capped at the budget spent)")
        out.append(f"verdict: the study holds where every criterion holds in at least {self.verdict_share:.0%} of "
                   "its tuples (the treatments' comparisons)")
        return out


def _fail(where: str, why: str):
    raise AnalysisError(f"protocol ({where}): {why}")


def _number(value, name: str, where: str, low=-math.inf, high=math.inf, low_open=False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < low or value > high or (low_open and value == low):
        _fail(where, f"{name} must be a number in {'(' if low_open else '['}{low:g}, {high:g}], not {value!r}")
    return float(value)


def from_mapping(data: dict, source: str) -> Protocol:
    """The protocol a config declares; AnalysisError naming the first bad entry."""
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        _fail(source, f"unknown entries {unknown}; a protocol has {list(KEYS)}")
    missing = [k for k in KEYS if k not in data]
    if missing:
        _fail(source, f"missing entries {missing}")
    if data["primary_unit"] not in UNITS:
        _fail(source, f"primary_unit must be one of {UNITS}, not {data['primary_unit']!r}")
    if data["final_split"] not in SPLITS:
        _fail(source, f"final_split must be one of {SPLITS}, not {data['final_split']!r}")
    family = data["family"]
    if not family or isinstance(family, str) or any(r not in ROLES or r == "baseline" for r in family):
        _fail(source, f"family must be a list of roles from {[r for r in ROLES if r != 'baseline']}, not {family!r}")
    m = data["m"]
    if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 1):
        _fail(source, f"m must be a whole number >= 1 or null, not {m!r}")
    criteria = []
    for name, spec in (data["criteria"] or {}).items():
        if spec is None:  # a study that drops one of the strategy's criteria
            continue
        what = f"criteria.{name}"
        bad = sorted(set(spec) - set(CRITERION_KEYS))
        if bad:
            _fail(source, f"{what}: unknown entries {bad}; a criterion has {list(CRITERION_KEYS)}")
        try:
            column_of(spec.get("measure"), data["primary_unit"], data["final_split"])
        except KeyError:
            _fail(source, f"{what}: measure {spec.get('measure')!r} is not a paired measure of the registry "
                          f"({', '.join(judgeable())})")
        if spec.get("min") is None and spec.get("max") is None:
            _fail(source, f"{what}: needs a bound, min or max")
        bounds = {k: _number(spec[k], f"{what}.{k}", source) for k in ("min", "max") if spec.get(k) is not None}
        if spec.get("when", "any") not in WHEN:
            _fail(source, f"{what}: when must be one of {WHEN}, not {spec.get('when')!r}")
        criteria.append(Criterion(name, spec["measure"], bounds.get("min"), bounds.get("max"),
                                  bool(spec.get("significant", False)), spec.get("when", "any")))
    if not criteria:
        _fail(source, "no criteria")
    sens = dict(data["sensitivity"] or {})
    bad = sorted(set(sens) - {"fit", "frac", "near"})
    if bad:
        _fail(source, f"sensitivity has unknown entries {bad}")
    fit = sens.get("fit", Sensitivity.fit)
    if fit not in FITS:
        _fail(source, f"sensitivity.fit must be one of {FITS}, not {fit!r}")
    return Protocol(data["primary_unit"], _number(data["alpha"], "alpha", source, 0, 1, low_open=True),
                    tuple(family), m, data["final_split"],
                    _number(data["verdict_share"], "verdict_share", source, 0, 1, low_open=True), tuple(criteria),
                    Sensitivity(fit, _number(sens.get("frac", Sensitivity.frac), "sensitivity.frac", source, 0, 1,
                                             low_open=True),
                                _number(sens.get("near", Sensitivity.near), "sensitivity.near", source, 0, 1,
                                        low_open=True)),
                    source)


def strategy() -> dict:
    """The strategy's defaults (conf/protocol/strategy.yaml)."""
    return OmegaConf.to_container(OmegaConf.load(STRATEGY), resolve=True)


def protocol_of(collection: Collection) -> Protocol:
    """The protocol the replicates' configs declare (the strategy's defaults for records without
    one); AnalysisError when two replicates declare different ones."""
    first = None
    for rep in collection.replicates:
        declared = rep.record.get("config", {}).get("protocol")
        if first is None:
            first = (rep, declared)
        elif declared != first[1]:
            raise AnalysisError(f"replicates declare different protocols: {first[0].path} and {rep.path}; "
                                "analyse them separately")
    declared = first[1] if first else None
    if declared is None:
        return from_mapping(strategy(), "the strategy's defaults (the records declare none)")
    return from_mapping(declared, "declared in the replicates' config")


def noisy(task_settings: dict) -> bool:
    return any(task_settings.get(name) for name in NOISE_SETTINGS)


def applies(criterion: Criterion, is_noisy: bool) -> bool:
    return criterion.when == "any" or (criterion.when == "noisy") == is_noisy


def judge(table: pd.DataFrame, protocol: Protocol, noisy_tasks: set[str]) -> pd.DataFrame:
    """Add the family (in_family), its Bonferroni correction of the primary unit's p (p_bonf_<unit>,
    only for the family's rows), one crit_<name> column per criterion (True / False; empty where it
    does not apply: other data, or a significance the family does not judge) and meets_all.
    AnalysisError when the family holds more tests than the m the protocol declares."""
    table = table.copy()
    if table.empty or "n_pairs" not in table:
        table.attrs.update(m=0, found=0)
        return table
    has_p = table[protocol.p].notna() if protocol.p in table else pd.Series(False, index=table.index)
    table["in_family"] = table["role"].isin(protocol.family) & (table["n_pairs"] > 0) & has_p
    found = int(table["in_family"].sum())
    if protocol.m is not None and found > protocol.m:
        raise AnalysisError(f"the protocol declares a family of m = {protocol.m} tests, but {found} comparisons "
                            f"of roles {list(protocol.family)} have a {protocol.primary_unit} test here; analyse "
                            "the studies separately, or declare the family they make together")
    m = protocol.m if protocol.m is not None else found
    table[protocol.p_bonf] = np.where(table["in_family"], np.minimum(1.0, table.get(protocol.p, np.nan) * max(m, 1)),
                                      np.nan)
    for c in protocol.criteria:
        table[f"crit_{c.name}"] = [_holds(c, protocol, row, row["task"] in noisy_tasks) for _, row in table.iterrows()]
    crit = [f"crit_{c.name}" for c in protocol.criteria]
    applicable = [[r[k] for k in crit if r[k] is not None] for _, r in table.iterrows()]
    table["meets_all"] = [bool(in_family) and bool(a) and all(a)
                          for in_family, a in zip(table["in_family"], applicable)]
    table.attrs.update(m=m, found=found, corrected_alpha=protocol.alpha / max(m, 1))
    return table


def _holds(c: Criterion, protocol: Protocol, row, is_noisy: bool) -> bool | None:
    """Whether the criterion holds for the row; None where it does not apply (other data, no pairs,
    or a significance asked of a row outside the family)."""
    if not applies(c, is_noisy) or not row.get("n_pairs"):
        return None
    if c.significant and not row["in_family"]:
        return None
    value = row.get(protocol.column(c), math.nan)
    ok = isinstance(value, (int, float)) and not math.isnan(value)
    ok = ok and (c.min is None or value >= c.min) and (c.max is None or value <= c.max)
    if c.significant:
        ok = ok and row[protocol.p_bonf] < protocol.alpha
    return bool(ok)


def tuples(table: pd.DataFrame) -> pd.DataFrame:
    """The study's tuples: the treatments' comparisons (task, scheduler, variant, eta_h)."""
    return table[table["role"] == TREATMENT] if "role" in table else table.iloc[0:0]


def verdict_lines(table: pd.DataFrame, protocol: Protocol) -> list[str]:
    """The study verdict: in how many of its tuples every criterion holds, against verdict_share."""
    t = tuples(table)
    if t.empty:
        return ["Study verdict: no treatment was compared with a baseline; nothing to judge."]
    held = int(t["meets_all"].sum()) if "meets_all" in t else 0
    share = held / len(t)
    ok = share >= protocol.verdict_share
    lines = [f"Study verdict: every criterion holds in {held} of {len(t)} tuples ({share:.0%}); the protocol asks "
             f"for at least {protocol.verdict_share:.0%}: {'MET' if ok else 'NOT MET'}"]
    crit = [f"crit_{c.name}" for c in protocol.criteria]
    for _, r in t.iterrows():
        name = f"  {r['task']}/{r['scheduler']}: {label(r)}"
        if not r.get("n_pairs"):
            lines.append(f"{name}: not measured ({r.get('note', '')})")
            continue
        marks = ", ".join(f"{k[len('crit_'):]} {'PASS' if r[k] else 'FAIL'}" for k in crit if k in r and
                          r[k] is not None and not (isinstance(r[k], float) and math.isnan(r[k])))
        lines.append(f"{name}: {'holds' if r['meets_all'] else 'fails'} ({marks})")
    return lines
