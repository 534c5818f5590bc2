"""Statistics on hand-made numbers with known answers."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ohgw.analysis.measures import Pair, capped_std, paired_measures
from ohgw.analysis.protocol import from_mapping, judge, strategy
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


STRATEGY = from_mapping(strategy(), "the strategy's defaults")


def seeds(t, best, ws_pct=0.0, peak=1.0, test=None, used=40.0):
    """Per-seed measures of one variant (as ohgw.analysis.tables.measures makes them), every unit the same."""
    n = len(t)
    return pd.DataFrame({"t_wallclock_s": t, "t_device_s": t, "t_epochs": t, "best_val": best,
                         "test_of_best": best if test is None else test, "ws_device_pct": ws_pct,
                         "ws_flops_pct": math.nan, "peak_mem_ratio": peak, "epochs_used": used,
                         "device_s": used, "wallclock_used_s": used}, index=range(n))


def judged(base, var, protocol=STRATEGY, peaks=(), mode="max", metric="val_acc", role="treatment", noisy=False):
    """One comparison's row of paired.csv, judged by `protocol`."""
    row = {"task": "digits", "scheduler": "asha", "warmstart": "ohgw", "eta_h": 1e-3, "role": role,
           "metric": metric, "mode": mode, "n_pairs": len(base), "note": "",
           **paired_measures(Pair(base, var, mode, tuple(peaks)))}
    return judge(pd.DataFrame([row]), protocol, {"digits"} if noisy else set()).iloc[0]


def test_paired_measures_and_criteria_on_a_hand_made_table():
    base = seeds([10.0, 12.0, 14.0, 20.0, math.inf], [0.90] * 5)
    var = seeds([7.0, 9.0, 10.0, 15.0, 30.0], [0.90, 0.90, 0.91, 0.90, 0.90], ws_pct=2.0, peak=1.05)
    out = judged(base, var, peaks=[1.02, 1.08, 1.15])
    assert out["reduction_epochs"] == pytest.approx(1 - 10.0 / 14.0)  # medians 10 vs 14
    assert out["p_epochs"] == pytest.approx(0.0625)  # 5 of 5 faster: exact two-sided 2/32
    assert out["p_bonf_epochs"] == out["p_epochs"]  # a family of one
    assert not out["crit_reduction"]  # 29% faster, but 5 seeds cannot reach p < 0.05
    assert out["final_test_change_rel"] == 0.0 and out["crit_final_score"]
    assert out["extra_device_pct"] == 2.0 and out["crit_compute"]
    assert out["peak_mem_ratio"] == 1.05  # a hyper-step's peak over a step's: reported, not judged
    assert out["trial_peak_ratio"] == 1.08 and out["crit_memory"]  # the trial-level median
    assert not out["meets_all"]
    tied = judged(seeds([3.0] * 5, [0.9] * 5), seeds([3.0] * 5, [0.8] * 5, ws_pct=9.0, peak=1.5), peaks=[1.2, 1.3])
    assert tied["std_ratio_epochs"] == 1.0 and tied["crit_std"]  # std 0 vs std 0
    assert tied["p_epochs"] == 1.0 and tied["reduction_epochs"] == 0.0
    assert not tied["crit_final_score"] and not tied["crit_compute"] and not tied["crit_memory"]


def test_std_criterion_counts_censored_seeds_at_the_cost_their_replicate_consumed():
    """Hand-worked: a censored seed enters the std at its replicate's epochs consumed.
    Baseline T = 6, 9, inf, 12 (all consumed 40): capped 6, 9, 40, 12, mean 16.75, squared deviations
    115.5625 + 60.0625 + 540.5625 + 22.5625 = 738.75. Variant T = inf, 5, 7, inf (consumed 40, 40, 40, 38):
    capped 40, 5, 7, 38, mean 22.5, squared deviations 306.25 + 306.25 + 240.25 + 240.25 = 1093.
    Ratio of the stds (ddof 1 on both sides): sqrt(1093 / 738.75) = 1.2164 > 1.10: fails."""
    base = seeds([6.0, 9.0, math.inf, 12.0], [0.9] * 4, used=[40.0] * 4)
    var = seeds([math.inf, 5.0, 7.0, math.inf], [0.9] * 4, used=[40.0, 40.0, 40.0, 38.0])
    assert capped_std(base, "t_epochs") == pytest.approx(math.sqrt(738.75 / 3))
    out = judged(base, var)
    assert out["std_ratio_epochs"] == pytest.approx(math.sqrt(1093 / 738.75)) and not out["crit_std"]
    # the threshold is the protocol's: 25% allowed, it holds
    looser = from_mapping({**strategy(), "criteria": {**strategy()["criteria"], "std": {"measure": "std_ratio",
                                                                                          "max": 1.25}}}, "test")
    assert judged(base, var, looser)["crit_std"]
    # without the rule a censored seed would leave the std undefined; with no censored seed it is the plain std
    plain = seeds([6.0, 9.0, 10.0, 12.0], [0.9] * 4)
    assert capped_std(plain, "t_epochs") == pytest.approx(pd.Series([6.0, 9.0, 10.0, 12.0]).std())


def test_a_minimised_metric_counts_a_lower_score_as_better():
    base = seeds([5.0] * 3, [100.0] * 3, test=[90.0] * 3)
    better = judged(base, seeds([5.0] * 3, [95.0] * 3, test=[89.0] * 3), mode="min", metric="val_ppl")
    assert better["final_val_change_rel"] == pytest.approx(0.05)  # positive = better
    assert better["final_test_change_abs"] == pytest.approx(1.0) and better["crit_final_score"]
    # the strategy judges the test score's relative worsening: 0.2% of 90 = 0.18
    assert judged(base, seeds([5.0] * 3, [100.0] * 3, test=[90.17] * 3), mode="min")["crit_final_score"]
    assert not judged(base, seeds([5.0] * 3, [100.0] * 3, test=[90.2] * 3), mode="min")["crit_final_score"]
    # the language study's protocol (exp2): at most 0.5 perplexity higher on test, however small relative to 90
    lm = from_mapping({**strategy(), "criteria": {**strategy()["criteria"],
                                                  "final_score": {"measure": "final_change_abs", "min": -0.5}}}, "test")
    assert judged(base, seeds([5.0] * 3, [100.0] * 3, test=[90.4] * 3), lm, mode="min")["crit_final_score"]
    assert not judged(base, seeds([5.0] * 3, [100.0] * 3, test=[90.6] * 3), lm, mode="min")["crit_final_score"]
