"""A task: data, network, search space, target score. Subclasses provide the data
tensors and the network; everything else is shared."""
from __future__ import annotations

import lightning as L
import numpy as np
import torch

from ohgw.errors import ConfigError
from ohgw.hyperparams.dropout import live_rates
from ohgw.hyperparams.loss import LOSS_KINDS
from ohgw.hyperparams.registry import ROLES
from ohgw.tasks.images import with_label_noise
from ohgw.tasks.module import HyperModule
from ohgw.tasks.spec import check_task


PRECISIONS = ("32", "bf16")


class Task:
    # network arguments the network exposes as HyperDropout rates (a warm-start may move them)
    live_rates: tuple = ()
    # examples into classes: trials report macro precision, recall and F1 beside accuracy (a
    # sequence model's next-token "classes" are its vocabulary: they do not)
    classifies: bool = True
    # the training and validation loss and the scores reported (ohgw.hyperparams.loss.LOSS_KINDS):
    # cross_entropy (accuracy), or mse for a regression (MSE, RMSE)
    loss_kind: str = "cross_entropy"

    def __init__(self, name: str, tau: float, metric: str, mode: str, max_epochs: int,
                 batch_size: int, optimizer: str, rungs: dict, search_space: dict,
                 roles=ROLES, network: dict | None = None, fixed: dict | None = None,
                 data_seed: int = 0, budget_epochs: int | None = None, best_known: dict | None = None,
                 label_noise: float = 0.0, precision: str = "32", channels_last: bool = False,
                 class_subset: list[int] | None = None, train_fraction: float = 1.0):
        self.name = name
        self.space, self.hyperparameters = check_task(name, tau, max_epochs, batch_size, optimizer, search_space,
                                                      roles, network, fixed, self.live_rates, label_noise,
                                                      metric, mode, class_subset)
        self._check_loss_kind(label_noise, class_subset)
        self.optimizer = optimizer
        self.tau, self.metric, self.mode = float(tau), metric, mode
        self.max_epochs, self.batch_size = int(max_epochs), int(batch_size)
        self.rungs = dict(rungs)
        self.fixed = dict(fixed or {})
        self.data_seed = int(data_seed)
        # this fraction of the training labels moved to another class, fixed by data_seed
        self.label_noise = float(label_noise)
        # only these classes, relabelled 0.. in this order: one of a family of similar tasks
        self.class_subset = None if class_subset is None else [int(c) for c in class_subset]
        # only this fraction of the training split (stratified, fixed by data_seed): an exploratory
        # run on a data subset (the low-budget study's phase 1); validation and test untouched
        if not 0 < float(train_fraction) <= 1:
            raise ConfigError(f"task.train_fraction must be in (0, 1], got {train_fraction}")
        self.train_fraction = float(train_fraction)
        if str(precision) not in PRECISIONS:
            raise ConfigError(f"task.precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.precision, self.channels_last = str(precision), bool(channels_last)  # how trials train
        # the default epoch budget of a replicate (budget.epochs): enough for the schedulers to
        # have decisions to make on this task
        self.budget_epochs = budget_epochs
        # values a full-budget search of this task found best: the planted control's target
        self.best_known = dict(best_known or {})
        self._data_cache = None  # see use_data_cache
        self._splits = None
        self._extra_splits = {}

    def _check_loss_kind(self, label_noise, class_subset) -> None:
        """A loss without label smoothing (a regression's) takes no `loss` role; continuous
        targets have no classes to corrupt or select."""
        kind = LOSS_KINDS[self.loss_kind]
        if not kind.smoothable and "loss" in self.hyperparameters.roles:
            raise ConfigError(f"task {self.name}: its loss ({kind.name}) has no label smoothing; leave the role "
                              f"'loss' out of task.roles")
        if self.loss_kind == "mse" and (label_noise or class_subset is not None):
            raise ConfigError(f"task {self.name}: label_noise and class_subset need class labels; its targets "
                              f"are continuous")

    # -- provided by each task ------------------------------------------------
    def check_data(self) -> None:
        """Raise DataMissingError saying how to get the data."""

    def splits(self):
        """(x_train, y_train), (x_val, y_val), (x_test, y_test) as tensors; or a pair of those
        three and a dict of further evaluation splits: ((train, val, test), {"ood": (x, y)})."""
        raise NotImplementedError

    def epoch_metrics(self, module, datamodule, losses: dict) -> dict:
        """Metrics a trial reports after each epoch beside the losses and accuracies (`losses`:
        val_loss, test_loss): none by default."""
        return {}

    def network(self, **network_args) -> torch.nn.Module:
        """The model, built with the task's network arguments (task.network, searched or not)."""
        raise NotImplementedError

    def augmentation(self):
        raise NotImplementedError

    # -- shared ----------------------------------------------------------------
    def hparams(self, sampled: dict | None = None) -> dict:
        """Every hyperparameter a trial of this task trains with: `sampled` over the fixed
        values, over the space's midpoints, over the defaults (ohgw.hyperparams.registry)."""
        sampled = dict(sampled or {})
        self.hyperparameters.check(sampled, "hparams")
        given = {**{p.name: p.midpoint() for p in self.space}, **self.fixed, **sampled}
        return self.hyperparameters.resolve(given)

    def module(self, hparams: dict | None = None) -> HyperModule:
        hp = self.hparams(hparams)
        net = self.network(**{k: hp[k] for k in self.hyperparameters.network})
        if live_rates(net) != set(self.live_rates):  # the class's declaration is wrong
            raise RuntimeError(f"task {self.name}: live_rates says {sorted(self.live_rates)}, the "
                               f"network has {sorted(live_rates(net))}")
        return HyperModule(net, hp, self.space, self.hyperparameters, self.augmentation(), self.max_epochs,
                           self.steps_per_epoch(hp["batch_size"]), keep_predictions=self.classifies,
                           loss_kind=LOSS_KINDS[self.loss_kind])

    def steps_per_epoch(self, batch_size: int) -> int:
        (x, _), *_ = self.cached_splits()
        return max(1, len(x) // int(batch_size))  # the loader drops the last partial batch

    def datamodule(self, shuffle_seed: int = 0, batch_size: int | None = None) -> "TensorDataModule":
        self.check_data()
        batch_size = int(batch_size or self.batch_size)
        return TensorDataModule(*self.cached_splits(), batch_size=batch_size, shuffle_seed=shuffle_seed,
                                extra=self._extra_splits, eval_batch_size=self.eval_batch_size(batch_size))

    def eval_batch_size(self, batch_size: int) -> int:
        """Examples per batch of the evaluation splits: at least 256 (fewer, larger batches)."""
        return max(int(batch_size), 256)

    def _subset(self, splits):
        """The splits restricted to class_subset's classes, relabelled 0, 1, ... in its order."""
        if self.class_subset is None:
            return splits
        present = set(torch.cat([y.reshape(-1) for _, y in splits]).unique().tolist())
        missing = [c for c in self.class_subset if c not in present]
        if missing or any(y.dim() != 1 for _, y in splits):
            raise ConfigError(f"task {self.name}: class_subset {self.class_subset} needs one label per example "
                              f"and classes the data has ({sorted(present)[:12]}...); missing {missing}")
        relabel = torch.full((max(present) + 1,), -1, dtype=torch.long)
        relabel[self.class_subset] = torch.arange(len(self.class_subset))
        out = []
        for x, y in splits:
            keep = relabel[y.long()] >= 0
            out.append((x[keep], relabel[y.long()][keep].to(y.dtype)))
        return tuple(out)

    def _fewer(self, splits):
        """The splits with only train_fraction of the training examples: a seeded random part,
        stratified by class where there is one class label per example."""
        if self.train_fraction == 1:
            return splits
        from sklearn.model_selection import train_test_split

        (x, y), *rest = splits
        classes = y.numpy() if y.dim() == 1 and not torch.is_floating_point(y) else None
        index, _ = train_test_split(np.arange(len(y)), train_size=max(1, round(self.train_fraction * len(y))),
                                    stratify=classes, random_state=self.data_seed)
        index = torch.from_numpy(np.sort(index))
        return ((x[index], y[index]), *rest)

    def _noisy(self, splits):
        """The splits with label noise on the training labels (validation and test untouched)."""
        if not self.label_noise:
            return splits
        (x, y), *rest = splits
        if y.dim() != 1:
            raise ConfigError(f"task {self.name}: label_noise needs one label per example (this task's "
                              f"labels have shape {tuple(y.shape)})")
        classes = int(max(int(t[1].max()) for t in splits)) + 1
        return ((x, with_label_noise(y, self.label_noise, classes, self.data_seed)), *rest)

    def use_data_cache(self, cache: dict) -> "Task":
        """Keep the splits in `cache`, shared by every task object of the same setting: a
        long-lived process (the fork server) loads each once, and the trials it forks inherit it."""
        self._data_cache = cache
        return self

    def cached_splits(self):
        """The splits, read once per task object (a network may need the data's shape before
        the data module is built); with a data cache, once per task setting."""
        if self._splits is None:
            self.check_data()  # before any loading: the one line on missing data, not a loader's error
            if self._data_cache is None:
                self._splits, self._extra_splits = self._loaded()
            else:
                # every setting but the search space (and private, derived state), so that
                # tasks differing in any of them never share
                key = (type(self).__qualname__,
                       repr({k: v for k, v in vars(self).items()
                             if k not in ("space", "hyperparameters") and not k.startswith("_")}))
                if key not in self._data_cache:
                    self._data_cache[key] = self._loaded()
                self._splits, self._extra_splits = self._data_cache[key]
        return self._splits

    def _loaded(self):
        """(the three splits with label noise applied, the further evaluation splits)."""
        out = self.splits()
        splits, extra = (out[0], out[1]) if isinstance(out[1], dict) else (out, {})
        return self._noisy(self._fewer(self._subset(splits))), extra


def stratified_split(labels: np.ndarray, val_frac: float, test_frac: float, seed: int, stratify: bool = True):
    """Index arrays (train, val, test) of a split by fractions of the examples, stratified by
    the labels (stratify=False: a plain seeded random split, for continuous targets)."""
    from sklearn.model_selection import train_test_split

    rest, test = train_test_split(np.arange(len(labels)), test_size=test_frac, random_state=seed,
                                  stratify=labels if stratify else None)
    train, val = train_test_split(rest, test_size=val_frac / (1 - test_frac), random_state=seed,
                                  stratify=labels[rest] if stratify else None)
    return train, val, test


def as_tensors(*pairs):
    """(x, y) numpy pairs as contiguous tensors."""
    return tuple((torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y)))
                 for x, y in pairs)


def holdout_splits(train, test, val_size: int, train_size: int | None, seed: int, test_size: int | None = None):
    """(train, val, test) as tensors from (images, labels) arrays: see `holdout`."""
    return as_tensors(*holdout(train, test, val_size, train_size, seed, test_size))


def holdout(train, test, val_size: int, train_size: int | None, seed: int, test_size: int | None = None):
    """(train, val, test) (examples, labels) array pairs from a data set's train and test
    splits: a stratified validation split of `val_size` held out of the training set (the test
    split is never trained or validated on), then the first `train_size` of the rest (None:
    all), and a stratified subset of `test_size` test examples (None: all; a smaller study
    evaluates less)."""
    from sklearn.model_selection import train_test_split

    (x, y), (x_test, y_test) = train, test
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=int(val_size), stratify=y,
                                                      random_state=seed)
    if train_size is not None:
        x_train, y_train = x_train[: int(train_size)], y_train[: int(train_size)]
    if test_size is not None and int(test_size) < len(y_test):
        x_test, _, y_test, _ = train_test_split(x_test, y_test, train_size=int(test_size), stratify=y_test,
                                                random_state=seed)
    return (x_train, y_train), (x_val, y_val), (x_test, y_test)


class Batches:
    """Batches sliced from whole tensors (no per-example indexing and collation): in a seeded
    random order without the last partial batch, or in order. A Lightning dataloader."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator | None = None):
        self.x, self.y, self.batch_size, self.generator = x, y, int(batch_size), generator

    def __len__(self) -> int:
        n = len(self.y)
        return n // self.batch_size if self.generator is not None else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.y)
        if self.generator is None:
            order = None
        else:  # drawn on the CPU, so the order is the same on every device
            order = torch.randperm(n, generator=self.generator)[: len(self) * self.batch_size].to(self.x.device)
        for i in range(len(self)):
            if order is None:
                yield self.x[i * self.batch_size:(i + 1) * self.batch_size], self.y[i * self.batch_size:(i + 1) * self.batch_size]
            else:
                idx = order[i * self.batch_size:(i + 1) * self.batch_size]
                yield self.x[idx], self.y[idx]


class TensorDataModule(L.LightningDataModule):
    """Whole splits held as tensors on the training device (moved there when the trainer sets
    up, after a fork server's fork: the server itself never touches the GPU); batches sliced
    there; training order from a seeded generator."""

    def __init__(self, train, val, test, batch_size: int, shuffle_seed: int, eval_batch_size: int,
                 extra: dict | None = None):
        super().__init__()
        self.splits = {"train": tuple(train), "val": tuple(val), "test": tuple(test),
                       **{k: tuple(v) for k, v in (extra or {}).items()}}
        self.batch_size = batch_size
        self.eval_batch_size = int(eval_batch_size)  # Task.eval_batch_size
        self.generator = torch.Generator().manual_seed(shuffle_seed)

    def setup(self, stage=None):
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        self.splits = {k: tuple(t.to(device) for t in v) for k, v in self.splits.items()}

    def train_dataloader(self):
        return Batches(*self.splits["train"], self.batch_size, self.generator)

    def val_dataloader(self):
        return Batches(*self.splits["val"], self.eval_batch_size)

    def test_dataloader(self):
        return Batches(*self.splits["test"], self.eval_batch_size)

    def extra_dataloaders(self) -> dict:
        """Loaders of the task's further evaluation splits (an OOD split), in order."""
        return {k: Batches(*v, self.eval_batch_size) for k, v in self.splits.items()
                if k not in ("train", "val", "test")}

    def state_dict(self):
        # the shuffle stream continues across a pause/resume
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state):
        self.generator.set_state(state["generator"])
