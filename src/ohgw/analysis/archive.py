"""A report's replicates in one compact file, so that its tables can be rebuilt from the repository:

    python -m ohgw.analysis.archive <dir> [<dir> ...] --out replicates.jsonl.xz   # write one
    python -m ohgw.analysis replicates.jsonl.xz [--out DIR]                        # analyse it
    python -m ohgw.analysis.archive --unpack replicates.jsonl.xz --out DIR         # its job directories again

The archive is xz-compressed JSON lines (xz's large window finds the records' configs, nearly the
same in every replicate, again across replicates: about a third smaller than gzip). The first line
is a header: the format and its version, the number of replicates, the replicates the analysis left
out (path, why), and the sha256 of every line after it. Each further line is one complete replicate:
its job directory's path relative to the replicates' common folder, and the text of its
replicate.json and of every file that record vouches for (results.csv, trial_config.yaml, ...),
byte for byte (base64 for a file that is not UTF-8 text). Nothing else of the job directory (the
tuner's folder, logs, checkpoints) is kept.

The guarantee of the records' checksums is kept end to end: writing reads the replicates as the
analysis does (every vouched file checked against its checksum), reading checks the header's
checksum of the archive's contents and then reads the unpacked job directories through the same
code (ohgw.results.records), which checks every vouched file again."""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import lzma
import os
import shutil
import sys
import tempfile
from pathlib import Path

from ohgw.errors import ConfigError, one_line_errors
from ohgw.results import records
from ohgw.results.io import RECORD, RESULTS

FORMAT = "ohgw-archive"
VERSION = 1
SUFFIX = ".jsonl.xz"


def is_archive(path: Path | str) -> bool:
    return Path(path).is_file() and str(path).endswith(SUFFIX)


def _relative(path: Path, common: Path) -> str:
    rel = os.path.relpath(path, common)
    return path.name if rel == "." else rel


def _contents(job: Path, names: list[str]) -> dict:
    """The files as text, and any that is not UTF-8 text as base64 bytes."""
    files, binary = {}, {}
    for name in names:
        data = (job / name).read_bytes()
        try:
            files[name] = data.decode()
        except UnicodeDecodeError:
            binary[name] = base64.b64encode(data).decode()
    return {"files": files, **({"bytes": binary} if binary else {})}


def write(dirs: list[Path | str], out: Path | str) -> dict:
    """Archive every complete replicate below `dirs` (and list the ones left out) into `out`;
    returns its header. RecordsError (as the analysis refuses) when there is nothing to archive or a
    file does not match its record's checksum."""
    found = records.find_replicates(dirs)
    paths = [rep.path.resolve() for rep in found.replicates]
    common = Path(os.path.commonpath(paths)) if len(paths) > 1 else paths[0].parent
    lines = []
    for rep, path in sorted(zip(found.replicates, paths), key=lambda pair: _relative(pair[1], common)):
        names = sorted({RECORD, RESULTS, *(rep.record.get("checksums") or {})})
        lines.append(json.dumps({"path": _relative(path, common), **_contents(path, names)}, sort_keys=True))
    body = "".join(line + "\n" for line in lines).encode()
    header = {"format": FORMAT, "version": VERSION, "replicates": len(lines),
              "excluded": [[_relative(Path(p).resolve(), common), why] for p, why in found.excluded],
              "sha256": hashlib.sha256(body).hexdigest()}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with lzma.open(tmp, "wb", preset=9) as f:  # no timestamp: the same replicates give the same bytes
        f.write((json.dumps(header, sort_keys=True) + "\n").encode() + body)
    os.replace(tmp, out)
    return header


def read(archive: Path | str) -> tuple[dict, list[dict]]:
    """The header and the replicates' entries; RecordsError when the file is not an archive of this
    format or its contents do not match the checksum its header gives."""
    archive = Path(archive)
    try:
        with lzma.open(archive, "rb") as f:
            first, body = f.readline(), f.read()
        header = json.loads(first)
    except (OSError, EOFError, ValueError, lzma.LZMAError) as e:
        raise records.RecordsError(f"{archive} is not a readable replicate archive ({e})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise records.RecordsError(f"{archive} is not a replicate archive (no {FORMAT} header)")
    if header.get("version") != VERSION:
        raise records.RecordsError(f"{archive} is a replicate archive of version {header.get('version')}; this "
                                   f"ohgw-bench reads version {VERSION}")
    if hashlib.sha256(body).hexdigest() != header.get("sha256"):
        raise records.RecordsError(f"{archive} does not match the checksum its header gives: it changed after it "
                                   "was written")
    entries = [json.loads(line) for line in body.decode().splitlines()]
    if len(entries) != header.get("replicates"):
        raise records.RecordsError(f"{archive} holds {len(entries)} replicates, its header says "
                                   f"{header.get('replicates')}")
    return header, entries


def unpack(archive: Path | str, into: Path) -> dict:
    """Write the archive's job directories below `into` (each file as it was); returns the header.
    RecordsError for a path that would leave `into`."""
    header, entries = read(archive)
    for entry in entries:
        rel = Path(entry["path"])
        if rel.is_absolute() or ".." in rel.parts:
            raise records.RecordsError(f"{archive} names a replicate outside itself: {rel}")
        job = into / rel
        job.mkdir(parents=True, exist_ok=True)
        contents = {**{n: t.encode() for n, t in entry["files"].items()},
                    **{n: base64.b64decode(b) for n, b in entry.get("bytes", {}).items()}}
        for name, data in contents.items():
            if Path(name).name != name:
                raise records.RecordsError(f"{archive} names a file outside its job directory: {rel / name}")
            (job / name).write_bytes(data)
    return header


def load(archive: Path | str, kind: type = records.Replicate) -> records.Found:
    """The archive's replicates as ohgw.results.records reads job directories (every vouched file
    checked against its checksum), each named `<archive>/<its path>`, and the replicates its writer
    left out."""
    archive = Path(archive)
    with tempfile.TemporaryDirectory(prefix="ohgw-archive-") as tmp:
        header = unpack(archive, Path(tmp))
        found = records.find_replicates([tmp], kind)
        inside = lambda path: archive / Path(path).resolve().relative_to(Path(tmp).resolve())  # noqa: E731
        for rep in found.replicates:  # everything is in memory now: name each by where it came from
            rep.path = inside(rep.path)
        found.excluded = [(archive / p, f"left out when archived: {why}") for p, why in header["excluded"]] + \
                         [(inside(p), why) for p, why in found.excluded]
    found.roots = [archive]
    return found


def unpack_command(sources: list[str], out: Path) -> int:
    """--unpack: the job directories appear at `out` at once, complete (unpacked beside it, then renamed)."""
    if len(sources) != 1 or not is_archive(sources[0]):
        raise ConfigError(f"--unpack takes one archive (a file ending with {SUFFIX}), not {' '.join(sources)}")
    if out.exists():
        raise ConfigError(f"--out {out} exists: unpack into a new directory, so that no replicate mixes with others")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        header = unpack(sources[0], staging)
        os.replace(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    print(f"unpacked {header['replicates']} replicate(s) of {sources[0]} into {out}")
    return 0


@one_line_errors(ConfigError, records.RecordsError)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ohgw.analysis.archive", description=(
        "Write the complete replicates below the given directories (replicate.json and every file it vouches "
        "for) into one compressed archive that `python -m ohgw.analysis` reads as it reads job directories; "
        "with --unpack, the reverse."))
    parser.add_argument("dirs", nargs="+", help="directories searched for replicate.json (--unpack: one archive)")
    parser.add_argument("--out", required=True, help=f"the archive to write (ends with {SUFFIX}); --unpack: a new "
                                                     "directory to write the job directories into")
    parser.add_argument("--unpack", action="store_true", help="write one archive's job directories below --out, for "
                        "the tools that read job directories (python -m ohgw.analysis.aux_net_loto, ...)")
    args = parser.parse_args(argv)
    if args.unpack:
        return unpack_command(args.dirs, Path(args.out))
    if not args.out.endswith(SUFFIX):
        raise ConfigError(f"--out must end with {SUFFIX}, not {args.out}")
    header = write(args.dirs, args.out)
    size = Path(args.out).stat().st_size
    print(f"wrote {args.out}: {header['replicates']} replicate(s), {len(header['excluded'])} excluded, "
          f"{size / 1024:.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
