"""The order in which the scheduler sees reports (config `tuner.order`).

- `arrival` (Syne Tune's own): reports reach the scheduler as they arrive. With several workers
  the order, and so the scheduler's promotions and stops, depends on timing: the same replicate
  run twice may take other paths, and a change at float resolution can send a paired variant
  down another one.
- `deterministic`: reports reach the scheduler in the order of a virtual clock fixed by training
  progress, ties broken by trial id, so that the same replicate run twice makes the same
  decisions, and a paired variant diverges only where its own metrics differ.

The virtual clock is Syne Tune's simulator backend's idea (an event heap keyed by event time,
its time keeper advanced by the tuner), with times taken from the trials' own training progress
instead of a tabulated benchmark: a trial (re)started when the clock reads v reports its result
at v + (training FLOPs since that start) = v + (train_steps - steps at start) x step_flops. The
warm-start's own FLOPs are left out, so that variants of equal shapes share one clock. Trials run
for real and results arrive out of order, so a result is released only when it is safe: when every
trial the tuner sees running has a result or an end waiting, the earliest of them cannot be
preceded by anything still to come (the conservative rule of parallel discrete-event simulation).
One event is released per fetch, since the scheduler's decision on it may free a worker, whose next
trial starts at that event's time. A trial the scheduler stops or pauses keeps no result it
reported after that decision. The cost is real waiting: a worker that has finished holds its slot
until the clock reaches its end, and a stopped trial trains on until its stop is released.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from syne_tune import Tuner
from syne_tune.backend.trial_status import Status

ENDED = (Status.completed, Status.failed)


@dataclass
class _Trial:
    start_v: float = 0.0           # clock when this process of the trial started
    start_steps: int = 0           # its train_steps then
    last_steps: int = 0            # train_steps of its last released result
    last_v: float = 0.0            # clock at its last released result, or at its start
    pending: list = field(default_factory=list)  # (vtime, result) fetched, not released, in order
    end: tuple | None = None       # (vtime, status) once its process ended by itself
    live: bool = True              # False once stopped or paused by the tuner, or its end released


class VirtualClock:
    """Holds fetched results and ends, and releases them in virtual-clock order."""

    def __init__(self):
        self.now = 0.0
        self.trials: dict[int, _Trial] = {}
        self.released = False  # whether the last fetch released an event

    def begin(self, trial_id: int) -> None:
        """A trial starts or resumes now."""
        t = self.trials.setdefault(trial_id, _Trial())
        t.start_v = t.last_v = self.now
        t.start_steps, t.pending, t.end, t.live = t.last_steps, [], None, True

    def end(self, trial_id: int) -> None:
        """The tuner stopped or paused it: what it reported after that is void."""
        t = self.trials[trial_id]
        t.pending, t.end, t.live = [], None, False

    def live(self) -> list[int]:
        return [i for i, t in self.trials.items() if t.live]

    def take(self, statuses: dict, results: list) -> None:
        """Buffer what the backend fetched: results on the clock, and ends of processes (an end
        comes after the trial's last result, even one read after its end was seen)."""
        for trial_id, result in results:
            t = self.trials.get(trial_id)
            if t is not None and t.live:
                steps = int(result.get("train_steps", 0))
                t.pending.append((t.start_v + (steps - t.start_steps) * float(result.get("step_flops", 1.0)), result))
        for trial_id, (_, status) in statuses.items():
            t = self.trials.get(trial_id)
            if t is not None and t.live and status in ENDED:
                t.end = (t.pending[-1][0] if t.pending else t.last_v, status)

    def release(self, running: list[int]) -> tuple[list, dict]:
        """(results to hand the tuner now, statuses of trials whose end is released): at most
        one event, the earliest, and only once every running trial has one waiting."""
        self.released = False
        waiting = []
        for i in running:
            t = self.trials[i]
            if t.pending:
                waiting.append((t.pending[0][0], 0, i))
            elif t.end is not None:
                waiting.append((t.end[0], 1, i))
            else:
                return [], {}  # this trial may still report something earlier
        if not waiting:
            return [], {}
        at, kind, i = min(waiting)
        t = self.trials[i]
        self.now, self.released = max(self.now, at), True
        if kind == 0:
            t.last_v, result = t.pending.pop(0)
            t.last_steps = int(result.get("train_steps", t.last_steps))
            return [(i, result)], {}
        t.live = False
        return [], {i: t.end[1]}


class DeterministicOrder:
    """Mixin for a Syne Tune TrialBackend: its fetch_status_results hands the tuner results and
    ends in the VirtualClock's order; everything else is the backend's own."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.clock = VirtualClock()

    def start_trial(self, config, checkpoint_trial_id=None):
        trial = super().start_trial(config, checkpoint_trial_id=checkpoint_trial_id)
        self.clock.begin(trial.trial_id)
        return trial

    def resume_trial(self, trial_id, new_config=None):
        trial = super().resume_trial(trial_id, new_config=new_config)
        self.clock.begin(trial_id)
        return trial

    def stop_trial(self, trial_id, result=None):
        if trial_id in self.clock.trials:
            self.clock.end(trial_id)
        super().stop_trial(trial_id, result=result)

    def pause_trial(self, trial_id, result=None):
        self.clock.end(trial_id)
        super().pause_trial(trial_id, result=result)

    def fetch_status_results(self, trial_ids):
        # every trial still running here, whether or not the tuner still counts it
        statuses, results = super().fetch_status_results(sorted(set(self.clock.live()) | set(trial_ids)))
        self.clock.take(statuses, results)
        released, ended = self.clock.release(list(trial_ids))
        out = {}
        for i in trial_ids:
            trial, status = statuses[i]
            out[i] = (trial, ended[i] if i in ended else Status.in_progress if status in ENDED else status)
        return out, released


def ordered(backend_class):
    """The backend class with the deterministic order mixed in."""
    return type(f"Deterministic{backend_class.__name__}", (DeterministicOrder, backend_class), {})


class OrderedTuner(Tuner):
    """Syne Tune's Tuner, not sleeping after a fetch that released an event: the next one may
    be releasable at once. It also keeps what a resumed replicate needs (ohgw.tuner.resume): the
    loop's own set of running trials, saved with it, and taken up again after a resume."""

    running: set = frozenset()   # the trials the loop counts as running (its own set, updated in place)
    recovered: set = frozenset()  # trials a resume relaunched: running from the loop's first fetch

    def _process_new_results(self, running_trials_ids):
        if self.recovered:
            running_trials_ids.update(self.recovered)
            self.recovered = frozenset()
        self.running = running_trials_ids
        return super()._process_new_results(running_trials_ids)

    def __getstate__(self):
        """What Tuner.save keeps: not the callbacks that live only with this process (a live
        dashboard, a progress line), nor the stop criterion (a resume binds a new one)."""
        state = dict(self.__dict__)
        state["callbacks"] = [c for c in self.callbacks if getattr(c, "saved_with_tuner", False)]
        state.update(stop_criterion=None, status_printer=None, tuner_saver=None, running=set(self.running),
                     # the loop's seconds so far: TuningStatus counts from a perf_counter of this process
                     wallclock_at_save=self.tuning_status.wallclock_time if self.tuning_status else 0.0)
        return state

    def _sleep(self):
        clock = getattr(self.trial_backend, "clock", None)
        if clock is not None and clock.released:
            return
        super()._sleep()
