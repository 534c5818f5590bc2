"""Slurm arrays through Hydra's submitit launcher (hydra/launcher=slurm), on a real one-node
Slurm started by scripts/local_slurm.sh (installed first if missing; needs root)."""
import json
import os
import shutil
import subprocess
import sys
import time

import pandas as pd
import pytest

from ohgw.results.io import RECORD, raw_record as read_record
from tests.helpers import ROOT, run_cli

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


def test_a_preempted_array_task_is_requeued_and_redoes_its_replicate(slurm, tmp_path):
    sweep = tmp_path / "sweep"
    job = sweep / "0"
    sweep_cmd = [sys.executable, str(ROOT / "run.py"), *ON_SLURM, "seed=0", "n_workers=1",
                 "budget.epochs=30", "task.max_epochs=10", f"hydra.sweep.dir={sweep}", f"rerun.root={tmp_path}"]
    proc = subprocess.Popen(sweep_cmd, cwd=ROOT, env=slurm, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while not (job / "tuner" / "0").is_dir():  # a trial is training
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr and proc.stderr.read()
            time.sleep(0.5)
        slurm_job = read_record(job)["slurm"]["job_id"]
        for signal in ("TERM", "USR2"):  # what Slurm sends a preempted job (as submitit's own tests do)
            subprocess.run(["scancel", f"--signal={signal}", str(slurm_job)], env=slurm, check=True)
        out, err = proc.communicate(timeout=600)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-3000:]
    record = json.loads((job / RECORD).read_text())
    attempt = job / "attempts" / "1"
    interrupted = json.loads((attempt / RECORD).read_text())
    assert record["status"] == "complete" and record["slurm"]["restart_count"] == 1
    assert record["slurm"]["job_id"] == slurm_job
    assert interrupted["status"] == "failed" and "restart_count" not in interrupted["slurm"]
    assert record["replaces"] == [str(attempt)]
    assert record["budget_used"]["epochs"] == 30


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
