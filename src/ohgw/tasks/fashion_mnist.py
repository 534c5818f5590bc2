"""Fashion-MNIST (real, 60k/10k 28x28 grey, 10 classes) read from the standard idx .gz
files, padded to 32x32 for the CIFAR-shaped ResNet-20 (grey repeated to 3 channels)."""
import gzip
from pathlib import Path

import numpy as np

from ohgw.errors import DataMissingError
from ohgw.tasks.augment import ImageAugment
from ohgw.tasks.base import Task, holdout_splits
from ohgw.tasks.resnet import ResNet20

FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
         "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
# channel statistics of the Fashion-MNIST training images (after scaling to [0, 1])
MEAN, STD = 0.2860, 0.3530


def read_idx(path: Path) -> np.ndarray:
    """An idx file (the MNIST format): magic (dtype, ndim), big-endian sizes, raw data."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte idx file")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise ValueError(f"{path}: truncated ({array.size} values, header says {shape})")
    return array.reshape(shape)


class FashionMNISTTask(Task):
    def __init__(self, data_dir: str, val_size: int, train_size: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.data_dir = Path(data_dir)
        self.val_size, self.train_size = int(val_size), train_size

    def check_data(self):
        missing = [n for pair in FILES.values() for n in pair if not (self.data_dir / n).exists()]
        if missing:
            raise DataMissingError(
                f"Fashion-MNIST not found in {self.data_dir} (missing {', '.join(missing)}): "
                "install the Debian package (apt-get install dataset-fashion-mnist) or put the "
                "four idx .gz files from github.com/zalandoresearch/fashion-mnist there and "
                "set task.data_dir")

    def _load(self, split):
        images, labels = (read_idx(self.data_dir / n) for n in FILES[split])
        x = np.pad(images, ((0, 0), (2, 2), (2, 2))).astype(np.float32) / 255.0
        return (x[:, None] - MEAN) / STD, labels.astype(np.int64)

    def splits(self):
        return holdout_splits(self._load("train"), self._load("test"), self.val_size, self.train_size,
                              self.data_seed)

    def network(self):
        return ResNet20(num_classes=10, in_channels=3)

    def augmentation(self):
        return ImageAugment(max_shift=0.125, noise_std=0.5)
