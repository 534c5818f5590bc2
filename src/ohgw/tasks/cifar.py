"""CIFAR-10 and CIFAR-100 (real: 50k/10k 32x32 colour images, 10 or 100 classes) read from
the standard python-version batches (torchvision's layout: <root>/cifar-10-batches-py/,
<root>/cifar-100-python/), kept as uint8, with a ResNet (ohgw.tasks.vision). Where the batches
are missing and a network exists, the archive is downloaded once into `root` and checked
against its MD5."""
import hashlib
import pickle
import shutil
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from ohgw.errors import ConfigError, DataMissingError
from ohgw.tasks.vision import ImageTask

# per number of classes: directory in the archive, batch files, label key
LAYOUT = {
    10: {"dir": "cifar-10-batches-py", "train": [f"data_batch_{i}" for i in range(1, 6)],
         "test": ["test_batch"], "labels": b"labels"},
    100: {"dir": "cifar-100-python", "train": ["train"], "test": ["test"], "labels": b"fine_labels"},
}
SIDE = 32


def read_batch(path: Path, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch: rows of 3072 bytes (1024 red, then green, then blue, each row-major
    32x32) and their labels, as (N, 3, 32, 32) uint8 images and int64 labels."""
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    labels = np.asarray(batch[label_key], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * SIDE * SIDE or len(labels) != len(data):
        raise ValueError(f"{path}: not a CIFAR batch (data {data.shape}, {len(labels)} labels)")
    return data.reshape(-1, 3, SIDE, SIDE), labels


class CifarTask(ImageTask):
    def __init__(self, classes: int, root: str, download: bool, url: str, md5: str, **kwargs):
        super().__init__(**kwargs)
        if classes not in LAYOUT:
            raise ConfigError(f"task.classes must be 10 or 100, got {classes}")
        self.layout = LAYOUT[classes]
        self.classes = classes  # before the data: the network is built from it
        self.root = Path(root).expanduser()
        self.download, self.url, self.md5 = bool(download), url, md5

    @property
    def data_dir(self) -> Path:
        return self.root / self.layout["dir"]

    def _missing(self) -> list[str]:
        return [n for n in self.layout["train"] + self.layout["test"] if not (self.data_dir / n).exists()]

    def check_data(self):
        """Download the archive if the batches are missing and task.download allows it."""
        if not self._missing():
            return
        why = "task.download is false"
        if self.download:
            try:
                self._fetch()
                return
            except (OSError, RuntimeError, tarfile.TarError) as e:  # offline, HTTP error, MD5, bad archive
                why = f"downloading {self.url} failed: {e}"
        raise DataMissingError(
            f"CIFAR-{self.classes} not found in {self.data_dir} (missing {', '.join(self._missing())}) "
            f"and {why}: put the python version from https://www.cs.toronto.edu/~kriz/cifar.html "
            f"there (or torchvision's download), or set task.root")

    def _fetch(self):
        """Download and unpack into a private directory, then move the batches into place in
        one rename: array tasks downloading at once never see each other's partial files.
        Any URL urllib opens works, file:// (a local mirror) included."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=self.root))
        try:
            archive, digest = tmp / "archive.tar.gz", hashlib.md5()
            with urllib.request.urlopen(self.url, timeout=60) as response, open(archive, "wb") as f:
                while chunk := response.read(2 ** 20):
                    digest.update(chunk)
                    f.write(chunk)
            if digest.hexdigest() != self.md5:
                raise RuntimeError(f"MD5 {digest.hexdigest()}, expected {self.md5}")
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")  # no paths outside tmp, no devices
            if not (tmp / self.layout["dir"]).is_dir():
                raise RuntimeError(f"the archive holds no {self.layout['dir']}/")
            try:
                (tmp / self.layout["dir"]).rename(self.data_dir)
            except OSError:
                if self._missing():  # not another task's download that won the race
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if self._missing():
            raise RuntimeError(f"the archive lacks {', '.join(self._missing())}")

    def images(self, split):
        images, labels = zip(*(read_batch(self.data_dir / n, self.layout["labels"]) for n in self.layout[split]))
        return np.concatenate(images), np.concatenate(labels)  # uint8 images
