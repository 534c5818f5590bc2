"""What a replicate leaves on disk for analysis: results.csv (every reported row) and
replicate.json (the record). Both are written atomically: a reader never sees a
half-written file, and replicate.json says `complete` only after results.csv is whole.
Light to import (no syne_tune): the analysis reads through it."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

RESULTS = "results.csv"
RECORD = "replicate.json"
ATTEMPTS = "attempts"  # <job dir>/attempts/<n>/: earlier attempts of that job, superseded


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
