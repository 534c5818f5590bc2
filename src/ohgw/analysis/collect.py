"""Find and load replicate records below some directories, and group them for comparison.

A replicate enters the analysis only when its record says `complete` and its results.csv is
whole; failed or running ones are listed as excluded, corrupt or truncated files are skipped
with a warning naming the file. Replicates that would be compared with each other must share
the task settings and the budget (searchers: all but the scheduler); otherwise the analysis
refuses, naming both. The exception is a data condition (label or token noise, a class subset):
each is its own comparison, named in the task label."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from ohgw.results.io import ATTEMPTS, RECORD, RESULTS, SKIPPED, SchemaError, load_record, load_results
from ohgw.tuner.rerun import PAIRING_FREE

BASELINE = "baseline"

# Task settings that make another task of the same data: noise in the training data, a subset of
# the classes, or of the training examples (`+task.train_fraction`). Replicates that differ in them
# answer another question (is the effect kept under noisy data? on a similar task?), so each value
# is its own comparison with its own baseline and floor, named in the task label
# ("lm+token_noise=0.15"), not a difference to refuse.
CONDITION_SETTINGS = ("label_noise", "token_noise", "class_subset", "train_fraction")


class AnalysisError(ValueError):
    """Input the analysis refuses: reported as one line and a non-zero exit."""


class GroupKey(NamedTuple):
    """One row of summary.csv: the replicates of one variant, one per seed."""
    task: str
    scheduler: str
    warmstart: str
    eta_h: float | None  # None: the variant's step does not depend on it (baseline, controls)

    def label(self) -> str:
        return self.warmstart if self.eta_h is None else f"{self.warmstart} (eta_h={self.eta_h:g})"


@dataclass
class Replicate:
    path: Path              # the job directory holding replicate.json and results.csv
    record: dict
    results: pd.DataFrame

    @property
    def key(self) -> GroupKey:
        r = self.record
        return GroupKey(task_label(r), r["scheduler"], r["warmstart"], None if r["eta_h"] is None else float(r["eta_h"]))

    @property
    def direction(self) -> str:
        """The variant's kind (none, hypergradient, random, zero, planted) from its config."""
        return self.record.get("config", {}).get("warmstart", {}).get("direction", "")

    @property
    def seed(self) -> int:
        return int(self.record["seed"])

    def setting(self) -> dict:
        """What must be equal between replicates that are compared with each other: the
        record's target and budget, and its resolved config (see `free`)."""
        r = self.record
        return {"tau": r["tau"], "metric": r["metric"], "mode": r["mode"], "budget": r["budget"],
                "config": r.get("config", {})}

    def free(self) -> set[str]:
        """Setting entries that may differ within a comparison, as tuning.rerun's comparison
        key defines it: seed, variant, and what does not change results (rerun.ignore)."""
        ignore = self.record.get("config", {}).get("rerun", {}).get("ignore", [])
        return {f"config.{name}" for name in (*PAIRING_FREE, *ignore)}


@dataclass
class Collection:
    replicates: list[Replicate]
    excluded: list[tuple[Path, str]] = field(default_factory=list)   # (file, why)
    roots: list[Path] = field(default_factory=list)

    def groups(self) -> dict[GroupKey, list[Replicate]]:
        """Replicates per variant, sorted by seed."""
        out: dict[GroupKey, list[Replicate]] = {}
        for rep in sorted(self.replicates, key=lambda r: (r.key, r.seed)):
            out.setdefault(rep.key, []).append(rep)
        return out

    def baseline_of(self, key: GroupKey) -> GroupKey | None:
        """The baseline a variant is paired with: the one of the same task and scheduler (of
        the same eta_h where older records gave baselines one)."""
        bases = [k for k in self.groups() if k.warmstart == BASELINE
                 and (k.task, k.scheduler) == (key.task, key.scheduler)]
        exact = [k for k in bases if k.eta_h == key.eta_h]
        return exact[0] if exact else bases[0] if len(bases) == 1 else None

    def floor_of(self, key: GroupKey) -> GroupKey | None:
        """The A/A control (warm-start direction `zero`) of the same task and scheduler."""
        floors = [k for k, reps in self.groups().items() if reps[0].direction == "zero"
                  and (k.task, k.scheduler) == (key.task, key.scheduler)]
        return floors[0] if len(floors) == 1 else None


def task_label(record: dict) -> str:
    """The task's name, with the data condition it ran under when there is one."""
    settings = record.get("config", {}).get("task", {})
    conditions = [f"{name}={_value(settings[name])}" for name in CONDITION_SETTINGS if settings.get(name)]
    return "+".join([record["task"], *conditions])


def _value(v) -> str:
    return ",".join(map(str, v)) if isinstance(v, (list, tuple)) else f"{float(v):g}"


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def collect(dirs: list[Path | str]) -> Collection:
    """Every replicate below `dirs`; AnalysisError when there is nothing to analyse or the
    replicates cannot be compared honestly."""
    collection = find_replicates(dirs)
    check_comparable(collection)
    return collection


def find_replicates(dirs: list[Path | str]) -> Collection:
    """Every complete replicate below `dirs`, of any task (the rest listed as excluded);
    AnalysisError when a directory is missing or none is complete."""
    roots = [Path(d) for d in dirs]
    missing = [str(d) for d in roots if not d.is_dir()]
    if missing:
        raise AnalysisError(f"not a directory: {', '.join(missing)}")
    records = {p.resolve() for d in roots for p in d.rglob(RECORD)}
    # a job skipped by a rerun points at the complete replicate it would have repeated
    records |= {p for d in roots for p in map(_skipped_record, d.rglob(SKIPPED)) if p}
    records = sorted(records)
    if not records:
        raise AnalysisError(f"no {RECORD} found below {', '.join(map(str, roots))}")
    collection = Collection([], roots=roots)
    for path in records:
        if path.parent.parent.name == ATTEMPTS:  # an interrupted attempt its job then redid
            collection.excluded.append((path.parent, f"superseded by {path.parent.parent.parent}"))
            continue
        loaded = load_replicate(path.parent)
        if isinstance(loaded, Replicate):
            collection.replicates.append(loaded)
        else:
            collection.excluded.append((path.parent, loaded))
    if not collection.replicates:
        raise AnalysisError(f"no complete replicate below {', '.join(map(str, roots))} "
                            f"({len(collection.excluded)} excluded: {collection.excluded[0][1]})")
    return collection


def load_replicate(job_dir: Path) -> Replicate | str:
    """The replicate, or why it is left out. Corrupt files also get a warning on stderr; a
    record of a schema version this code cannot read is an AnalysisError."""
    record_file, results_file = job_dir / RECORD, job_dir / RESULTS
    try:
        record = load_record(job_dir)
    except SchemaError as e:
        raise AnalysisError(str(e)) from None
    except (ValueError, OSError, KeyError) as e:  # JSONDecodeError is a ValueError
        return _corrupt(record_file, f"unreadable record: {e}")
    if record["status"] != "complete":
        return f"status {record['status']}" + (f" ({record['error']})" if record.get("error") else "")
    try:
        results = load_results(job_dir, record)
    except (ValueError, OSError) as e:
        return _corrupt(results_file, str(e))
    return Replicate(job_dir, record, results)


def skipped_target(job_dir: Path) -> Path | None:
    """The directory of the complete replicate a skipped job reused (None if it is no such job)."""
    record = _skipped_record(Path(job_dir) / SKIPPED) if (Path(job_dir) / SKIPPED).exists() else None
    return None if record is None else record.parent


def _skipped_record(path: Path) -> Path | None:
    try:
        target = Path(json.loads(path.read_text())["complete_at"]).resolve() / RECORD
    except (ValueError, OSError, KeyError, TypeError) as e:
        _corrupt(path, f"unreadable: {e}")
        return None
    if not target.exists():
        _corrupt(path, f"points at {target.parent}, which holds no {RECORD}")
        return None
    return target


def _corrupt(path: Path, why: str) -> str:
    warn(f"skipping {path}: {why}")
    return f"corrupt {path.name}: {why}"


# What differs between the replicates of a searcher comparison (ohgw.analysis.searchers): the
# scheduler's whole config, its searcher and its arguments; everything else must be equal.
SCHEDULER_SETTING = "config.scheduler"


def check_comparable(collection: Collection) -> None:
    """All replicates of one (task and data condition, scheduler) are compared with each other:
    they must share the setting, and a variant may hold only one replicate per seed. Replicates
    of one (task, variant, eta_h) under different schedulers are compared as searchers: they
    must share the setting but for the scheduler."""
    first: dict[tuple, Replicate] = {}
    first_searcher: dict[tuple, Replicate] = {}
    for key, reps in collection.groups().items():
        seeds = [r.seed for r in reps]
        dup = next((s for s in seeds if seeds.count(s) > 1), None)
        if dup is not None:
            a, b = [r.path for r in reps if r.seed == dup][:2]
            raise AnalysisError(f"two replicates of {key.task}/{key.scheduler}/{key.label()} "
                                f"seed {dup}: {a} and {b}; analyse them separately")
        for rep in reps:
            _refuse_if_different(first.setdefault((key.task, key.scheduler), rep), rep,
                                 f"{key.task}/{key.scheduler}")
            _refuse_if_different(first_searcher.setdefault((key.task, key.warmstart, key.eta_h), rep), rep,
                                 f"{key.task}/{key.label()} searcher", free={SCHEDULER_SETTING})


def _refuse_if_different(ref: Replicate, rep: Replicate, what: str, free: set[str] = frozenset()) -> None:
    """AnalysisError naming both replicates when their settings differ outside what may differ."""
    diff = _first_difference(ref.setting(), rep.setting(), skip=ref.free() | rep.free() | set(free))
    if diff:
        raise AnalysisError(f"refusing to compare {what} replicates with different {diff}: "
                            f"{ref.path} vs {rep.path}; analyse them separately")


def _first_difference(a, b, prefix: str = "", skip: set[str] = frozenset()) -> str | None:
    """'name: a != b' for the first differing (nested) entry outside `skip`, else None."""
    if prefix in skip:
        return None
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            diff = _first_difference(a.get(k), b.get(k), f"{prefix}{'.' if prefix else ''}{k}", skip)
            if diff:
                return diff
        return None
    same = a == b or (isinstance(a, float) and isinstance(b, float) and np.isclose(a, b))
    return None if same else f"{prefix}: {a} != {b}"
