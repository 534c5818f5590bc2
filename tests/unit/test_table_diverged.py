"""A curves table from replicates whose trials diverged (ohgw.simulate.table): a trial that failed
before its first report has no rows, so the sample's configurations come from every replicate, and
its curve is one epoch at the worst score, at the replicate's median first-epoch time."""
import math

import pandas as pd

from ohgw.simulate.table import ELAPSED_TIME, _configs, _never_reported


def rows(*trials):
    """results.csv rows: (trial id, log_lr, [(epoch, val_rmse, elapsed_s), ...])."""
    return pd.DataFrame([{"trial_id": t, "hp_log_lr": lr, "epoch": e, "val_rmse": v, "test_rmse": v,
                          "elapsed_s": s, ELAPSED_TIME: s}
                         for t, lr, curve in trials for e, v, s in curve])


def test_configurations_of_every_replicate_in_the_first_ones_order():
    first = rows((0, -1.0, [(1, 0.9, 1.0), (2, 0.8, 2.0)]), (2, -2.0, [(1, 0.7, 1.5)]))  # trial 1 never reported
    second = rows((0, -1.0, [(1, 0.9, 1.1)]), (1, -0.1, [(1, math.inf, 0.4)]), (2, -2.0, [(1, 0.7, 1.4)]))
    assert _configs([first, second], ["log_lr"])["log_lr"].tolist() == [-1.0, -2.0, -0.1]


def test_a_trial_that_never_reported_is_one_epoch_at_the_worst_score():
    frame = rows((0, -1.0, [(1, 0.9, 1.0), (2, 0.8, 2.0)]), (2, -2.0, [(1, 0.7, 3.0)]))
    curve = _never_reported(frame, ["val_rmse", "test_rmse", "elapsed_s", ELAPSED_TIME], math.inf, "test_rmse")
    assert curve.to_dict("records") == [{"val_rmse": math.inf, "test_rmse": math.inf, "elapsed_s": 2.0,
                                         ELAPSED_TIME: 2.0, "epoch": 1}]
