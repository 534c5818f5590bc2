"""The trial-level pairs (ohgw.simulate.pairs) on curves that diverged: a diverged regression curve
carries an RMSE of inf to its last epoch (ohgw.simulate.table), and its AUC is the worst."""
import math

import numpy as np

import pandas as pd

from ohgw.simulate.pairs import _auc_difference, effect, epochs_to

INF = math.inf


def test_a_diverged_curve_is_the_worst_and_two_are_equal():
    minimised = -1.0  # an RMSE: lower is better, a positive difference is the variant doing better
    assert _auc_difference(np.array([0.8, 0.7]), np.array([INF, INF]), minimised) == INF  # the variant survived
    assert _auc_difference(np.array([INF, INF]), np.array([0.8, 0.7]), minimised) == -INF
    assert _auc_difference(np.array([INF, INF]), np.array([0.9, INF]), minimised) == 0.0  # both diverged
    assert math.isclose(_auc_difference(np.array([0.6, 0.5]), np.array([0.8, 0.7]), minimised), 0.2)
    assert math.isclose(_auc_difference(np.array([0.9, 0.95]), np.array([0.8, 0.9]), 1.0), 0.075)  # accuracy


def test_epochs_to_tau_in_either_direction():
    assert epochs_to(np.array([0.9, 0.75, 0.7, INF]), 0.72, "min") == 3
    assert epochs_to(np.array([INF, INF]), 0.72, "min") == INF
    assert epochs_to(np.array([0.5, 0.96]), 0.95, "max") == 2


def test_a_configuration_whose_seeds_diverged_in_opposite_variants_counts_as_no_change():
    # seed 0: the variant diverged alone (-inf); seed 1: the baseline did (+inf); another configuration +0.1
    table = pd.DataFrame({"variant": "ohgw", "role": "treatment", "config": [0, 0, 1, 1], "seed": [0, 1, 0, 1],
                          "x_log_lr": [-1.0, -1.0, -2.0, -2.0], "auc_diff": [-INF, INF, 0.1, 0.1],
                          "t_tau_diff": math.nan, "reached": 0, "reached_baseline": 0})
    line = effect(table).iloc[0]
    assert line["auc_diff_median"] == 0.05 and line["auc_diff_high"] == 0.1 and line["auc_diff_low"] == 0.0
    assert (line["frac_raised"], line["frac_lowered"]) == (0.75, 0.25)
