"""scheduler=transfer_bo end to end on digits: a replicate of meta_bo's target task learns its box
from real earlier replicates (tests/fixtures/meta_bo_v1) and completes with every trial inside the
box; bad input is refused before any trial starts: in the replicate's own checks (what run.py and
the Slurm launcher run) and from the command line as one line and exit status 2."""
import json
import shutil

import pandas as pd
import pytest

from ohgw import CONF_DIR
from ohgw.errors import ConfigError
from ohgw.tuner.replicate import prepare, run_replicate
from tests.helpers import ROOT, compose_config, edit_record, run_cli
from tests.transfer_records import FIXTURES
from tests.unit.test_history import NAMES, SOURCES, TARGET

TINY = ("experiment=meta_bo", "task.max_epochs=2", "budget.trials=3", "n_workers=2")


def test_a_transfer_bo_replicate_completes_inside_its_learned_box(tmp_path):
    cfg = compose_config(*TINY, f"train_from=[{FIXTURES}]", f"rerun.root={tmp_path}")
    job = tmp_path / "job"
    record = run_replicate(cfg, job)
    assert record["status"] == "complete" and record["scheduler"] == "transfer_bo"
    learned = json.loads((job / "transfer_bo.json").read_text())
    assert set(learned["sources"]) == set(SOURCES) and TARGET[0] not in learned["sources"]
    box = learned["box"]
    results = pd.read_csv(job / "results.csv")
    assert results["trial_id"].nunique() >= min(3, learned["box_configurations"])
    for name in NAMES:
        values = results[f"hp_{name}"]
        if name in ("log_lr", "layers"):  # ints: the box is a range
            assert values.between(*box[name]).all(), (name, box[name])
        else:
            assert values.isin(box[name]).all(), (name, box[name])
    assert record["best_val"] is not None and 0 <= record["best_val"] <= 1


def bad(*overrides):
    never = CONF_DIR.parent / "outputs" / "never-written"
    with pytest.raises(ConfigError) as err:
        prepare(compose_config(*TINY, *overrides), never)
    assert not never.exists()
    return str(err.value)


def test_bad_transfer_input_is_refused_before_any_trial(tmp_path):
    (tmp_path / "empty").mkdir()
    only_target = tmp_path / "only_target"
    shutil.copytree(FIXTURES / TARGET[1], only_target / "0")
    other_space = ROOT / "tests" / "fixtures" / "searchers_v1"
    assert bad("train_from=[]") == ("scheduler transfer_bo: train_from is empty: give directories of earlier "
                                    "replicates of other tasks (scheduler.train_from=[DIR], or the top-level train_from)")
    assert "no usable earlier records: no replicate.json found below" in bad(f"train_from=[{tmp_path / 'empty'}]")
    assert "no records of a task other than digits+class_subset=1,3,5,7,9" in bad(f"train_from=[{only_target}]")
    says = bad(f"train_from=[{other_space}]")
    assert "searched another space" in says and "['batch_size', 'dropout', 'layers', 'optimizer']" in says
    # scheduler.train_from on the command line wins over the experiment's top-level one
    assert "no replicate.json found" in bad(f"scheduler.train_from=[{tmp_path / 'empty'}]")


def test_bad_transfer_input_from_the_command_line_is_one_line_and_exit_2(tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(FIXTURES, runs, ignore=shutil.ignore_patterns("*.md"))
    edit_record(runs / "1", lambda r: r["config"]["task"]["search_space"]["layers"].update(high=5))
    # launcher=subprocess: no fork server is started for a replicate that is refused
    proc = run_cli(*TINY, f"train_from=[{runs}]", "launcher=subprocess", f"hydra.run.dir={tmp_path}/job",
                   f"rerun.root={tmp_path}")
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: scheduler transfer_bo: earlier records of task digits+class_subset=5,6,7,8,9 "
                           "searched another space than task digits+class_subset=1,3,5,7,9 (layers: int [2, 5] vs "
                           "int [2, 4];"), last
    assert not (tmp_path / "job" / "replicate.json").exists()
