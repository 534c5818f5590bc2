"""The tuner-side collector of every reported row (results.csv, ohgw.results.contract.ROW)."""
from __future__ import annotations

import time

import pandas as pd
from syne_tune.tuner_callback import TunerCallback

from ohgw.results.contract import SAMPLED, column


class ResultsRecorder(TunerCallback):
    """Collects every reported row (with the sampled configuration and the tuner's clock)
    and the sequence of sampled configurations."""

    def __init__(self, hp_names: list[str]):
        self.hp_names = hp_names
        self.rows: list[dict] = []
        self.sampled: list[dict] = []
        self.t0 = time.perf_counter()

    def on_tuning_start(self, tuner):
        self.t0 = time.perf_counter()

    def on_start_trial(self, trial):
        self.sampled.append({"trial_id": trial.trial_id, **{n: trial.config[n] for n in self.hp_names}})

    def on_trial_result(self, trial, status, result, decision):
        self.rows.append({"trial_id": trial.trial_id,
                          "wallclock_s": time.perf_counter() - self.t0,
                          "decision": decision,
                          **{column(SAMPLED, n): trial.config[n] for n in self.hp_names},
                          **{k: v for k, v in result.items() if not k.startswith("st_")}})

    def device_s(self) -> float:
        """Device-seconds so far: each trial's cumulative process seconds at its last report."""
        last: dict = {}
        for row in self.rows:
            last[row["trial_id"]] = row.get("elapsed_s", 0.0)
        return float(sum(last.values()))

    def frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.rows)
        if frame.empty:
            return frame
        first = ["trial_id", "epoch", "val_acc", "val_loss", "test_acc", "wallclock_s", "elapsed_s", "train_s"]
        return frame[[c for c in first if c in frame] + [c for c in frame if c not in first]]
