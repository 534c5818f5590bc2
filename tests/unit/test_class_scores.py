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
    assert (evaluation.predicted == evaluation.target).float().mean().item() == pytest.approx(evaluation.accuracy)
    assert module.evaluate(data.val_dataloader()).predicted is None
