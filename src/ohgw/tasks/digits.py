"""UCI optdigits (scikit-learn's bundled copy): 1797 real 8x8 grey images, 10 classes."""
import numpy as np
from sklearn.datasets import load_digits
from torch import nn

from ohgw.tasks.augment import ImageAugment
from ohgw.tasks.base import Task, as_tensors, stratified_split


class DigitsTask(Task):
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

    def network(self) -> nn.Module:
        def block(c_in, c_out):
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
        return nn.Sequential(*block(1, 32), *block(32, 32), nn.MaxPool2d(2), *block(32, 64),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))

    def augmentation(self):
        return ImageAugment(max_shift=0.2, noise_std=0.3)
