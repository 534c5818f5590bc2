"""When a replicate stops: the first of its limits reached."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ohgw.errors import ConfigError

LIMITS = ("epochs", "trials", "wallclock_s", "device_hours")


@dataclass
class Budget:
    epochs: int | None = None       # epochs reported over all trials (one recorded report = one epoch)
    # trials finished (completed, stopped or failed): counting trials *started* would end the
    # replicate as soon as the last one starts, killing it before it reports; paused trials do
    # not count, so pause/resume schedulers want an epoch budget
    trials: int | None = None
    wallclock_s: float | None = None
    # device-hours summed over the trials (each trial's processes so far, start-up included;
    # "12 GPU-hours" = 4 GPUs for 3 hours), as results.csv's elapsed_s counts them
    device_hours: float | None = None
    # the epochs counted so far: the rows results.csv will hold (the replicate binds its
    # recorder). Syne Tune's own count also takes reports that arrived, in the same fetch, after
    # the scheduler had stopped their trial, which results.csv and T@tau never see.
    epochs_counted: Callable[[object], int] = field(
        default=lambda status: status.overall_metric_statistics.count, repr=False, compare=False)
    device_s_counted: Callable[[object], float] = field(default=lambda status: 0.0, repr=False, compare=False)

    def __post_init__(self):
        set_limits = {k: getattr(self, k) for k in LIMITS if getattr(self, k) is not None}
        if not set_limits:
            raise ConfigError("budget: set at least one of budget.epochs, budget.trials, budget.wallclock_s, "
                              "budget.device_hours")
        for k, v in set_limits.items():
            if not v > 0:
                raise ConfigError(f"budget.{k} must be > 0, got {v}")

    def __call__(self, status) -> bool:
        """Syne Tune stop criterion."""
        return ((self.epochs is not None and self.epochs_counted(status) >= self.epochs)
                or (self.trials is not None and status.num_trials_finished >= self.trials)
                or (self.wallclock_s is not None and status.wallclock_time >= self.wallclock_s)
                or (self.device_hours is not None and self.device_s_counted(status) >= 3600 * self.device_hours))
