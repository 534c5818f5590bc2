"""The study's protocol as data: each study config declares one, the replicates record it, and the
analysis applies what it says (the family Bonferroni corrects over, its m, the criteria's thresholds,
the data they apply to); bad protocols are refused with one line."""
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from ohgw.analysis.__main__ import main
from ohgw.analysis.protocol import from_mapping, strategy
from tests.helpers import RESULTS_V1, compose_config, edit_record, refused, with_controls

STUDIES = ("noise_floor", "exp1", "exp1_cpu", "exp1_eta", "exp1_noise", "exp2", "exp2_cpu")


def declared(experiment: str) -> dict:
    return OmegaConf.to_container(compose_config(f"experiment={experiment}").protocol, resolve=True)


def test_every_study_config_declares_a_valid_protocol():
    protocols = {name: from_mapping(declared(name), name) for name in STUDIES}
    assert declared("noise_floor") == strategy()  # the strategy's defaults, as they stand
    assert protocols["exp1"].primary_unit == "wallclock_s" and protocols["exp1_cpu"].primary_unit == "epochs"
    assert declared("exp1_eta") == declared("exp1_noise") == declared("exp1")  # exp1's, inherited
    for name in ("exp2", "exp2_cpu"):
        lm = protocols[name]
        assert lm.m == 3 and lm.sensitivity.fit == "spline"
        c = {c.name: c for c in lm.criteria}
        assert (c["reduction"].min, c["reduction"].when) == (0.15, "clean")
        assert (c["reduction_noisy"].min, c["reduction_noisy"].when, c["reduction_noisy"].significant) == (
            0.10, "noisy", True)
        assert (c["final_score"].measure, c["final_score"].min) == ("final_change_abs", -0.5)
        assert lm.column(c["final_score"]) == "final_test_change_abs"  # judged on the test split
        assert (c["compute"].measure, c["compute"].max) == ("extra_flops_pct", 5.0)
    assert compose_config().get("protocol") is None  # a plain run records none: the strategy's defaults apply


@pytest.fixture
def runs(tmp_path) -> Path:
    """Real replicates: baseline, ohgw, and copies standing in for an A/A control and a planted control."""
    shutil.copytree(RESULTS_V1, tmp_path / "runs")
    with_controls(tmp_path / "runs")
    return tmp_path / "runs"


def declare(runs: Path, change) -> None:
    """Give every replicate's config a protocol: the strategy's, changed by `change`."""
    protocol = strategy()
    change(protocol)
    for job in runs.iterdir():
        if (job / "replicate.json").exists():
            edit_record(job, lambda r: r["config"].update(protocol=protocol))


def analysed(runs: Path, out: str, capsys) -> tuple[pd.DataFrame, str, str]:
    assert main([str(runs), "--out", str(runs / out)]) == 0
    printed = capsys.readouterr().out
    return (pd.read_csv(runs / out / "paired.csv").set_index("warmstart"), printed,
            (runs / out / "report.md").read_text())


def test_a_declared_protocol_changes_the_family_and_the_thresholds(runs, capsys):
    default, printed, md = analysed(runs, "default", capsys)
    # the strategy's defaults: the family is the treatments' epochs test, m = 1
    assert default.loc["ohgw", "in_family"] and not default.loc["planted", "in_family"]
    assert default.loc["ohgw", "p_bonf_epochs"] == min(1.0, default.loc["ohgw", "p_epochs"])
    assert math.isnan(default.loc["planted", "p_bonf_epochs"])
    assert default.loc["ohgw", "extra_device_pct"] == pytest.approx(1.639, abs=1e-3)
    assert default.loc["ohgw", "crit_compute"]  # 1.6% <= 5%
    assert "source: the strategy's defaults (the records declare none)" in md
    # the records' role wins over what their direction implies
    edit_record(runs / "planted0", lambda r: r.update(role="positive_control"))

    def change(p):
        p.update(family=["treatment", "positive_control"], m=4, primary_unit="device_s")
        p["criteria"]["compute"]["max"] = 1.0
        p["criteria"]["reduction"]["min"] = 0.0

    declare(runs, change)
    paired, printed, md = analysed(runs, "declared", capsys)
    assert paired.loc["ohgw", "in_family"] and paired.loc["planted", "in_family"]
    assert "p_bonf_epochs" not in paired  # the primary unit is now device-seconds
    for variant in ("ohgw", "planted"):  # corrected by the declared m, not the 2 tests found
        assert paired.loc[variant, "p_bonf_device_s"] == min(1.0, 4 * paired.loc[variant, "p_device_s"])
    assert not paired.loc["ohgw", "crit_compute"]  # the same 1.6% against the declared 1%
    assert paired.loc["ohgw", "extra_device_pct"] == default.loc["ohgw", "extra_device_pct"]
    assert math.isnan(paired.loc["aa", "p_bonf_device_s"]) and not paired.loc["aa", "in_family"]
    assert "source: declared in the replicates' config" in md and "m = 4 (declared; 2 found)" in md
    assert "compute: extra_device_pct <= 1" in md and "reduction: reduction_device_s >= 0 and Bonferroni" in printed
    assert "every criterion holds in 0 of 1 tuples" in printed  # the verdict counts the treatment only


def test_a_family_larger_than_the_declared_m_is_refused(runs, capsys):
    declare(runs, lambda p: p.update(family=["treatment", "positive_control"], m=1))
    line = refused(capsys, runs)
    assert "declares a family of m = 1 tests, but 2 comparisons of roles ['treatment', 'positive_control']" in line
    assert not (runs / "analysis").exists()


def test_noisy_data_is_judged_by_the_criteria_for_noisy_data(runs, capsys):
    """exp2's protocol: >= 15% on clean data, >= 10% on noisy data (label or token noise)."""
    for job in ("0", "1", "2", "3"):
        shutil.copytree(runs / job, runs / f"noisy{job}")
        edit_record(runs / f"noisy{job}", lambda r: r["config"]["task"].update(label_noise=0.1))
    lm = declared("exp2")
    declare(runs, lambda p: p.update(lm, primary_unit="epochs", m=None))
    paired, printed, md = analysed(runs, "noisy", capsys)
    paired = paired.reset_index().set_index(["task", "warmstart"])
    clean, noisy = paired.loc[("digits", "ohgw")], paired.loc[("digits+label_noise=0.1", "ohgw")]
    assert clean["crit_reduction"] in (True, False) and pd.isna(clean["crit_reduction_noisy"])
    assert noisy["crit_reduction_noisy"] in (True, False) and pd.isna(noisy["crit_reduction"])
    assert "reduction_noisy: reduction_epochs >= 0.1, and Bonferroni p < 0.05 (noisy data only)" in md
    assert "[FAIL] reduction_noisy: reduction_epochs >= 0.1 and Bonferroni p < 0.05" in printed
    assert "every criterion holds in 0 of 2 tuples" in printed  # clean and noisy ohgw: the study's two tuples


def test_bad_or_different_protocols_are_refused(runs, capsys):
    declare(runs, lambda p: p["criteria"].update(speed={"measure": "nope", "min": 0.1}))
    assert "criteria.speed: measure 'nope' is not a paired measure of the registry" in refused(capsys, runs)
    declare(runs, lambda p: p.update(alpha=1.5))
    assert "alpha must be a number in (0, 1], not 1.5" in refused(capsys, runs)
    declare(runs, lambda p: p.update(family=["baseline"]))
    assert "family must be a list of roles" in refused(capsys, runs)
    declare(runs, lambda p: p.update(primary_unit="hours"))
    assert "primary_unit must be one of" in refused(capsys, runs)
    declare(runs, lambda p: None)
    edit_record(runs / "3", lambda r: r["config"]["protocol"].update(alpha=0.01))  # within one comparison
    assert "with different config.protocol.alpha: 0.05 != 0.01" in refused(capsys, runs)
    edit_record(runs / "3", lambda r: r["config"]["protocol"].update(alpha=0.05))
    for job in ("0", "2"):  # another comparison (a data condition) under another protocol: one table, one family
        shutil.copytree(runs / job, runs / f"noisy{job}")
        edit_record(runs / f"noisy{job}", lambda r: (r["config"]["task"].update(label_noise=0.1),
                                                     r["config"]["protocol"].update(alpha=0.01)))
    assert "replicates declare different protocols" in refused(capsys, runs)
