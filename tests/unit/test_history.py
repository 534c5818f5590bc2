"""ohgw.results.history on real replicate records (tests/fixtures/meta_bo_v1: GP BO on digits class
subsets in meta_bo's space, made by the harness; how: tests/fixtures/meta_bo_v1/README.md). The
expected evaluations are read from results.csv here with the csv module, not through the contract."""
import csv
import functools
import json
import shutil
from pathlib import Path

import pytest

from ohgw.analysis.collect import task_label
from ohgw.results.history import HistoryError, histories_for, label_of, load_histories
from ohgw.tasks import build
from tests.helpers import ROOT, compose_config, edit_record
from tests.transfer_records import FIXTURES

SOURCES = {"digits+class_subset=0,1,2,3,4": "0", "digits+class_subset=5,6,7,8,9": "1"}  # label -> job
TARGET = ("digits+class_subset=1,3,5,7,9", "2")      # meta_bo's held-out subset
NAMES = ("log_lr", "layers", "batch_size", "dropout", "optimizer")
KINDS = {"log_lr": int, "layers": int, "batch_size": int, "dropout": float, "optimizer": str}


@pytest.fixture
def runs(tmp_path) -> Path:
    shutil.copytree(FIXTURES, tmp_path / "runs", ignore=shutil.ignore_patterns("*.md"))
    return tmp_path / "runs"


@functools.lru_cache
def target_task(*overrides):
    """meta_bo's target task (digits on classes 1, 3, 5, 7, 9 in the study's space), built."""
    return build(compose_config("experiment=meta_bo", *overrides).task)


def trials_in_csv(job_dir: Path) -> list[tuple]:
    """(config, val_acc, epoch, elapsed_s) at each trial's last epoch, in trial order."""
    with open(job_dir / "results.csv") as f:
        rows = list(csv.DictReader(f))
    last = {}
    for row in rows:
        tid = int(row["trial_id"])
        if tid not in last or int(row["epoch"]) > int(last[tid]["epoch"]):
            last[tid] = row
    return [({n: KINDS[n](float(r[f"hp_{n}"]) if KINDS[n] is int else r[f"hp_{n}"]) for n in NAMES},
             float(r["val_acc"]), int(r["epoch"]), float(r["elapsed_s"])) for _, r in sorted(last.items())]


def test_one_evaluation_per_trial_as_results_csv_has_it(runs):
    histories = load_histories([runs])
    assert set(histories) == {*SOURCES, TARGET[0]}
    for label, job in [*SOURCES.items(), TARGET]:
        history = histories[label]
        expected = trials_in_csv(runs / job)
        assert len(expected) >= 3
        got = [(e.config, e.score, e.epochs, e.device_s) for e in history.evaluations]
        assert [g[0] for g in got] == [x[0] for x in expected]
        assert [v for g in got for v in g[1:]] == pytest.approx([v for x in expected for v in x[1:]], rel=1e-12)
        assert all(type(e.config[n]) is KINDS[n] for e in history.evaluations for n in NAMES)
        assert history.replicates == [runs / job] and (history.metric, history.mode) == ("val_acc", "max")
        assert history.best().score == max(x[1] for x in expected)
        assert history.space.names == list(NAMES)


def test_a_built_task_has_the_label_its_records_have(runs):
    for job in ("0", "1", "2"):
        record = json.loads((runs / job / "replicate.json").read_text())
        assert label_of(build(record["config"]["task"])) == task_label(record)
    assert label_of(target_task()) == TARGET[0]
    assert label_of(build(compose_config("task=digits").task)) == "digits"


def test_the_tuned_task_is_left_out_by_its_label(runs):
    histories = histories_for([runs], target_task())
    assert set(histories) == set(SOURCES)
    # the same records tuning a source subset: the other source and the target serve
    other = histories_for([runs], target_task("task.class_subset=[0,1,2,3,4]"))
    assert set(other) == {"digits+class_subset=5,6,7,8,9", TARGET[0]}


def test_records_only_of_the_tuned_task_are_refused(runs):
    for job in SOURCES.values():
        shutil.rmtree(runs / job)
    with pytest.raises(HistoryError, match=r"no records of a task other than digits\+class_subset=1,3,5,7,9"):
        histories_for([runs], target_task())


def test_another_search_space_is_refused_naming_the_difference(runs):
    # the searcher fixtures: digits with the base space (log_lr, log_wd, momentum, ...)
    with pytest.raises(HistoryError) as err:
        histories_for([ROOT / "tests" / "fixtures" / "searchers_v1"], target_task())
    message = str(err.value)
    assert "searched another space than task digits+class_subset=1,3,5,7,9" in message
    assert "['aug_magnitude', 'label_smoothing', 'log_wd', 'momentum'] vs ['batch_size', 'dropout', 'layers', 'optimizer']" in message
    # one domain changed in one earlier record
    edit_record(runs / "1", lambda r: r["config"]["task"]["search_space"]["log_lr"].update(low=-4))
    with pytest.raises(HistoryError, match=r"task digits\+class_subset=5,6,7,8,9 searched another space .*"
                                           r"\(log_lr: int \[-4, -1\] vs int \[-3, -1\];"):
        histories_for([runs], target_task())


def test_another_metric_is_refused(runs):
    edit_record(runs / "0", lambda r: r.update(metric="val_loss", mode="min"))
    with pytest.raises(HistoryError, match=r"task digits\+class_subset=0,1,2,3,4 score val_loss \(min\), task "
                                           r"digits\+class_subset=1,3,5,7,9 is tuned on val_acc \(max\)"):
        histories_for([runs], target_task())


def test_directories_without_usable_records_are_refused(runs, tmp_path):
    (tmp_path / "empty").mkdir()
    cases = [([], "no directories of earlier replicates given"),
             ([tmp_path / "empty"], "no usable earlier records: no replicate.json found below"),
             ([tmp_path / "missing"], "no usable earlier records: not a directory: "),
             ([runs], "no usable earlier records: no complete replicate below")]
    for job in ("0", "1", "2"):
        edit_record(runs / job, lambda r: r.update(status="failed", error="killed"))
    for dirs, says in cases:
        with pytest.raises(HistoryError) as err:
            histories_for(dirs, target_task())
        assert says in str(err.value) and "\n" not in str(err.value)
