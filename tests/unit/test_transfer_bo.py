"""scheduler=transfer_bo built from real replicate records (tests/fixtures/meta_bo_v1), and every
searcher of the meta-BO study proposing only valid configurations of its mixed space (ints and
choices), driven through Syne Tune's own scheduler interface with a made-up score so that the
model-based ones propose from their models."""
import datetime
import json
import math
import shutil

import pytest
from syne_tune.backend.trial_status import Trial

from ohgw.results.history import HistoryError, load_histories
from ohgw.tasks import build
from ohgw.tuner.schedulers import make_scheduler
from ohgw.tuner.transfer import TransferBO
from tests.helpers import compose_config
from tests.transfer_records import FIXTURES, TRANSFER_BO
from tests.unit.test_history import NAMES, SOURCES, TARGET

# (searcher, proposals taken): grid's whole space; the GP-based ones fit their GP for each proposal,
# so the default suite takes 8 and the slow one 50
CASES = [("transfer_bo", 8), ("bo", 8), ("grid", 162), ("random", 100), ("tpe", 60),
         *(pytest.param(name, 50, marks=pytest.mark.slow) for name in ("transfer_bo", "bo"))]


def scheduler(name: str, *overrides, train_from=FIXTURES, seed=0):
    cfg = compose_config("experiment=meta_bo", f"scheduler={name}", f"train_from=[{train_from}]", *overrides)
    task = build(cfg.task)
    return make_scheduler(cfg.scheduler, task, seed, {"ohgw_config": "trial_config.yaml"}), task


def score(config: dict) -> float:
    """A made-up validation accuracy with an optimum inside the space (lr 0.01, 3 blocks)."""
    return 1.0 - 0.1 * abs(config["log_lr"] + 2) - 0.02 * abs(config["layers"] - 3) - 0.1 * config["dropout"]


def proposals(sched, n: int) -> list[dict]:
    """Up to n configurations, each reported complete before the next is asked for."""
    out = []
    for trial_id in range(n):
        suggestion = sched.suggest(trial_id)
        if suggestion is None:
            break
        trial = Trial(trial_id, suggestion.config, datetime.datetime.now())
        sched.on_trial_add(trial)
        sched.on_trial_complete(trial, {"val_acc": score(suggestion.config), "epoch": 9})
        out.append(suggestion.config)
    return out


def box_size(box: dict) -> int:
    """Configurations in a box (or a space) of ints and choices."""
    return math.prod(len(box[n]) for n in NAMES)


def valid(config: dict, space) -> bool:
    for p in space:
        v = config[p.name]
        if p.kind == "int" and not (isinstance(v, int) and p.low <= v <= p.high):
            return False
        if p.kind == "choice" and not any(type(v) is type(c) and v == c for c in p.choices):
            return False
    return set(config) == {*space.names, "epochs", "ohgw_config"} and config["epochs"] == 9


@pytest.mark.parametrize("name, n", CASES)
def test_every_searcher_proposes_only_valid_configurations_of_the_mixed_space(name, n):
    # transfer_bo: the box of every earlier evaluation (4 a task here), the widest these records give
    sched, task = scheduler(name, *(TRANSFER_BO if name == "transfer_bo" else ()))
    configs = proposals(sched, n)
    assert [c for c in configs if not valid(c, task.space)] == []
    keys = [tuple(c[n] for n in NAMES) for c in configs]
    if name == "grid":  # the whole grid, each cell once, then nothing
        assert len(configs) == len(set(keys)) == 3 * 3 * 3 * 3 * 2 and sched.suggest(999) is None
    else:
        size = box_size(sched.box if name == "transfer_bo" else task.space.to_syne_tune())
        assert len(configs) == min(n, size) and len(set(keys)) > 1


def test_the_box_holds_a_best_configuration_of_each_earlier_task_and_no_other_value():
    sched, task = scheduler("transfer_bo")
    assert isinstance(sched, TransferBO) and set(sched.sources) == set(SOURCES)  # the target left out
    histories = load_histories([FIXTURES])
    bests = {label: [e.config for e in histories[label].evaluations if e.score == histories[label].best().score]
             for label in SOURCES}
    box = sched.box

    def inside(config):
        for n in NAMES:
            d = box[n]
            if not (config[n] in d.categories if hasattr(d, "categories") else d.lower <= config[n] <= d.upper):
                return False
        return True

    assert all(any(inside(c) for c in configs) for configs in bests.values())
    values = {n: {c[n] for configs in bests.values() for c in configs} for n in NAMES}
    for n in ("batch_size", "dropout", "optimizer"):
        assert set(box[n].categories) <= values[n]
    for n in ("log_lr", "layers"):
        assert min(values[n]) <= box[n].lower <= box[n].upper <= max(values[n])
    # what it proposes stays in the box
    assert all(inside(c) for c in proposals(sched, 8))


def test_more_configurations_per_task_widen_the_box():
    one, _ = scheduler("transfer_bo")
    three, _ = scheduler("transfer_bo", "scheduler.args.num_hyperparameters_per_task=3")

    assert box_size(three.box) > box_size(one.box)


def test_the_box_and_its_sources_are_written_into_the_job(tmp_path):
    sched, _ = scheduler("transfer_bo")
    sched.write_outputs(tmp_path)
    out = json.loads((tmp_path / "transfer_bo.json").read_text())
    assert set(out["sources"]) == set(SOURCES) and TARGET[0] not in out["sources"]
    assert out["train_from"] == [str(FIXTURES)] and out["num_hyperparameters_per_task"] == 1
    assert set(out["box"]) == set(NAMES) and out["box_configurations"] == box_size(sched.box)
    histories = load_histories([FIXTURES])
    for label, source in out["sources"].items():
        # the one configuration of each task that spans the box: one with the task's best score
        [config] = source["spanning"]
        assert source["best_score"] == histories[label].best().score
        assert any(e.config == config and e.score == source["best_score"] for e in histories[label].evaluations)
        for n in NAMES:
            assert (min(out["box"][n]) <= config[n] <= max(out["box"][n]) if n in ("log_lr", "layers")
                    else config[n] in out["box"][n])


@pytest.mark.parametrize("k", [0, 1.5, True])
def test_a_bad_number_of_configurations_per_task_is_refused(k):
    with pytest.raises(HistoryError, match="num_hyperparameters_per_task must be an integer >= 1"):
        scheduler("transfer_bo", f"scheduler.args.num_hyperparameters_per_task={k}")


def test_a_box_smaller_than_the_budget_ends_when_it_has_been_tried(tmp_path):
    """One earlier task and its one best configuration: the box is that configuration; BO proposes
    it once, then nothing (a replicate ends there, whatever its trial budget)."""
    runs = tmp_path / "runs"
    shutil.copytree(FIXTURES / SOURCES["digits+class_subset=0,1,2,3,4"], runs / "0")
    sched, _ = scheduler("transfer_bo", train_from=runs)
    assert box_size(sched.box) == 1 and len(proposals(sched, 5)) == 1
