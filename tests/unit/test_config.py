"""Every option of every config group composes and builds."""
import datetime as dt

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from ohgw.config import instantiate

from ohgw import CONF_DIR
from ohgw.tasks import build
from ohgw.trial.main import trial_logger
from ohgw.tuner.schedulers import make_scheduler
from tests.auxnet_records import MIXED as AUX_NET, TRAIN_FROM as AUX_NET_RECORDS
from tests.helpers import compose_config
from tests.transfer_records import RECORDS as TRANSFER_RECORDS, TRANSFER_BO

GROUPS = ("task", "scheduler", "warmstart", "logger", "experiment")
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((CONF_DIR / g).glob("*.yaml"))]
# options that learn from earlier records: real records and the task and space they fit
LEARNING = {("scheduler", "transfer_bo"): TRANSFER_BO, ("experiment", "meta_bo"): (TRANSFER_RECORDS,),
            ("scheduler", "aux_net"): (*AUX_NET, AUX_NET_RECORDS)}


@pytest.mark.parametrize("group, option", OPTIONS)
def test_every_option_composes_and_builds(group, option, tmp_path):
    cfg = compose_config(f"{group}={option}", *LEARNING.get((group, option), ()))
    if group != "experiment":
        assert cfg[group].name == option
    task = build(cfg.task)
    variant = instantiate(cfg.warmstart)
    variant.targets(task.space, task.hyperparameters.movable)
    scheduler = make_scheduler(cfg.scheduler, task, seed=0, extra_config={})
    assert scheduler.metric == task.metric
    assert trial_logger(cfg.logger, tmp_path / "0") is not None


def test_default_composition():
    cfg = compose_config()
    assert (cfg.task.name, cfg.scheduler.name, cfg.warmstart.name) == ("digits", "asha", "ohgw")
    assert cfg.warmstart.eta_h == 1e-3 and cfg.warmstart.steps == 1


def test_multirun_directory_is_unique_per_launch():
    def sweep_dir():
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(config_name="config", return_hydra_config=True).hydra.sweep.dir

    first, second = sweep_dir(), sweep_dir()
    assert first != second  # microseconds: Hydra's default has 1-second resolution
    dt.datetime.strptime(first.split("multirun/")[1], "%Y-%m-%d/%H-%M-%S.%f")


def test_a_corner_excluded_from_a_sweep_is_matched_by_value():
    from ohgw.errors import ConfigError
    from ohgw.tuner.exclude import excluded

    base = ("experiment=exp2_cpu", "warmstart=ohgw")
    assert excluded(compose_config(*base, "warmstart.eta_h=3e-4", "task.token_noise=0.15")) == \
        "warmstart.eta_h=0.0003, task.token_noise=0.15"
    assert excluded(compose_config(*base, "warmstart.eta_h=1e-3", "task.token_noise=0.15")) is None
    assert excluded(compose_config(*base, "warmstart.eta_h=3e-4", "task.token_noise=0.0")) is None
    assert excluded(compose_config()) is None
    with pytest.raises(ConfigError, match="sweep.exclude names task.tokn_noise, which is not in the config"):
        excluded(compose_config("+sweep.exclude=[{task.tokn_noise: 0.1}]"))
    # a group's whole node never equals a name: refused, not silently never matched (as curves_digits once was)
    with pytest.raises(ConfigError, match=r"warmstart is a config node, not a value; .*warmstart.name: random"):
        excluded(compose_config("+sweep.exclude=[{warmstart: random}]"))
    assert excluded(compose_config("warmstart=random", "+sweep.exclude=[{warmstart.name: random}]")) == "warmstart.name=random"


def test_the_low_budget_study_searches_its_five_hyperparameters_and_tpe_is_warned_random_search(capsys):
    from ohgw.tuner.budget import Budget

    cfg = compose_config("experiment=low_budget_tpe")
    task = build(cfg.task)
    assert sorted(p.name for p in task.space) == ["batch_size", "dropout", "layers", "log_lr", "log_wd"]
    make_scheduler(cfg.scheduler, task, seed=0, extra_config={}, budget=Budget(trials=10))
    assert capsys.readouterr().err.strip() == (
        "warning: scheduler tpe: budget.trials=10, but its model needs 40 finished trials before its first "
        "proposal (until then it proposes at random): under this budget it is random search")
    make_scheduler(cfg.scheduler, task, seed=0, extra_config={}, budget=Budget(trials=41))
    assert capsys.readouterr().err == ""
    random_cfg = compose_config("experiment=low_budget_tpe", "scheduler=random")
    make_scheduler(random_cfg.scheduler, task, seed=0, extra_config={}, budget=Budget(trials=5))
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("num_min_data_points", [None, 6])
def test_kde_first_fit_is_where_syne_tunes_kde_searcher_first_fits_its_model(num_min_data_points):
    from syne_tune.optimizer.baselines import KDE

    from ohgw.tuner.schedulers import kde_first_fit

    task = build(compose_config("experiment=low_budget_tpe").task)
    scheduler = KDE(task.space.to_syne_tune(), metric="val_acc", mode="max", random_seed=0,
                    search_options={"num_min_data_points": num_min_data_points, "debug_log": False})
    searcher = scheduler.searcher
    first = kde_first_fit(5, num_min_data_points)
    assert first == (40 if num_min_data_points is None else 12)
    for n in range(1, first + 1):
        config = searcher.get_config(trial_id=str(n))
        searcher._update(str(n), config, {"val_acc": n / 100})
        fitted = searcher._train_kde(np.array(searcher.X), np.array(searcher.y)) is not None
        assert fitted == (n == first), n
