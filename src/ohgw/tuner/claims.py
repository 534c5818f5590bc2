"""A replicate key runs at most once at a time. The launch that runs it holds a claim: a small
file `<rerun.root>/.claims/<key>.json`, created exclusively (O_EXCL: one creator wins, on one host
or on several sharing the filesystem), naming the host, process, Slurm job and job directory,
its modification time refreshed while the replicate runs (a heartbeat). Another launch of the
same key finds the claim and skips the replicate or waits for it (`rerun.on_claimed`).

A claim is stale, and taken over, when its holder is gone: on the same host, its process no
longer exists (or is another process under a reused pid); from the same Slurm job (a requeued
task, its restart count now higher), always; otherwise, when its heartbeat is older than
`rerun.claim_stale_s`. Taking over renames the stale file first, so that of two launches that both
saw it stale only one wins."""
from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

CLAIMS = ".claims"
HEARTBEAT_S = 30.0  # how often a running replicate refreshes its claim


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22), which tells
    a live holder from a later process that reused its pid; None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return ""  # alive; start time unknown (not Linux)
    return stat.rsplit(")", 1)[1].split()[19]


def holder() -> dict:
    """Who this process is, as a claim names it."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "pid_start": _process_start(pid),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"), "slurm_restart": os.environ.get("SLURM_RESTART_COUNT", "0")}


@dataclass
class Claim:
    path: Path
    owner: dict
    last_beat: float = 0.0

    def heartbeat(self, force: bool = False) -> None:
        """Refresh the claim's time (at most every HEARTBEAT_S unless forced)."""
        now = time.time()
        if force or now - self.last_beat >= HEARTBEAT_S:
            try:
                os.utime(self.path)
            except FileNotFoundError:  # taken from us as stale: nothing to refresh
                pass
            self.last_beat = now

    def release(self) -> None:
        """Remove the claim if it is still ours."""
        found = read(self.path)
        if (found.get("pid"), found.get("pid_start")) == (self.owner["pid"], self.owner["pid_start"]):
            self.path.unlink(missing_ok=True)


def read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def stale_why(found: dict, mtime: float, me: dict, stale_s: float) -> str | None:
    """Why a claim held by `found` (heartbeat at `mtime`) no longer holds, or None if it does."""
    if not found:
        return "unreadable"
    if (found.get("slurm_job_id") and found["slurm_job_id"] == me["slurm_job_id"]
            and found.get("slurm_restart") != me["slurm_restart"]):
        return f"an earlier run of this Slurm job ({found['slurm_job_id']}), since requeued"
    if found.get("host") == me["host"]:
        start = _process_start(int(found.get("pid", -1)))
        if start is None or (start and found.get("pid_start") and start != found["pid_start"]):
            return f"its process {found.get('pid')} on {found['host']} is gone"
        return None
    age = time.time() - mtime
    return f"no heartbeat for {age:.0f} s (rerun.claim_stale_s={stale_s:g})" if age > stale_s else None


def try_claim(root: Path, key: str, job_dir: Path, stale_s: float) -> tuple[Claim | None, dict, str | None]:
    """(our claim, None, why we took over a stale one or None) if this launch may run the key; else
    (None, the live holder's claim, None)."""
    claims = Path(root) / CLAIMS
    claims.mkdir(parents=True, exist_ok=True)
    path = claims / f"{key}.json"
    me = {**holder(), "job_dir": str(Path(job_dir).resolve()), "claimed_at": time.time()}
    took_over = None
    for _ in range(5):  # create, or take over a stale claim, and try again
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            found = read(path)
            try:
                mtime = path.stat().st_mtime
            except FileNotFoundError:
                continue  # released meanwhile
            why = stale_why(found, mtime, me, stale_s)
            if why is None:
                return None, found, None
            try:  # only one of several launches that saw it stale renames it
                os.replace(path, claims / f".{key}.stale.{os.getpid()}")
            except FileNotFoundError:
                continue
            (claims / f".{key}.stale.{os.getpid()}").unlink(missing_ok=True)
            took_over = f"claim of {found.get('job_dir', '?')} was stale: {why}"
            continue
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(me) + "\n")
        return Claim(path, me, time.time()), None, took_over
    raise RuntimeError(f"could not claim replicate {key} under {claims}")


def describe(found: dict) -> str:
    where = f"pid {found.get('pid')} on {found.get('host')}"
    if found.get("slurm_job_id"):
        where += f", Slurm job {found['slurm_job_id']}"
    return f"{found.get('job_dir', '?')} ({where})"
