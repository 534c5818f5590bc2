"""eta_h sensitivity (ohgw.analysis.sensitivity) on known curves: the fitted optimum, its bootstrap
interval over seeds and the near-optimal region's width; censored seeds at the cost consumed; and an
eta_h sweep of real replicates reaching the report."""
import math
import shutil

import numpy as np
import pandas as pd
import pytest

from ohgw.analysis.__main__ import main
from ohgw.analysis.sensitivity import analyse, speedups
from tests.helpers import RESULTS_V1, edit_record

ETAS = (-4.0, -3.5, -3.0, -2.5, -2.0)  # log10 eta_h, the study's grid 1e-4 .. 1e-2


def points(curve, n_seeds: int, noise: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame([{"seed": s, "log_eta": x, "speedup": curve(x) + rng.normal(0, noise) if noise else curve(x)}
                         for s in range(n_seeds) for x in ETAS])


def parabola(x):
    """A speed-up of 30% at eta_h = 1e-3, falling by 0.1 per squared decade."""
    return 0.3 - 0.1 * (x + 3) ** 2


def test_spline_recovers_a_known_optimum_and_its_region():
    out = analyse(points(parabola, 4), "spline", 0.8, 0.9, samples=50)
    assert out["eta_best"] == pytest.approx(1e-3)
    assert out["peak_speedup"] == pytest.approx(0.3)
    # 0.3 - 0.1 d^2 >= 0.9 * 0.3  <=>  |d| <= sqrt(0.3): the region is 2 sqrt(0.3) decades wide
    # each end is the last point of the 0.01-decade grid inside the region: within one step each
    assert 2 * math.sqrt(0.3) - 0.02 <= out["region_width_decades"] <= 2 * math.sqrt(0.3)
    assert out["eta_best_low"] == out["eta_best_high"] == pytest.approx(1e-3)  # no noise: every resample agrees


def test_loess_of_a_symmetric_curve_peaks_near_its_centre():
    """Local linear fits on `frac` of the points: at tied eta_h the nearest points are not chosen
    symmetrically, so the peak lands near, not exactly at, the centre of a symmetric curve."""
    out = analyse(points(parabola, 4), "loess", 0.8, 0.9, samples=20)
    assert abs(math.log10(out["eta_best"]) + 3) <= 0.25  # within half a step of the sweep's grid
    assert 0.2 < out["peak_speedup"] < 0.3  # local linear fits flatten the peak


@pytest.mark.parametrize("kind", ["spline", "loess"])
def test_the_interval_over_seeds_covers_the_optimum_under_noise(kind):
    out = analyse(points(parabola, 8, noise=0.02, seed=3), kind, 0.8, 0.9, samples=200)
    assert out["eta_best_low"] <= 1e-3 <= out["eta_best_high"]
    assert out["eta_best_high"] / out["eta_best_low"] < 10  # narrower than the two-decade sweep
    assert out["n_seeds"] == 8 and out["n_points"] == 40


def test_no_speed_up_anywhere_has_no_near_optimal_region():
    out = analyse(points(lambda x: -0.1 - 0.05 * (x + 3) ** 2, 3), "spline", 0.8, 0.9, samples=10)
    assert out["eta_best"] == pytest.approx(1e-3) and out["peak_speedup"] == pytest.approx(-0.1)
    assert math.isnan(out["region_width_decades"]) and math.isnan(out["region_low"])


def test_censored_seeds_count_at_the_cost_their_replicate_consumed():
    base = pd.DataFrame({"t_epochs": [10.0, math.inf], "epochs_used": [40.0, 40.0]}, index=[0, 1])
    variant = pd.DataFrame({"t_epochs": [5.0, 20.0], "epochs_used": [40.0, 40.0]}, index=[0, 1])
    never = pd.DataFrame({"t_epochs": [math.inf, math.inf], "epochs_used": [40.0, 30.0]}, index=[0, 1])
    got = speedups(base, {1e-3: variant, 1e-2: never}, "epochs").set_index(["log_eta", "seed"])["speedup"]
    assert got[(-3.0, 0)] == 0.5 and got[(-3.0, 1)] == 0.5      # 1 - 20/40: the baseline censored at 40
    assert got[(-2.0, 0)] == -3.0 and got[(-2.0, 1)] == 0.25     # 1 - 40/10; 1 - 30/40


def test_an_eta_sweep_of_real_replicates_reaches_the_report(tmp_path, capsys):
    """The fixture's ohgw replicates, relabelled to three eta_h as a sweep would record them."""
    runs = tmp_path / "runs"
    shutil.copytree(RESULTS_V1, runs)
    for job in ("0", "1", "2", "3"):
        edit_record(runs / job, lambda r: r.update(tau=0.7))  # every seed reaches it
    for eta in (1e-4, 1e-2):
        for job in ("2", "3"):
            shutil.copytree(runs / job, runs / f"{job}-{eta:g}")
            edit_record(runs / f"{job}-{eta:g}", lambda r: r.update(eta_h=eta))
    assert main([str(runs)]) == 0
    table = pd.read_csv(runs / "analysis" / "sensitivity.csv")
    assert table[["warmstart", "etas", "n_seeds", "fit"]].values.tolist() == [["ohgw", "0.0001 0.001 0.01", 2, "loess"]]
    assert (runs / "analysis" / "eta_sensitivity_digits_asha.png").exists()
    md = (runs / "analysis" / "report.md").read_text()
    assert "## Sensitivity to eta_h: the fitted optimum" in md and "digits/asha: ohgw at eta_h 0.0001 0.001 0.01" in md
