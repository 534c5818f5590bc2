"""Macro precision, recall and F1: scikit-learn's definitions on a case worked by hand, and the
predictions a classifier's evaluation keeps agree with its accuracy."""
import pytest
import torch

import ohgw.tasks
from ohgw.trial.class_scores import class_scores


def test_macro_scores_of_a_case_worked_by_hand():
    # class 0: precision 1/2, recall 1/1; class 1: precision 2/2, recall 2/3
    scores = class_scores("val", torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 1, 1]))
    assert scores["val_precision"] == pytest.approx((0.5 + 1.0) / 2)
    assert scores["val_recall"] == pytest.approx((1.0 + 2 / 3) / 2)
    assert scores["val_f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    # a class the model never predicts counts 0 precision, not an error
    assert class_scores("test", torch.tensor([0, 0]), torch.tensor([0, 1]))["test_precision"] == pytest.approx(0.25)


def test_kept_predictions_agree_with_the_accuracy():
    task = ohgw.tasks.build(ohgw.tasks.config("digits"))
    module, data = task.module(), task.datamodule()
    data.setup("fit")
    assert module.keep_predictions
    evaluation = module.evaluate(data.val_dataloader(), predictions=True)
    assert len(evaluation.target) == len(task.cached_splits()[1][1])
    assert (evaluation.predicted == evaluation.target).float().mean().item() == pytest.approx(evaluation.means["acc"])
    assert module.evaluate(data.val_dataloader()).predicted is None


def test_the_summary_reports_the_best_reports_macro_scores(tmp_path):
    """On a real digits replicate (random search, 4 trials of 2 epochs): the best trial's test F1 is
    the test_f1 of the report with the best validation score, read back from results.csv."""
    import shutil

    import pandas as pd

    from ohgw.analysis.collect import collect
    from ohgw.analysis.tables import measures
    from tests.helpers import ROOT

    shutil.copytree(ROOT / "tests" / "fixtures" / "class_scores_v1", tmp_path / "runs")
    collection = collect([tmp_path / "runs"])
    for key, per_seed in measures(collection).items():
        for rep in collection.groups()[key]:
            rows = pd.read_csv(rep.path / "results.csv").sort_values("wallclock_s", kind="stable")
            best = rows.loc[rows["val_acc"].idxmax()]
            assert per_seed.loc[rep.seed, "test_f1_of_best"] == pytest.approx(best["test_f1"])
            assert 0 < best["test_f1"] <= 1
