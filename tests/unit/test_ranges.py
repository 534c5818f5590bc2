"""Phase 1 of the low-budget study: ranges narrowed from an exploratory run's real records."""
import math

import pandas as pd
import pytest

from ohgw.results.history import load_histories
from ohgw.analysis.ranges import as_overrides, main, narrowed
from tests.helpers import ROOT

RUN = ROOT / "tests" / "fixtures" / "searchers_v1"  # real digits replicates: grid, random, kde x 3 seeds


def test_ranges_span_the_top_trials_widened_and_clipped():
    history = load_histories([RUN / "3"])["digits"]  # one random-search replicate, 10 trials
    frame = pd.read_csv(RUN / "3" / "results.csv").sort_values(["trial_id", "epoch"])
    last = frame.groupby("trial_id").tail(1).sort_values("val_acc", ascending=False, kind="stable")
    top3 = last.head(3)
    domains = narrowed(history, top=3, widen=0.1)
    assert list(domains) == ["log_lr", "log_wd", "momentum", "label_smoothing", "aug_magnitude"]
    lr = domains["log_lr"]
    assert lr["low"] == pytest.approx(max(-3.0, top3["hp_log_lr"].min() - 0.3))
    assert lr["high"] == pytest.approx(min(0.0, top3["hp_log_lr"].max() + 0.3))
    wd = narrowed(history, top=3, widen=0.0)["log_wd"]
    assert (wd["low"], wd["high"]) == pytest.approx((top3["hp_log_wd"].min(), top3["hp_log_wd"].max()))
    everything = narrowed(history, top=10, widen=1.0)  # a margin of the whole width: the original bounds
    assert everything["momentum"] == {"low": 0.5, "high": 0.99}
    assert as_overrides({"log_lr": {"low": -2.5, "high": -1.0}, "batch_size": {"choices": [32, 64]}}) == \
        "task.search_space.log_lr.low=-2.5 task.search_space.log_lr.high=-1 task.search_space.batch_size.choices=[32,64]"


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert main([str(RUN / "3"), "--top", "50"]) == 2
    assert capsys.readouterr().err.strip() == "error: --top 50 needs as many trials; task digits has 10"
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no usable earlier records: no replicate.json found below") and "\n" not in err
