"""When a replicate stops: the first of its limits reached."""
from __future__ import annotations

from dataclasses import dataclass

from ohgw.errors import ConfigError

LIMITS = ("epochs", "trials", "wallclock_s")


@dataclass
class Budget:
    epochs: int | None = None       # epochs consumed over all trials (one report = one epoch)
    # trials finished (completed, stopped or failed): counting trials *started* would end the
    # replicate as soon as the last one starts, killing it before it reports; paused trials do
    # not count, so pause/resume schedulers want an epoch budget
    trials: int | None = None
    wallclock_s: float | None = None

    def __post_init__(self):
        set_limits = {k: getattr(self, k) for k in LIMITS if getattr(self, k) is not None}
        if not set_limits:
            raise ConfigError("budget: set at least one of budget.epochs, budget.trials, budget.wallclock_s")
        for k, v in set_limits.items():
            if not v > 0:
                raise ConfigError(f"budget.{k} must be > 0, got {v}")

    def __call__(self, status) -> bool:
        """Syne Tune stop criterion."""
        return ((self.epochs is not None and status.overall_metric_statistics.count >= self.epochs)
                or (self.trials is not None and status.num_trials_finished >= self.trials)
                or (self.wallclock_s is not None and status.wallclock_time >= self.wallclock_s))
