"""A regression whose predictions overflow scores the worst error, not a missing one: a diverging
diabetes trial's first report had NaN val_rmse (training loss 7e21, still finite), and the results
contract refuses a record with gaps, so the whole replicate was unreadable."""
import math

import torch

import ohgw.tasks
from tests.conftest import REGRESSION_HP


def test_overflowing_predictions_score_inf():
    module, data = ohgw.tasks.load("diabetes", hparams=REGRESSION_HP, batch_size=32)
    data.setup("fit")
    with torch.no_grad():
        for p in module.parameters():  # float32's largest is 3.4e38: sums overflow to inf, and with
            # weights of both signs the next layer adds inf to -inf: NaN, as the diverged trial did
            signs = torch.where(torch.arange(p.numel()) % 2 == 0, 1.0, -1.0).reshape(p.shape)
            p.copy_(3e38 * signs)
    evaluation = module.evaluate(data.val_dataloader())
    assert math.isnan(evaluation.means["mse"])
    scores = module.loss_kind.scores("val", evaluation.means)
    assert scores == {"val_mse": math.inf, "val_rmse": math.inf}


def test_finite_errors_score_as_they_are():
    assert ohgw.tasks.load("diabetes", hparams=REGRESSION_HP, batch_size=32)[0].loss_kind.scores(
        "test", {"mse": 0.25}) == {"test_mse": 0.25, "test_rmse": 0.5}
