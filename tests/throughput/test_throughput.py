"""The fork-server launcher (launcher=fork): same results as Syne Tune's stock LocalBackend,
a crashed trial fails alone, Ctrl-C leaves no process behind. Real Syne Tune, real trials."""
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from ohgw.tuner.backends import make_backend
from ohgw.tuner.forkclient import close_fork_servers
from ohgw.tuner.replicate import run_replicate
from tests.helpers import ROOT, compose_config

METRICS = ["val_loss", "val_acc", "train_loss", "test_acc", "test_loss", "psi_log_lr", "hg_log_lr"]


def replicate(job_dir: Path, *overrides: str, launcher: str = "fork") -> tuple[dict, pd.DataFrame]:
    return run(job_dir, compose_config("rerun.skip_complete=false", *overrides), launcher)


def run(job_dir: Path, cfg, launcher: str) -> tuple[dict, pd.DataFrame]:
    cfg = cfg.copy()
    cfg.launcher = launcher
    record = run_replicate(cfg, job_dir)
    return record, pd.read_csv(job_dir / "results.csv")


def pids_writing_to(path: Path) -> list[int]:
    """Processes whose stdout is `path` (a trial's std.out), however they were started."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and os.readlink(proc / "fd" / "1") == str(path):
                found.append(int(proc.name))
        except OSError:  # gone, a zombie, or not ours
            continue
    return found


def descendants(pid: int) -> set[int]:
    out = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        for child in (task / "children").read_text().split():
            out |= {int(child)} | descendants(int(child))
    return out


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def wait_for(condition, timeout=180.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(condition)
        time.sleep(0.05)


def reported(trial_dir: Path) -> bool:
    out = trial_dir / "std.out"
    return out.exists() and "[tune-metric]" in out.read_text()


def test_a_crashed_or_oom_killed_trial_fails_alone_and_the_server_keeps_launching(tmp_path):
    tuner = tmp_path / "tuner"

    def crash(trial_id, sig):
        wait_for(lambda: reported(tuner / str(trial_id)))
        pid, = pids_writing_to(tuner / str(trial_id) / "std.out")
        os.kill(pid, sig)

    killers = [threading.Thread(target=crash, args=a, daemon=True)
               for a in ((0, signal.SIGSEGV), (1, signal.SIGKILL))]  # SIGKILL: what the OOM killer sends
    for k in killers:
        k.start()
    # random search: no scheduler stops a trial before it is crashed
    record, frame = replicate(tmp_path, "scheduler=random", "n_workers=2",
                              "warmstart=baseline", "budget.epochs=10")
    assert record["status"] == "complete"
    assert record["trial_status"]["0"] == "Failed" and record["trial_status"]["1"] == "Failed"
    assert "killed by SIGSEGV (exit status -11)" in (tuner / "0" / "std.err").read_text()
    assert "killed by SIGKILL (exit status -9)" in (tuner / "1" / "std.err").read_text()
    # trials 2 and 3 were forked after both crashes, by the same server
    later = frame[frame.trial_id >= 2]
    assert set(later.trial_id) == {2, 3} and len(later) >= 6


def probe_backend(tmp_path, name, **kwargs):
    config = tmp_path / "trial_config.yaml"
    OmegaConf.save(compose_config(), config)  # the server loads this task's data
    backend = make_backend("fork", "tests.throughput.fork_probe", config, **kwargs)
    backend.set_path(str(tmp_path / name))
    return backend


def run_probes(backend, n):
    trials = [backend.start_trial({"x": 1}).trial_id for _ in range(n)]
    wait_for(lambda: all(backend.trial_subprocess[t].poll() == 0 for t in trials))
    return [backend.stdout(t) for t in trials]


def test_each_forked_trial_gets_the_gpus_the_backend_assigned(tmp_path):
    backend = probe_backend(tmp_path, "tuner", rotate_gpus=True)
    backend._prepare_for_schedule(num_gpus=3)  # instead of nvidia-smi
    try:
        assert run_probes(backend, 3) == [[f"[devices] {g}\n"] for g in "012"]
    finally:
        backend.stop_all()


def test_successive_replicates_share_one_server_until_the_process_ends(tmp_path):
    first = probe_backend(tmp_path, "first")
    assert run_probes(first, 1) == [["[devices] None\n"]]
    first.stop_all()
    second = probe_backend(tmp_path, "second")  # the next job of a multirun
    assert second.server is first.server and second.server.proc.poll() is None
    assert run_probes(second, 2) == [["[devices] None\n"]] * 2
    close_fork_servers()  # what happens at exit
    assert first.server.proc.returncode == 0
    third = probe_backend(tmp_path, "third")
    assert third.server is not first.server and run_probes(third, 1) == [["[devices] None\n"]]
    close_fork_servers()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGUSR2])
def test_slurms_signals_to_the_whole_job_leave_the_server_to_the_tuner(sig, tmp_path):
    # Slurm sends SIGTERM, then submitit's USR2, to every process of a preempted job; the tuner
    # requeues it on USR2: the server must still be up then, while trials die as stock ones do
    backend = probe_backend(tmp_path, "tuner")
    try:
        assert run_probes(backend, 1) == [["[devices] None\n"]]
        os.kill(backend.server.proc.pid, sig)
        trial = backend.start_trial({"x": 1, "sleep": 60}).trial_id
        os.kill(backend.trial_subprocess[trial].pid, sig)
        wait_for(lambda: backend.trial_subprocess[trial].poll() is not None)
        assert backend.trial_subprocess[trial].poll() == -sig
        assert backend.server.proc.poll() is None and run_probes(backend, 1) == [["[devices] None\n"]]
    finally:
        backend.stop_all()


@pytest.mark.slow
def test_same_configurations_and_metrics_as_the_stock_backend(tmp_path):
    # one worker: the scheduler's decisions do not depend on which trial reports first;
    # PASHA pauses and resumes, so resumed processes are compared too
    cfg = compose_config("rerun.skip_complete=false", "scheduler=pasha", "seed=3", "n_workers=1",
                         "budget.epochs=10")  # composed once: both runs get the very same config
    stock, stock_rows = run(tmp_path / "stock", cfg, "subprocess")
    fork, fork_rows = run(tmp_path / "fork", cfg, "fork")
    n = min(len(stock["sampled_configs"]), len(fork["sampled_configs"]))
    assert n >= 4 and stock["sampled_configs"][:n] == fork["sampled_configs"][:n]
    both = stock_rows.merge(fork_rows, on=["trial_id", "epoch"], suffixes=("_stock", "_fork"))
    assert len(both) >= 8 and both.groupby("trial_id").epoch.max().max() > 1  # resumed trials
    for m in METRICS:
        assert both[f"{m}_fork"].to_numpy() == pytest.approx(both[f"{m}_stock"].to_numpy(), rel=1e-4, abs=1e-6), m


@pytest.mark.slow
def test_ctrl_c_leaves_no_trial_or_server_running(tmp_path):
    log = tmp_path / "run.log"
    with open(log, "wb") as out:  # -X faulthandler: SIGABRT dumps every thread's stack to it
        # SIGINT as a terminal's foreground job has it: a shell starts background jobs (`cmd &`,
        # how CI may run us) with SIGINT ignored, a child inherits that, and Python then never
        # raises KeyboardInterrupt
        run = subprocess.Popen([sys.executable, "-X", "faulthandler", str(ROOT / "run.py"),
                                "launcher=fork", "scheduler=random", "n_workers=2",
                                "budget.epochs=500", "rerun.skip_complete=false",
                                f"hydra.run.dir={tmp_path / 'job'}"], cwd=ROOT,
                               stdout=out, stderr=subprocess.STDOUT,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        tuner = tmp_path / "job" / "tuner"
        wait_for(lambda: reported(tuner / "0") and reported(tuner / "1"))
        started = descendants(run.pid)
        assert len(started) >= 3  # the server and two trials
        run.send_signal(signal.SIGINT)
        try:
            run.wait(timeout=60)
        except subprocess.TimeoutExpired:
            run.send_signal(signal.SIGABRT)
            run.wait(timeout=10)
            pytest.fail("run.py still running 60 s after Ctrl-C; its output and stacks:\n"
                        + log.read_text()[-8000:])
    finally:
        run.kill()
    wait_for(lambda: not any(alive(p) for p in started), timeout=10)
