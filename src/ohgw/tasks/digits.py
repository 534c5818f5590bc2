"""UCI optdigits (scikit-learn's bundled copy): 1797 real 8x8 grey images, 10 classes."""
import numpy as np
from sklearn.datasets import load_digits
from torch import nn

from ohgw.errors import ConfigError
from ohgw.hyperparams.dropout import HyperDropout
from ohgw.tasks.augment import ImageAugment
from ohgw.tasks.base import Task, as_tensors, stratified_split


class DigitsTask(Task):
    live_rates = ("dropout",)

    def __init__(self, split=(0.6, 0.2, 0.2), **kwargs):
        super().__init__(**kwargs)
        self.split = tuple(split)

    def splits(self):
        data = load_digits()
        x = (data.images / 16.0).astype(np.float32)[:, None]  # (N, 1, 8, 8) in [0, 1]
        y = data.target.astype(np.int64)
        _, val_frac, test_frac = self.split
        parts = stratified_split(y, val_frac, test_frac, self.data_seed)
        return as_tensors(*((x[i], y[i]) for i in parts))

    def network(self, layers: int = 3, width: int = 32, dropout: float = 0.0) -> nn.Module:
        return conv_net(self.name, 1, 10, layers, width, dropout)

    def augmentation(self):
        return ImageAugment(max_shift=0.2, noise_std=0.3)


def conv_net(task: str, in_channels: int, classes: int, layers: int = 3, width: int = 32,
             dropout: float = 0.0) -> nn.Module:
    """`layers` conv blocks (conv-BN-ReLU) of `width` channels, the last of 2 x width, a max-pool
    after the second (after the first when there are two), global average pooling, dropout (live),
    a linear head. layers=3 is the digits task's original small CNN; any image size."""
    if int(layers) != layers or layers < 2:
        raise ConfigError(f"task {task}: layers must be an integer >= 2, got {layers}")

    def block(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

    widths = [int(width)] * (int(layers) - 1) + [2 * int(width)]
    stack, c_in = [], in_channels
    for i, c_out in enumerate(widths):
        stack += block(c_in, c_out)
        if i == min(1, len(widths) - 2):
            stack.append(nn.MaxPool2d(2))
        c_in = c_out
    return nn.Sequential(*stack, nn.AdaptiveAvgPool2d(1), nn.Flatten(), HyperDropout("dropout", dropout),
                         nn.Linear(c_in, classes))
