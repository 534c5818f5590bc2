"""The tuner-side collector of every reported row (results.csv, ohgw.results.contract.ROW)."""
from __future__ import annotations

import time

import pandas as pd
from syne_tune.backend.trial_status import Status
from syne_tune.tuner_callback import TunerCallback

from ohgw.results.contract import SAMPLED, column


class ResultsRecorder(TunerCallback):
    """Collects every reported row (with the sampled configuration and the tuner's clock)
    and the sequence of sampled configurations. Saved with the tuner: a resumed replicate goes
    on with the same rows, its clock going on from where the saved one stood."""

    saved_with_tuner = True

    def __init__(self, hp_names: list[str]):
        self.hp_names = hp_names
        self.rows: list[dict] = []
        self.sampled: list[dict] = []
        self.t0 = time.perf_counter()
        self.elapsed_before = 0.0      # seconds of the tuning loop in earlier attempts
        # device time: each trial's elapsed_s at its last report, and for a trial running now,
        # when (this process's clock) that count was last brought up to date
        self.device_at_report: dict[int, float] = {}
        self.running_since: dict[int, float] = {}

    def __getstate__(self):
        state = dict(self.__dict__)
        state.update(elapsed_before=self.now(), running_since={})  # perf_counter means nothing in another process
        return state

    def now(self) -> float:
        """Seconds of the tuning loop, over every attempt of this replicate."""
        return self.elapsed_before + time.perf_counter() - self.t0

    def on_tuning_start(self, tuner):
        self.t0 = time.perf_counter()

    def on_start_trial(self, trial):
        self.sampled.append({"trial_id": trial.trial_id, **{n: trial.config[n] for n in self.hp_names}})

    def on_fetch_status_results(self, trial_status_dict, new_results):
        now = time.perf_counter()
        for trial_id, (_, status) in trial_status_dict.items():
            if status == Status.in_progress:
                self.running_since.setdefault(trial_id, now)
            else:
                self.running_since.pop(trial_id, None)

    def on_trial_result(self, trial, status, result, decision):
        self.rows.append({"trial_id": trial.trial_id,
                          "wallclock_s": self.now(),
                          "decision": decision,
                          **{column(SAMPLED, n): trial.config[n] for n in self.hp_names},
                          **{k: v for k, v in result.items() if not k.startswith("st_")}})
        self.device_at_report[trial.trial_id] = float(result.get("elapsed_s", 0.0))
        if trial.trial_id in self.running_since:
            self.running_since[trial.trial_id] = time.perf_counter()

    def device_s(self) -> float:
        """Device-seconds so far: each trial's cumulative process seconds at its last report,
        plus, for each trial running now, the seconds since that report (or since this tuner
        first saw it running), so that a device-time limit holds between reports."""
        now = time.perf_counter()
        return float(sum(self.device_at_report.values()) + sum(now - t for t in self.running_since.values()))

    def frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.rows)
        if frame.empty:
            return frame
        first = ["trial_id", "epoch", "val_acc", "val_loss", "test_acc", "wallclock_s", "elapsed_s", "train_s"]
        return frame[[c for c in first if c in frame] + [c for c in frame if c not in first]]
