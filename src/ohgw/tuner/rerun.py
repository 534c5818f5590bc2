"""Rerun skipping. A replicate is identified by a key: a hash of its resolved config minus
the entries that do not change its results (`rerun.ignore`: where it writes, how it logs).
Hydra gives every launch a new directory, so earlier replicates are found by searching the
outputs root for replicate.json records with the same key: a `complete` one is reused, a
`failed` or unfinished (`running`, killed) one is redone from scratch in the new directory
and listed in the new record's `replaces`; its directory is left as it was. A job that runs
again in its own directory (Slurm requeued it after a preemption or a node failure) keeps a
complete replicate there, and moves an unfinished one aside into attempts/<n>/."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ohgw.results.contract import PAIRING_FREE
from ohgw.results.io import ATTEMPTS, RECORD, SKIPPED, atomic_write_text, raw_record as read_record


def replicate_key(cfg: DictConfig, also_ignore: tuple[str, ...] = ()) -> str:
    """A variant whose step eta_h does not set (the baseline, the controls) is the same
    replicate at every eta_h: a sweep over eta_h runs its baseline once."""
    from ohgw.config import instantiate

    resolved = OmegaConf.to_container(cfg, resolve=True)
    unused = () if instantiate(cfg.warmstart).uses_eta else ("warmstart.eta_h",)
    for dotted in (*cfg.rerun.ignore, *also_ignore, *unused):
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


def earlier(root: Path, key: str, job_dir: Path) -> tuple[Path | None, list[str]]:
    """(a directory holding a complete replicate with this key, or None; the directories
    of unfinished or failed ones)."""
    complete, unfinished = None, []
    job_dir = Path(job_dir).resolve()
    for here, dirs, files in os.walk(root):
        if Path(here).resolve() == job_dir:  # this job's own attempts: see set_aside
            dirs.clear()
            continue
        if RECORD not in files:
            continue
        dirs.clear()  # below a replicate there are only its trials
        record = read_record(Path(here))
        if record is None or record.get("key") != key:
            continue
        if record.get("status") == "complete":
            complete = complete or Path(here)
        else:
            unfinished.append(here)
    return complete, sorted(unfinished)


def complete_here(job_dir: Path, key: str) -> dict | None:
    """The record of this replicate if it already completed in this very directory: a Slurm
    task requeued after its replicate had finished must not redo it."""
    record = read_record(job_dir)
    return record if record and record.get("key") == key and record.get("status") == "complete" else None


def set_aside(job_dir: Path) -> str | None:
    """Move what an earlier attempt of this job left in its directory into attempts/<n>/,
    where reruns and the analysis see it as superseded; its path, or None if there was
    nothing. Hydra's files of this launch (.hydra/, the job log) stay."""
    if not job_dir.is_dir():
        return None
    left = [p for p in job_dir.iterdir() if p.name not in (".hydra", ATTEMPTS) and p.suffix != ".log"]
    if not left:
        return None
    attempts = job_dir / ATTEMPTS
    attempts.mkdir(exist_ok=True)
    dest = attempts / str(sum(1 for _ in attempts.iterdir()) + 1)
    dest.mkdir()
    for p in left:
        os.replace(p, dest / p.name)
    return str(dest)


def skip(job_dir: Path, complete_dir: Path) -> dict:
    """Point this job at the complete replicate it would repeat; return that record."""
    record = read_record(complete_dir)
    job_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(job_dir / SKIPPED, json.dumps(
        {"key": record["key"], "complete_at": str(complete_dir.resolve())}, indent=2) + "\n")
    return {**record, "status": "skipped", "complete_at": str(complete_dir.resolve())}
