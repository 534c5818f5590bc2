"""Recorded curves and their replay (ohgw.simulate): real curve replicates on digits become a Syne
Tune blackbox table that its own reader gives back; a simulated replicate is a record the analysis
reads; and where the scheduler's decisions have no randomness, the replay reproduces a real run."""
import json

import numpy as np
import pandas as pd
import pytest

from ohgw.analysis.metrics import progress, time_to_target
from ohgw.analysis.pipeline import analyze
from ohgw.results.io import RECORD, load_record, load_results
from ohgw.simulate import replay, table
from ohgw.tuner.quiet import import_blackbox_repository
from ohgw.tuner.replicate import run_replicate
from tests.helpers import compose_config

SAMPLE = ["scheduler.configurations.size=3", "scheduler.configurations.seed=4"]
TINY = ["task.max_epochs=3", "n_workers=1"]
VARIANTS = {"baseline": ["warmstart=baseline"], "ohgw-eta0.01": ["warmstart=ohgw", "warmstart.eta_h=0.01"]}


@pytest.fixture(scope="module")
def curves(tmp_path_factory):
    """Curve replicates (scheduler=table) of 3 configurations x 3 epochs, baseline and OHGW, 2 seeds,
    and the table built from them."""
    import_blackbox_repository()
    root = tmp_path_factory.mktemp("curves")
    for label, overrides in VARIANTS.items():
        for seed in (0, 1):
            cfg = compose_config("scheduler=table", *TINY, *SAMPLE, "budget.epochs=null", "budget.trials=3", f"seed={seed}",
                                 f"rerun.root={root}", *overrides)
            run_replicate(cfg, root / label / str(seed))
    out = table.write(*table.build([root]), root / "table")
    return root, out


def test_a_table_round_trips_through_syne_tunes_blackbox_reader(curves):
    root, path = curves
    from syne_tune.blackbox_repository.blackbox_tabular import deserialize

    blackboxes = deserialize(str(path))  # Syne Tune's own reader
    assert sorted(blackboxes) == sorted(VARIANTS)
    for label in VARIANTS:
        bb = blackboxes[label]
        assert bb.objectives_evaluations.shape[:3] == (3, 2, 3)  # configurations, seeds, epochs
        assert bb.objectives_names[0] == "val_acc" and table.ELAPSED_TIME in bb.objectives_names
        metric, elapsed = 0, bb.objectives_names.index(table.ELAPSED_TIME)
        for s_i, seed in enumerate((0, 1)):
            job = root / label / str(seed)
            rows = load_results(job, load_record(job))
            for _, trial in rows.groupby("trial_id"):
                config = {n: trial.iloc[0][f"hp_{n}"] for n in bb.hyperparameters.columns}
                got = bb.objective_function(config, seed=s_i)  # (epochs, objectives)
                np.testing.assert_allclose(got[:, metric], trial["val_acc"].to_numpy(), rtol=0, atol=1e-7)
                np.testing.assert_allclose(got[:, elapsed], trial["elapsed_s"].to_numpy(), rtol=1e-6)
    # OHGW's recorded psi' differs from the sampled x; the baseline's does not (Syne Tune stores float32)
    psi = blackboxes["ohgw-eta0.01"].objectives_names.index("psi_log_lr")
    x = blackboxes["ohgw-eta0.01"].hyperparameters["log_lr"].to_numpy().astype(np.float32)
    assert np.all(blackboxes["baseline"].objectives_evaluations[:, :, 0, psi] == x[:, None])
    assert np.all(blackboxes["ohgw-eta0.01"].objectives_evaluations[:, :, 0, psi] != x[:, None])


def test_a_simulated_replicate_at_4_workers_is_a_record_the_analysis_reads(curves, tmp_path):
    _, path = curves
    taken = replay.run_many(path, "asha", list(VARIANTS), list(range(6)), n_workers=4, out=tmp_path / "sim",
                            overrides=["budget.epochs=6"])
    assert set(taken) == set(VARIANTS)
    record = json.loads((tmp_path / "sim" / "baseline" / "0" / RECORD).read_text())
    assert record["status"] == "complete" and record["runtime"]["n_workers"] == 4
    assert record["simulated"]["table_sha256"] == replay.table_digest(path)
    rows = load_results(tmp_path / "sim" / "baseline" / "0", record)  # checked against the record's checksums
    # the budget stops the replicate at 6 epochs; reports fetched with the 6th count too (at most one per
    # other running trial: ohgw.tuner.replicate.OVERSHOOT)
    assert record["checksums"] and record["budget_used"]["epochs"] == len(rows) <= 6 + 3
    assert set(rows["decision"]) >= {"STOP"}  # ASHA's decisions reached the records
    # 3 configurations, 4 workers: every trial started at once, at virtual time ~0
    assert rows.groupby("trial_id")["wallclock_s"].min().max() < rows["elapsed_s"].max() + 1
    out = analyze([tmp_path / "sim"], tmp_path / "analysis")
    summary = pd.read_csv(out / "summary.csv")
    assert sorted(summary["warmstart"]) == ["baseline", "ohgw"]
    assert (summary["n_seeds"] == 6).all()
    paired = pd.read_csv(out / "paired.csv")
    assert len(paired) == 1 and paired.iloc[0]["warmstart"] == "ohgw"


def test_a_replay_of_fifo_random_search_gives_the_real_runs_t_at_tau(curves, tmp_path):
    # random search over the table's sample, every trial to the end, one worker: nothing in its
    # decisions is random beyond the seeded order, so the replay must see the same curves in the
    # same order as a real run of the same seed
    _, path = curves
    real_dir = tmp_path / "real"
    cfg = compose_config("scheduler=random", *TINY, "budget.epochs=7", "seed=0", f"rerun.root={tmp_path}",
                         "+scheduler.configurations={size:3,seed:4}", "warmstart=baseline")
    run_replicate(cfg, real_dir)
    real = load_record(real_dir)
    real_rows = load_results(real_dir, real)
    sim = replay.run_one(replay.plan(path, "random", "baseline", 1, ["budget.epochs=7"]), 0, tmp_path / "sim")
    sim_rows = load_results(tmp_path / "sim", sim)
    assert [c["log_lr"] for c in sim["sampled_configs"]] == [c["log_lr"] for c in real["sampled_configs"]][:len(sim["sampled_configs"])]
    n = min(len(real_rows), len(sim_rows))
    assert n >= 7
    columns = ["trial_id", "epoch", "val_acc", "hp_log_lr"]
    pd.testing.assert_frame_equal(progress(real_rows, real)[["trial_id", "epoch", "score"]].head(7),
                                  progress(sim_rows, sim)[["trial_id", "epoch", "score"]].head(7))
    assert real_rows[columns].head(7).equals(sim_rows[columns].head(7))
    scores = sorted(set(real_rows["val_acc"].head(7)))
    for tau in scores[len(scores) // 2:]:  # targets reached at different points of the run
        assert (time_to_target(progress(real_rows.head(7), real), tau, "max", ("epochs",))
                == time_to_target(progress(sim_rows.head(7), sim), tau, "max", ("epochs",)))


def test_an_unknown_variant_is_one_line_and_exit_2(curves, capsys):
    _, path = curves
    assert replay.main([str(path), "--scheduler", "asha", "--variants", "ohgw-eta9", "--seeds", "1",
                        "--out", str(path.parent / "nowhere")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: variant 'ohgw-eta9' is not in the table") and "baseline" in err[-1]
    assert not (path.parent / "nowhere").exists()


def test_a_replay_is_a_function_of_the_table_the_scheduler_and_the_seed(curves, tmp_path):
    # Syne Tune's own time keeper adds the real seconds of the scheduler's decisions to the virtual clock,
    # so two replays of one seed differed in their times (and, at many workers, in what they decided)
    _, path = curves
    p = replay.plan(path, "asha", "ohgw-eta0.01", 2, ["budget.epochs=8"])
    first, again = (load_results(d, replay.run_one(p, 3, d)) for d in (tmp_path / "a", tmp_path / "b"))
    assert len(first) >= 5
    pd.testing.assert_frame_equal(first, again)


def test_common_times_put_every_variant_on_the_reference_clock(curves):
    from ohgw.errors import ConfigError
    from ohgw.simulate.times import common_times

    _, path = curves
    blackboxes, _ = table.load(path)
    on_one = common_times(blackboxes, "baseline")
    base, ohgw = blackboxes["baseline"], on_one["ohgw-eta0.01"]
    names = base.objectives_names
    elapsed = base.objectives_evaluations[..., names.index(table.ELAPSED_TIME)].astype(float)
    first = np.median(elapsed[:, :, 0], axis=1)
    later = np.median(np.diff(elapsed, axis=2).reshape(len(elapsed), -1), axis=1)
    clock = np.broadcast_to(first[:, None, None] + np.arange(3)[None, None, :] * later[:, None, None], (3, 2, 3))
    np.testing.assert_allclose(on_one["baseline"].objectives_evaluations[..., names.index(table.ELAPSED_TIME)],
                               clock, rtol=1e-6)
    # OHGW's trials run on the baseline's clock, each later by its own recorded warm-start seconds, scaled
    # by how much faster the baseline's epochs ran than its own (the machine's load while each was recorded)
    own = blackboxes["ohgw-eta0.01"].objectives_evaluations
    ws = sum(own[:, :, 0, names.index(n)].astype(float) for n in ("ws_seconds", "ws_startup_s"))
    own_later = np.median(np.diff(own[..., names.index(table.ELAPSED_TIME)].astype(float), axis=2), axis=2)
    ws = ws * later[:, None] / own_later
    assert (ws > 0).all()
    for column in (table.ELAPSED_TIME, "elapsed_s"):
        np.testing.assert_allclose(ohgw.objectives_evaluations[..., names.index(column)], clock + ws[:, :, None],
                                   rtol=1e-6)
    # everything else is the variant's own record
    rest = [i for i, n in enumerate(names) if n not in (table.ELAPSED_TIME, "elapsed_s")]
    np.testing.assert_array_equal(ohgw.objectives_evaluations[..., rest],
                                  blackboxes["ohgw-eta0.01"].objectives_evaluations[..., rest])
    with pytest.raises(ConfigError, match="'aa' is not a variant of the table"):
        common_times(blackboxes, "aa")


def test_a_replay_on_common_times_says_so_in_its_record(curves, tmp_path):
    _, path = curves
    assert replay.main([str(path), "--scheduler", "asha", "--variants", "ohgw-eta0.01", "--seeds", "2",
                        "--times", "baseline", "--out", str(tmp_path), "--set", "budget.epochs=6"]) == 0
    record = load_record(tmp_path / "ohgw-eta0.01" / "0")
    assert record["simulated"]["times"] == "baseline" and record["config"]["simulate"]["times"] == "baseline"
    own = replay.run_one(replay.plan(path, "asha", "ohgw-eta0.01", 4, ["budget.epochs=6"]), 0, tmp_path / "own")
    assert own["simulated"]["times"] == "own" and own["key"] != record["key"]


def test_a_diverged_curve_fails_where_the_real_trial_did(curves, tmp_path):
    # the table carries a diverged curve's last epoch to the end; the replay fails the trial after the
    # epochs it reported (here: configuration 1 said to have diverged after 2 of 3 epochs in both seeds)
    _, path = curves
    p = replay.plan(path, "random", "baseline", 1, ["budget.epochs=null", "budget.trials=3"])
    meta = table.load(path)[1]
    meta["unfinished"] = {"baseline": [{"config": 1, "seed": seed, "epochs": 2} for seed in meta["seeds"]]}
    p.diverged = replay.diverged_curves(meta, "baseline", p.blackbox)
    record = replay.run_one(p, 0, tmp_path)
    rows = load_results(tmp_path, record)
    names = list(p.blackbox.hyperparameters.columns)
    diverged = tuple(p.blackbox.hyperparameters.iloc[1])
    for sampled in record["sampled_configs"]:
        trial = sampled["trial_id"]
        if tuple(sampled[n] for n in names) == diverged:
            assert record["trial_status"][str(trial)] == "Failed" and rows[rows["trial_id"] == trial]["epoch"].max() == 2
        else:
            assert record["trial_status"][str(trial)] == "Completed" and rows[rows["trial_id"] == trial]["epoch"].max() == 3
