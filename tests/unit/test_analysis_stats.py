"""Statistics on hand-made numbers with known answers."""
import math

import numpy as np
import pytest
from scipy import stats

from ohgw.analysis.stats import bonferroni, histogram_kl, wilcoxon_censored


def test_wilcoxon_matches_scipy_without_censoring():
    base = [30.0, 41.0, 25.0, 52.0, 38.0, 47.0, 33.0]
    var = [22.0, 40.0, 27.0, 35.0, 30.0, 31.0, 29.0]
    expected = stats.wilcoxon(np.subtract(var, base)).pvalue
    assert wilcoxon_censored(base, var) == pytest.approx(expected)
    assert wilcoxon_censored(base, var) == pytest.approx(0.046875)  # exact: 3/64 two-sided


def test_censored_times_rank_worse_than_any_reached_time():
    base = [10.0, 20.0, math.inf, 30.0, 15.0, math.inf]
    var = [5.0, 18.0, 12.0, math.inf, 9.0, math.inf]
    # any stand-in far beyond the reached times gives the same ranks; the last pair ties
    stand_in = lambda a: np.where(np.isinf(a), 1e6, a)  # noqa: E731
    expected = stats.wilcoxon(stand_in(np.array(var)) - stand_in(np.array(base))).pvalue
    assert wilcoxon_censored(base, var) == pytest.approx(expected)
    # the censored baseline (pair 3) is the largest improvement, outranking every reached pair
    one_sided = stats.wilcoxon(stand_in(np.array(var)) - stand_in(np.array(base)), alternative="less")
    assert one_sided.pvalue < 0.5


def test_wilcoxon_degenerate_inputs():
    assert wilcoxon_censored([1.0, math.inf], [1.0, math.inf]) == 1.0  # all ties
    assert math.isnan(wilcoxon_censored([], []))


def test_bonferroni_counts_only_tests_with_a_p_value():
    out = bonferroni([0.01, 0.2, math.nan, 0.5])
    np.testing.assert_allclose(out[[0, 1, 3]], [0.03, 0.6, 1.0])
    assert math.isnan(out[2])


def test_kl_of_histograms():
    same = [0.1, 0.4, 0.7]
    assert histogram_kl(same, same, 0.0, 1.0) == 0.0
    # 2 bins, pseudo-count 0.5: P = [4.5, 0.5]/5, Q = [2.5, 2.5]/5
    kl = histogram_kl([0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.6, 0.9], 0.0, 1.0, bins=2)
    assert kl == pytest.approx(0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5))
    assert histogram_kl([0.1] * 20, [0.9] * 20, 0.0, 1.0) > 2.0  # disjoint: large, finite


def test_paired_measures_and_criteria_on_a_hand_made_table():
    import pandas as pd

    from ohgw.analysis.tables import paired_measures

    def seeds(t, best, ws_pct, peak):
        return pd.DataFrame({"t_wallclock_s": t, "t_device_s": t, "t_epochs": t, "best_val": best,
                             "test_of_best": best, "ws_device_pct": ws_pct, "ws_flops_pct": math.nan,
                             "peak_mem_ratio": peak}, index=[0, 1, 2, 3, 4])

    base = seeds([10.0, 12.0, 14.0, 20.0, math.inf], [0.90] * 5, [0.0] * 5, [1.0] * 5)
    var = seeds([7.0, 9.0, 10.0, 15.0, 30.0], [0.90, 0.90, 0.91, 0.90, 0.90], [2.0] * 5, [1.05] * 5)
    out = paired_measures(base, var, trial_peaks=[1.02, 1.08, 1.15])
    assert out["reduction_epochs"] == pytest.approx(1 - 10.0 / 14.0)  # medians 10 vs 14
    assert out["p_epochs"] == pytest.approx(0.0625)  # 5 of 5 faster: exact two-sided 2/32
    assert math.isnan(out["std_ratio_epochs"]) and not out["crit_std_epochs"]  # a censored seed
    assert out["final_val_change_rel"] == 0.0 and out["crit_final_score"]
    assert out["extra_device_pct"] == 2.0 and out["crit_compute"]
    assert out["peak_mem_ratio"] == 1.05  # a hyper-step's peak over a step's: reported, not judged
    assert out["trial_peak_ratio"] == 1.08 and out["crit_memory"]  # the trial-level median
    tied = paired_measures(seeds([3.0] * 5, [0.9] * 5, [0.0] * 5, [1.0] * 5),
                           seeds([3.0] * 5, [0.8] * 5, [9.0] * 5, [1.5] * 5), trial_peaks=[1.2, 1.3])
    assert tied["std_ratio_epochs"] == 1.0 and tied["crit_std_epochs"]  # std 0 vs std 0
    assert tied["p_epochs"] == 1.0 and tied["reduction_epochs"] == 0.0
    assert not tied["crit_final_score"] and not tied["crit_compute"] and not tied["crit_memory"]


def test_a_minimised_metric_counts_a_lower_score_as_better_and_judges_the_test_perplexitys_rise():
    import pandas as pd

    from ohgw.analysis.tables import paired_measures

    def seeds(val, test):
        return pd.DataFrame({"t_wallclock_s": [5.0] * 3, "t_device_s": [5.0] * 3, "t_epochs": [5.0] * 3,
                             "best_val": val, "test_of_best": test, "ws_device_pct": [1.0] * 3,
                             "ws_flops_pct": [1.0] * 3, "peak_mem_ratio": [1.0] * 3}, index=[0, 1, 2])

    base = seeds([100.0, 100.0, 100.0], [90.0, 90.0, 90.0])
    better = paired_measures(base, seeds([95.0, 95.0, 95.0], [89.0, 89.0, 89.0]), mode="min", metric="val_ppl")
    assert better["final_val_change_rel"] == pytest.approx(0.05)  # positive = better
    assert better["final_test_change_abs"] == pytest.approx(1.0) and better["crit_final_score"]
    # 0.4 ppl worse on test passes (<= 0.5), 0.6 fails, however small relative to 90
    assert paired_measures(base, seeds([100.0] * 3, [90.4] * 3), mode="min", metric="val_ppl")["crit_final_score"]
    assert not paired_measures(base, seeds([100.0] * 3, [90.6] * 3), mode="min", metric="val_ppl")["crit_final_score"]
    # another minimised score (an RMSE) is judged like accuracy: its validation value 0.2% worse at most
    rmse = seeds([0.70] * 3, [0.72] * 3)
    assert paired_measures(rmse, seeds([0.7013] * 3, [0.80] * 3), mode="min", metric="val_rmse")["crit_final_score"]
    assert not paired_measures(rmse, seeds([0.7015] * 3, [0.72] * 3), mode="min", metric="val_rmse")["crit_final_score"]
