"""Run order as part of the design: a multirun runs each seed's variants next to each other, in an
order drawn per seed (a randomized block design), and the report states the order the records show."""
from collections import Counter

from hydra.core.override_parser.overrides_parser import OverridesParser

from ohgw.analysis import run_order
from ohgw.analysis.collect import collect
from ohgw.tuner.command_line import expand
from ohgw.tuner.run_order import blocked
from tests.helpers import ROOT, edit_record

README_STUDY = ["warmstart=baseline,aa,ohgw,random", "seed=range(10)"]  # the README's study, as typed
VARIANTS = {"warmstart=baseline", "warmstart=aa", "warmstart=ohgw", "warmstart=random"}


def test_the_readme_study_runs_in_randomized_blocks_of_one_seed():
    jobs = expand(README_STUDY)
    blocks = [jobs[i:i + 4] for i in range(0, len(jobs), 4)]
    assert len(jobs) == 40 and len(blocks) == 10
    for seed, block in enumerate(blocks):  # seeds in the order given, each with its four variants
        assert {o for job in block for o in job if o.startswith("seed=")} == {f"seed={seed}"}
        assert {o for job in block for o in job if o.startswith("warmstart=")} == VARIANTS
    orders = [tuple(job[0] for job in block) for block in blocks]
    assert len(set(orders)) >= 8  # drawn per seed, not one order repeated
    assert set(Counter(order[0] for order in orders)) == VARIANTS  # no variant always first


def test_hydra_runs_the_sweep_in_the_order_the_command_line_reads():
    from hydra_plugins.ohgw_sweeper import BlockedSweeper

    sweeper = BlockedSweeper(max_batch_size=3, block_by="seed", order_seed=0)
    batches = sweeper.split_arguments(OverridesParser.create().parse_overrides(README_STUDY), 3)
    assert [len(b) for b in batches] == [3] * 13 + [1]
    assert [job for batch in batches for job in batch] == expand(README_STUDY)


def test_a_block_keeps_its_order_when_the_sweep_grows_and_changes_it_with_the_order_seed():
    small = [[f"seed={s}", f"warmstart={w}"] for s in range(3) for w in ("a", "b", "c", "d")]
    large = [[f"seed={s}", f"warmstart={w}"] for s in range(6) for w in ("a", "b", "c", "d")]
    assert blocked(large)[:12] == blocked(small)
    assert blocked(small, order_seed=1) != blocked(small)
    assert blocked(small, by=None) == small  # Hydra's own order


def test_the_report_states_the_order_the_records_show(tmp_path):
    import shutil

    archive = ROOT / "tests" / "fixtures" / "archive_noise_floor" / "replicates.jsonl.xz"
    assert "variant by variant" in run_order.describe(collect([archive]))  # run before the blocks
    runs = tmp_path / "runs"
    shutil.copytree(ROOT / "tests" / "fixtures" / "results_v1", runs)  # 0, 1: baseline seeds 0, 1; 2, 3: ohgw
    for job, at in (("0", "10:00"), ("2", "10:01"), ("3", "10:02"), ("1", "10:03")):
        edit_record(runs / job, lambda r: r.update(started_at=f"2026-12-05T{at}:00+00:00"))
    line = run_order.describe(collect([runs]))
    assert "randomized blocks: each seed's 2 variants ran next to each other, in 2 distinct order(s) over 2 seeds" \
           in line and "first in its block: baseline 1x, ohgw" in line


def test_a_searcher_study_names_its_schedulers_in_the_order(tmp_path):
    """Schedulers compared under one warm-start variant (low_budget_tpe, meta_bo): the blocks are told
    apart by the scheduler, not by the variant they share."""
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(ROOT / "tests" / "fixtures" / "results_v1", runs)  # 0, 1: baseline seeds 0, 1; 2, 3: ohgw
    for job, at, scheduler in (("0", "10:00", "asha"), ("2", "10:01", "tpe"), ("3", "10:02", "tpe"),
                               ("1", "10:03", "asha")):
        edit_record(runs / job, lambda r: r.update(started_at=f"2026-12-05T{at}:00+00:00", scheduler=scheduler,
                                                   warmstart="baseline", eta_h=None))
    line = run_order.describe(collect([runs]))
    assert "in 2 distinct order(s) over 2 seeds" in line and "first in its block: asha 1x, tpe 1x" in line
