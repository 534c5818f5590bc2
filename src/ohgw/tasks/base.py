"""A task: data, network, search space, target score. Subclasses provide the data
tensors and the network; everything else is shared."""
from __future__ import annotations

from typing import Sequence

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from ohgw import optimizers
from ohgw.errors import ConfigError
from ohgw.hparams import REQUIRED
from ohgw.space import SearchSpace
from ohgw.tasks.module import HyperModule

# Splits loaded by this process, kept only where a long-lived process asks for it by
# setting a dict here (the fork server): the trials it forks inherit the data.
DATA_CACHE: dict | None = None


class Task:
    def __init__(self, name: str, tau: float, metric: str, mode: str, max_epochs: int,
                 batch_size: int, optimizer: str, rungs: dict, search_space: dict,
                 fixed: dict | None = None, data_seed: int = 0):
        self.name = name
        if not 0.0 <= float(tau) <= 1.0:
            raise ConfigError(f"task.tau must be a score in [0, 1], got {tau}")
        if int(max_epochs) < 1:
            raise ConfigError(f"task.max_epochs must be >= 1, got {max_epochs}")
        optimizers.check(optimizer)
        self.optimizer = optimizer
        self.tau, self.metric, self.mode = float(tau), metric, mode
        self.max_epochs, self.batch_size = int(max_epochs), int(batch_size)
        self.rungs = dict(rungs)
        self.space = SearchSpace.from_config(search_space)
        self.fixed = {k: float(v) for k, v in (fixed or {}).items()}
        self.data_seed = int(data_seed)
        self._splits = None  # read once per task object: see cached_splits
        missing = [k for k in REQUIRED if k not in self.space and k not in self.fixed]
        if missing:
            raise ConfigError(f"task {name}: no value for {missing} (add to search_space or fixed)")

    # -- provided by each task ------------------------------------------------
    def check_data(self) -> None:
        """Raise DataMissingError saying how to get the data."""

    def splits(self) -> tuple[Sequence[torch.Tensor], ...]:
        """(x_train, y_train), (x_val, y_val), (x_test, y_test) as tensors."""
        raise NotImplementedError

    def network(self) -> torch.nn.Module:
        raise NotImplementedError

    def augmentation(self):
        raise NotImplementedError

    # -- shared ----------------------------------------------------------------
    def default_hparams(self) -> dict:
        """Centre of the search space, plus the fixed values."""
        centre = {p.name: (p.low + p.high) / 2 if p.kind != "choice" else p.choices[0]
                  for p in self.space}
        return {**centre, **self.fixed}

    def module(self, hparams: dict | None = None) -> HyperModule:
        hp = {**self.default_hparams(), **(hparams or {})}
        return HyperModule(self.network(), hp, self.space, self.augmentation(), self.max_epochs,
                           self.optimizer)

    def datamodule(self, shuffle_seed: int = 0) -> "TensorDataModule":
        self.check_data()
        return TensorDataModule(*self.cached_splits(), batch_size=self.batch_size, shuffle_seed=shuffle_seed)

    def cached_splits(self):
        """The splits, read once per task object (a network may need the data's shape before
        the data module is built); where a long-lived process keeps DATA_CACHE, once per task
        setting."""
        if self._splits is None:
            if DATA_CACHE is None:
                self._splits = self.splits()
            else:
                # every setting but the search space (and private, derived state), so that
                # tasks differing in any of them never share
                key = (type(self).__qualname__,
                       repr({k: v for k, v in vars(self).items() if k != "space" and not k.startswith("_")}))
                if key not in DATA_CACHE:
                    DATA_CACHE[key] = self.splits()
                self._splits = DATA_CACHE[key]
        return self._splits


def stratified_split(labels: np.ndarray, val_frac: float, test_frac: float, seed: int):
    """Index arrays (train, val, test) of a stratified split by fractions of the examples."""
    from sklearn.model_selection import train_test_split

    rest, test = train_test_split(np.arange(len(labels)), test_size=test_frac, stratify=labels,
                                  random_state=seed)
    train, val = train_test_split(rest, test_size=val_frac / (1 - test_frac), stratify=labels[rest],
                                  random_state=seed)
    return train, val, test


def as_tensors(*pairs):
    """(x, y) numpy pairs as contiguous tensors."""
    return tuple((torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y)))
                 for x, y in pairs)


def holdout_splits(train, test, val_size: int, train_size: int | None, seed: int):
    """(train, val, test) as tensors from (images, labels) arrays: a stratified validation
    split of `val_size` held out of the training set (the test split stays untouched), then
    the first `train_size` of the rest (None: all)."""
    from sklearn.model_selection import train_test_split

    (x, y), (x_test, y_test) = train, test
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=int(val_size), stratify=y,
                                                      random_state=seed)
    if train_size is not None:
        x_train, y_train = x_train[: int(train_size)], y_train[: int(train_size)]
    return as_tensors((x_train, y_train), (x_val, y_val), (x_test, y_test))


class TensorDataModule(L.LightningDataModule):
    """Whole splits held as tensors; training order from a seeded generator."""

    def __init__(self, train, val, test, batch_size: int, shuffle_seed: int):
        super().__init__()
        self.train_set, self.val_set, self.test_set = (TensorDataset(*s) for s in (train, val, test))
        self.batch_size = batch_size
        self.generator = torch.Generator().manual_seed(shuffle_seed)

    def train_dataloader(self):
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True,
                          generator=self.generator, drop_last=True)

    def val_dataloader(self):
        return DataLoader(self.val_set, batch_size=max(self.batch_size, 256))

    def test_dataloader(self):
        return DataLoader(self.test_set, batch_size=max(self.batch_size, 256))

    def state_dict(self):
        # the shuffle stream continues across a pause/resume
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state):
        self.generator.set_state(state["generator"])
