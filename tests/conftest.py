import pytest
import torch

import ohgw.tasks
from tests.helpers import HP


def _double(batch):
    return [t.double() if t.is_floating_point() else t for t in batch]


def small_float64(task, batch_size, hparams=HP, **overrides):
    """(module, one training batch, one validation batch) in float64; skips where the
    task's data is not installed."""
    from ohgw.errors import DataMissingError

    torch.manual_seed(0)
    try:
        module, data = ohgw.tasks.load(task, hparams=hparams, batch_size=batch_size, **overrides)
    except DataMissingError as e:
        pytest.skip(str(e))
    data.setup("fit")
    train = _double(next(iter(data.train_dataloader())))
    val = _double([t[:batch_size] for t in next(iter(data.val_dataloader()))])
    return module.double(), train, val


@pytest.fixture
def resnet20_64():
    """ResNet-20 on a small batch of real Fashion-MNIST images, in float64."""
    return small_float64("fashion_mnist", 8, train_size=64, val_size=64)


@pytest.fixture
def digits64():
    """The digits module in float64 with one training and one validation batch (small
    batches: float64 convolutions are slow on CPU)."""
    return small_float64("digits", 16)


@pytest.fixture
def tabular16():
    """The breast-cancer MLP in float64 with batches of 16."""
    return small_float64("tabular", 16)


@pytest.fixture
def fortunes16():
    """The fortunes TF-IDF MLP (AdamW) in float64 with batches of 16 and a small vocabulary."""
    return small_float64("fortunes", 16, max_features=300, network={"hidden": 32})


@pytest.fixture
def python_docs4():
    """A one-block byte Transformer (AdamW) in float64 on 4 windows of 16 bytes."""
    return small_float64("python_docs", 4, seq_len=16, network={"width": 16, "depth": 1, "heads": 2},
                         train_size=64)


# the regression takes no `loss` role: no label smoothing
REGRESSION_HP = {k: v for k, v in HP.items() if k != "label_smoothing"}


@pytest.fixture
def diabetes16():
    """The diabetes regression MLP (squared error) in float64 with batches of 16."""
    return small_float64("diabetes", 16, hparams=REGRESSION_HP)


@pytest.fixture
def fortunes_lstm4():
    """A two-layer word LSTM (AdamW) on 4 fortunes of at most 12 words in float64, its dropout
    rate searched too."""
    return small_float64("fortunes_lstm", 4, hparams={**HP, "dropout": 0.2}, max_len=12, max_vocab=500,
                         network={"embed": 8, "units": 8, "layers": 2},
                         search_space={"dropout": {"type": "float", "low": 0.0, "high": 0.5}})
