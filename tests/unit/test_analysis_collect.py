"""Bad input: nothing to analyse, replicates that must not be compared, a variant without a
baseline, failed replicates, corrupt or truncated files."""
import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from ohgw.analysis.__main__ import main
from ohgw.analysis.collect import AnalysisError, collect, task_label
from ohgw.analysis.protocol import from_mapping, strategy
from ohgw.analysis.tables import criteria_lines, measures, paired_table, summary_table
from tests.helpers import RESULTS_V1, edit_record, refused, with_controls

FIXTURES = RESULTS_V1
STRATEGY = from_mapping(strategy(), "the strategy's defaults")


@pytest.fixture
def runs(tmp_path) -> Path:
    """A copy of real replicates: 0, 1 = baseline seeds 0, 1; 2, 3 = ohgw seeds 0, 1."""
    shutil.copytree(FIXTURES, tmp_path / "runs")
    return tmp_path / "runs"


def test_directory_without_replicates(tmp_path, capsys):
    assert "no replicate.json found below" in refused(capsys, tmp_path)
    assert not (tmp_path / "analysis").exists()
    assert "not a directory" in refused(capsys, tmp_path / "missing")


def test_different_budgets_are_not_compared(runs, capsys):
    edit_record(runs / "2", lambda r: r["budget"].update(epochs=40))
    line = refused(capsys, runs)
    assert "budget.epochs: 12 != 40" in line and str(runs / "2") in line and str(runs / "0") in line
    assert not (runs / "analysis").exists()


def test_different_task_settings_are_not_compared(runs, capsys):
    edit_record(runs / "3", lambda r: r["config"]["task"].update(max_epochs=9))
    line = refused(capsys, runs)
    assert "task.max_epochs: 3 != 9" in line and str(runs / "3") in line


def test_a_setting_added_to_the_configs_later_compares_equal_to_its_off_value_only(runs, capsys):
    # records written before task.label_noise and deterministic were declared lack them
    for job, value in (("2", 0.0), ("3", False)):
        edit_record(runs / job, lambda r: r["config"]["task"].update(label_noise=value, deterministic=value))
    collect([runs])
    edit_record(runs / "2", lambda r: r["config"]["task"].update(deterministic=True))
    assert "task.deterministic: (absent) != True" in refused(capsys, runs)


def test_a_data_condition_is_its_own_comparison(runs, capsys):
    """Label noise changes the task's data: the noisy replicates pair with the noisy baseline, under
    a task label that names the condition, instead of being refused as a different setting."""
    for job in ("0", "1", "2", "3"):
        edit_record(runs / job, lambda r: r.update(tau=0.7))  # every seed reaches it
        shutil.copytree(runs / job, runs / f"noisy{job}")
        edit_record(runs / f"noisy{job}", lambda r: r["config"]["task"].update(label_noise=0.1))
    collection = collect([runs])
    paired = paired_table(collection, measures(collection), STRATEGY)
    assert paired[["task", "warmstart", "n_pairs"]].values.tolist() == [
        ["digits", "ohgw", 2], ["digits+label_noise=0.1", "ohgw", 2]]
    clean, noisy = paired.iloc[0], paired.iloc[1]
    assert math.isfinite(clean["reduction_epochs"])
    assert noisy["reduction_epochs"] == clean["reduction_epochs"]  # copies of the same replicates
    shutil.rmtree(runs / "noisy0")
    shutil.rmtree(runs / "noisy1")
    collection = collect([runs])  # the noisy variant never falls back on the clean baseline
    paired = paired_table(collection, measures(collection), STRATEGY).set_index("task")
    assert paired.loc["digits+label_noise=0.1", "n_pairs"] == 0
    assert paired.loc["digits", "n_pairs"] == 2
    subset = {"task": "digits", "config": {"task": {"class_subset": [3, 1], "label_noise": 0.0}}}
    assert task_label(subset) == "digits+class_subset=3,1"


def test_two_replicates_of_one_seed_are_refused(runs, capsys):
    shutil.copytree(runs / "2", runs / "2-again")
    assert "ohgw (eta_h=0.001) seed 0" in refused(capsys, runs)


def test_variant_without_baseline_is_reported_unpaired(runs):
    shutil.rmtree(runs / "0")
    shutil.rmtree(runs / "1")
    collection = collect([runs])
    per_seed = measures(collection)
    paired = paired_table(collection, per_seed, STRATEGY)
    assert paired[["warmstart", "n_pairs", "note"]].values.tolist() == [
        ["ohgw", 0, "unpaired: no baseline replicate"]]
    assert summary_table(collection, per_seed)["warmstart"].tolist() == ["ohgw"]
    assert criteria_lines(paired, STRATEGY) == [
        "digits/asha: ohgw (eta_h=0.001) vs baseline: unpaired: no baseline replicate"]


def test_variant_of_another_task_gets_no_baseline(runs):
    for job in ("2", "3"):
        edit_record(runs / job, lambda r: r.update(task="digits_hard"))
    collection = collect([runs])
    paired = paired_table(collection, measures(collection), STRATEGY)
    assert paired[["task", "n_pairs"]].values.tolist() == [["digits_hard", 0]]


def test_truncated_results_are_skipped_with_a_warning(runs, capsys):
    results = runs / "1" / "results.csv"
    results.write_bytes(results.read_bytes()[:-150])  # cut inside the last row
    collection = collect([runs])
    assert f"warning: skipping {results}: truncated" in capsys.readouterr().err
    assert [r.path.name for r in collection.replicates] == ["0", "2", "3"]
    assert collection.excluded[0][0] == runs / "1"
    assert summary_table(collection, measures(collection))["n_seeds"].tolist() == [1, 2]


def test_results_with_fewer_rows_than_recorded_are_skipped(runs, capsys):
    results = runs / "3" / "results.csv"
    results.write_text("".join(results.read_text().splitlines(keepends=True)[:-2]))
    collect([runs])
    assert f"skipping {results}: 10 rows but the record counted 12" in capsys.readouterr().err


def test_corrupt_record_is_skipped_with_a_warning(runs, capsys):
    (runs / "2" / "replicate.json").write_text('{"status": "compl')
    collection = collect([runs])
    assert f"skipping {runs / '2' / 'replicate.json'}: unreadable record" in capsys.readouterr().err
    assert len(collection.replicates) == 3


def test_failed_replicates_are_listed_and_excluded(runs, capsys):
    edit_record(runs / "0", lambda r: r.update(status="failed", error="RuntimeError: boom"))
    collection = collect([runs])
    assert collection.excluded == [(runs / "0", "status failed (RuntimeError: boom)")]
    assert capsys.readouterr().err == ""  # not corrupt: listed, no warning
    per_seed = measures(collection)
    assert per_seed[next(k for k in per_seed if k.warmstart == "baseline")].index.tolist() == [1]
    for job in ("1", "2", "3"):
        edit_record(runs / job, lambda r: r.update(status="running"))
    with pytest.raises(AnalysisError, match="no complete replicate"):
        collect([runs])


def test_replicate_without_any_reported_epoch_is_censored(runs):
    (runs / "1" / "results.csv").write_text("")
    edit_record(runs / "1", lambda r: r["budget_used"].update(epochs=0))
    collection = collect([runs])
    m = measures(collection)
    base = m[next(k for k in m if k.warmstart == "baseline")]
    assert math.isinf(base.loc[1, "t_epochs"]) and base.loc[1, "epochs_used"] == 0


def test_job_skipped_by_a_rerun_counts_the_replicate_it_points_at(runs, tmp_path, capsys):
    earlier = tmp_path / "earlier" / "3"
    earlier.parent.mkdir()
    shutil.move(runs / "3", earlier)
    (runs / "3").mkdir()
    (runs / "3" / "skipped.json").write_text(json.dumps({"key": "k", "complete_at": str(earlier)}))
    collection = collect([runs, tmp_path / "earlier"])  # found twice, counted once
    assert sorted(r.path.name for r in collection.replicates) == ["0", "1", "2", "3"]
    assert earlier.resolve() in [r.path for r in collection.replicates]
    shutil.rmtree(earlier)
    assert len(collect([runs]).replicates) == 3
    assert f"skipping {runs / '3' / 'skipped.json'}: points at" in capsys.readouterr().err


def test_runtime_settings_are_part_of_the_comparison(runs, capsys):
    edit_record(runs / "1", lambda r: r["config"].update(n_workers=4))
    assert "config.n_workers: None != 4" in refused(capsys, runs)


def test_the_baseline_has_no_eta_h_and_pairs_with_every_eta_h(runs, capsys):
    for job in ("2", "3"):
        edit_record(runs / job, lambda r: r.update(eta_h=3e-4))
    collection = collect([runs])
    assert {k.label() for k in collection.groups()} == {"baseline", "ohgw (eta_h=0.0003)"}
    row = paired_table(collection, measures(collection), STRATEGY).iloc[0]
    assert (row["eta_h"], row["n_pairs"]) == (3e-4, 2)
    # version 1 recorded the baseline's unused eta_h: read as none, so these are one replicate
    shutil.copytree(runs / "0", runs / "0-eta")
    edit_record(runs / "0-eta", lambda r: r.update(eta_h=1e-2))
    assert "two replicates of digits/asha/baseline seed 0" in refused(capsys, runs)


def test_every_variant_is_set_beside_the_noise_floor_of_an_a_a_control(runs, capsys):
    """A/A copies of the baseline: the floor is exactly no change, each variant's effect against
    the A/A control is its effect against the baseline, and two seeds resolve nothing."""
    with_controls(runs)
    assert main([str(runs)]) == 0
    printed = capsys.readouterr().out
    paired = pd.read_csv(runs / "analysis" / "paired.csv").set_index("warmstart")
    assert paired.loc["aa", "reduction_epochs"] == 0.0 and paired.loc["aa", "reduction_epochs_low"] == 0.0
    ohgw = paired.loc["ohgw"]
    assert ohgw["floor_epochs"] == 0.0 and ohgw["vs_floor_epochs"] == pytest.approx(ohgw["reduction_epochs"])
    assert ohgw["floor_verdict_epochs"] == "within the floor" and ohgw["p_vs_floor_epochs"] >= 0.5
    assert "(the A/A control, the noise floor)" in printed
    assert "the A/A floor over the same seeds: +0.0% [+0.0%, +0.0%]" in printed
    assert "positive control digits/asha: within the floor: this study cannot resolve an effect of its size" in printed
    assert "seeds; this comparison has 2" in printed  # the power line
    steps = pd.read_csv(runs / "analysis" / "steps.csv").set_index("warmstart")
    assert steps.loc["aa", "step_norm_mean"] == 0.0  # copies of the baseline: x as sampled
    assert steps.loc["planted", "step_norm_mean"] == pytest.approx(steps.loc["ohgw", "step_norm_mean"])
    assert steps.loc["ohgw", "step_norm_mean"] > 0
    assert 0 <= steps.loc["ohgw", "lr_down_fraction"] <= 1
