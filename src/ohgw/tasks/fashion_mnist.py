"""Fashion-MNIST (real, 60k/10k 28x28 grey, 10 classes) read from the standard idx .gz
files, padded to 32x32 and kept as uint8 grey images for the CIFAR-shaped ResNets (grey
repeated to 3 channels in the network; ohgw.tasks.vision), or for the digits task's small CNN
with `layers` conv blocks (task=fashion_mnist_cnn)."""
import gzip
from pathlib import Path

import numpy as np
from torch import nn

from ohgw.errors import ConfigError, DataMissingError
from ohgw.tasks.digits import conv_net
from ohgw.tasks.images import PerImageStandardize
from ohgw.tasks.vision import ImageTask

FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
         "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


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


class FashionMNISTTask(ImageTask):
    def __init__(self, data_dir: str, **kwargs):
        super().__init__(**kwargs)
        self.data_dir = Path(data_dir)

    def check_data(self):
        missing = [n for pair in FILES.values() for n in pair if not (self.data_dir / n).exists()]
        if missing:
            raise DataMissingError(
                f"Fashion-MNIST not found in {self.data_dir} (missing {', '.join(missing)}): "
                "install the Debian package (apt-get install dataset-fashion-mnist) or put the "
                "four idx .gz files from github.com/zalandoresearch/fashion-mnist there and "
                "set task.data_dir")

    def images(self, split):
        images, labels = (read_idx(self.data_dir / n) for n in FILES[split])
        return np.pad(images, ((0, 0), (2, 2), (2, 2)))[:, None], labels.astype(np.int64)  # uint8 (N, 1, 32, 32)


class FashionMNISTCNNTask(FashionMNISTTask):
    """Fashion-MNIST with the digits task's small CNN (ohgw.tasks.digits.conv_net: `layers`, `width`,
    a live `dropout`) behind per-image standardisation: the related studies' CNN on MNIST-style
    images. `arch` is `cnn` (the setting the ResNet tasks' config carries)."""
    live_rates = ("dropout",)

    def network(self, arch: str = "cnn", layers: int = 3, width: int = 32, dropout: float = 0.0) -> nn.Module:
        if arch != "cnn":
            raise ConfigError(f"task {self.name}: network.arch must be cnn (the ResNets are task=fashion_mnist), "
                              f"got {arch!r}")
        return nn.Sequential(PerImageStandardize(), conv_net(self.name, 1, self.classes, layers, width, dropout))
