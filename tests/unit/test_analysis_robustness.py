"""Robustness beside the speed-up (ohgw.analysis.robustness), on hand-worked cases: the share of the
clean speed-up retained on noisy data, and the OOD perplexity of each rung's leader, variant minus
baseline, paired by seed."""
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ohgw.analysis.collect import Collection, Replicate
from ohgw.analysis.robustness import (clean_tasks, ood_at_rungs, ood_lines, ood_per_rung_table, retained_lines,
                                      retained_table)


def paired_row(task, warmstart, eta_h, reduction, low, high, role="treatment"):
    return {"task": task, "scheduler": "pasha", "warmstart": warmstart, "eta_h": eta_h, "role": role, "n_pairs": 8,
            "reduction_epochs": reduction, "reduction_epochs_low": low, "reduction_epochs_high": high}


def test_retained_share_is_noisy_over_clean_and_undefined_without_a_clean_speedup():
    paired = pd.DataFrame([
        paired_row("lm", "ohgw", 1e-3, 0.20, 0.05, 0.30),
        paired_row("lm+token_noise=0.15", "ohgw", 1e-3, 0.05, -0.10, 0.15),
        paired_row("lm", "ohgw", 3e-4, 0.10, 0.0, 0.2),               # no noisy run: no row
        paired_row("lm", "aa", None, -0.05, -0.2, 0.1, role="floor"),
        paired_row("lm+token_noise=0.15", "aa", None, 0.02, -0.1, 0.1, role="floor"),
    ])
    table = retained_table(paired, {"lm+token_noise=0.15": "lm"}, "epochs").set_index("warmstart")
    assert sorted(table.index) == ["aa", "ohgw"]
    assert table.loc["ohgw", "retained"] == pytest.approx(0.25)
    assert table.loc["ohgw", "reduction_clean_low"] == 0.05 and table.loc["ohgw", "reduction_noisy_high"] == 0.15
    assert math.isnan(table.loc["aa", "retained"]) and table.loc["aa", "note"] == "no clean speed-up to retain"
    censored = paired.assign(reduction_epochs=[0.2, math.nan, 0.1, -0.05, 0.02])  # the noisy baseline's median is inf
    again = retained_table(censored, {"lm+token_noise=0.15": "lm"}, "epochs").set_index("warmstart")
    assert math.isnan(again.loc["ohgw", "retained"]) and "noisy baseline's median is censored" in again.loc["ohgw", "note"]
    lines = retained_lines(table.reset_index())
    assert any("retains 25% of it" in line for line in lines)
    assert retained_table(paired, {}, "epochs").empty  # no noisy data: no table


def rep(seed: int, warmstart: str, rows: list[tuple], role: str) -> Replicate:
    """A replicate of a PASHA run with rungs at epochs 1 and 3; rows: (trial, epoch, val_ppl, ood_ppl)."""
    record = {"seed": seed, "task": "lm", "scheduler": "pasha", "warmstart": warmstart, "eta_h": None,
              "role": role, "metric": "val_ppl", "mode": "min", "rung_levels": [1, 3], "config": {"task": {}}}
    results = pd.DataFrame(rows, columns=["trial_id", "epoch", "val_ppl", "ood_ppl"])
    return Replicate(Path(f"/{warmstart}/{seed}"), record, results)


def test_the_rung_leader_is_the_best_validation_trial_at_that_epoch():
    r = rep(0, "baseline", [(0, 1, 900.0, 1000.0), (1, 1, 800.0, 1200.0), (0, 2, 750.0, 990.0),
                            (0, 3, 700.0, 950.0)], "baseline")
    assert ood_at_rungs(r) == {1: 1200.0, 3: 950.0}  # trial 1 leads at rung 1, only trial 0 reached rung 3
    no_ood = Replicate(r.path, r.record, r.results.drop(columns="ood_ppl"))
    assert ood_at_rungs(no_ood) == {}


def test_delta_ood_per_rung_pairs_seeds_and_counts_only_seeds_that_reached_the_rung():
    reps = []
    for seed in range(8):
        reps.append(rep(seed, "baseline", [(0, 1, 900.0, 1000.0 + seed), (0, 3, 700.0, 900.0)], "baseline"))
        rows = [(0, 1, 900.0, 1010.0 + seed)] + ([(0, 3, 700.0, 890.0)] if seed < 4 else [])
        reps.append(rep(seed, "ohgw", rows, "treatment"))
    table = ood_per_rung_table(Collection(reps)).set_index("rung")
    assert list(table.index) == [1, 3]
    assert table.loc[1, "n_pairs"] == 8 and table.loc[3, "n_pairs"] == 4
    assert table.loc[1, "delta_ood_ppl_median"] == 10.0 and table.loc[3, "delta_ood_ppl_median"] == -10.0
    assert table.loc[1, "delta_ood_ppl_low"] == table.loc[1, "delta_ood_ppl_high"] == 10.0  # every pair differs by 10
    # 8 pairs all worse: the exact two-sided signed-rank p is 2/256; Bonferroni over the 2 rungs
    assert table.loc[1, "p"] == pytest.approx(2 / 256) and table.loc[1, "p_bonf"] == pytest.approx(4 / 256)
    lines = ood_lines(table.reset_index(), alpha=0.05)
    assert lines[0].endswith("worse out of distribution at rungs 1")  # 4 pairs at rung 3 cannot reach 0.05


def test_clean_task_of_a_noisy_record_drops_the_noise_but_keeps_other_conditions():
    base = rep(0, "baseline", [(0, 1, 900.0, 1000.0)], "baseline")
    noisy_cfg = {"task": {"token_noise": 0.15, "train_fraction": 0.5}}
    noisy = Replicate(Path("/n"), {**base.record, "config": noisy_cfg}, base.results)
    assert clean_tasks(Collection([base, noisy])) == {"lm+token_noise=0.15+train_fraction=0.5": "lm+train_fraction=0.5"}
    assert np.isfinite(ood_at_rungs(noisy)[1])
