import pytest
import torch

import ohgw.tasks

HP = {"log_lr": -1.0, "log_wd": -4.0, "momentum": 0.9, "label_smoothing": 0.1, "aug_magnitude": 0.3}


def _double(batch):
    return [t.double() if t.is_floating_point() else t for t in batch]


@pytest.fixture
def digits64():
    """The digits module in float64 with one training and one validation batch (small
    batches: float64 convolutions are slow on CPU)."""
    torch.manual_seed(0)
    module, data = ohgw.tasks.load("digits", hparams=HP, batch_size=16)
    data.setup("fit")
    train = _double(next(iter(data.train_dataloader())))
    val = _double([t[:16] for t in next(iter(data.val_dataloader()))])
    return module.double(), train, val
