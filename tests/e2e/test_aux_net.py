"""scheduler=aux_net from the command line: refused with one line and exit status 2 before any
trial when its earlier records cannot serve; a real replicate whose first trial is the prediction
recorded in its aux_net.json (slow)."""
import json

import pandas as pd
import pytest

from tests.auxnet_records import EARLIER, MIXED, TRAIN_FROM
from tests.helpers import run_cli


def test_too_few_earlier_tasks_is_one_line_and_exit_2(tmp_path):
    proc = run_cli(*MIXED, f"scheduler.train_from=[{EARLIER / 'digits'}]", f"hydra.run.dir={tmp_path}/job",
                   f"rerun.root={tmp_path}")
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last == ("error: scheduler aux_net for task breast_cancer: needs earlier records of at least 2 other "
                    "tasks, has 1 (digits)")
    assert not (tmp_path / "job" / "replicate.json").exists() and not (tmp_path / "job" / "aux_net.json").exists()


@pytest.mark.slow
def test_an_aux_net_replicate_runs_its_prediction_first(tmp_path):
    job = tmp_path / "job"
    proc = run_cli(*MIXED, TRAIN_FROM, "budget.trials=3", f"hydra.run.dir={job}",
                   f"rerun.root={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads((job / "replicate.json").read_text())
    output = json.loads((job / "aux_net.json").read_text())
    assert record["status"] == "complete" and record["scheduler"] == "aux_net"
    assert sorted(output["trained_on"]) == ["digits", "iris", "wine"] and output["task"] == "breast_cancer"
    first = pd.read_csv(job / "results.csv").query("trial_id == 0").iloc[0]
    for name, value in output["prediction"].items():
        assert first[f"hp_{name}"] == pytest.approx(value), name
    assert record["sampled_configs"][0]["log_lr"] == pytest.approx(output["prediction"]["log_lr"])
