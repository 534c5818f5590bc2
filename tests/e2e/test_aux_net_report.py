"""docs/results/aux_net.md's leave-one-task-out table comes back from the repository: its archive,
unpacked (python -m ohgw.analysis.archive --unpack), gives python -m ohgw.analysis.aux_net_loto the
records and aux_net.json files it read, and it writes the committed loto.csv and predictions.csv again
(all but the nets' training seconds, which are timings)."""
import pandas as pd
import pytest

from ohgw.analysis import archive, aux_net_loto
from tests.helpers import ROOT

pytestmark = pytest.mark.slow
REPORT = ROOT / "docs" / "results" / "aux_net"


def test_the_leave_one_task_out_table_rebuilds_from_the_archive(tmp_path):
    jobs = tmp_path / "jobs"
    assert archive.main(["--unpack", str(REPORT / "replicates.jsonl.xz"), "--out", str(jobs)]) == 0
    out = tmp_path / "loto"
    assert aux_net_loto.main([str(jobs / "aux_net_a"), "--aux", str(jobs / "aux_net_b"), "--out", str(out)]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(out / "loto.csv"), pd.read_csv(REPORT / "loto.csv"), rtol=1e-9)
    again, committed = (pd.read_csv(d / "predictions.csv").drop(columns="net_seconds") for d in (out, REPORT))
    pd.testing.assert_frame_equal(again, committed, rtol=1e-9)
    assert committed["same_as_replicate"].all() and (committed["ran_prediction_first"] == 1).all()
