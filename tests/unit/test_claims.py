"""A replicate key runs at most once at a time (ohgw.tuner.claims): one claim wins, a live
holder keeps it, a stale one is taken over and says why."""
import json
import os
import subprocess
import sys
import time

from ohgw.tuner.claims import CLAIMS, holder, try_claim


def write_claim(root, key, **owner):
    path = root / CLAIMS / f"{key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"job_dir": "/elsewhere", **owner}))
    return path


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_first_claim_wins_and_a_second_sees_its_holder(tmp_path):
    claim, held, why = try_claim(tmp_path, "k", tmp_path / "a", stale_s=600)
    assert claim is not None and held is None and why is None
    again, held, _ = try_claim(tmp_path, "k", tmp_path / "b", stale_s=600)
    assert again is None and held["job_dir"] == str((tmp_path / "a").resolve()) and held["pid"] == os.getpid()
    claim.release()
    assert not claim.path.exists()
    assert try_claim(tmp_path, "k", tmp_path / "b", stale_s=600)[0] is not None


def test_a_claim_whose_process_is_gone_is_taken_over(tmp_path):
    me = holder()
    write_claim(tmp_path, "k", host=me["host"], pid=dead_pid(), pid_start="1")
    claim, held, why = try_claim(tmp_path, "k", tmp_path / "b", stale_s=600)
    assert claim is not None and held is None
    assert "is gone" in why and "/elsewhere" in why
    assert json.loads(claim.path.read_text())["pid"] == os.getpid()


def test_a_live_process_under_a_reused_pid_does_not_hold_the_claim(tmp_path):
    me = holder()  # our own pid, but another start time: the claim's process is gone
    write_claim(tmp_path, "k", host=me["host"], pid=me["pid"], pid_start="0")
    assert try_claim(tmp_path, "k", tmp_path / "b", stale_s=600)[0] is not None


def test_another_hosts_claim_holds_until_its_heartbeat_is_older_than_the_limit(tmp_path):
    path = write_claim(tmp_path, "k", host="another-node", pid=1, pid_start="1")
    claim, held, _ = try_claim(tmp_path, "k", tmp_path / "b", stale_s=600)
    assert claim is None and held["host"] == "another-node"
    old = time.time() - 601
    os.utime(path, (old, old))
    claim, _, why = try_claim(tmp_path, "k", tmp_path / "b", stale_s=600)
    assert claim is not None and "no heartbeat for 601 s" in why


def test_a_requeued_slurm_task_takes_over_its_own_earlier_claim(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "77")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    write_claim(tmp_path, "k", host="another-node", pid=1, pid_start="1", slurm_job_id="77", slurm_restart="0")
    claim, _, why = try_claim(tmp_path, "k", tmp_path / "b", stale_s=600)
    assert claim is not None and "Slurm job (77), since requeued" in why


def test_a_heartbeat_refreshes_the_claim(tmp_path):
    claim, _, _ = try_claim(tmp_path, "k", tmp_path / "a", stale_s=600)
    old = time.time() - 1000
    os.utime(claim.path, (old, old))
    claim.heartbeat(force=True)
    assert time.time() - claim.path.stat().st_mtime < 60
