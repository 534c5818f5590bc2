"""The results contract: records of other schema versions are refused with one line, version 1
is upgraded as it is read, writers cannot add fields the contract does not define."""
import json
import shutil

import pytest

from ohgw.analysis.__main__ import main
from ohgw.results import contract
from ohgw.results.io import SchemaError, load_record, load_results, write_record
from tests.helpers import RESULTS_V1


def test_version_1_results_are_upgraded_to_this_schema():
    record = load_record(RESULTS_V1 / "0")
    frame = load_results(RESULTS_V1 / "0", record)
    assert record.get("schema_version", 1) == 1 and record["test_metric"] == "test_acc"
    names = contract.hyperparameters(frame.columns, contract.SAMPLED)
    assert names == ["log_lr", "log_wd", "momentum", "label_smoothing", "aug_magnitude"]
    for name in names:
        assert f"psi_{name}" in frame and f"ws_{name}" not in frame and f"ws_fd_{name}" not in frame
        assert set(frame[f"hgvia_{name}"]) <= {"autograd", "central_difference"}
    assert [c for c in frame.columns if not contract.describe(c)] == []


def test_a_record_of_another_schema_version_is_refused(tmp_path):
    shutil.copytree(RESULTS_V1 / "0", tmp_path / "0")
    record = json.loads((tmp_path / "0" / "replicate.json").read_text())
    (tmp_path / "0" / "replicate.json").write_text(json.dumps({**record, "schema_version": 99}))
    with pytest.raises(SchemaError, match="results schema version 99; this ohgw-bench reads version 1, 2"):
        load_record(tmp_path / "0")


def test_the_analysis_refuses_another_schema_version_in_one_line(tmp_path, capsys):
    shutil.copytree(RESULTS_V1, tmp_path / "runs")
    path = tmp_path / "runs" / "2" / "replicate.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "schema_version": 3}))
    assert main([str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "results schema version 3" in err[0]
    assert not (tmp_path / "runs" / "analysis" / "report.md").exists()


def test_a_writer_cannot_add_a_field_the_contract_does_not_define(tmp_path):
    with pytest.raises(KeyError, match="not in the results contract: \\['colour'\\]"):
        write_record(tmp_path, {"status": "running", "colour": "blue"})
    assert not (tmp_path / "replicate.json").exists()
