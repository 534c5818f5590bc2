"""Rerun skipping. A replicate is identified by a key: a hash of its resolved config minus
the entries that do not change its results (`rerun.ignore`: where it writes, how it logs).
Hydra gives every launch a new directory, so earlier replicates are found by searching the
outputs root (and this job's own directory: a requeued Slurm task runs in the same one) for
replicate.json records with the same key:
- a `complete` one whose files match their checksums is reused;
- one that was interrupted or killed (`interrupted`, `running`) and had saved its tuner state
  is resumed where it is (ohgw.tuner.resume);
- a `failed` one, or one killed before its first save, is redone from scratch in the new
  directory and listed in the new record's `replaces`; its directory is left as it was;
- a complete one whose files changed (a checksum, a truncated results.csv) is set aside into
  its attempts/<n>/ and redone.
A job that runs a replicate in its own directory first moves what an earlier attempt left
there into attempts/<n>/."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ohgw.results.contract import PAIRING_FREE
from ohgw.results.io import (ATTEMPTS, RECORD, SKIPPED, atomic_write_text, load_record, load_results,
                             raw_record as read_record)
from ohgw.tuner.claims import CLAIMS
from ohgw.tuner.resume import state_path

RESUMABLE = ("running", "interrupted")  # killed, or stopped by a signal: taken up from the saved tuner


def replicate_key(cfg: DictConfig, also_ignore: tuple[str, ...] = ()) -> str:
    """A variant whose step eta_h does not set (the baseline, the controls) is the same
    replicate at every eta_h: a sweep over eta_h runs its baseline once."""
    from ohgw.config import instantiate

    return key_of(OmegaConf.to_container(cfg, resolve=True), instantiate(cfg.warmstart).uses_eta, also_ignore)


def key_of(resolved: dict, uses_eta: bool, also_ignore: tuple[str, ...] = ()) -> str:
    """replicate_key of a config already resolved to a dict (changed here): what a caller that makes
    many keys of one config uses (ohgw.simulate.replay, a thousand seeds)."""
    unused = () if uses_eta else ("warmstart.eta_h",)
    for dotted in (*resolved["rerun"]["ignore"], *also_ignore, *unused):
        *parents, leaf = dotted.split(".")
        node = resolved
        for p in parents:
            node = node.get(p) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(leaf, None)
    text = json.dumps(resolved, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def comparison_key(cfg: DictConfig) -> str:
    """Equal for all replicates that may be compared (same task, scheduler, budget, ...)."""
    return replicate_key(cfg, PAIRING_FREE)


@dataclass
class Earlier:
    """What launches of a replicate key left under the outputs root and in this job's own
    directory."""
    complete: Path | None = None        # complete, its files whole and matching their checksums
    resumable: Path | None = None       # interrupted or killed, with a saved tuner state
    unfinished: list[str] = field(default_factory=list)  # failed, or killed before any save: redone
    broken: list[tuple[Path, str]] = field(default_factory=list)  # complete, but a file changed: redone


def search(root: Path, key: str, job_dir: Path) -> Earlier:
    """Every replicate with this key: in this job's directory and below `root` (not below a
    replicate, nor in earlier attempts)."""
    found = Earlier()
    job_dir = Path(job_dir).resolve()
    resumable = []
    for here in [job_dir, *_record_dirs(Path(root), job_dir)]:
        record = read_record(here)
        if record is None or record.get("key") != key:
            continue
        if record.get("status") == "complete":
            why = damaged(here)
            if why is None:
                found.complete = found.complete or here
            else:
                found.broken.append((here, why))
        elif record.get("status") in RESUMABLE and state_path(here).exists():
            resumable.append(here)
        elif here != job_dir:  # this job's own is set aside into attempts/ (set_aside) and listed from there
            found.unfinished.append(str(here))
    if resumable:  # this job's own directory first, then the latest saved state
        found.resumable = max(resumable, key=lambda d: (d == job_dir, state_path(d).stat().st_mtime))
        found.unfinished += [str(d) for d in resumable if d != found.resumable]
    found.unfinished.sort()
    return found


def _record_dirs(root: Path, job_dir: Path):
    for here, dirs, files in os.walk(root):
        path = Path(here).resolve()
        if path == job_dir or path.name in (ATTEMPTS, CLAIMS):
            dirs.clear()
            continue
        if RECORD in files:
            dirs.clear()  # below a replicate there are only its trials
            yield path


def damaged(job_dir: Path) -> str | None:
    """Why a complete replicate's files cannot be trusted (a file that does not match its
    checksum, a truncated results.csv), or None."""
    try:
        load_results(job_dir, load_record(job_dir))
    except (ValueError, OSError, KeyError) as e:  # ChecksumError is a ValueError
        return str(e)
    return None


def keep_other(job_dir: Path, key: str) -> str | None:
    """Where this job's directory holds another configuration's complete replicate (a sweep run
    again into the same folder with other parameters numbers its jobs otherwise), move it beside
    the directory, to <job_dir>.<its key>, where reruns and the analysis still find it as complete
    (set_aside would make it a superseded attempt). Its new path, or None."""
    record = read_record(job_dir)
    if record is None or record.get("key") in (None, key) or record.get("status") != "complete" or damaged(job_dir):
        return None
    kept = job_dir.with_name(f"{job_dir.name}.{record['key']}")
    if kept.exists():  # kept there by an earlier launch: this one is set aside as a copy
        return None
    kept.mkdir()
    for p in _left_by_earlier(job_dir):
        os.replace(p, kept / p.name)
    return str(kept)


def _left_by_earlier(job_dir: Path) -> list[Path]:
    """What an earlier launch left in a job directory: all but this launch's Hydra files (.hydra/,
    the job log), the attempts already set aside and the claims where rerun.root is the job itself."""
    return [p for p in job_dir.iterdir() if p.name not in (".hydra", ATTEMPTS, CLAIMS) and p.suffix != ".log"]


def set_aside(job_dir: Path) -> str | None:
    """Move what an earlier attempt of this job left in its directory into attempts/<n>/,
    where reruns and the analysis see it as superseded; its path, or None if there was
    nothing. Hydra's files of this launch (.hydra/, the job log) stay, and the claims where
    rerun.root is the job directory itself."""
    if not job_dir.is_dir():
        return None
    left = _left_by_earlier(job_dir)
    if not left:
        return None
    attempts = job_dir / ATTEMPTS
    attempts.mkdir(exist_ok=True)
    dest = attempts / str(sum(1 for _ in attempts.iterdir()) + 1)
    dest.mkdir()
    for p in left:
        os.replace(p, dest / p.name)
    return str(dest)


def point_at(job_dir: Path, key: str, target: Path, why: str) -> None:
    """This job ran nothing itself: the replicate it would have run is at `target` (why: complete,
    resumed there, claimed by another launch). The analysis follows the pointer."""
    job_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(job_dir / SKIPPED, json.dumps(
        {"key": key, "at": str(Path(target).resolve()), "why": why}, indent=2) + "\n")


def skip(job_dir: Path, complete_dir: Path) -> dict:
    """Point this job at the complete replicate it would repeat; return that record."""
    record = read_record(complete_dir)
    point_at(job_dir, record["key"], complete_dir, "complete")
    return {**record, "status": "skipped", "complete_at": str(complete_dir.resolve())}
