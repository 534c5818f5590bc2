"""Every report under docs/results that ships an archive of its replicates can be re-run from the
repository: `python -m ohgw.analysis <archive>` rebuilds the tables committed beside it, number for
number. A report's archive and tables are written by the commands its report states."""
import pandas as pd
import pytest

from ohgw.analysis.__main__ import main
from ohgw.analysis.collect import collect
from tests.helpers import ROOT, TIMING

pytestmark = pytest.mark.slow

ARCHIVES = sorted((ROOT / "docs" / "results").rglob("replicates.jsonl.xz"))
TABLES = ("summary.csv", "paired.csv", "hyperparams.csv", "steps.csv", "bias.csv", "searchers.csv",
          "sensitivity.csv", "retained.csv", "ood_rungs.csv")


def test_the_reports_ship_archives():
    assert ARCHIVES, "no report under docs/results ships its replicates"


@pytest.mark.parametrize("archive", ARCHIVES, ids=lambda p: str(p.parent.relative_to(ROOT / "docs" / "results")))
def test_a_reports_tables_rebuild_from_its_archive(archive, tmp_path):
    committed = [name for name in TABLES if (archive.parent / name).exists()]
    assert "summary.csv" in committed, f"{archive.parent} ships no summary.csv beside its archive"
    assert archive.stat().st_size < 5 * 2 ** 20  # a few MB at most
    assert main([str(archive), "--out", str(tmp_path)]) == 0
    for name in committed:
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / name), pd.read_csv(archive.parent / name),
                                      check_exact=False, rtol=1e-9, obj=f"{archive.parent.name}/{name}")


def test_exp1_cpu_two_sweeps_are_one_study():
    """exp1_cpu's rerun joins two sweeps (docs/results/exp1_cpu.md): the baseline of seed 0, run again
    after the second, has the first sweep's key and rows, times and memory aside."""
    results = ROOT / "docs" / "results" / "exp1_cpu" / "rerun"
    check, = collect([results / "check" / "baseline_seed0.jsonl.xz"]).replicates
    first, = [r for r in collect([results / "replicates.jsonl.xz"]).replicates
              if r.record["warmstart"] == "baseline" and r.seed == 0]
    assert check.record["key"] == first.record["key"]
    same = [c for c in first.results.columns if c not in TIMING]
    assert {"trial_id", "epoch", "decision", "val_acc", "test_acc", "hp_log_lr", "hg_log_lr"} <= set(same)
    pd.testing.assert_frame_equal(check.results[same], first.results[same])
