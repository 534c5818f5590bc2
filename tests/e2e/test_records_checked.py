"""Records that cannot be silently wrong: a complete replicate whose files changed is redone by
the rerun and refused by the analysis, each with one line; the same sweep launched twice at once
runs each replicate once."""
import json
import subprocess
import sys

import pytest

from ohgw.results.io import RECORD, SKIPPED
from tests.helpers import ROOT, run_cli

SMALL = ("scheduler=random", "task.max_epochs=1", "budget.trials=2", "budget.epochs=null", "n_workers=1")


@pytest.fixture(scope="module")
def complete(tmp_path_factory):
    """A complete replicate (the rerun root holds only it) and the command that ran it."""
    root = tmp_path_factory.mktemp("runs")
    job = root / "first"
    done = run_cli(*SMALL, f"rerun.root={root}", f"hydra.run.dir={job}")
    assert done.returncode == 0, done.stderr[-3000:]
    return job


def truncated(data: bytes) -> bytes:
    return data[:len(data) // 2]


def one_byte_changed(data: bytes) -> bytes:  # a digit of the last row's numbers, still a valid csv
    at = next(i for i in range(len(data) - 2, 0, -1) if chr(data[i]).isdigit() and data[i] != ord("7"))
    return data[:at] + b"7" + data[at + 1:]


@pytest.mark.parametrize("corrupt", [truncated, one_byte_changed])
def test_a_complete_replicate_whose_results_changed_is_redone_and_refused_by_the_analysis(complete, corrupt,
                                                                                      tmp_path):
    import shutil

    root = tmp_path / "runs"
    shutil.copytree(complete, root / "first")
    results = root / "first" / "results.csv"
    damaged = corrupt(results.read_bytes())
    results.write_bytes(damaged)

    analysis = subprocess.run([sys.executable, "-m", "ohgw.analysis", str(root), "--out", str(tmp_path / "out")],
                              cwd=ROOT, capture_output=True, text=True)
    assert analysis.returncode != 0 and not (tmp_path / "out" / "summary.csv").exists()
    lines = analysis.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(results) in lines[0], analysis.stderr

    again = run_cli(*SMALL, f"rerun.root={root}", f"hydra.run.dir={root / 'second'}")
    assert again.returncode == 0, again.stderr[-3000:]
    redo = [line for line in again.stdout.splitlines() if line.startswith("[redo]")]
    assert len(redo) == 1 and str(results) in redo[0] and "running the replicate again" in redo[0]
    record = json.loads((root / "second" / RECORD).read_text())
    aside = root / "first" / "attempts" / "1"
    assert record["status"] == "complete" and record["replaces"] == [str(aside)]
    assert (aside / "results.csv").read_bytes() == damaged  # kept as it was found, for a look
    assert not (root / "first" / RECORD).exists()  # the damaged record no longer counts
    rerun = subprocess.run([sys.executable, "-m", "ohgw.analysis", str(root), "--out", str(tmp_path / "out")],
                           cwd=ROOT, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-3000:]


def test_the_same_sweep_launched_twice_at_once_runs_each_replicate_once(tmp_path):
    sweep = ("-m", "seed=0,1", *SMALL, f"rerun.root={tmp_path}")
    launches = [subprocess.Popen([sys.executable, str(ROOT / "run.py"), *sweep, f"hydra.sweep.dir={tmp_path / name}"],
                                 cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for name in ("a", "b")]
    outs = [p.communicate(timeout=600) for p in launches]
    assert [p.returncode for p in launches] == [0, 0], [err[-2000:] for _, err in outs]
    records = [json.loads(p.read_text()) for p in tmp_path.glob("*/*/" + RECORD)]
    complete = sorted(r["seed"] for r in records if r["status"] == "complete")
    assert complete == [0, 1] and len(records) == 2  # each key ran once, in one of the launches
    # the other launch's job says which it did instead, and points at the replicate
    pointers = [json.loads(p.read_text()) for p in tmp_path.glob("*/*/" + SKIPPED)]
    assert len(pointers) == 2 and all(p["why"] in ("claimed", "complete") for p in pointers)
    said = "".join(out for out, _ in outs)
    assert said.count("[claimed]") + said.count("[skipped]") == 2
    assert not list((tmp_path / ".claims").glob("*.json"))  # every claim released


def test_a_job_folder_holding_another_configurations_replicate_keeps_it_complete(complete, tmp_path):
    # a sweep run again into its folder with other parameters numbers its jobs otherwise: job 0 of the
    # new launch finds job 0 of the old one, another configuration, complete
    import shutil

    root = tmp_path / "runs"
    shutil.copytree(complete, root / "0")
    old = json.loads((root / "0" / RECORD).read_text())
    other = run_cli(*SMALL, "seed=1", f"rerun.root={root}", f"hydra.run.dir={root / '0'}")
    assert other.returncode == 0, other.stderr[-3000:]
    kept = root / f"0.{old['key']}"
    assert f"[kept] {root / '0'} held the complete replicate of another configuration; moved to {kept}" in other.stdout
    assert json.loads((kept / RECORD).read_text()) == old and not (root / "0" / "attempts").exists()
    assert json.loads((root / "0" / RECORD).read_text())["seed"] == 1
    # still complete where it was kept: the same configuration again is not run again, and both count
    again = run_cli(*SMALL, f"rerun.root={root}", f"hydra.run.dir={root / 'again'}")
    assert again.returncode == 0 and json.loads((root / "again" / SKIPPED).read_text())["at"] == str(kept.resolve())
    analysis = subprocess.run([sys.executable, "-m", "ohgw.analysis", str(root), "--out", str(tmp_path / "out")],
                              cwd=ROOT, capture_output=True, text=True)
    assert analysis.returncode == 0, analysis.stderr[-3000:]
    import pandas as pd

    assert pd.read_csv(tmp_path / "out" / "summary.csv")["seeds"].tolist() == ["0 1"]
