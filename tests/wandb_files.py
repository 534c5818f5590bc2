"""wandb's offline run files (`<job>/wandb/offline-run-*/run-*.wandb`) read back as the records
wandb wrote: a LevelDB-style log (32 KiB blocks of chunks with a 7-byte header: checksum, length,
type) after a 7-byte file header, each record a protobuf `Record` of wandb's own schema."""
import json
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

from wandb.proto import wandb_internal_pb2 as pb

MAGIC = b":W&B"
FILE_HEADER = 7
BLOCK = 32 * 1024
CHUNK_HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


@dataclass
class Run:
    path: Path
    run_id: str = ""
    group: str = ""
    job_type: str = ""
    name: str = ""
    tags: list = field(default_factory=list)
    config: dict = field(default_factory=dict)
    history: list = field(default_factory=list)   # one dict per history step, values decoded
    summary: dict = field(default_factory=dict)
    exited: bool = False


def records(path: Path):
    data = Path(path).read_bytes()
    assert data[:len(MAGIC)] == MAGIC, f"{path}: not a wandb run file"
    pos, parts = FILE_HEADER, b""
    while pos + CHUNK_HEADER <= len(data):
        if BLOCK - pos % BLOCK < CHUNK_HEADER:  # a block's tail too short for a header: padding
            pos += BLOCK - pos % BLOCK
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + CHUNK_HEADER])
        if kind == 0 or pos + CHUNK_HEADER + length > len(data):  # the end of what is written so far
            break
        parts += data[pos + CHUNK_HEADER:pos + CHUNK_HEADER + length]
        pos += CHUNK_HEADER + length
        if kind in (FULL, LAST):
            record = pb.Record()
            record.ParseFromString(parts)
            parts = b""
            yield record


def _items(items) -> dict:
    return {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in items}


def read_run(path: Path) -> Run:
    run = Run(path=Path(path))
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            run.run_id, run.group, run.job_type, run.name = r.run_id, r.run_group, r.job_type, r.display_name
            run.tags = list(r.tags)
            run.config.update(_items(r.config.update))
        elif kind == "config":
            run.config.update(_items(record.config.update))
        elif kind == "history":
            run.history.append(_items(record.history.item))
        elif kind == "summary":
            run.summary.update(_items(record.summary.update))
        elif kind == "exit":
            run.exited = True
    return run


def job_runs(job: Path, count: int, timeout: float = 60.0) -> list[Run]:
    """The job's wandb runs, once `count` of them have exited (wandb's service process writes
    the files asynchronously, even after the run was finished), or at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        runs = [read_run(p) for p in sorted(Path(job).glob("wandb/offline-run-*/run-*.wandb"))]
        if sum(r.exited for r in runs) >= count or time.monotonic() > deadline:
            assert sum(r.exited for r in runs) == count, [(r.path, r.exited) for r in runs]
            return runs
        time.sleep(0.5)
