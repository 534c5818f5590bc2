"""scheduler=transfer_bo on real earlier records, for the tests: tests/fixtures/meta_bo_v1 holds GP BO
on digits class subsets in meta_bo's space (its README says how it was made): jobs 0 and 1 two earlier
tasks, job 2 meta_bo's target. TRANSFER_BO composes meta_bo's target task under scheduler=transfer_bo
on those records, its box spanned by every earlier evaluation (4 a task), wide enough for a few
proposals (the best one of each gives a box of one configuration)."""
from tests.helpers import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "meta_bo_v1"
RECORDS = f"train_from=[{FIXTURES}]"
TRANSFER_BO = ("experiment=meta_bo", "scheduler=transfer_bo", RECORDS, "scheduler.args.num_hyperparameters_per_task=4")
