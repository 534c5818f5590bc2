"""A replicate that outlives its job: its tuner is saved as it runs, and the next launch of the
same replicate goes on from the last save instead of starting again.

Saving is Syne Tune's own (a dill of the Tuner, `tuner/tuner.dill`, which `Tuner.load` reads),
written atomically at the end of a tuning loop in which something changed (a report, a trial
started or ended), at most every `tuner.save_every_s` seconds. The end of a loop is a point where
the scheduler, the searcher, the backend's read positions, the virtual clock of
`tuner.order=deterministic` and the recorded rows agree with each other; a save is never made
anywhere else (not on the way out of an interrupted run), so a kill at any moment leaves the last
consistent one.

Taking up (`take_over`): a tuner is built as for a fresh run, with the saved scheduler, and takes
the saved state: the trials and their statuses, how far each trial's reports were read, the
clock, the rows. Each trial that was running at the save is running again: a trial whose process
had ended reports that end; one whose process was lost starts a new process, which resumes
from the trial's last checkpoint (written at every epoch) and reports the epochs the tuner has
not read yet; those the dead process reported after the save are still in its std.out and are
read from there. Trials started after the save are forgotten and proposed again by the scheduler.
Nothing a finished trial did is trained again, and under `tuner.order=deterministic` the resumed
replicate makes the decisions an uninterrupted one makes."""
from __future__ import annotations

import os
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import dill
from syne_tune.constants import ST_TUNER_DILL_FILENAME
from syne_tune.tuner_callback import TunerCallback

from ohgw.errors import Interrupted

TUNER_DIR = "tuner"  # Syne Tune's folder in the job directory (tuner_name)
STATE_FILE = ST_TUNER_DILL_FILENAME


def state_path(job_dir: Path) -> Path:
    return Path(job_dir) / TUNER_DIR / STATE_FILE


def save(tuner) -> None:
    """Tuner.save, written atomically: a kill during the write keeps the previous state."""
    path = state_path(tuner.tuner_path.parent)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        dill.dump(tuner, f)
    os.replace(tmp, path)


def load(job_dir: Path):
    """The tuner as last saved in this job directory (what Syne Tune's Tuner.load reads)."""
    with open(state_path(job_dir), "rb") as f:
        return dill.load(f)


class TunerSaver(TunerCallback):
    """Saves the tuner at the end of each loop that changed something, at most every `every_s`
    seconds, and keeps the replicate's claim alive (ohgw.tuner.claims)."""

    def __init__(self, recorder, every_s: float, claim=None):
        self.recorder, self.every_s, self.claim = recorder, every_s, claim
        self.tuner = None
        self.saved = None       # what the last save held (see _progress)
        self.saved_at = 0.0

    def on_tuning_start(self, tuner):
        self.tuner = tuner

    def _progress(self) -> tuple:
        t = self.tuner
        return (len(self.recorder.rows), len(t.trial_backend.trial_ids), tuple(sorted(t.running)),
                t.tuning_status.num_trials_finished if t.tuning_status else 0)

    def on_loop_end(self):
        now = time.monotonic()
        progress = self._progress()
        if progress != self.saved and now - self.saved_at >= self.every_s:
            save(self.tuner)
            self.saved, self.saved_at = progress, now
        if self.claim is not None:
            self.claim.heartbeat()


def take_over(tuner, saved) -> dict:
    """Make `tuner` (built for this replicate, with the saved scheduler) go on from `saved`;
    what was done, for the record's `resumes`."""
    tuner.tuning_status = saved.tuning_status
    tuner.tuning_status.start_time = time.perf_counter() - saved.wallclock_at_save
    tuner.last_seen_result_per_trial = saved.last_seen_result_per_trial
    tuner.trials_scheduler_stopped = saved.trials_scheduler_stopped
    backend, old = tuner.trial_backend, saved.trial_backend
    for name in ("trial_ids", "_trial_dict", "_last_metric_seen_index", "trial_subprocess",
                 "_busy_trial_id_candidates", "clock", "decisions_at_save"):
        if hasattr(old, name):
            setattr(backend, name, getattr(old, name))
    forgotten = backend.forget_unsaved()
    backend.restore_decisions()
    relaunched = [i for i in backend.lost() if i in saved.running]
    for trial_id in relaunched:
        backend.relaunch(trial_id)
    tuner.recovered = set(saved.running)
    return {"trials_started": len(backend.trial_ids), "relaunched": relaunched, "forgotten": forgotten}


INTERRUPTIONS = (Interrupted, KeyboardInterrupt, SystemExit)  # SystemExit: submitit's exit after a requeue


@contextmanager
def sigterm_interrupts():
    """While the tuner runs, SIGTERM (`kill`, a time limit outside submitit) raises Interrupted,
    as Ctrl-C raises KeyboardInterrupt, instead of ending the process where it stands. Where
    SIGTERM already has a handler (submitit's, which requeues a Slurm job on its own signal), it
    is left alone."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return

    def interrupt(signum, frame):
        raise Interrupted(signum)

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
