"""ohgw-bench's Hydra launcher (Hydra finds launchers only in the hydra_plugins namespace).

Light to import: Hydra imports every module here at each start (without sys.modules, so no
`from __future__ import annotations`: the dataclass below reads its annotations)."""

import math
import re
import sys
from dataclasses import dataclass
from typing import NamedTuple

from hydra.core.config_store import ConfigStore
from hydra_plugins.hydra_submitit_launcher.config import SlurmQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher

ON_OVER = ("auto", "warn", "refuse")


@dataclass
class CheckedSlurmQueueConf(SlurmQueueConf):
    """Submitit's Slurm settings, and how the launcher compares each job's budget with them."""
    _target_: str = "hydra_plugins.ohgw_launchers.CheckedSlurmLauncher"
    # a budget that needs more than one time limit: auto (warn where the requeues that
    # max_num_timeout allows cover it, refuse where they do not) | warn | refuse
    on_budget_over_timeout: str = "auto"
    # the time limit must hold the budget's wall-clock need times this (the tuner's start, data
    # loading, trials' start-up and idle workers are not in the budget's count)
    timeout_headroom: float = 1.1


# what conf/hydra/launcher/slurm.yaml extends (its defaults list)
ConfigStore.instance().store(group="hydra/launcher", name="ohgw_submitit_slurm", node=CheckedSlurmQueueConf,
                             provider="ohgw-bench")
OPTION = "hydra.launcher.on_budget_over_timeout"
OWN_KEYS = ("on_budget_over_timeout", "timeout_headroom")  # ours, not submitit's: kept from its executor


class Fit(NamedTuple):
    """How a job's budget fits the Slurm time limit, in minutes."""
    need_min: float        # the budget's wall-clock need
    why: str               # where that need comes from (the budget's numbers)
    per_allocation: float  # the minutes one allocation gives the replicate
    allocations: int       # allocations the need takes, with the headroom
    allowed: int           # allocations submitit gives a task (max_num_timeout + 1)

    @property
    def fits(self) -> bool:
        return self.allocations <= 1


def node_gpus(params: dict) -> int:
    """The GPUs an array task gets, from the launcher's settings (gpus_per_node, gpus_per_task,
    or a gres such as gpu:4 or gpu:a100:4); 0 if none is asked for."""
    if params.get("gpus_per_node"):
        return int(params["gpus_per_node"])
    if params.get("gpus_per_task"):
        return int(params["gpus_per_task"]) * int(params.get("tasks_per_node") or 1)
    found = re.search(r"(?:^|,)gpu(?::[^:,]+)?:(\d+)", str(params.get("gres") or ""))
    return int(found.group(1)) if found else 0


def trials_at_once(cfg, gpus: int) -> int:
    """The trials a replicate runs at once on a node with `gpus` GPUs, as ohgw.tuner.runtime
    decides it there (ohgw.tuner.runtime.workers): n_workers, or one trial per GPU it uses, or as
    many as on CPU."""
    from ohgw.tuner.runtime import workers

    used = None
    if gpus and cfg.device != "cpu":
        used = len(cfg.gpus_to_use) if cfg.gpus_to_use is not None else gpus
    return max(1, int(workers(cfg.n_workers, used, int(cfg.num_gpus_per_trial))))


def budget_fit(cfg, params: dict) -> Fit | None:
    """How the job's budget fits `params`' time limit; None where the budget says nothing of
    wall-clock time (epochs or trials only: the repository has no per-epoch time estimate).
    Device-hours are summed over the trials, so a replicate running N trials at once spends them
    in 1/N of the time; budget.wallclock_s is a wall-clock need itself; the first reached ends
    the replicate."""
    needs = []
    hours = cfg.budget.get("device_hours")
    if hours is not None:
        n = trials_at_once(cfg, node_gpus(params))
        needs.append((60 * float(hours) / n, f"budget.device_hours={hours:g} over {n} trial{'s' * (n > 1)} at once"))
    wallclock = cfg.budget.get("wallclock_s")
    if wallclock is not None:
        needs.append((float(wallclock) / 60, f"budget.wallclock_s={wallclock:g}"))
    if not needs:
        return None
    need, why = min(needs)
    # submitit's signal (requeue and exit) comes signal_delay_s before the time limit
    per_allocation = float(params["timeout_min"]) - float(params.get("signal_delay_s") or 0) / 60
    headroom = float(params.get("timeout_headroom", 1.0))
    allocations = math.ceil(need * headroom / per_allocation - 1e-9) if per_allocation > 0 else math.inf
    return Fit(need, why, per_allocation, allocations, int(params.get("max_num_timeout") or 0) + 1)


def describe_fit(fit: Fit, params: dict) -> str:
    """The numbers in one line."""
    headroom = float(params.get("timeout_headroom", 1.0))
    delay = float(params.get("signal_delay_s") or 0)
    return (f"{fit.why} needs {_min(fit.need_min)} min ({_min(fit.need_min * headroom)} with "
            f"timeout_headroom={headroom:g}), hydra.launcher.timeout_min={params['timeout_min']} gives "
            f"{_min(fit.per_allocation)} (submitit signals {delay:.0f} s before the limit): {fit.allocations} "
            f"allocations, max_num_timeout={fit.allowed - 1} allows {fit.allowed}")


def _min(minutes: float) -> str:
    return f"{minutes:.0f}" if abs(minutes) >= 10 else f"{minutes:.1f}"


def fitting_timeout(fit: Fit, params: dict) -> int:
    """The smallest timeout_min that holds the need in one allocation."""
    headroom = float(params.get("timeout_headroom", 1.0))
    return math.ceil(fit.need_min * headroom + float(params.get("signal_delay_s") or 0) / 60)


def refuses(fit: Fit, on_over: str) -> bool:
    """Whether a budget that does not fit stops the launch (on_budget_over_timeout)."""
    return on_over == "refuse" or (on_over == "auto" and fit.allocations > fit.allowed)


class CheckedSlurmLauncher(SlurmLauncher):
    """Hydra's submitit Slurm launcher that first checks every job's config as a replicate
    does at its start, minus what depends on the machine (devices, data), and its budget against
    the time limit: a bad value is one line and exit status 2 before anything is queued, not a
    failed array task later."""

    def __init__(self, **params):
        self.own = {k: params.pop(k) for k in OWN_KEYS if k in params}
        super().__init__(**params)
        if self.own.get("on_budget_over_timeout", "auto") not in ON_OVER:
            print(f"error: hydra.launcher.on_budget_over_timeout must be one of {', '.join(ON_OVER)}, "
                  f"got {self.own['on_budget_over_timeout']!r}", file=sys.stderr)
            sys.exit(2)

    def launch(self, job_overrides, initial_job_idx):
        from ohgw.errors import ConfigError
        from ohgw.tuner.quiet import import_syne_tune, syne_tune_on_terminal

        import_syne_tune()  # the checks build schedulers: without Syne Tune's announcements
        syne_tune_on_terminal(False)
        from ohgw.tuner.replicate import check_config

        fits = {}  # the line of a budget that does not fit: the jobs it is about
        params = {**self.params, **self.own}
        for idx, overrides in enumerate(job_overrides, initial_job_idx):
            cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            try:
                check_config(cfg)
            except ConfigError as e:
                print(f"error: job #{idx} ({' '.join(overrides)}): {e}", file=sys.stderr)
                sys.exit(2)
            fit = budget_fit(cfg, params)
            if fit is not None and not fit.fits:
                fits.setdefault(fit, []).append(f"#{idx} ({' '.join(overrides)})")
        if self.over_timeout(fits, params):
            sys.exit(2)
        return super().launch(job_overrides, initial_job_idx)

    def over_timeout(self, fits: dict, params: dict) -> bool:
        """One line per budget that does not fit the time limit; True if one refuses the launch."""
        on_over = params.get("on_budget_over_timeout", "auto")
        refused = False
        for fit, jobs in fits.items():
            which = f"job {jobs[0]}" + (f" and {len(jobs) - 1} more" if len(jobs) > 1 else "")
            numbers = f"{which}: {describe_fit(fit, params)}"
            if refuses(fit, on_over):
                refused = True
                timeout = f"raise hydra.launcher.timeout_min to {fitting_timeout(fit, params)}"
                requeues = (f" or hydra.launcher.max_num_timeout to {fit.allocations - 1}"
                            if fit.allocations > fit.allowed else "")
                print(f"error: {numbers}; nothing queued ({OPTION}={on_over}): {timeout}{requeues}, or "
                      f"{OPTION}=warn queues it as it is", file=sys.stderr)
            else:
                then = ("each time limit requeues the task, which resumes its replicate"
                        if fit.allocations <= fit.allowed else f"the task fails after {fit.allowed} time limits")
                print(f"warning: {numbers}; {then}", file=sys.stderr)
        return refused
