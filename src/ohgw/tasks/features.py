"""Tasks whose examples are feature vectors, trained with an MLP: tabular data sets bundled
with scikit-learn (classification; diabetes as a regression), and text classification on
Debian's fortunes (TF-IDF of each fortune, labelled by the file it comes from). Features (and a
regression's target) are fitted on the training split only."""
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ohgw.errors import ConfigError, DataMissingError
from ohgw.hyperparams.dropout import HyperDropout
from ohgw.tasks.base import Task, as_tensors, stratified_split

TABULAR = ("breast_cancer", "wine", "iris")


class FeatureNoise:
    """Gaussian noise scaled by `magnitude` (differentiable in it); the draws do not depend
    on the magnitude, as in ImageAugment."""

    def __init__(self, noise_std: float):
        self.noise_std = noise_std

    def __call__(self, x: torch.Tensor, magnitude) -> torch.Tensor:
        return x + (magnitude * self.noise_std) * torch.randn_like(x)


class FeatureTask(Task):
    """Subclasses give the examples and turn them into features."""
    live_rates = ("dropout",)

    def __init__(self, noise_std: float, split=(0.6, 0.2, 0.2), **kwargs):
        super().__init__(**kwargs)
        self.noise_std, self.split = float(noise_std), tuple(split)

    def examples(self) -> tuple[np.ndarray, np.ndarray]:
        """(raw examples, int64 labels 0..C-1)."""
        raise NotImplementedError

    def featurize(self, train, *others) -> list[np.ndarray]:
        """float32 features of each array of examples, fitted on `train` alone."""
        raise NotImplementedError

    stratify = True  # the split keeps each class's share (a regression's targets have no classes)

    def split_indices(self, y: np.ndarray):
        """Index arrays (train, val, test): seeded, stratified by the labels where `stratify`."""
        _, val_frac, test_frac = self.split
        return stratified_split(y, val_frac, test_frac, self.data_seed, stratify=self.stratify)

    def targets(self, train, *others) -> list[np.ndarray]:
        """The targets of each split as trained on: a classifier's labels as they are."""
        return [train, *others]

    def outputs(self, y: torch.Tensor) -> int:
        """The network's outputs, from the training targets: one per class."""
        return int(y.max()) + 1

    def splits(self):
        items, y = self.examples()
        parts = self.split_indices(y)
        features = self.featurize(*(items[i] for i in parts))
        return as_tensors(*zip(features, self.targets(*(y[i] for i in parts))))

    def shape(self) -> tuple[int, int]:
        """(features, outputs): known once the data is read."""
        (x, y), *_ = self.cached_splits()
        return x.shape[1], self.outputs(y)

    def network(self, hidden: int = 64, layers: int = 2, dropout: float = 0.0):
        """`layers` hidden layers of `hidden` units (Linear-ReLU-dropout), a linear head."""
        if int(layers) != layers or layers < 1 or int(hidden) != hidden or hidden < 1:
            raise ConfigError(f"task {self.name}: layers and hidden must be integers >= 1, got {layers}, {hidden}")
        n_in, n_out = self.shape()
        stack = []
        for _ in range(int(layers)):
            stack += [nn.Linear(n_in, int(hidden)), nn.ReLU(), HyperDropout("dropout", dropout)]
            n_in = int(hidden)
        return nn.Sequential(*stack, nn.Linear(n_in, n_out))

    def augmentation(self):
        return FeatureNoise(self.noise_std)


class TabularTask(FeatureTask):
    """A scikit-learn bundled data set, standardised with the training split's statistics."""

    def __init__(self, dataset: str, **kwargs):
        super().__init__(**kwargs)
        if dataset not in TABULAR:
            raise ConfigError(f"task.dataset must be one of {', '.join(TABULAR)}, got {dataset!r}")
        self.dataset = dataset

    def examples(self):
        import sklearn.datasets

        x, y = getattr(sklearn.datasets, f"load_{self.dataset}")(return_X_y=True)
        return x.astype(np.float32), y.astype(np.int64)

    def featurize(self, train, *others):
        return standardised(train, *others)


def standardised(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Each array standardised (per column) with the mean and standard deviation of `train`."""
    mean, std = train.mean(0), train.std(0) + 1e-8
    return [((a - mean) / std).astype(np.float32) for a in (train, *others)]


class DiabetesTask(FeatureTask):
    """Regression: scikit-learn's bundled diabetes data (442 patients, 10 baseline variables;
    the target a measure of disease progression one year later). Features and target are
    standardised with the training split's statistics (the scores are on the standardised
    scale: an RMSE of 1 is the training targets' standard deviation); a seeded random split."""
    loss_kind = "mse"
    classifies = False
    stratify = False

    def examples(self):
        from sklearn.datasets import load_diabetes

        x, y = load_diabetes(return_X_y=True, scaled=False)
        return x.astype(np.float32), y.astype(np.float32)

    def featurize(self, train, *others):
        return standardised(train, *others)

    def targets(self, train, *others):
        return standardised(train, *others)

    def outputs(self, y):
        return 1


class FortunesTask(FeatureTask):
    """Which fortune file a fortune comes from (files with fewer than `min_per_class`
    fortunes are left out), from the TF-IDF of its words."""

    def __init__(self, data_dir: str, min_per_class: int, max_features: int, **kwargs):
        super().__init__(**kwargs)
        self.data_dir = Path(data_dir)
        self.min_per_class, self.max_features = int(min_per_class), int(max_features)

    def check_data(self):
        check_fortunes(self.data_dir)

    def examples(self):
        return read_fortunes(self.data_dir, self.min_per_class)

    def featurize(self, train, *others):
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(max_features=self.max_features, sublinear_tf=True)
        fitted = vectorizer.fit_transform(train)
        return [m.toarray().astype(np.float32) for m in (fitted, *map(vectorizer.transform, others))]


def fortune_files(data_dir: Path) -> list[Path]:
    """The fortune text files of a directory: not the .dat indexes, the .u8 links or directories."""
    if not data_dir.is_dir():
        return []
    return sorted(p for p in data_dir.iterdir()
                  if p.is_file() and not p.is_symlink() and p.suffix not in (".dat", ".u8"))


def check_fortunes(data_dir: Path) -> None:
    if not fortune_files(data_dir):
        raise DataMissingError(f"no fortune files in {data_dir}: install the Debian package "
                               "(apt-get install fortunes) or set task.data_dir")


def read_fortunes(data_dir: Path, min_per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """(fortunes, labels): one example per fortune, labelled by its file (files in name order,
    those with fewer than `min_per_class` fortunes left out, labels 0.. in that order)."""
    texts, labels, label = [], [], 0
    for path in fortune_files(data_dir):
        # records are separated by a line holding only "%"
        pieces = path.read_text(encoding="utf-8", errors="replace").split("\n%\n")
        records = [r.strip() for r in pieces if r.strip() not in ("", "%")]
        if len(records) >= int(min_per_class):
            texts += records
            labels += [label] * len(records)
            label += 1
    return np.array(texts, dtype=object), np.array(labels, dtype=np.int64)
