"""Replicate archives (ohgw.analysis.archive): a report's tables rebuilt from its committed archive
equal its committed tables; an archive reads as the job directories it was written from, and the same
replicates give the same bytes; a changed archive, or a file changed inside it, is refused.

tests/fixtures/archive_noise_floor is a real study at a small scale, 16 replicates (2 min 1 s on 2
cores), written with

    python run.py -m experiment=noise_floor warmstart=baseline,aa,ohgw,planted 'seed=range(4)' \\
        budget.epochs=20 task.tau=0.85 tuner.order=deterministic hydra.sweep.dir=DIR
    python -m ohgw.analysis.archive DIR --out tests/fixtures/archive_noise_floor/replicates.jsonl.xz

and its tables are the analysis's of that archive. A change to the analysis that changes them is
committed with them, rebuilt by

    python -m ohgw.analysis tests/fixtures/archive_noise_floor/replicates.jsonl.xz --out OUT
    cp OUT/{summary,paired,hyperparams,steps,bias}.csv tests/fixtures/archive_noise_floor/
"""
import json
import lzma
import shutil

import pandas as pd

from ohgw.analysis import archive
from ohgw.analysis.__main__ import main
from tests.helpers import RESULTS_V1, ROOT, edit_record, refused

FIXTURE = ROOT / "tests" / "fixtures" / "archive_noise_floor"
ARCHIVE = FIXTURE / "replicates.jsonl.xz"
TABLES = ("summary.csv", "paired.csv", "hyperparams.csv", "steps.csv", "bias.csv")


def same_tables(a, b) -> None:
    for name in TABLES:
        pd.testing.assert_frame_equal(pd.read_csv(a / name), pd.read_csv(b / name), check_exact=False, rtol=1e-9,
                                      obj=name)


def test_a_reports_tables_rebuild_from_its_committed_archive(tmp_path, capsys):
    assert main([str(ARCHIVE), "--out", str(tmp_path)]) == 0
    same_tables(tmp_path, FIXTURE)
    assert ARCHIVE.stat().st_size < 48 * 1024  # 16 replicates: the records and results.csv of each
    md = (tmp_path / "report.md").read_text()
    assert f"16 complete replicate(s) below `{ARCHIVE}`" in md
    assert "source: declared in the replicates' config" in md  # experiment=noise_floor's protocol, recorded
    paired = pd.read_csv(tmp_path / "paired.csv").set_index("warmstart")
    assert paired["role"].to_dict() == {"aa": "floor", "ohgw": "treatment", "planted": "positive_control"}
    assert "Study verdict: every criterion holds in" in capsys.readouterr().out


def test_an_archive_reads_as_the_job_directories_it_was_written_from(tmp_path, capsys):
    jobs = tmp_path / "jobs"
    header = archive.unpack(ARCHIVE, jobs)
    assert header["replicates"] == len(list(jobs.glob("*/replicate.json"))) == 16
    assert main([str(jobs), "--out", str(tmp_path / "from_jobs")]) == 0
    same_tables(tmp_path / "from_jobs", FIXTURE)
    # written again from those directories: the same bytes (no timestamp, a fixed order)
    assert archive.main([str(jobs), "--out", str(tmp_path / "again.jsonl.xz")]) == 0
    assert (tmp_path / "again.jsonl.xz").read_bytes() == ARCHIVE.read_bytes()
    assert f"wrote {tmp_path / 'again.jsonl.xz'}: 16 replicate(s), 0 excluded, 4" in capsys.readouterr().out


def rewrite(path, change, fix_header: bool) -> None:
    """Change an archive's replicate lines; with `fix_header`, give the header their new checksum."""
    import hashlib

    lines = lzma.decompress(path.read_bytes()).decode().splitlines(keepends=True)
    header, body = json.loads(lines[0]), "".join(change(lines[1:])).encode()
    if fix_header:
        header["sha256"] = hashlib.sha256(body).hexdigest()
    path.write_bytes(lzma.compress((json.dumps(header) + "\n").encode() + body))


def test_a_changed_archive_is_refused(tmp_path, capsys):
    def one_score_changed(lines):
        entry = json.loads(lines[0])
        rows = entry["files"]["results.csv"].splitlines(keepends=True)
        rows[1] = rows[1].replace(",", ",9", 1)  # the first row's second field
        entry["files"]["results.csv"] = "".join(rows)
        return [json.dumps(entry) + "\n", *lines[1:]]

    changed = tmp_path / "changed.jsonl.xz"
    shutil.copy(ARCHIVE, changed)
    rewrite(changed, one_score_changed, fix_header=False)
    assert "does not match the checksum its header gives: it changed after it was written" in refused(capsys, changed)
    rewrite(changed, lambda lines: lines, fix_header=True)  # the header agrees now: the record's checksum does not
    assert "does not match the checksum its replicate.json vouches for" in refused(capsys, changed)
    assert not (tmp_path / "analysis").exists()
    truncated = tmp_path / "truncated.jsonl.xz"
    truncated.write_bytes(ARCHIVE.read_bytes()[:1000])
    assert "is not a readable replicate archive" in refused(capsys, truncated)
    other = tmp_path / "other.jsonl.xz"
    other.write_bytes(lzma.compress(b'{"a": 1}\n'))
    assert "is not a replicate archive (no ohgw-archive header)" in refused(capsys, other)
    escaping = tmp_path / "escaping.jsonl.xz"
    shutil.copy(ARCHIVE, escaping)
    rewrite(escaping, lambda lines: [json.dumps({**json.loads(lines[0]), "path": "../x"}) + "\n", *lines[1:]],
            fix_header=True)
    assert "names a replicate outside itself: ../x" in refused(capsys, escaping)


def test_writing_refuses_bad_input_and_keeps_what_it_left_out(tmp_path, capsys):
    assert archive.main([str(tmp_path), "--out", str(tmp_path / "a.zip")]) == 2
    assert capsys.readouterr().err.strip() == f"error: --out must end with .jsonl.xz, not {tmp_path / 'a.zip'}"
    assert archive.main([str(tmp_path), "--out", str(tmp_path / "a.jsonl.xz")]) == 2
    assert capsys.readouterr().err.startswith("error: no replicate.json found below")
    runs = tmp_path / "runs"
    shutil.copytree(RESULTS_V1, runs)
    edit_record(runs / "1", lambda r: r.update(status="failed", error="RuntimeError: boom"))
    assert archive.main([str(runs), "--out", str(tmp_path / "a.jsonl.xz")]) == 0
    header, entries = archive.read(tmp_path / "a.jsonl.xz")
    assert header["excluded"] == [["1", "status failed (RuntimeError: boom)"]]
    assert [e["path"] for e in entries] == ["0", "2", "3"]
    assert sorted(entries[0]["files"]) == ["replicate.json", "results.csv"]  # version 1 vouched for nothing
    assert main([str(tmp_path / "a.jsonl.xz"), str(runs), "--out", str(tmp_path / "both")]) == 2  # twice: refused
    capsys.readouterr()
    assert main([str(tmp_path / "a.jsonl.xz")]) == 0  # beside the archive by default
    md = (tmp_path / "analysis" / "report.md").read_text()
    assert "left out when archived: status failed (RuntimeError: boom)" in md


def test_a_vouched_file_that_is_not_text_comes_back_byte_for_byte(tmp_path):
    from ohgw.results.io import vouch

    jobs = tmp_path / "jobs"
    archive.unpack(ARCHIVE, jobs)
    job = jobs / "0"
    (job / "state.bin").write_bytes(bytes(range(256)))
    edit_record(job, lambda r: r.update(checksums=vouch(job)))  # the record vouches for it
    assert archive.main([str(jobs), "--out", str(tmp_path / "a.jsonl.xz")]) == 0
    again = tmp_path / "again"
    archive.unpack(tmp_path / "a.jsonl.xz", again)
    assert (again / "0" / "state.bin").read_bytes() == bytes(range(256))
    assert len(archive.load(tmp_path / "a.jsonl.xz").replicates) == 16  # every checksum holds


def test_archive_command_refuses_bad_input_in_one_line(tmp_path, capsys):
    assert archive.main([str(tmp_path), "--out", str(tmp_path / "a.txt")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"error: --out must end with .jsonl.xz, not {tmp_path / 'a.txt'}"]
    assert archive.main([str(tmp_path / "missing"), "--out", str(tmp_path / "a.jsonl.xz")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a directory" in err[0]
    assert not (tmp_path / "a.jsonl.xz").exists()


def test_unpack_gives_back_the_job_directories_the_archive_was_written_from(tmp_path, capsys):
    out = tmp_path / "jobs"
    assert archive.main(["--unpack", str(ARCHIVE), "--out", str(out)]) == 0
    assert f"unpacked 16 replicate(s) of {ARCHIVE} into {out}" in capsys.readouterr().out
    assert len(list(out.glob("*/replicate.json"))) == 16
    assert archive.main([str(out), "--out", str(tmp_path / "again.jsonl.xz")]) == 0
    assert (tmp_path / "again.jsonl.xz").read_bytes() == ARCHIVE.read_bytes()  # byte for byte
    # refused in one line, nothing written: an existing --out, or not one archive
    assert archive.main(["--unpack", str(ARCHIVE), "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == f"error: --out {out} exists: unpack into a new directory, so that no " \
                                              "replicate mixes with others"
    assert archive.main(["--unpack", str(out), "--out", str(tmp_path / "x")]) == 2
    assert "--unpack takes one archive" in capsys.readouterr().err
    truncated = tmp_path / "truncated.jsonl.xz"
    truncated.write_bytes(ARCHIVE.read_bytes()[:1000])
    assert archive.main(["--unpack", str(truncated), "--out", str(tmp_path / "y")]) == 2
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left behind
