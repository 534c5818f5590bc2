"""docs/results/simulation.md's numbers come back from the repository, task by task: the curves table
rebuilt from the committed archive is the one the study replayed (its digest), the trial-level effect
computed again equals the committed one, simulated replicates replayed again give the committed T@tau
seed by seed (a replay is a function of the table, the scheduler, the clock and the seed), and the
fidelity check's real replicates (archived) give its committed T@tau."""
import json

import numpy as np
import pandas as pd
import pytest

from ohgw import CONF_DIR
from ohgw.simulate import fidelity, pairs, replay, table
from ohgw.tuner.quiet import import_blackbox_repository

REPORT = CONF_DIR.parent / "docs" / "results" / "simulation"
TASKS = ("digits", "diabetes")
TREATED = "ohgw-eta0.001"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    """{task: the table rebuilt from its committed archive}."""
    import_blackbox_repository()
    out = {}
    for task in TASKS:
        out[task] = tmp_path_factory.mktemp("table") / task
        table.write(*table.build(sorted((REPORT / task).glob("curves_*.jsonl.xz"))), out[task])
    return out


@pytest.mark.parametrize("task", TASKS)
def test_the_archive_rebuilds_the_table_the_study_replayed(rebuilt, task):
    assert replay.table_digest(rebuilt[task]) == json.loads((REPORT / task / "table.json").read_text())["table_sha256"]


@pytest.mark.parametrize("task", TASKS)
def test_the_trial_level_effect_is_the_committed_one(rebuilt, task):
    committed = pd.read_csv(REPORT / task / "pairs" / "trial_effect.csv")
    again = pairs.effect(pairs.pairs(*table.load(rebuilt[task])))
    pd.testing.assert_frame_equal(again.reset_index(drop=True), committed, check_dtype=False, rtol=1e-9)


def _committed(cell, label: str, seeds) -> pd.DataFrame:
    committed = pd.read_csv(cell / "t_at_tau.csv.xz")
    name = label.split("-eta")[0]
    eta = committed["eta_h"].isna() if name == "baseline" else np.isclose(committed["eta_h"], 1e-3)
    return committed[(committed["warmstart"] == name) & eta & committed["seed"].isin(seeds)].sort_values("seed")


@pytest.mark.parametrize("task,cell,scheduler,workers", [
    ("digits", "verdict/asha", "asha", 4), ("digits", "verdict/pasha", "pasha", 4), ("digits", "workers/w16", "asha", 16),
    ("diabetes", "verdict/hyperband", "hyperband", 4), ("diabetes", "workers/w64", "asha", 64)])
def test_replays_give_the_committed_t_at_tau_seed_by_seed(rebuilt, tmp_path, task, cell, scheduler, workers):
    seeds = list(range(4))
    labels = ["baseline", TREATED]
    clock = set(pd.read_csv(REPORT / task / cell / "t_at_tau.csv.xz")["times"])
    assert len(clock) == 1
    replay.run_many(rebuilt[task], scheduler, labels, seeds, workers, tmp_path, times=_own_as_none(clock.pop()))
    again = fidelity.t_at_tau([tmp_path])
    for label in labels:
        mine = again[again["warmstart"] == label.split("-eta")[0]].sort_values("seed")
        theirs = _committed(REPORT / task / cell, label, seeds)
        assert len(mine) == len(theirs) == len(seeds)
        for unit in fidelity.UNITS:
            np.testing.assert_allclose(mine[unit].to_numpy(), theirs[unit].to_numpy(), rtol=1e-9)


def _own_as_none(times: str) -> str | None:
    return None if times == "own" else times


@pytest.mark.parametrize("task", TASKS)
def test_the_fidelity_checks_real_replicates_give_its_committed_t_at_tau(task):
    where = REPORT / task / "fidelity"
    real = fidelity.t_at_tau([where / "real.jsonl.xz"]).sort_values("seed").reset_index(drop=True)
    replicates = pd.read_csv(where / "fidelity_replicates.csv")
    committed = replicates[~replicates["simulated"]].sort_values("seed").reset_index(drop=True)
    np.testing.assert_allclose(real["epochs"], committed["epochs"])
    np.testing.assert_allclose(real["wallclock_s"], committed["wallclock_s"])
    # and the comparison's table from them, with the committed simulated side
    again = fidelity.compare(real, replicates[replicates["simulated"]])
    pd.testing.assert_frame_equal(again, pd.read_csv(where / "fidelity.csv"), check_dtype=False)
