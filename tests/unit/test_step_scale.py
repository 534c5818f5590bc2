"""The step-scale check (ohgw.analysis.step_scale): predicted against realised change of the
lookahead loss F over the hyper-step actually taken."""
import io

import numpy as np
import pandas as pd
import pytest
import torch

from ohgw.analysis.step_scale import ALL, STEP_COLUMNS, run, table
from ohgw.warmstart.lookahead import CENTRAL_DIFFERENCE
from ohgw.warmstart.variants import WarmStart

NAMES = ["log_lr", "log_wd", "momentum", "label_smoothing", "aug_magnitude"]


@pytest.fixture(scope="module")
def one_thread():
    """Small convolutions: one thread is several times faster than two on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def check(tmp_path_factory, one_thread):
    out = tmp_path_factory.mktemp("step_scale")
    steps, summary = run("digits", 2, [1e-4], out, log=io.StringIO())
    return out, steps, summary


def test_one_row_per_config_step_estimator_direction_and_hyperparameter(check):
    out, steps, summary = check
    assert list(pd.read_csv(out / "steps.csv").columns) == STEP_COLUMNS
    # 2 configurations x 1 eta_h x 2 step modes x 2 estimators x 2 directions x (all + 5)
    assert len(steps) == 2 * 2 * 2 * 2 * 6
    assert set(steps["hyperparameter"]) == {ALL, *NAMES}
    assert len(pd.read_csv(out / "summary.csv")) == len(summary) == 2 * 2 * 2 * 6


def test_a_smooth_hyperparameter_at_a_tiny_step_changes_F_as_its_gradient_says(check):
    _, steps, _ = check
    lr = steps[(steps["hyperparameter"] == "log_lr") & (steps["delta"] != 0)]
    assert len(lr) == 16
    assert np.allclose(lr["realised"] / lr["predicted"], 1, atol=0.03)
    # the hyper-gradient's own step along it lowers F; the first-order model says by how much
    own = lr[lr["direction"] == "hypergradient"]
    assert (own["realised"] < 0).all()


def test_momentum_has_no_path_on_the_first_step_and_moving_it_changes_nothing(check):
    _, steps, _ = check
    momentum = steps[steps["hyperparameter"] == "momentum"]
    assert (momentum["g"] == 0).all() and (momentum["realised"] == 0).all()
    assert (momentum[momentum["direction"] == "random"]["delta"] != 0).all()  # the random step moves it


def test_the_central_step_estimator_replaces_only_the_forward_acting_gradient(check):
    _, steps, _ = check
    per = steps[steps["hyperparameter"] != ALL].set_index(["config", "step", "direction", "hyperparameter"])
    auto, central = per[per["estimator"] == "autograd"], per[per["estimator"] == "central_step"]
    for name in NAMES:
        a, c = auto.xs(name, level="hyperparameter"), central.xs(name, level="hyperparameter")
        if name == "aug_magnitude":
            assert (c["method"] == CENTRAL_DIFFERENCE).all() and not np.allclose(a["g"], c["g"])
        else:
            assert (c["method"] != CENTRAL_DIFFERENCE).all() and np.array_equal(a["g"], c["g"])


def test_summary_fractions_and_the_table(check):
    _, _, summary = check
    for column in ("frac_lower", "frac_sign", "frac_close"):
        values = summary[column].dropna()
        assert len(values) and values.between(0, 1).all()
    lr = summary[(summary["hyperparameter"] == "log_lr") & (summary["direction"] == "hypergradient")]
    assert (lr["frac_lower"] == 1).all() and np.allclose(lr["median_ratio"], 1, atol=0.03)
    lines = table(summary, "raw").splitlines()
    assert len(lines) == 2 + 6 and lines[2].startswith("| all | 0.0001 | 2 |")


def test_central_steps_is_eta_h_times_the_range_of_forward_acting_names_only():
    from ohgw.tasks import build, config

    space = build(config("digits")).space
    forward = {"aug_magnitude"}.__contains__
    assert WarmStart("w", eta_h=0.1).central_steps(NAMES, space, forward) == {}
    assert WarmStart("w", eta_h=0.1, estimator="central_step").central_steps(NAMES, space, forward) == \
        {"aug_magnitude": pytest.approx(0.1)}


def test_a_trial_under_central_step_takes_the_augmentation_gradient_by_a_central_difference(one_thread):
    from tests.conftest import HP
    from tests.unit.test_variants import fit

    _, _, record = fit(WarmStart("ohgw_central", "hypergradient", eta_h=0.05, estimator="central_step"), batches=1)
    _, _, autograd = fit(WarmStart("ohgw", "hypergradient", eta_h=0.05), batches=1)
    assert record["ws_status"] == "applied"
    assert record["hgvia_aug_magnitude"] == CENTRAL_DIFFERENCE and record["hgvia_log_lr"] == "autograd"
    assert record["hg_log_lr"] == pytest.approx(autograd["hg_log_lr"], rel=1e-6)
    assert record["hg_aug_magnitude"] != pytest.approx(autograd["hg_aug_magnitude"], rel=1e-3)
    assert record["psi_aug_magnitude"] == pytest.approx(HP["aug_magnitude"] - 0.05 * record["hg_aug_magnitude"])
