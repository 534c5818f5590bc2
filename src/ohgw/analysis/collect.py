"""Load the replicates below some directories (through ohgw.results.records) and group them for
comparison.

A replicate enters the analysis only when its record says `complete` and its results.csv is
whole and matches its checksum; failed or running ones are listed as excluded, corrupt or
truncated files are skipped with a warning naming the file, a file changed after its record
vouched for it is refused. Replicates that would be compared with each other must share the task
settings and the budget (searchers: all but the scheduler); otherwise the analysis refuses, naming
both. The exception is a data condition (label or token noise, a class subset): each is its own
comparison, named in the task label."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ohgw.results import records
from ohgw.results.records import CONDITION_SETTINGS, task_label  # noqa: F401 - the analysis's names for them
from ohgw.warmstart.variants import ROLES

# what each variant is to the study (its config's warmstart.role, recorded in replicate.json)
BASELINE, FLOOR, POSITIVE_CONTROL, CONTROL, TREATMENT = ROLES
# records written before roles were recorded: the role their variant's direction implies
ROLE_OF_DIRECTION = {"none": BASELINE, "zero": FLOOR, "planted": POSITIVE_CONTROL, "random": CONTROL,
                     "hypergradient": TREATMENT}

# input the analysis refuses: the records' reader's refusals, and its own
AnalysisError = records.RecordsError


class GroupKey(NamedTuple):
    """One row of summary.csv: the replicates of one variant, one per seed."""
    task: str
    scheduler: str
    warmstart: str
    eta_h: float | None  # None: the variant's step does not depend on it (baseline, controls)

    def label(self) -> str:
        return self.warmstart if self.eta_h is None else f"{self.warmstart} (eta_h={self.eta_h:g})"


class Replicate(records.Replicate):
    """A replicate as the analysis groups it."""

    @property
    def key(self) -> GroupKey:
        r = self.record
        return GroupKey(task_label(r), r["scheduler"], r["warmstart"], None if r["eta_h"] is None else float(r["eta_h"]))

    @property
    def role(self) -> str:
        """What the variant is to the study, as its record says; for a record without one, what its
        config's direction implies."""
        if self.record.get("role"):
            return self.record["role"]
        return ROLE_OF_DIRECTION.get(self.record.get("config", {}).get("warmstart", {}).get("direction"), TREATMENT)


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

    def role(self, key: GroupKey) -> str:
        """The variant's role (its replicates share their config but for the seed)."""
        return self.groups()[key][0].role

    def baseline_of(self, key: GroupKey) -> GroupKey | None:
        """The baseline a variant is paired with: the one of the same task and scheduler (of
        the same eta_h where older records gave baselines one)."""
        bases = [k for k in self.groups() if self.role(k) == BASELINE
                 and (k.task, k.scheduler) == (key.task, key.scheduler)]
        exact = [k for k in bases if k.eta_h == key.eta_h]
        return exact[0] if exact else bases[0] if len(bases) == 1 else None

    def floor_of(self, key: GroupKey) -> GroupKey | None:
        """The A/A control (role floor) of the same task and scheduler."""
        floors = [k for k in self.groups() if self.role(k) == FLOOR
                  and (k.task, k.scheduler) == (key.task, key.scheduler)]
        return floors[0] if len(floors) == 1 else None


def collect(dirs: list[Path | str]) -> Collection:
    """Every replicate below `dirs`; AnalysisError when there is nothing to analyse or the
    replicates cannot be compared honestly."""
    collection = find_replicates(dirs)
    check_comparable(collection)
    return collection


def find_replicates(dirs: list[Path | str]) -> Collection:
    """Every complete replicate below `dirs` or in the replicate archives among them
    (ohgw.analysis.archive), of any task (the rest listed as excluded); AnalysisError when a
    directory is missing or none is complete."""
    from ohgw.analysis import archive

    archives = [Path(d) for d in dirs if archive.is_archive(d)]
    folders = [d for d in dirs if not archive.is_archive(d)]
    parts = [archive.load(a, Replicate) for a in archives] + ([records.find_replicates(folders, Replicate)]
                                                             if folders else [])
    return Collection([r for f in parts for r in f.replicates], [e for f in parts for e in f.excluded],
                      [Path(d) for d in dirs])


def load_replicate(job_dir: Path) -> Replicate | str:
    return records.load_replicate(job_dir, Replicate)


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


_ABSENT = object()  # a setting one record's config does not have


def _first_difference(a, b, prefix: str = "", skip: set[str] = frozenset()) -> str | None:
    """'name: a != b' for the first differing (nested) entry outside `skip`, else None. A setting
    that one record lacks (it was added to the configs later: task.label_noise, deterministic)
    equals an off value in the other (null, 0, false, empty): what the code did before it."""
    if prefix in skip:
        return None
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            diff = _first_difference(a.get(k, _ABSENT), b.get(k, _ABSENT), f"{prefix}{'.' if prefix else ''}{k}", skip)
            if diff:
                return diff
        return None
    if a is _ABSENT or b is _ABSENT:
        other = b if a is _ABSENT else a
        same = other is None or (not isinstance(other, dict) and not other)
        return None if same else f"{prefix}: {'(absent)' if a is _ABSENT else a} != {'(absent)' if b is _ABSENT else b}"
    same = a == b or (isinstance(a, float) and isinstance(b, float) and np.isclose(a, b))
    return None if same else f"{prefix}: {a} != {b}"
