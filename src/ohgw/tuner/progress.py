"""The progress line of a sweep: replicates done of the total, the current one's budget spent,
the time left.

On a terminal it is redrawn in place on stderr; elsewhere (a log file, a Slurm task's output)
a line is written each time another quarter of the replicate's budget is spent. Hydra's basic
launcher runs a multirun's jobs one after another in one process, so the jobs done are the
current job's number, and the replicates run so far give the time one takes."""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field

from syne_tune.tuner_callback import TunerCallback

STEPS = 4            # lines per replicate where nothing can be redrawn
REDRAW_S = 0.25      # a terminal's line is redrawn at most this often
BAR = 20             # characters of the sweep's bar
ERASE = "\r\x1b[K"   # back to the line's start, erase it


@dataclass
class Sweep:
    """What this process knows of its sweep."""
    total: int | None = None        # jobs in the sweep (run.py counts them); None where unknown
    seconds: list[float] = field(default_factory=list)  # tuning seconds of each replicate run so far


SWEEP = Sweep()


class ProgressLine(TunerCallback):
    def __init__(self, label: str, done: int, total: int | None, stream=None):
        self.label, self.done, self.total = label, done, total
        self.stream = stream if stream is not None else sys.stderr
        self.live = self.stream.isatty()
        self.tuner = None
        self.shown_step = 0
        self.drawn_at = -math.inf

    def on_tuning_start(self, tuner):
        self.tuner = tuner
        self.shown_step = int(self.spent()[0] * STEPS)  # a resumed replicate: from where it stands
        if self.live:
            self.draw()

    def on_loop_end(self):
        fraction = self.spent()[0]
        if self.live and time.monotonic() - self.drawn_at >= REDRAW_S:
            self.draw()
        elif not self.live and int(fraction * STEPS) > self.shown_step:
            self.shown_step = int(fraction * STEPS)
            self.draw()

    def on_tuning_end(self):
        if self.tuner.tuning_status is not None:
            SWEEP.seconds.append(self.tuner.tuning_status.wallclock_time)
        if self.live:
            self.stream.write(ERASE)  # the replicate's summary line takes its place
            self.stream.flush()

    def spent(self) -> tuple[float, str]:
        status = self.tuner.tuning_status if self.tuner is not None else None
        return budget_spent(self.tuner.stop_criterion, status) if status is not None else (0.0, "starting")

    def draw(self):
        line = self.line()
        if self.live:
            width = terminal_width(self.stream)
            self.stream.write(ERASE + line[:width - 1])
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self.drawn_at = time.monotonic()

    def line(self) -> str:
        fraction, words = self.spent()
        status = self.tuner.tuning_status if self.tuner is not None else None
        elapsed = status.wallclock_time if status is not None else 0.0
        left = time_left(elapsed, fraction, self.remaining_jobs(), SWEEP.seconds)
        where = (f"[{bar((self.done + fraction) / self.total)}] {self.done}/{self.total} replicates done"
                 if self.total else f"job #{self.done} of the sweep")
        return (f"[progress] {where} | {self.label}: {fraction:.0%} of its budget ({words}) | "
                f"{'time left: after the first reports' if left is None else f'about {duration(left)} left'}")

    def remaining_jobs(self) -> int:
        """Jobs of the sweep after the current one (0 where the total is unknown)."""
        return max(0, self.total - self.done - 1) if self.total else 0


def budget_spent(budget, status) -> tuple[float, str]:
    """The share of the budget spent, by the limit closest to being reached, and in its unit
    ("18 of 40 epochs"), counted as the budget counts it (ohgw.tuner.budget)."""
    shares = []
    if budget.epochs is not None:
        shares.append((budget.epochs_counted(status) / budget.epochs, f"{budget.epochs_counted(status)} of {budget.epochs} epochs"))
    if budget.trials is not None:
        shares.append((status.num_trials_finished / budget.trials, f"{status.num_trials_finished} of {budget.trials} trials"))
    if budget.wallclock_s is not None:
        shares.append((status.wallclock_time / budget.wallclock_s, f"{duration(status.wallclock_time)} of {duration(budget.wallclock_s)}"))
    if budget.device_hours is not None:
        hours = budget.device_s_counted(status) / 3600
        shares.append((hours / budget.device_hours, f"{hours:.2f} of {budget.device_hours:g} device-hours"))
    fraction, words = max(shares, key=lambda s: s[0])
    return min(fraction, 1.0), words


def time_left(elapsed: float, fraction: float, jobs_after: int, earlier: list[float]) -> float | None:
    """Seconds left in the sweep: the current replicate's rest at its pace so far, and each job
    after it as long as the replicates run so far took (this one's projection before any did);
    None before the first report."""
    if fraction <= 0:
        return None
    projected = elapsed / fraction
    each = sum(earlier) / len(earlier) if earlier else projected
    return max(0.0, projected - elapsed) + jobs_after * each


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def bar(fraction: float) -> str:
    filled = int(round(min(max(fraction, 0.0), 1.0) * BAR))
    return "#" * filled + "-" * (BAR - filled)


def terminal_width(stream) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns or 120
    except (OSError, ValueError, AttributeError):
        return 120
