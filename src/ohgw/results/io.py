"""Reading and writing what a replicate leaves on disk (ohgw.results.contract): results.csv
and replicate.json, both written atomically, so a reader never sees a half-written file and
replicate.json says `complete` only after results.csv is whole. Records of another schema
version are refused (SchemaError); version 1 is upgraded as it is read. Light to import (no
syne_tune, no torch): the analysis reads through it."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd

from ohgw.results import contract
from ohgw.results.contract import ADJUSTED, HG_METHOD, READABLE_VERSIONS, SAMPLED, SCHEMA_VERSION

RESULTS = "results.csv"
RECORD = "replicate.json"
SKIPPED = "skipped.json"  # what a skipped job leaves: no replicate.json, so analysis counts it once
ATTEMPTS = "attempts"     # <job dir>/attempts/<n>/: earlier attempts of that job, superseded


class SchemaError(ValueError):
    """A record of a schema version this code cannot read."""


class ChecksumError(ValueError):
    """A file that does not match the checksum its complete record vouches for."""


def checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def vouch(job_dir: Path) -> dict[str, str]:
    """Checksums of the files a complete record vouches for: every file directly in the job
    directory but the record itself and logs (Hydra's job log grows after the record is written).
    results.csv, trial_config.yaml and a learning scheduler's aux_net.json / transfer_bo.json."""
    return {p.name: checksum(p) for p in sorted(Path(job_dir).iterdir())
            if p.is_file() and p.name != RECORD and p.suffix != ".log" and not p.name.startswith(".")}


def verify(job_dir: Path, record: dict) -> None:
    """ChecksumError naming the first file the record vouches for that is missing or changed."""
    for name, expected in (record.get("checksums") or {}).items():
        path = Path(job_dir) / name
        found = checksum(path) if path.is_file() else "missing"
        if found != expected:
            raise ChecksumError(f"{path} does not match the checksum its {RECORD} vouches for "
                                f"({expected[:15]}... vs {found[:15]}...): it changed after the replicate completed")


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_results(job_dir: Path, frame: pd.DataFrame) -> None:
    atomic_write_text(Path(job_dir) / RESULTS, frame.to_csv(index=False))


def write_record(job_dir: Path, record: dict) -> None:
    unknown = sorted(set(record) - set(contract.RECORD))
    if unknown:  # a writer that bypassed the contract
        raise KeyError(f"replicate record fields not in the results contract: {unknown}")
    atomic_write_text(Path(job_dir) / RECORD, json.dumps(record, indent=2, default=str) + "\n")


def raw_record(job_dir: Path) -> dict | None:
    """replicate.json as written, any version; None if absent or not JSON (rerun searches)."""
    try:
        return json.loads((Path(job_dir) / RECORD).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def version_of(record: dict) -> int:
    return int(record.get("schema_version", 1))  # version 1 did not write one


def load_record(job_dir: Path) -> dict:
    """replicate.json in this schema: ValueError (JSONDecodeError) if unreadable, SchemaError
    if of a version this code cannot read, KeyError naming what a reader needs and it lacks."""
    path = Path(job_dir) / RECORD
    record = json.loads(path.read_text())
    version = version_of(record)
    if version not in READABLE_VERSIONS:
        raise SchemaError(f"{path} has results schema version {version}; this ohgw-bench reads "
                          f"version {', '.join(map(str, READABLE_VERSIONS))}: analyse it with the "
                          f"ohgw-bench that wrote it")
    missing = [k for k in contract.REQUIRED_RECORD if k not in record]
    if missing:
        raise KeyError(f"missing keys {missing}")
    record.setdefault("test_metric", contract.test_metric(record["metric"]))
    if version == 1 and record.get("config", {}).get("warmstart", {}).get("direction") == "none":
        record["eta_h"] = None  # version 2 records no step size where none applies
    return record


def load_results(job_dir: Path, record: dict) -> pd.DataFrame:
    """results.csv, checked to be whole: every file the record vouches for matches its checksum
    (ChecksumError if not), and (ValueError if not) it ends with a newline, has the columns a
    reader needs with no missing values in them, and as many rows as the record counted.
    Version 1 columns are renamed to this schema's."""
    verify(job_dir, record)
    path = Path(job_dir) / RESULTS
    needed = [*contract.REQUIRED_ROW, record["metric"], record["test_metric"]]
    text = path.read_text()
    expected = int(record.get("budget_used", {}).get("epochs", 0))
    if not text.strip() and expected == 0:  # no trial finished an epoch: all censored
        return pd.DataFrame(columns=needed)
    if not text.endswith("\n"):
        raise ValueError("truncated (no final newline)")
    # round_trip: a value reads back as the float that was written (pandas' fast parser can be one
    # ulp off), so a sampled configuration read back equals the one the scheduler proposed
    frame = pd.read_csv(path, float_precision="round_trip")
    if version_of(record) == 1:
        frame = _upgrade_v1(frame)
    absent = [c for c in needed if c not in frame]
    if absent:
        raise ValueError(f"missing columns {absent}")
    if frame[needed].isna().any().any():
        raise ValueError("missing values in " + ", ".join(c for c in needed if frame[c].isna().any()))
    if len(frame) != expected:
        raise ValueError(f"{len(frame)} rows but the record counted {expected}")
    return frame


def _upgrade_v1(frame: pd.DataFrame) -> pd.DataFrame:
    """Version 1 wrote psi' as ws_<name> and the finite-difference flag as ws_fd_<name>."""
    names = contract.hyperparameters(frame.columns, SAMPLED)
    frame = frame.rename(columns={f"ws_{n}": contract.column(ADJUSTED, n) for n in names})
    for n in names:
        flag = frame.pop(f"ws_fd_{n}") if f"ws_fd_{n}" in frame else None
        if flag is not None:
            frame[contract.column(HG_METHOD, n)] = flag.map({1: "central_difference", 0: "autograd"})
    return frame


__all__ = ["ATTEMPTS", "RECORD", "RESULTS", "SCHEMA_VERSION", "SKIPPED", "ChecksumError", "SchemaError",
           "atomic_write_text", "checksum", "load_record", "load_results", "raw_record", "verify", "vouch",
           "write_record", "write_results"]
