"""The searcher comparison on real replicates: digits, baseline, schedulers grid / random / kde,
seeds 0, 1, 2 (tests/fixtures/searchers_v1; python run.py -m task=digits warmstart=baseline
scheduler=grid,random,kde seed=0,1,2 task.max_epochs=3 task.budget_epochs=30). The expected
numbers are derived here from results.csv directly, not through ohgw.analysis.metrics."""
import csv
import math
import shutil
import statistics
from pathlib import Path

import pandas as pd
import pytest

from ohgw.analysis.__main__ import main
from ohgw.analysis.collect import collect
from ohgw.analysis.measures import replicate_measures
from ohgw.analysis.metrics import ITERATIONS, progress
from ohgw.analysis.searchers import comparisons, reference_of, searchers_table
from ohgw.analysis.tables import measures
from tests.helpers import ROOT, edit_record, refused

FIXTURES = ROOT / "tests" / "fixtures" / "searchers_v1"
TAU = 0.95   # the digits task's; val_acc, maximised
JOBS = {"grid": ("0", "1", "2"), "random": ("3", "4", "5"), "kde": ("6", "7", "8")}  # seeds 0, 1, 2


@pytest.fixture
def runs(tmp_path) -> Path:
    shutil.copytree(FIXTURES, tmp_path / "runs")
    return tmp_path / "runs"


def rows_of(job_dir: Path) -> list[dict]:
    """results.csv in arrival order (the tuner's wall-clock)."""
    with open(job_dir / "results.csv") as f:
        rows = list(csv.DictReader(f))
    return sorted(rows, key=lambda r: float(r["wallclock_s"]))


def iterations_until(job_dir: Path, target: float) -> float:
    """Distinct trials seen until the first report whose val_acc reaches the target (float32
    scores: 0.95 is logged as 0.94999999); inf if none does."""
    seen = set()
    for row in rows_of(job_dir):
        seen.add(row["trial_id"])
        if float(row["val_acc"]) >= target - 1e-6:
            return float(len(seen))
    return math.inf


def device_seconds_until(job_dir: Path, target: float) -> float:
    """Each trial's process time (elapsed_s, cumulative per trial) summed over the trials, at
    the first report whose val_acc reaches the target; inf if none does."""
    elapsed = {}
    for row in rows_of(job_dir):
        elapsed[row["trial_id"]] = float(row["elapsed_s"])
        if float(row["val_acc"]) >= target - 1e-6:
            return sum(elapsed.values())
    return math.inf


def best_of(job_dir: Path) -> float:
    return max(float(r["val_acc"]) for r in rows_of(job_dir))


def test_iterations_to_tau_counts_the_trials_started_before_tau(runs):
    collection = collect([runs])
    got = {rep.path.name: replicate_measures(rep)["t_iterations"] for rep in collection.replicates}
    expected = {job: iterations_until(runs / job, TAU) for jobs in JOBS.values() for job in jobs}
    assert got == expected
    finite = [v for v in expected.values() if math.isfinite(v)]
    # the fixture holds what the measure must tell apart: several values, and censored seeds
    assert len(set(finite)) > 1 and len(finite) < len(expected)
    # a trial's later epochs do not count again: fewer iterations than reports somewhere
    reports = {job: next(i for i, r in enumerate(rows_of(runs / job), 1) if float(r["val_acc"]) >= TAU - 1e-6)
               for job, v in expected.items() if math.isfinite(v)}
    assert any(expected[job] < n for job, n in reports.items())


def test_iterations_count_distinct_trials_report_by_report(runs):
    """The curve the plot draws and every target reads (the margin's too): a trial that reports
    before one started earlier (two workers) counts once, from its own first report."""
    out_of_order = 0
    for rep in collect([runs]).replicates:
        seen, expected = set(), []
        for row in rows_of(rep.path):
            seen.add(row["trial_id"])
            expected.append(len(seen))
        assert progress(rep.results, rep.record)[ITERATIONS].tolist() == expected, rep.path.name
        ids = [int(r["trial_id"]) for r in rows_of(rep.path)]
        out_of_order += any(ids[i] > max(ids[:i], default=-1) + 1 for i in range(len(ids)))
    assert out_of_order  # the fixture holds such a case: trial ids are not the count


def test_reference_rule():
    assert reference_of(["kde", "random", "grid"]) == "grid"
    assert reference_of(["kde", "random", "bo"]) == "random"
    assert reference_of(["kde", "bo", "asha"]) == "asha"


def test_each_scheduler_paired_by_seed_with_grid(runs):
    shutil.rmtree(runs / "6")  # kde seed 0 gone: kde pairs with grid on seeds 1, 2 only
    collection = collect([runs])
    per_seed = measures(collection)
    table = searchers_table(collection, per_seed, comparisons(collection, per_seed)).set_index("scheduler")
    assert table.index.tolist() == ["grid", "kde", "random"]  # the reference's row first
    assert set(table["reference"]) == {"grid"} and table.loc["grid", "note"] == "reference"
    kde, random = table.loc["kde"], table.loc["random"]
    assert (kde["n_pairs"], kde["seeds"]) == (2, "1 2") and (random["n_pairs"], random["seeds"]) == (3, "0 1 2")
    # the reference's side of a comparison is its replicates of the shared seeds
    grid_device = [device_seconds_until(runs / j, TAU) for j in JOBS["grid"]]
    assert kde["device_s_to_tau_ref_median"] == pytest.approx(statistics.median(grid_device[1:]))
    assert statistics.median(grid_device[1:]) != pytest.approx(statistics.median(grid_device))
    assert random["iterations_to_tau_median"] == statistics.median(
        iterations_until(runs / j, TAU) for j in JOBS["random"])
    # the best score's change is the median of the differences seed by seed; with the seeds
    # paired otherwise (rotated) it would differ
    random_best, grid_best = ([best_of(runs / j) for j in JOBS[s]] for s in ("random", "grid"))
    paired = [r - g for r, g in zip(random_best, grid_best)]
    rotated = [r - g for r, g in zip(random_best, grid_best[1:] + grid_best[:1])]
    assert random["best_val_change"] == pytest.approx(statistics.median(paired), abs=1e-9)
    assert statistics.median(paired) != pytest.approx(statistics.median(rotated), abs=1e-9)
    # random seed 1 never reaches tau; every grid seed does
    assert (random["n_censored_iterations_to_tau"], random["n_censored_iterations_to_tau_ref"]) == (1, 0)
    # Bonferroni over this table's tests: 4 costs and the best score, for 2 schedulers
    assert random["p_bonf_iterations_to_tau"] == min(1.0, random["p_iterations_to_tau"] * 10)


def test_without_grid_the_reference_is_random(runs):
    for job in JOBS["grid"]:
        shutil.rmtree(runs / job)
    collection = collect([runs])
    per_seed = measures(collection)
    (comp,) = comparisons(collection, per_seed)
    assert comp.reference == "random" and list(comp.keys) == ["kde", "random"]


def test_margin_is_measured_from_the_best_any_scheduler_found(runs):
    collection = collect([runs])
    per_seed = measures(collection)
    table = searchers_table(collection, per_seed, comparisons(collection, per_seed, margin=0.02))
    best = max(best_of(runs / j) for jobs in JOBS.values() for j in jobs)
    assert table["best_any"].tolist() == pytest.approx([best] * 3)
    assert table["margin_target"].tolist() == pytest.approx([best - 0.02] * 3)
    kde = table.set_index("scheduler").loc["kde"]
    assert kde["iterations_to_margin_median"] == statistics.median(
        iterations_until(runs / j, best - 0.02) for j in JOBS["kde"])
    assert kde["iterations_to_margin_ref_median"] == statistics.median(
        iterations_until(runs / j, best - 0.02) for j in JOBS["grid"])


def test_schedulers_with_different_task_settings_are_not_compared(runs, capsys):
    for job in JOBS["kde"]:  # consistent among themselves, not with grid
        edit_record(runs / job, lambda r: r["config"]["task"].update(max_epochs=9))
    line = refused(capsys, runs)
    assert "digits/baseline searcher replicates with different config.task.max_epochs: 3 != 9" in line
    assert f"{runs / '0'} vs {runs / '6'}" in line
    assert not (runs / "analysis").exists()


def test_schedulers_with_different_budgets_are_not_compared(runs, capsys):
    for job in JOBS["random"]:
        edit_record(runs / job, lambda r: r["budget"].update(epochs=60))
    line = refused(capsys, runs)
    assert "budget.epochs: 30 != 60" in line and str(runs / "0") in line and str(runs / "3") in line


def test_negative_margin_is_refused(runs, capsys):
    assert "margin must be" in refused(capsys, runs, "--margin", "-0.1")


def test_searchers_in_the_report_and_gone_without_a_scheduler_axis(runs, capsys):
    out = runs.parent / "analysis"
    assert main([str(runs), "--out", str(out), "--margin", "0.02"]) == 0
    table = pd.read_csv(out / "searchers.csv")
    assert table["scheduler"].tolist() == ["grid", "kde", "random"]
    md = (out / "report.md").read_text()
    assert "## Searchers: each scheduler vs the reference scheduler" in md
    assert "digits/baseline: kde vs grid, 3 paired seeds (0 1 2)" in md
    assert "digits/baseline: reference grid" in md and "margin 0.02 from the best score" in md
    assert (out / "searchers_digits_baseline.png").stat().st_size > 0
    assert "<figcaption>searchers digits baseline</figcaption>" in (out / "report.html").read_text()
    assert "kde vs grid" in capsys.readouterr().out
    # the grid replicates alone: no scheduler axis, no searcher comparison (and the earlier table goes)
    for job in (*JOBS["random"], *JOBS["kde"]):
        shutil.rmtree(runs / job)
    assert main([str(runs), "--out", str(out)]) == 0
    assert not (out / "searchers.csv").exists()
    md = (out / "report.md").read_text()
    assert "Searchers" not in md and "searchers.csv" not in md
    assert "vs grid" not in capsys.readouterr().out
