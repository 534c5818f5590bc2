"""T@tau in three units with censoring, AUC and quantiles on a hand-made results table."""
import math

import numpy as np
import pandas as pd
import pytest

from ohgw.analysis.metrics import auc_epochs, progress, quantile, time_to_target

# two trials, rows deliberately out of arrival order
ROWS = pd.DataFrame({
    "trial_id":    [0, 1, 0, 1],
    "epoch":       [2, 1, 1, 2],
    "val_acc":     [0.96, 0.70, 0.50, 0.80],
    "test_acc":    [0.95, 0.69, 0.52, 0.79],
    "wallclock_s": [15.0, 12.0, 10.0, 16.0],
    "elapsed_s":   [12.0, 9.0, 8.0, 13.0],   # cumulative per trial
})


MAX_ACC = {"metric": "val_acc", "test_metric": "test_acc", "mode": "max"}  # what a record says


def test_progress_orders_by_arrival_and_sums_device_seconds():
    prog = progress(ROWS, MAX_ACC)
    assert prog["wallclock_s"].tolist() == [10.0, 12.0, 15.0, 16.0]
    assert prog["device_s"].tolist() == [8.0, 17.0, 21.0, 25.0]  # increments 8, 9, 4, 4
    assert prog["epochs"].tolist() == [1, 2, 3, 4]
    assert prog["best"].tolist() == [0.50, 0.70, 0.96, 0.96]


def test_time_to_target_in_three_units():
    prog = progress(ROWS, MAX_ACC)
    assert time_to_target(prog, 0.95, "max") == {"wallclock_s": 15.0, "device_s": 21.0, "epochs": 3.0}
    assert time_to_target(prog, 0.70, "max")["epochs"] == 2.0  # reaching tau exactly counts
    assert time_to_target(prog, 0.99, "max") == {u: math.inf for u in ("wallclock_s", "device_s", "epochs")}


def test_float32_score_equal_to_tau_counts_as_reached():
    rows = ROWS.assign(val_acc=[0.949999988079071, 0.1, 0.1, 0.1])  # 342/360 as float32
    assert time_to_target(progress(rows, MAX_ACC), 0.95, "max")["epochs"] == 3.0


def test_minimised_metric():
    rows = ROWS.assign(val_loss=[0.2, 0.9, 1.5, 0.4])
    prog = progress(rows, {"metric": "val_loss", "test_metric": "test_acc", "mode": "min"})
    assert prog["best"].tolist() == [1.5, 0.9, 0.2, 0.2]
    assert time_to_target(prog, 0.5, "min")["wallclock_s"] == 15.0


def test_auc_is_mean_best_so_far_per_epoch():
    assert auc_epochs(progress(ROWS, MAX_ACC)["best"]) == pytest.approx((0.5 + 0.7 + 0.96 + 0.96) / 4)
    assert math.isnan(auc_epochs(pd.Series([], dtype=float)))


def test_quantiles_keep_censored_values_on_top():
    assert quantile([3.0, 1.0, 2.0, math.inf], 0.5) == 2.5
    assert quantile([3.0, 1.0, 2.0, math.inf], 0.75) == math.inf
    assert quantile([1.0, math.inf, math.inf], 0.5) == math.inf
    assert quantile([1.0, math.nan, 3.0], 0.5) == 2.0  # NaN = not measured, left out
    assert math.isnan(quantile([math.nan], 0.5))
    np.testing.assert_allclose(quantile([1.0, 2.0, 3.0, 4.0], 0.25), np.quantile([1, 2, 3, 4], 0.25))
