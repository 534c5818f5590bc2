"""docs/results/simulation.md's numbers come back from the repository: the curves table rebuilt from
the committed archive is the one the study replayed (its digest), the trial-level effect computed
again equals the committed one, simulated replicates replayed again give the committed T@tau seed by
seed, and the fidelity check's real replicates (archived) give its committed T@tau."""
import json

import numpy as np
import pandas as pd
import pytest

from ohgw import CONF_DIR
from ohgw.simulate import fidelity, pairs, replay, table
from ohgw.tuner.quiet import import_blackbox_repository

REPORT = CONF_DIR.parent / "docs" / "results" / "simulation"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    import_blackbox_repository()
    out = tmp_path_factory.mktemp("table") / "digits"
    table.write(*table.build(sorted(REPORT.glob("curves_*.jsonl.xz"))), out)
    return out


def test_the_archive_rebuilds_the_table_the_study_replayed(rebuilt):
    assert replay.table_digest(rebuilt) == json.loads((REPORT / "table.json").read_text())["table_sha256"]


def test_the_trial_level_effect_is_the_committed_one(rebuilt):
    committed = pd.read_csv(REPORT / "pairs" / "trial_effect.csv")
    again = pairs.effect(pairs.pairs(*table.load(rebuilt)))
    pd.testing.assert_frame_equal(again.reset_index(drop=True), committed, check_dtype=False, rtol=1e-9)


@pytest.mark.parametrize("cell,scheduler,workers", [("verdict/asha", "asha", 4), ("verdict/pasha", "pasha", 4),
                                                     ("workers/w16", "asha", 16), ("dose/asha", "asha", 4)])
def test_replays_give_the_committed_t_at_tau_seed_by_seed(rebuilt, tmp_path, cell, scheduler, workers):
    committed = pd.read_csv(REPORT / cell / "t_at_tau.csv.xz")
    labels = ["baseline", "ohgw-eta0.001"]
    replay.run_many(rebuilt, scheduler, labels, list(range(5)), workers, tmp_path)
    again = fidelity.t_at_tau([tmp_path])
    for label in labels:
        name = label.split("-eta")[0]
        mine = again[again["warmstart"] == name].sort_values("seed")
        theirs = committed[(committed["warmstart"] == name) & committed["seed"].isin(range(5))].sort_values("seed")
        np.testing.assert_allclose(mine["epochs"].to_numpy(), theirs["epochs"].to_numpy())
        np.testing.assert_allclose(mine["wallclock_s"].to_numpy(), theirs["wallclock_s"].to_numpy(), rtol=1e-6)


def test_the_fidelity_checks_real_replicates_give_its_committed_t_at_tau():
    real = fidelity.t_at_tau([REPORT / "fidelity" / "real.jsonl.xz"]).sort_values("seed").reset_index(drop=True)
    replicates = pd.read_csv(REPORT / "fidelity" / "fidelity_replicates.csv")
    committed = replicates[~replicates["simulated"]].sort_values("seed").reset_index(drop=True)
    np.testing.assert_allclose(real["epochs"], committed["epochs"])
    np.testing.assert_allclose(real["wallclock_s"], committed["wallclock_s"])
    # and the comparison's table from them, with the committed simulated side
    again = fidelity.compare(real, replicates[replicates["simulated"]])
    pd.testing.assert_frame_equal(again, pd.read_csv(REPORT / "fidelity" / "fidelity.csv"), check_dtype=False)
