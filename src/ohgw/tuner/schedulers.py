"""Scheduler registry: conf/scheduler/<name>.yaml names a Syne Tune 0.13 class and its
arguments under `args` (the harness's own keys sit beside it); this adds what every scheduler
gets from the task and the replicate, and rejects a scheduler that cannot run on the task or
the budget before any trial starts."""
from __future__ import annotations

import sys

from hydra.errors import InstantiationException
from omegaconf import OmegaConf

from ohgw.config import instantiate
from ohgw.errors import ConfigError

# the harness's own keys of a scheduler config; Syne Tune's are under `args`
OWN_KEYS = ("name", "multi_fidelity", "min_rungs", "grid_points", "train_from", "configurations", "args")
RESOURCE_ATTR = "epoch"       # what trials report, from 1
MAX_RESOURCE_ATTR = "epochs"  # the trial argument promotion-type schedulers rewrite


def config_space(task) -> dict:
    return {**task.space.to_syne_tune(), MAX_RESOURCE_ATTR: task.max_epochs}


def make_scheduler(scheduler_cfg, task, seed: int, extra_config: dict, budget=None):
    """The Syne Tune scheduler; ConfigError if its rungs, its space or `budget` do not fit."""
    own = OmegaConf.to_container(scheduler_cfg, resolve=True)
    name = own["name"]
    unknown = sorted(set(own) - set(OWN_KEYS))
    if unknown:
        raise ConfigError(f"scheduler {name}: unknown key(s) {unknown}; Syne Tune's arguments go under "
                          f"scheduler.args, the harness's keys are {', '.join(OWN_KEYS)}")
    cfg = {k: v for k, v in own.pop("args").items() if v is not None}  # null = Syne Tune's default
    if own["multi_fidelity"]:
        smallest = rung_levels(name, cfg, task.max_epochs, own.get("min_rungs") or 1)[0]
        cfg.update(resource_attr=RESOURCE_ATTR, max_resource_attr=MAX_RESOURCE_ATTR)
    else:
        smallest = task.max_epochs  # every trial runs to the end
    if budget is not None and budget.epochs is not None and budget.epochs < smallest:
        raise ConfigError(f"budget.epochs={budget.epochs} is smaller than one rung of scheduler "
                          f"{name} ({smallest} epochs): no trial would reach a decision")
    if budget is not None:
        warn_if_random_search(name, cfg, len(list(task.space)), budget)
    if "grid_points" in own:
        cfg["search_options"] = {"num_samples": grid_samples(name, task.space, own["grid_points"])}
    restrict = None
    if own.get("configurations"):  # proposals only from a fixed sample (the recorded curves' table)
        restrict = fixed_sample(task, **own["configurations"])
        cfg["points_to_evaluate"] = []  # Syne Tune's midpoint first is not in the sample
    if "train_from" in own:  # a scheduler that learns from earlier records: it gets them and the task it tunes
        cfg.update(task=task, train_from=list(own["train_from"] or []))
    try:
        if restrict is None:
            return instantiate(cfg, config_space=searcher_space(cfg, {**config_space(task), **extra_config}),
                               metric=task.metric, mode=task.mode, random_seed=seed)
        # the sample goes in as plain dicts: through Hydra's instantiate each of its values would become a
        # config node (half a simulated replicate's time, ohgw.simulate.replay)
        partial = instantiate(cfg, _partial_=True, config_space=searcher_space(cfg, {**config_space(task), **extra_config}),
                              metric=task.metric, mode=task.mode, random_seed=seed)
        options = partial.keywords.pop("search_options", None) or {}
        options = OmegaConf.to_container(options) if OmegaConf.is_config(options) else dict(options)
        return partial(search_options={**options, "restrict_configurations": restrict})
    except InstantiationException as e:  # Syne Tune checks its arguments with asserts
        raise ConfigError(f"scheduler {name}: {e.__cause__ or e}") from e
    except AssertionError as e:
        raise ConfigError(f"scheduler {name}: {e}") from e


def fixed_sample(task, size: int, seed: int) -> list[dict]:
    """`size` configurations of the task's space drawn with `seed`: the same list wherever it is
    asked for (the curves experiment records them; a real run restricted to them is compared with
    the simulator's replay of the records)."""
    import numpy as np

    if int(size) != size or size < 1:
        raise ConfigError(f"scheduler.configurations.size must be an integer >= 1, got {size}")
    rng = np.random.RandomState(int(seed))
    space = task.space.to_syne_tune()
    return [{name: domain.sample(random_state=rng) for name, domain in space.items()} for _ in range(int(size))]


# Syne Tune 0.13's KDE searcher (scheduler kde, tpe, bohb) encodes an int domain without its lower
# bound and proposes values below it (an int in [2, 4]: 1, in 11 of 100 proposals on meta_bo's space);
# it gets each int domain as the choice of its values instead, which it encodes right
KDE_SCHEDULERS = (".KDE", ".BOHB", ".SyncBOHB")


def searcher_space(cfg: dict, space: dict) -> dict:
    """The config space as the scheduler `cfg` is handed it (int domains as choices for KDE)."""
    if not str(cfg.get("_target_", "")).endswith(KDE_SCHEDULERS):
        return space
    from syne_tune.config_space import Integer, choice

    return {n: choice(list(range(d.lower, d.upper + 1))) if isinstance(d, Integer) else d for n, d in space.items()}


def warn_if_random_search(name: str, cfg: dict, n_hyperparameters: int, budget) -> None:
    """Syne Tune's KDE searcher (TPE here) proposes at random until its two densities can be fitted
    (kde_first_fit), Optuna's TPE until n_startup_trials have completed: under a trial budget no
    larger than that it is random search. Say so, since a report would read it as TPE."""
    target = str(cfg.get("_target_", ""))
    if budget.trials is None:
        return
    if target.endswith(".KDE"):
        options = cfg.get("search_options") or {}
        first = kde_first_fit(n_hyperparameters, options.get("num_min_data_points"), options.get("top_n_percent"))
    elif target.endswith(".OptunaTPEScheduler"):
        from ohgw.tuner.optuna_tpe import startup_trials

        first = startup_trials(cfg)
    else:
        return
    if budget.trials <= first:
        print(f"warning: scheduler {name}: budget.trials={budget.trials}, but its model needs {first} finished "
              f"trials before its first proposal (until then it proposes at random): under this budget it is "
              f"random search", file=sys.stderr)


def kde_first_fit(n_hyperparameters: int, num_min_data_points: int | None = None,
                  top_n_percent: int | None = None) -> int:
    """Finished trials Syne Tune 0.13's KDE searcher needs before it fits its model. It splits the
    n finished trials into the best n_good = max(num_min_data_points, top_n_percent% of n) and the
    rest, and fits only when both parts hold more points than there are hyperparameters
    (statsmodels' KDEMultivariate): with the defaults (the number of hyperparameters d, 15%) the
    first fit needs n_good = d + 1 = 15% of n, i.e. n >= (d + 1) / 0.15: 40 trials for d = 5."""
    n_min = num_min_data_points or n_hyperparameters
    percent = 15 if top_n_percent is None else top_n_percent
    n = 1
    while min(good := max(n_min, percent * n // 100), n - good) <= n_hyperparameters:
        n += 1
    return n


def rung_levels(name: str, cfg: dict, max_epochs: int, min_rungs: int) -> list[int]:
    """The rung levels below max_epochs that `cfg` gives, as Syne Tune computes them."""
    from syne_tune.optimizer.schedulers.utils.successive_halving import successive_halving_rung_levels

    levels = cfg.get("rung_levels")
    if levels is not None:
        if (not levels or any(int(r) != r or r < 1 for r in levels)
                or any(a >= b for a, b in zip(levels, levels[1:]))):
            raise ConfigError(f"scheduler {name}: rung_levels must be increasing positive "
                              f"integers, got {levels}")
        if levels[-1] > max_epochs:
            raise ConfigError(f"scheduler {name}: rung_levels {levels} exceed "
                              f"task.max_epochs={max_epochs}")
        levels = [int(r) for r in levels if r < max_epochs]
    else:
        grace = cfg.get("grace_period", 1)
        if not 1 <= grace < max_epochs:
            raise ConfigError(f"scheduler {name}: grace_period={grace} (the first rung) must be "
                              f"in [1, task.max_epochs={max_epochs})")
        rf, increment = cfg.get("reduction_factor"), cfg.get("rung_increment")
        if int(grace) != grace or (rf is not None and rf < 2) or (increment is not None and increment < 1):
            raise ConfigError(f"scheduler {name}: need an integer grace_period, reduction_factor >= 2 "
                              f"or rung_increment >= 1; got {grace}, {rf}, {increment}")
        levels = successive_halving_rung_levels(None, int(grace), rf, increment, max_epochs)
    if len(levels) < min_rungs:
        raise ConfigError(f"scheduler {name} needs {min_rungs} rungs below task.max_epochs="
                          f"{max_epochs}, these give {levels}: lower grace_period or reduction_factor, "
                          f"or raise task.max_epochs")
    return levels


def grid_samples(name: str, space, default: int | None) -> dict[str, int]:
    """Points per numeric dimension for GridSearch; choices take all their values."""
    samples = {p.name: p.grid_points or default for p in space if p.kind != "choice"}
    missing = [n for n, k in samples.items() if k is None and space[n].continuous]
    if missing:
        raise ConfigError(f"scheduler {name} needs a discretised space: set scheduler.grid_points "
                          f"or search_space.<hp>.grid_points for {missing}")
    bad = {n: k for n, k in samples.items() if k is not None and (int(k) != k or k < 1)}
    if bad:
        raise ConfigError(f"scheduler {name}: grid points must be integers >= 1, got {bad}")
    return {n: int(k) for n, k in samples.items() if k is not None}
