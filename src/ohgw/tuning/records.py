"""What a replicate leaves on disk for analysis: results.csv (every reported row) and
replicate.json (the record). Both are written atomically: a reader never sees a
half-written file, and replicate.json says `complete` only after results.csv is whole."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd
from syne_tune.tuner_callback import TunerCallback

RESULTS = "results.csv"
RECORD = "replicate.json"


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
                          **{f"hp_{n}": trial.config[n] for n in self.hp_names},
                          **{k: v for k, v in result.items() if not k.startswith("st_")}})

    def frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.rows)
        if frame.empty:
            return frame
        first = ["trial_id", "epoch", "val_acc", "val_loss", "test_acc", "wallclock_s", "elapsed_s", "train_s"]
        return frame[[c for c in first if c in frame] + [c for c in frame if c not in first]]


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_results(job_dir: Path, frame: pd.DataFrame) -> None:
    atomic_write_text(job_dir / RESULTS, frame.to_csv(index=False))


def write_record(job_dir: Path, record: dict) -> None:
    atomic_write_text(job_dir / RECORD, json.dumps(record, indent=2, default=str) + "\n")


def read_record(job_dir: Path) -> dict | None:
    try:
        return json.loads((Path(job_dir) / RECORD).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
