"""scheduler=aux_net's pieces on real tasks and real recorded replicates (tests/auxnet_records.py)."""
import json
import math
import shutil

import pytest
import torch

from ohgw.results.history import load_histories
from ohgw.auxnet import predict as predict_module
from ohgw.auxnet.features import NAMES, meta_features
from ohgw.auxnet.net import SAME_PREDICTION, NetSettings, denormalised, fit, normalised, same_prediction
from ohgw.errors import ConfigError, DataMissingError
from ohgw.tasks import build, config
from ohgw.tasks.base import Task
from tests.auxnet_records import AUX, EARLIER, MIXED
from tests.helpers import ROOT, compose_config


def features(name, **overrides):
    try:
        return dict(zip(NAMES, meta_features(build(config(name, **overrides)))))
    except DataMissingError as e:
        pytest.skip(str(e))


def test_meta_features_of_digits_are_its_data_and_network():
    f = features("digits")
    assert len(f) == len(NAMES) == 12
    # 1797 images, 20% validation and 20% test held out (stratified): 1077 or 1078 to train on
    assert f["log10_train_examples"] == pytest.approx(math.log10(1078), abs=2e-3)
    assert f["log10_classes"] == pytest.approx(1.0) and f["log10_input_size"] == pytest.approx(math.log10(64))
    assert (f["kind_image"], f["kind_text"], f["kind_tabular"], f["kind_sequence"]) == (1, 0, 0, 0)
    # conv 1->32 (288) + BN (64), conv 32->32 (9216) + BN (64), conv 32->64 (18432) + BN (128), linear 64->10 (650)
    assert f["log10_parameters"] == pytest.approx(math.log10(28842))
    assert (f["classifies"], f["adamw"], f["mode_max"]) == (1, 0, 1)
    assert f["log10_max_epochs"] == pytest.approx(math.log10(9))


@pytest.mark.parametrize("dataset, n, classes, inputs", [("breast_cancer", 569, 2, 30), ("wine", 178, 3, 13),
                                                         ("iris", 150, 3, 4)])
def test_meta_features_of_tabular_tasks(dataset, n, classes, inputs):
    f = features("tabular", dataset=dataset)
    assert 10 ** f["log10_train_examples"] == pytest.approx(0.6 * n, abs=1.5)
    assert 10 ** f["log10_classes"] == pytest.approx(classes) and 10 ** f["log10_input_size"] == pytest.approx(inputs)
    # two hidden layers of 64 and the head
    assert 10 ** f["log10_parameters"] == pytest.approx(inputs * 64 + 64 + 64 * 64 + 64 + 64 * classes + classes)
    assert f["kind_tabular"] == 1 and f["kind_image"] == 0 and f["log10_max_epochs"] == pytest.approx(math.log10(27))


def test_meta_features_of_fortunes_and_fashion_mnist():
    f = features("fortunes", max_features=300, network={"hidden": 32})
    assert f["kind_text"] == 1 and f["adamw"] == 1 and 10 ** f["log10_input_size"] == pytest.approx(300)
    g = features("fashion_mnist", train_size=256, val_size=128, test_size=100)
    assert g["kind_image"] == 1 and 10 ** g["log10_train_examples"] == pytest.approx(256)
    assert 10 ** g["log10_input_size"] == pytest.approx(32 * 32) and g["log10_classes"] == pytest.approx(1.0)


def test_meta_features_of_the_byte_level_sequence_task():
    f = features("python_docs")
    assert f["kind_sequence"] == 1 and f["classifies"] == 0 and f["log10_classes"] == 0.0


@pytest.mark.slow
def test_meta_features_of_the_language_model_and_diabetes():
    f = features("lm")
    assert f["kind_sequence"] == 1 and f["mode_max"] == 0 and f["log10_classes"] == 0.0
    if (ROOT / "conf" / "task" / "diabetes.yaml").exists():
        d = features("diabetes")
        assert d["kind_tabular"] == 1 and d["classifies"] == 0 and d["mode_max"] == 0 and d["log10_classes"] == 0.0


def test_meta_features_refuse_missing_data_and_unknown_task_kinds(tmp_path):
    with pytest.raises(ConfigError, match=r"^task fortunes: no meta-features without its data: no fortune files"):
        meta_features(build(config("fortunes", data_dir=str(tmp_path))))

    class Unlisted(Task):
        pass

    task = build(config("digits"))
    task.__class__ = type("Unlisted", (Unlisted,), {})
    with pytest.raises(ConfigError, match=r"^task digits: no meta-features for a task of class Unlisted"):
        meta_features(task)


def space():
    from ohgw.hyperparams.space import SearchSpace

    return SearchSpace.from_config({"log_lr": {"type": "float", "low": -4, "high": 0},
                                    "wd": {"type": "float", "low": 1e-5, "high": 1e-2, "log": True},
                                    "layers": {"type": "int", "low": 2, "high": 4},
                                    "batch_size": {"type": "choice", "choices": [16, 32, 64, 128]}})


def test_normalised_values_map_back_onto_the_domain():
    s = space()
    assert normalised(s["log_lr"], -1.0) == pytest.approx(0.75)
    assert normalised(s["wd"], 1e-3) == pytest.approx(2 / 3)
    assert denormalised(s["wd"], 2 / 3) == pytest.approx(1e-3)
    assert denormalised(s["layers"], 0.74) == 3 and denormalised(s["layers"], 1.7) == 4
    assert denormalised(s["log_lr"], -0.5) == -4.0


def test_the_net_learns_its_training_tasks():
    s = space()
    inputs = [[0.0, 1.0, 2.0], [1.0, 0.0, 5.0], [3.0, 3.0, 1.0]]
    configs = [{"log_lr": -3.5, "wd": 1e-4, "layers": 2, "batch_size": 128},
               {"log_lr": -1.0, "wd": 3e-3, "layers": 4, "batch_size": 16},
               {"log_lr": -0.2, "wd": 2e-5, "layers": 3, "batch_size": 64}]
    net, loss = fit(s, inputs, configs, NetSettings(steps=800))
    assert loss < 1e-3
    for x, c in zip(inputs, configs):
        got = net.predict(x)
        assert got["log_lr"] == pytest.approx(c["log_lr"], abs=0.05)
        assert math.log10(got["wd"]) == pytest.approx(math.log10(c["wd"]), abs=0.05)
        assert (got["layers"], got["batch_size"]) == (c["layers"], c["batch_size"])
    # seeded: the same data give the same net
    again, _ = fit(s, inputs, configs, NetSettings(steps=800))
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values()))


def test_loto_never_trains_on_the_held_out_task(monkeypatch, tmp_path):
    """The net for each task sees exactly the other tasks' best configurations and features; and
    rewriting the held-out task's records leaves its prediction unchanged."""
    from ohgw.analysis.aux_net_loto import evaluate
    from ohgw.auxnet.features import features_of_config

    histories = load_histories([EARLIER])
    assert sorted(histories) == ["breast_cancer", "digits", "iris", "wine"]
    own = {label: features_of_config(h.task_config) for label, h in histories.items()}
    seen = []
    real_fit = predict_module.fit
    monkeypatch.setattr(predict_module, "fit", lambda sp, x, y, st: seen.append((x, y)) or real_fit(sp, x, y, st))
    _, predictions = evaluate([EARLIER], [], NetSettings())
    assert list(predictions["task"]) == sorted(histories) and len(seen) == 4
    for label, (x, y) in zip(sorted(histories), seen):
        others = sorted(set(histories) - {label})
        assert x == [own[o] for o in others] and own[label] not in x
        assert y == [histories[o].best().config for o in others]

    # the held-out task's records rewritten: its own prediction does not move, the others' do
    copy = tmp_path / "earlier"
    shutil.copytree(EARLIER, copy)
    results = copy / "wine" / "results.csv"
    import pandas as pd
    frame = pd.read_csv(results)
    frame["hp_log_lr"], frame["val_acc"] = -3.9, frame["val_acc"][::-1].to_numpy()
    frame.to_csv(results, index=False)
    _, changed = evaluate([copy], [], NetSettings())
    before, after = predictions.set_index("task"), changed.set_index("task")
    assert after.loc["wine", "pred_log_lr"] == before.loc["wine", "pred_log_lr"]
    assert all(after.loc[t, "pred_log_lr"] != before.loc[t, "pred_log_lr"] for t in ("digits", "iris", "breast_cancer"))


def test_loto_reads_the_predicted_score_from_the_aux_net_replicate(tmp_path, capsys):
    from ohgw.analysis.aux_net_loto import main

    assert main([str(EARLIER), "--aux", str(AUX), "--out", str(tmp_path / "loto")]) == 0
    import pandas as pd
    predictions = pd.read_csv(tmp_path / "loto" / "predictions.csv").set_index("task")
    loto = pd.read_csv(tmp_path / "loto" / "loto.csv")
    recorded = json.loads((AUX / "breast_cancer" / "aux_net.json").read_text())
    first = pd.read_csv(AUX / "breast_cancer" / "results.csv").query("trial_id == 0").sort_values("epoch").iloc[-1]
    row = predictions.loc["breast_cancer"]
    assert row["same_as_replicate"] and row["ran_prediction_first"] == 1
    assert row["pred_log_lr"] == pytest.approx(recorded["prediction"]["log_lr"], abs=4 * SAME_PREDICTION)  # range 4
    assert row["predicted_score"] == pytest.approx(first["val_acc"])
    assert math.isnan(predictions.loc["digits", "predicted_score"])  # no aux_net replicate on digits
    random = loto[(loto["task"] == "breast_cancer") & (loto["searcher"] == "random")].iloc[0]
    rows = pd.read_csv(EARLIER / "breast_cancer" / "results.csv").sort_values(["trial_id", "epoch"])
    last = rows.groupby("trial_id").tail(1)
    assert random["best"] == pytest.approx(last["val_acc"].max()) and random["trials"] == len(last)
    at = list(last["val_acc"] >= first["val_acc"] - 1e-9).index(True)
    assert random["trials_to_match"] == at + 1
    assert random["device_s_to_match"] == pytest.approx(last["elapsed_s"].iloc[: at + 1].sum())
    assert "| breast_cancer | val_acc | max | aux_net (prediction) | 1 | 1 |" in (tmp_path / "loto" / "loto.md").read_text()


@pytest.mark.parametrize("args, says", [
    (lambda t: [t / "empty"], "no replicate.json found below"),
    (lambda t: [EARLIER / "digits", EARLIER / "wine"], "needs earlier records of at least 2 other tasks, has 1"),
    (lambda t: [EARLIER, AUX], "aux_net replicates among the earlier records"),
])
def test_loto_refuses_with_one_line(tmp_path, capsys, args, says):
    from ohgw.analysis.aux_net_loto import main

    (tmp_path / "empty").mkdir()
    assert main([*map(str, args(tmp_path)), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and says in err[0], err
    assert not (tmp_path / "out").exists()


def scheduler(*overrides, train_from=(EARLIER,)):
    from ohgw.tuner.schedulers import make_scheduler

    cfg = compose_config(*MIXED, f"scheduler.train_from=[{','.join(map(str, train_from))}]", *overrides)
    task = build(cfg.task)
    return make_scheduler(cfg.scheduler, task, 0, {}), task


def test_the_searcher_proposes_its_prediction_first_then_valid_configurations_around_it():
    sched, task = scheduler()
    recorded = json.loads((AUX / "breast_cancer" / "aux_net.json").read_text())
    assert sorted(recorded["trained_on"]) == ["digits", "iris", "wine"]  # never breast_cancer itself
    first = sched.suggest(0).config
    # the same records give the same prediction (to float32's reach across CPUs: SAME_PREDICTION)
    assert same_prediction(task.space, first, recorded["prediction"]), (first, recorded["prediction"])
    assert not same_prediction(task.space, {**first, "log_lr": first["log_lr"] + 0.01}, recorded["prediction"])
    proposals = [sched.suggest(i).config for i in range(1, 201)]
    seen = {tuple(sorted((k, c[k]) for k in task.space.names)) for c in [first, *proposals]}
    assert len(seen) == 201  # never twice
    for c in proposals:
        assert -4.0 <= c["log_lr"] <= 0.0 and 0.0 <= c["dropout"] <= 0.5
        assert isinstance(c["layers"], int) and 2 <= c["layers"] <= 4
        assert c["batch_size"] in (16, 32, 64, 128) and c["epochs"] == 2
    # around the prediction: Gaussian of width 0.1 on the [0, 1] scale; a choice kept with p = 0.7
    u = torch.tensor([normalised(task.space["log_lr"], c["log_lr"]) for c in proposals])
    centre = normalised(task.space["log_lr"], first["log_lr"])
    assert abs(float(u.mean()) - centre) < 0.03 and 0.07 < float(u.std()) < 0.13
    kept = sum(c["batch_size"] == first["batch_size"] for c in proposals) / len(proposals)
    assert 0.7 < kept < 0.86  # 0.7 + 0.3 / 4 = 0.775 expected


@pytest.mark.parametrize("overrides, train_from, says", [
    ((), (), "no directories of earlier replicates given"),
    ((), ("/nonexistent/records",), "no usable earlier records: not a directory"),
    ((), (EARLIER / "digits", EARLIER / "breast_cancer"), "needs earlier records of at least 2 other tasks, has 1 (digits)"),
    (("task.search_space.dropout=null",), (EARLIER,), "searched another space than task breast_cancer"),
    (("+scheduler.args.around.spread=1",), (EARLIER,), "unknown around setting(s) ['spread']"),
])
def test_the_scheduler_refuses_unusable_records(overrides, train_from, says):
    with pytest.raises(ConfigError) as err:
        scheduler(*overrides, train_from=train_from)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_the_tuned_task_is_known_by_the_label_its_records_carry():
    """The scheduler leaves out the records of the task it tunes by label: its own label must be
    the one collect.task_label gives its records, data conditions included."""
    from ohgw.analysis.collect import task_label
    from ohgw.results.history import label_of

    for job in EARLIER.iterdir():
        record = json.loads((job / "replicate.json").read_text())
        assert label_of(build(record["config"]["task"])) == task_label(record) == job.name
    cfg = config("digits", class_subset=[1, 3, 5], label_noise=0.1)
    from omegaconf import OmegaConf
    record = {"task": "digits", "config": {"task": OmegaConf.to_container(cfg, resolve=True)}}
    assert label_of(build(cfg)) == task_label(record) == "digits+label_noise=0.1+class_subset=1,3,5"


def test_a_diverged_trial_is_never_the_best_configuration_learnt():
    from dataclasses import replace

    from ohgw.results.history import Evaluation, HistoryError

    history = load_histories([EARLIER])["wine"]
    diverged = Evaluation({**history.evaluations[0].config, "log_lr": 0.0}, math.nan, 2, 1.0)
    assert replace(history, evaluations=[diverged, *history.evaluations]).finite().best() == history.best()
    with pytest.raises(HistoryError, match="earlier records of task wine have no finite val_acc"):
        replace(history, evaluations=[diverged]).finite()
