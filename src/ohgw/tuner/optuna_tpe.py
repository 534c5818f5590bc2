"""scheduler=optuna_tpe: Optuna's TPESampler behind Syne Tune's FIFOScheduler (single fidelity, every
trial to the task's last epoch, like `tpe` and `random`).

The searcher is Optuna's ask-and-tell: a new trial is `study.ask(distributions)`, the distributions
built from the config space the scheduler is handed (`distributions`: the same Syne Tune domains
every other scheduler gets from `SearchSpace.to_syne_tune`); a completed trial is told its final
metric (the last report, what every Syne Tune searcher is updated with), in the task's direction
(`mode` max: maximize). A trial that fails, or completes with a non-finite metric (a diverged
trial), is told FAIL, which Optuna's samplers ignore; a trial removed before it completes is told
PRUNED at its last finite report (TPE ranks it below the completed trials), FAIL without one.
The sampler is seeded with the replicate's scheduler seed (ohgw.tuner.seeding), so one seed gives
the same proposals in every warm-start variant and in every run. Until `n_startup_trials` trials
have completed, TPE draws at random (Optuna's own random sampler, not Syne Tune's stream), then
from its two densities (univariate by default, as Optuna's TPE is). Like Optuna, it does not
filter duplicates: on a finite space TPE may propose a configuration again."""
from __future__ import annotations

import math

from syne_tune.config_space import Categorical, Domain, FiniteRange, Float, Integer, is_log_space
from syne_tune.optimizer.schedulers import FIFOScheduler
from syne_tune.optimizer.schedulers.searchers.searcher import BaseSearcher

from ohgw.errors import ConfigError

NAME = "optuna_tpe"
# TPESampler's arguments the config may set (null or absent: Optuna's default); the seed is the replicate's
SAMPLER_KEYS = ("n_startup_trials", "n_ei_candidates", "multivariate", "group", "constant_liar",
                "consider_endpoints", "prior_weight")


def distributions(config_space: dict) -> dict:
    """Optuna's distribution of each searched hyperparameter of a Syne Tune config space (constants,
    such as `epochs`, are not searched): Float -> FloatDistribution, Integer -> IntDistribution (log
    where the domain samples log-uniformly), Categorical (and Ordinal) -> CategoricalDistribution."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out = {}
    for name, d in config_space.items():
        if not isinstance(d, Domain):
            continue
        if isinstance(d, Categorical):
            out[name] = CategoricalDistribution(list(d.categories))
        elif isinstance(d, Integer) and not isinstance(d, FiniteRange):
            out[name] = IntDistribution(int(d.lower), int(d.upper), log=is_log_space(d))
        elif isinstance(d, Float):
            out[name] = FloatDistribution(float(d.lower), float(d.upper), log=is_log_space(d))
        else:
            raise ConfigError(f"scheduler {NAME}: {name}'s domain {type(d).__name__} has no Optuna distribution")
    return out


class OptunaTPESearcher(BaseSearcher):
    """A Syne Tune searcher over an Optuna study (ask-and-tell) with a seeded TPESampler."""

    def __init__(self, config_space: dict, metric: str, mode: str = "min", random_seed: int = 0,
                 **sampler_args):
        import optuna

        # no midpoint first (points_to_evaluate=[]): Optuna's TPE starts from its own random draws
        super().__init__(config_space, metric=metric, points_to_evaluate=[], mode=mode)
        unknown = sorted(set(sampler_args) - set(SAMPLER_KEYS))
        if unknown:
            raise ConfigError(f"scheduler {NAME}: unknown argument(s) {unknown}; TPESampler's settings here: "
                              f"{', '.join(SAMPLER_KEYS)}")
        startup = sampler_args.get("n_startup_trials", 10)
        if int(startup) != startup or startup < 0:
            raise ConfigError(f"scheduler {NAME}: n_startup_trials must be an integer >= 0, got {startup}")
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # no line per trial on the terminal
        self.distributions = distributions(config_space)
        self.sampler_args = dict(sampler_args)
        sampler = optuna.samplers.TPESampler(seed=int(random_seed), **sampler_args)
        self.study = optuna.create_study(direction="maximize" if mode == "max" else "minimize", sampler=sampler)
        self.running = {}  # Syne Tune trial id -> Optuna trial not told yet
        self.last = {}     # Syne Tune trial id -> its last finite report (for a trial removed early)

    def get_config(self, **kwargs) -> dict:
        trial = self.study.ask(self.distributions)
        self.running[str(kwargs["trial_id"])] = trial
        return dict(trial.params)

    def _value(self, result: dict) -> float | None:
        value = result.get(self._metric)
        return float(value) if value is not None and math.isfinite(float(value)) else None

    def on_trial_result(self, trial_id: str, config: dict, result: dict, update: bool):
        value = self._value(result)
        if value is not None:
            self.last[str(trial_id)] = value
        if update:
            self._update(trial_id, config, result)

    def _update(self, trial_id: str, config: dict, result: dict):
        """The trial completed: tell Optuna its final metric (FAIL where it is not finite)."""
        value = self._value(result)
        self._tell(trial_id, value, "COMPLETE" if value is not None else "FAIL")

    def evaluation_failed(self, trial_id: str):
        self._tell(trial_id, None, "FAIL")

    def trial_removed(self, trial_id: str):
        """Stopped or removed before it completed: PRUNED at its last finite report, FAIL without one."""
        value = self.last.get(str(trial_id))
        self._tell(trial_id, value, "PRUNED" if value is not None else "FAIL")

    def _tell(self, trial_id: str, value: float | None, state: str):
        from optuna.trial import TrialState

        trial = self.running.pop(str(trial_id), None)
        if trial is None:  # told already, or not this searcher's
            return
        if state == "PRUNED":
            trial.report(value, step=0)  # what TPE ranks a pruned trial by
        self.study.tell(trial, value if state == "COMPLETE" else None, state=TrialState[state])

    def clone_from_state(self, state):
        raise NotImplementedError(f"{NAME} is resumed from the saved tuner (dill), not from a searcher state")


class OptunaTPEScheduler(FIFOScheduler):
    """FIFOScheduler (single fidelity) with an OptunaTPESearcher seeded with `random_seed`."""

    def __init__(self, config_space: dict, metric: str, mode: str, random_seed: int, **kwargs):
        sampler_args = {k: kwargs.pop(k) for k in SAMPLER_KEYS if k in kwargs}
        searcher = OptunaTPESearcher(config_space, metric, mode=mode, random_seed=random_seed, **sampler_args)
        super().__init__(config_space, metric=metric, mode=mode, searcher=searcher, random_seed=random_seed,
                         **kwargs)

    def on_trial_remove(self, trial):
        super().on_trial_remove(trial)
        self.searcher.trial_removed(str(trial.trial_id))


def startup_trials(cfg: dict) -> int:
    """Completed trials before the first model-based proposal of the scheduler config `cfg`'s args."""
    return int(cfg.get("n_startup_trials", 10))  # TPESampler's default
