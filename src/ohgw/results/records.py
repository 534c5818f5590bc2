"""Finding and loading the replicates below some directories, through the results contract: what
the analysis reads (ohgw.analysis.collect) and what the searchers that learn from earlier tasks
read (ohgw.results.history, used by the tuner). It lives here, beside the contract, so that the
tuner never imports the analysis.

A replicate is read only when its record says `complete` and the files it vouches for are whole
and match their checksums (ohgw.results.io). Failed or running ones are listed as excluded;
unreadable or truncated files are skipped with a warning naming the file; a file that does not
match its checksum is refused (RecordsError): a record whose data changed after it was written
can no longer be trusted, and silently leaving it out would change the statistics."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ohgw.results.contract import PAIRING_FREE
from ohgw.results.io import (ATTEMPTS, RECORD, RESULTS, SKIPPED, ChecksumError, SchemaError, load_record,
                             load_results)

# Task settings that make another task of the same data: noise in the training data, a subset of
# the classes, or of the training examples (`+task.train_fraction`). Replicates that differ in them
# answer another question (is the effect kept under noisy data? on a similar task?), so each value
# is its own comparison with its own baseline and floor, named in the task label
# ("lm+token_noise=0.15"), not a difference to refuse.
CONDITION_SETTINGS = ("label_noise", "token_noise", "class_subset", "train_fraction")


class RecordsError(ValueError):
    """Records that cannot be read honestly: reported as one line and a non-zero exit."""


@dataclass
class Replicate:
    path: Path              # the job directory holding replicate.json and results.csv
    record: dict
    results: pd.DataFrame

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
        """Setting entries that may differ within a comparison, as the rerun's comparison key
        defines it: seed, variant, and what does not change results (rerun.ignore)."""
        ignore = self.record.get("config", {}).get("rerun", {}).get("ignore", [])
        return {f"config.{name}" for name in (*PAIRING_FREE, *ignore)}


@dataclass
class Found:
    replicates: list
    excluded: list[tuple[Path, str]] = field(default_factory=list)   # (file, why)
    roots: list[Path] = field(default_factory=list)


def task_label(record: dict, without: tuple[str, ...] = ()) -> str:
    """The task's name, with the data condition it ran under when there is one (less the settings
    named in `without`: the label of the same task under the other conditions)."""
    settings = record.get("config", {}).get("task", {})
    conditions = [f"{name}={_value(settings[name])}" for name in CONDITION_SETTINGS
                  if settings.get(name) and name not in without]
    return "+".join([record["task"], *conditions])


def _value(v) -> str:
    return ",".join(map(str, v)) if isinstance(v, (list, tuple)) else f"{float(v):g}"


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def find_replicates(dirs: list[Path | str], kind: type = Replicate) -> Found:
    """Every complete replicate below `dirs`, of any task, as `kind` (a Replicate class); the rest
    listed as excluded. RecordsError when a directory is missing, none is complete, or a file does
    not match its checksum."""
    roots = [Path(d) for d in dirs]
    missing = [str(d) for d in roots if not d.is_dir()]
    if missing:
        raise RecordsError(f"not a directory: {', '.join(missing)}")
    records = {p.resolve() for d in roots for p in d.rglob(RECORD)}
    # a job that ran nothing itself points at the replicate it would have run (complete, resumed
    # there, or run by another launch)
    records |= {p for d in roots for p in map(_skipped_record, d.rglob(SKIPPED)) if p}
    records = sorted(records)
    if not records:
        raise RecordsError(f"no {RECORD} found below {', '.join(map(str, roots))}")
    found = Found([], roots=roots)
    for path in records:
        if path.parent.parent.name == ATTEMPTS:  # an interrupted attempt its job then redid
            found.excluded.append((path.parent, f"superseded by {path.parent.parent.parent}"))
            continue
        loaded = load_replicate(path.parent, kind)
        if isinstance(loaded, Replicate):
            found.replicates.append(loaded)
        else:
            found.excluded.append((path.parent, loaded))
    if not found.replicates:
        raise RecordsError(f"no complete replicate below {', '.join(map(str, roots))} "
                           f"({len(found.excluded)} excluded: {found.excluded[0][1]})")
    return found


def load_replicate(job_dir: Path, kind: type = Replicate) -> Replicate | str:
    """The replicate, or why it is left out. Corrupt files also get a warning on stderr; a record
    of a schema version this code cannot read, or a file that does not match its checksum, is a
    RecordsError."""
    record_file, results_file = job_dir / RECORD, job_dir / RESULTS
    try:
        record = load_record(job_dir)
    except SchemaError as e:
        raise RecordsError(str(e)) from None
    except (ValueError, OSError, KeyError) as e:  # JSONDecodeError is a ValueError
        return _corrupt(record_file, f"unreadable record: {e}")
    if record["status"] != "complete":
        return f"status {record['status']}" + (f" ({record['error']})" if record.get("error") else "")
    try:
        results = load_results(job_dir, record)
    except ChecksumError as e:
        raise RecordsError(str(e)) from None
    except (ValueError, OSError) as e:
        return _corrupt(results_file, str(e))
    return kind(job_dir, record, results)


def skipped_target(job_dir: Path) -> Path | None:
    """The directory of the replicate a skipped job points at (None if it is no such job)."""
    record = _skipped_record(Path(job_dir) / SKIPPED) if (Path(job_dir) / SKIPPED).exists() else None
    return None if record is None else record.parent


def _skipped_record(path: Path) -> Path | None:
    try:
        pointer = json.loads(path.read_text())
        target = Path(pointer.get("at") or pointer["complete_at"]).resolve() / RECORD  # complete_at: before resumes
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
