"""Slurm arrays through Hydra's submitit launcher (hydra/launcher=slurm), on a real one-node
Slurm started by scripts/local_slurm.sh (installed first if missing; needs root)."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from ohgw.results.io import RECORD, raw_record as read_record
from tests.helpers import ROOT, run_cli, trained

pytestmark = pytest.mark.slow
SCRIPT = ROOT / "scripts" / "local_slurm.sh"
ON_SLURM = ("-m", "hydra/launcher=slurm", "hydra.launcher.partition=debug",
            "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1")


@pytest.fixture(scope="module")
def slurm():
    """The environment that reaches the local Slurm; started here and stopped after, unless
    it was already up."""
    state = os.environ.get("LOCAL_SLURM_DIR", "/tmp/local_slurm")
    env = {**os.environ, "LOCAL_SLURM_DIR": state, "SLURM_CONF": f"{state}/slurm.conf"}
    if _responds(env):
        yield env
        return
    if os.geteuid() != 0:
        pytest.skip("needs a Slurm: as root, scripts/local_slurm.sh install && scripts/local_slurm.sh start")
    if shutil.which("slurmctld") is None:
        subprocess.run([SCRIPT, "install"], env=env, check=True, timeout=900)
    subprocess.run([SCRIPT, "start"], env=env, check=True, timeout=300, capture_output=True)
    yield env
    subprocess.run([SCRIPT, "stop"], env=env, timeout=120)


def _responds(env) -> bool:
    try:
        return subprocess.run(["sinfo", "-h"], env=env, capture_output=True, timeout=20).returncode == 0
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False


def test_a_sweep_runs_as_one_slurm_array_and_is_analysed(slurm, tmp_path):
    sweep = tmp_path / "sweep"
    done = run_cli(*ON_SLURM, "experiment=smoke", "warmstart=baseline,ohgw", "seed=0",
                   f"hydra.sweep.dir={sweep}", f"rerun.root={tmp_path}", env=slurm, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads((sweep / job / RECORD).read_text()) for job in ("0", "1")]
    assert [r["status"] for r in records] == ["complete", "complete"]
    assert [r["warmstart"] for r in records] == ["baseline", "ohgw"]
    assert len({r["slurm"]["array_job_id"] for r in records}) == 1  # one array
    assert [r["slurm"]["array_task_id"] for r in records] == [0, 1]
    summary = pd.read_csv(sweep / "analysis" / "summary.csv")  # the sweep's end ran the analysis
    assert sorted(summary["warmstart"]) == ["baseline", "ohgw"]


def assert_resumed(job: Path, epochs: int | None = None) -> dict:
    """The replicate in `job` ended complete after at least one resume, in the same job directory,
    with the epoch budget used as asked (`epochs`) and no epoch trained twice; its record."""
    record = json.loads((job / RECORD).read_text())
    assert record["status"] == "complete" and record["resumes"], record.get("error")
    assert all(r["from"] == "interrupted" for r in record["resumes"])  # submitit's exit: SystemExit
    assert not (job / "attempts").exists() and record["replaces"] == []  # resumed, not set aside
    rows = len(pd.read_csv(job / "results.csv"))
    assert record["budget_used"]["epochs"] == rows and rows == (epochs or rows)
    both = trained(job / "tuner")
    twice = {(t, e) for t, e, _ in both if sum(1 for u, f, _ in both if (u, f) == (t, e)) > 1}
    forgotten = {t for r in record["resumes"] for t in r["forgotten"]}  # started after the last save
    assert {t for t, _ in twice} <= forgotten, sorted(twice)
    return record


def task_log(sweep: Path, job_id: int) -> str:
    """The array task's submitit log (its stdout and stderr, every attempt)."""
    return "".join(p.read_text() for p in sorted((sweep / ".submitit").glob(f"*/{job_id}*_log.*")))


def test_a_preempted_array_task_is_requeued_and_resumes_its_replicate(slurm, tmp_path):
    sweep = tmp_path / "sweep"
    job = sweep / "0"
    sweep_cmd = [sys.executable, str(ROOT / "run.py"), *ON_SLURM, "seed=0", "n_workers=1",
                 "budget.epochs=30", "task.max_epochs=10", f"hydra.sweep.dir={sweep}", f"rerun.root={tmp_path}"]
    proc = subprocess.Popen(sweep_cmd, cwd=ROOT, env=slurm, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while len(trained(job / "tuner")) < 10:  # a third of the budget trained
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr and proc.stderr.read()
            time.sleep(0.5)
        slurm_job = read_record(job)["slurm"]["job_id"]
        for signal in ("TERM", "USR2"):  # what Slurm sends a preempted job (as submitit's own tests do)
            subprocess.run(["scancel", f"--signal={signal}", str(slurm_job)], env=slurm, check=True)
        out, err = proc.communicate(timeout=600)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-3000:]
    record = assert_resumed(job, 30)
    assert len(record["resumes"]) == 1 and record["slurm"]["job_id"] == slurm_job  # the record's slurm: its start
    assert record["resumes"][0]["slurm"]["restart_count"] == 1 and record["resumes"][0]["slurm"]["job_id"] == slurm_job
    assert 0 < record["resumes"][0]["epochs_recorded"] < 30
    log = task_log(sweep, slurm_job)
    assert "this job is preempted" in log and f"[resume] {job}: going on from its saved tuner" in log


def test_an_array_task_whose_time_limit_hits_mid_replicate_is_requeued_and_resumes(slurm, tmp_path):
    # A 2-minute limit; submitit's signal comes 10 s before it, and up to 30 s earlier again
    # (slurmctld signals at its first look, every 30 s, within 30 s + signal_delay_s of the limit):
    # 80 to 110 s after the start, less the replicate's start-up. The replicate needs 110 s of
    # tuning (budget.wallclock_s, which a resume counts on from the saved tuner), hence two
    # allocations at least, whatever the machine's speed; the launcher says so first.
    sweep = tmp_path / "sweep"
    done = run_cli(*ON_SLURM, "seed=0", "n_workers=1", "budget.epochs=null", "budget.wallclock_s=110",
                   "task.max_epochs=10", "hydra.launcher.timeout_min=2", "hydra.launcher.signal_delay_s=10",
                   "hydra.launcher.max_num_timeout=5",  # 2 allocations here; more where start-up is slow (load)
                   f"hydra.sweep.dir={sweep}", f"rerun.root={tmp_path}", env=slurm, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    warned = [line.split("): ", 1) for line in done.stderr.splitlines() if line.startswith("warning: ")]
    assert [(start.startswith("warning: job #0 ("), numbers) for start, numbers in warned] == [(True, (
        "budget.wallclock_s=110 needs 1.8 min (2.0 with timeout_headroom=1.1), hydra.launcher.timeout_min=2 gives 1.8 "
        "(submitit signals 10 s before the limit): 2 allocations, max_num_timeout=5 allows 6; each time limit "
        "requeues the task, which resumes its replicate"))]
    job = sweep / "0"
    record = assert_resumed(job)
    assert record["resumes"][-1]["slurm"]["restart_count"] >= 1
    assert record["budget_used"]["wallclock_s"] >= 110
    log = task_log(sweep, record["slurm"]["job_id"])
    assert "this job is timed-out" in log and "Requeued job" in log
    assert f"[resume] {job}: going on from its saved tuner" in log


def test_the_sbatch_template_runs_one_replicate_per_array_index(slurm, tmp_path):
    # as a user submits it by hand, from the repository root; seed = array index
    done = subprocess.run(
        ["sbatch", "--wait", "--array=0-1", "--cpus-per-task=1", "--mem-per-cpu=500M",
         f"--output={tmp_path}/slurm-%A_%a.log", "slurm/replicates.sbatch", "experiment=smoke",
         f"hydra.run.dir={tmp_path}/seed" + "${seed}", f"rerun.root={tmp_path}"],
        cwd=ROOT, env=slurm, capture_output=True, text=True, timeout=600)
    logs = "".join(p.read_text() for p in sorted(tmp_path.glob("slurm-*.log")))
    assert done.returncode == 0, done.stderr + logs[-3000:]
    records = [json.loads((tmp_path / f"seed{s}" / RECORD).read_text()) for s in (0, 1)]
    assert [(r["seed"], r["status"], r["slurm"]["array_task_id"]) for r in records] == [
        (0, "complete", 0), (1, "complete", 1)]
    assert logs.count("[complete]") == 2
