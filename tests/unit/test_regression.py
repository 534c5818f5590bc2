"""The regression task (scikit-learn's diabetes data, an MLP on the squared error): its splits
and standardisation, its loss against PyTorch's, its refusals, and a short training run whose
reports, replicate summary, progress curve and analysis work with a minimised RMSE."""
import json
import math
from types import SimpleNamespace

import lightning as L
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_diabetes

import ohgw.tasks
from ohgw.analysis.__main__ import main
from ohgw.analysis.metrics import progress
from ohgw.errors import ConfigError
from ohgw.hyperparams.objective import training_loss
from ohgw.results import contract
from ohgw.trial.reporting import METRIC_PREFIX, EpochReporter
from ohgw.tuner.replicate import summarize
from tests.helpers import fit, run_cli


def diabetes(**overrides):
    return ohgw.tasks.build(ohgw.tasks.config("diabetes", **overrides))


def test_splits_are_disjoint_and_standardised_with_the_training_statistics():
    task = diabetes()
    raw_x, raw_y = load_diabetes(return_X_y=True, scaled=False)
    parts = task.split_indices(raw_y)
    assert [len(p) for p in parts] == [264, 89, 89]  # 442 = 60/20/20
    assert sorted(np.concatenate(parts).tolist()) == list(range(442))  # disjoint, all used
    (x, y), (x_val, y_val), (x_test, y_test) = task.cached_splits()
    assert x.shape == (264, 10) and y.shape == (264,) and y.dtype == torch.float32
    assert np.allclose(x.mean(0), 0, atol=1e-5) and np.allclose(x.numpy().std(0), 1, atol=1e-4)
    assert abs(float(y.mean())) < 1e-5 and float(y.numpy().std()) == pytest.approx(1, abs=1e-4)
    # the targets are the data set's, in split order, on the training split's scale
    mean, std = raw_y[parts[0]].mean(), raw_y[parts[0]].std()
    assert np.allclose(y_val.numpy() * std + mean, raw_y[parts[1]], atol=1e-3)
    assert np.allclose(x_test.numpy() * raw_x[parts[0]].std(0) + raw_x[parts[0]].mean(0), raw_x[parts[2]], atol=1e-3)
    assert abs(float(y_val.mean())) > 0.05  # validation has its own statistics, not used


def test_the_training_loss_is_the_mean_squared_error_and_no_label_smoothing_is_taken():
    task = diabetes(fixed={"aug_magnitude": 0.0}, search_space={"aug_magnitude": None})
    module = task.module()
    assert "label_smoothing" not in module.hp and not module.keep_predictions
    x, y = next(iter(task.datamodule().train_dataloader()))
    torch.manual_seed(0)
    assert training_loss(module, x, y, module.hp).item() == pytest.approx(
        torch.nn.functional.mse_loss(module(x).squeeze(1), y).item(), rel=1e-6)


@pytest.mark.parametrize("overrides, message", [
    ({"search_space": {"label_smoothing": {"type": "float", "low": 0.0, "high": 0.1}}},
     "search_space.label_smoothing: task diabetes takes no hyperparameter 'label_smoothing' (role 'loss', which "
     "task diabetes does not take)"),
    ({"roles": ["optimizer", "loss", "network", "data"], "search_space": {"aug_magnitude": None}},
     "task diabetes: its loss (mse) has no label smoothing; leave the role 'loss' out of task.roles"),
    ({"label_noise": 0.1}, "task diabetes: label_noise and class_subset need class labels"),
    ({"mode": "max"}, "task.tau=0.72 with task.metric=val_rmse: an error target is above 0 and minimised"),
])
def test_bad_settings_are_refused_in_one_line(overrides, message):
    with pytest.raises(ConfigError) as refused:
        diabetes(**overrides)
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)


def test_a_short_training_run_reports_mse_and_rmse_and_its_record_takes_the_minimum(tmp_path, capsys):
    L.seed_everything(0, verbose=False)
    task = diabetes()
    module, data = task.module({"log_lr": -1.5, "momentum": 0.9}), task.datamodule()
    data.setup("fit")
    before = module.evaluate(data.val_dataloader())
    reporter = EpochReporter(tmp_path / "last.ckpt", SimpleNamespace(record={}), process_start=0.0)
    fit(module, data, epochs=4, callbacks=[reporter], validate=True)
    reports = [json.loads(line[len(METRIC_PREFIX):]) for line in capsys.readouterr().out.splitlines()
               if line.startswith(METRIC_PREFIX)]
    assert len(reports) == 4
    for r in reports:
        assert {"val_mse", "val_rmse", "test_mse", "test_rmse", "val_loss", "test_loss"} <= set(r)
        assert not {"val_acc", "test_acc", "val_f1", "test_f1"} & set(r)
        assert r["val_rmse"] == pytest.approx(math.sqrt(r["val_mse"])) and r["val_loss"] == pytest.approx(r["val_mse"])
        assert r["test_rmse"] == pytest.approx(math.sqrt(r["test_loss"]))
        assert all(k in contract.ROW for k in r if k.startswith(("val_", "test_")))
    assert reports[-1]["val_mse"] < 0.8 * before.means["mse"]  # ~1.05 untrained
    # the replicate's record: the lowest validation RMSE, and the test RMSE of that row
    frame = pd.DataFrame([{**r, "trial_id": 0, "elapsed_s": 1.0} for r in reports])
    record = {"metric": "val_rmse", "test_metric": contract.test_metric("val_rmse"), "mode": "min", "budget": {}}
    summary = summarize(frame, record, None)
    best = min(reports, key=lambda r: r["val_rmse"])
    assert summary["best_val"] == best["val_rmse"] and summary["test_of_best"] == best["test_rmse"]
    assert summary["best_epoch"] == best["epoch"]
    curve = progress(frame.assign(wallclock_s=frame["epoch"].astype(float)), record)["best"]
    assert curve.tolist() == np.minimum.accumulate([r["val_rmse"] for r in reports]).tolist()


@pytest.mark.slow
def test_a_replicate_and_its_analysis_take_the_lowest_rmse(tmp_path):
    done = run_cli("task=diabetes", "experiment=smoke", "tuner.order=deterministic", f"hydra.run.dir={tmp_path}",
                   f"rerun.root={tmp_path}")
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((tmp_path / "replicate.json").read_text())
    frame = pd.read_csv(tmp_path / "results.csv")
    assert (record["status"], record["metric"], record["test_metric"], record["mode"]) == \
        ("complete", "val_rmse", "test_rmse", "min")
    best = frame.loc[frame["val_rmse"].idxmin()]
    assert record["best_val"] == pytest.approx(best["val_rmse"]) and record["test_of_best"] == pytest.approx(best["test_rmse"])
    assert record["best_val"] < 0.9  # below the standardised target's spread (an untrained MLP: ~1.05)
    assert main([str(tmp_path), "--out", str(tmp_path / "analysis")]) == 0
    summary = pd.read_csv(tmp_path / "analysis" / "summary.csv")
    assert summary["best_val_median"].tolist() == pytest.approx([record["best_val"]])
