"""The bias test (ohgw.analysis.bias): the energy distance against scipy's, the within-seed
permutation test finding a planted shift and keeping its level under a null (known numbers), and on
real replicates (the committed archive of a digits study): the A/A control's selections are the
baseline's, the planted control's learning rate moved toward its target."""
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from ohgw.analysis.bias import bias_table, energy_distance, selected, smallest_p, swap_test, values
from ohgw.analysis.collect import collect
from ohgw.hyperparams.space import SearchSpace

ARCHIVE = Path(__file__).resolve().parents[1] / "fixtures" / "archive_noise_floor" / "replicates.jsonl.xz"


def test_energy_distance_is_scipys_squared():
    rng = np.random.default_rng(0)
    x, y = rng.normal(0, 1, 7), rng.normal(0.5, 2, 5)
    assert energy_distance(x, y) == pytest.approx(stats.energy_distance(x, y) ** 2)
    assert energy_distance(x, x.copy()) == 0.0


def seeds(rng, n_seeds: int, shift: float, per_seed: int = 3) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per seed: baseline values and variant values, the variant's drawn `shift` higher."""
    return [(rng.normal(0, 1, per_seed), rng.normal(shift, 1, per_seed)) for _ in range(n_seeds)]


def test_a_planted_shift_is_found_and_a_null_is_not():
    rng = np.random.default_rng(1)
    planted = [swap_test(seeds(rng, 8, 1.5))[1] for _ in range(100)]
    null = [swap_test(seeds(rng, 8, 0.0))[1] for _ in range(300)]
    assert np.mean(np.array(planted) < 0.05) >= 0.9        # power against a 1.5-sd shift with 8 seeds
    assert np.mean(np.array(null) < 0.05) <= 0.05 + 0.03   # the level, within sampling error of 300 nulls
    assert min(null) >= smallest_p(8) == 2 / 256            # all 256 swaps, the identity and its mirror included


def test_exact_permutation_p_on_a_hand_made_case():
    """Two seeds, the variant higher in both: of the 4 swaps, none and both give the observed distance,
    one swap mixes them (a smaller distance): p = 2/4."""
    pairs = [(np.array([0.0]), np.array([1.0])), (np.array([0.1]), np.array([1.1]))]
    distance, p, n = swap_test(pairs)
    assert n == 4 and p == 0.5
    assert distance == pytest.approx(2 * 1.0 - 0.1 / 2 - 0.1 / 2)  # 2 E|X-Y| - E|X-X'| - E|Y-Y'|
    identical = [(np.array([0.3, 0.5]), np.array([0.3, 0.5]))] * 3
    assert swap_test(identical)[:2] == (0.0, 1.0)


def test_on_real_replicates_the_floor_selects_what_the_baseline_selects_and_the_planted_step_shifts_lr():
    collection = collect([ARCHIVE])
    groups = {k.warmstart: reps for k, reps in collection.groups().items()}
    space = SearchSpace.from_config(groups["baseline"][0].record["config"]["task"]["search_space"])
    lr = space["log_lr"]
    for base, aa in zip(groups["baseline"], groups["aa"]):  # the A/A control trains exactly as the baseline
        for selection in ("final", "top_rung"):
            assert values(aa, selection, lr).tolist() == values(base, selection, lr).tolist()
            assert len(selected(base, selection)) >= 1
    pairs = [(values(b, "top_rung", lr), values(a, "top_rung", lr)) for b, a in zip(groups["baseline"], groups["aa"])]
    assert swap_test(pairs)[:2] == (0.0, 1.0)
    table = bias_table(collection).set_index(["warmstart", "hyperparameter", "selection"])
    assert set(table.index.get_level_values(0)) == {"ohgw", "planted"}  # the treatment and the positive control
    planted = table.loc[("planted", "log_lr", "top_rung")]
    # planted steps half way toward log_lr -0.6 from the baseline's lower values: the promoted ones moved up
    assert planted["median_baseline"] < -0.6 and planted["shift_median"] > 0.2
    ohgw = table.loc[("ohgw", "log_lr", "top_rung")]
    assert abs(ohgw["shift_median"]) < 1e-3  # its steps are ~1e-5 on this scale
    # the top rung is the highest rung level the records say the scheduler used
    rungs = groups["baseline"][0].record["rung_levels"]
    assert (selected(groups["baseline"][0], "top_rung")["epoch"] >= max(rungs)).all()
    assert not math.isnan(planted["p_bonf"]) and planted["n_permutations"] == 2 ** planted["n_seeds"]
