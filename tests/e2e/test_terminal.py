"""The design card's command as typed, on the embedded task, and what the terminal shows of a
sweep: a progress line (replicates done of the total, the current one's budget spent, the time
left) and each replicate's summary line; Syne Tune's status tables only when asked for
(`terminal.status_tables`), its log and tables always in each job's run.log."""
import json
import os
import pty
import re
import subprocess
import sys

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.slow  # each test runs replicates

PROGRESS = re.compile(r"\[progress\] \[[#-]{20}\] (\d+)/(\d+) replicates done \| digits/pasha/ohgw-eta0\.001 "
                      r"seed (\d+): (\d+)% of its budget \((\d+) of 6 epochs\) \| about ((?:\d+ (?:h|min|s) ?)+) left")
TABLE = "Resource summary"  # the first line of Syne Tune's status table


def test_the_design_cards_line_on_the_embedded_task(tmp_path):
    # the line of the design card, as typed in bash (-m in the middle, the sweep quoted), on
    # digits with a small budget
    line = (f"{sys.executable} run.py scheduler=pasha warmstart=ohgw task=digits -m 'seed=range(2)' "
            f"budget.epochs=6 hydra.sweep.dir={tmp_path}/sweep rerun.root={tmp_path}")
    done = subprocess.run(line, shell=True, executable="/bin/bash", cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads((tmp_path / "sweep" / str(i) / "replicate.json").read_text()) for i in range(2)]
    assert [(r["status"], r["scheduler"], r["warmstart"], r["task"], r["seed"]) for r in records] == [
        ("complete", "pasha", "ohgw", "digits", seed) for seed in range(2)]
    assert (tmp_path / "sweep" / "analysis" / "report.md").exists()

    # the progress line: replicate i of 2, its budget in epochs as results.csv counts them
    seen = [tuple(map(int, m.groups()[:5])) for m in map(PROGRESS.fullmatch, done.stderr.splitlines()) if m]
    assert {(done_, total, seed) for done_, total, seed, _, _ in seen} == {(0, 2, 0), (1, 2, 1)}, done.stderr
    for seed in range(2):
        mine = [(percent, epochs) for done_, _, s, percent, epochs in seen if s == seed]
        # a line per quarter spent, the last at the end (reports another worker's trial had made
        # when the budget was reached are counted too: docs/operations.md, budget_overshoot)
        assert mine == sorted(mine) and mine[-1][0] == 100 and mine[-1][1] >= 6
        assert all(percent == min(100, round(100 * epochs / 6)) for percent, epochs in mine)
    # no status table, nor any other line of its size; each job's run.log has them
    assert TABLE not in done.stdout + done.stderr
    assert max(map(len, (done.stdout + done.stderr).splitlines())) < 300
    assert all(TABLE in (tmp_path / "sweep" / str(i) / "run.log").read_text() for i in range(2))


def test_on_a_terminal_the_line_is_redrawn_and_tables_appear_when_asked_for(tmp_path):
    # stderr on a real pseudo-terminal, stdout on a pipe
    parent, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "run.py", "scheduler=pasha", "task=digits", "budget.epochs=6",
                             "terminal.status_tables=3600", f"hydra.run.dir={tmp_path}/job", f"rerun.root={tmp_path}"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=child, text=True)
    os.close(child)
    terminal = b""
    while True:
        try:
            chunk = os.read(parent, 4096)
        except OSError:  # the process has closed its side
            break
        if not chunk:
            break
        terminal += chunk
    os.close(parent)
    stdout = proc.stdout.read()
    assert proc.wait(timeout=600) == 0, terminal.decode()[-3000:]
    shown = terminal.decode()
    drawn = re.findall(r"\r\x1b\[K(\[progress\][^\r\n]*)", shown)
    assert len(drawn) >= 2 and all(d.startswith("[progress] [") for d in drawn), shown
    assert "\n[progress]" not in shown and shown.rstrip("\r\n").endswith("\r\x1b[K")  # erased at the end
    assert TABLE in stdout and "syne_tune.tuner" in stdout  # asked for: the table and Syne Tune's log
    assert stdout.strip().splitlines()[-1].startswith("  results: ")
