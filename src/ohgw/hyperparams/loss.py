"""The losses a task trains with, one definition each for the real training step, the
functional lookahead and the cost measurement, and the scores a trial reports from the same
outputs. A task names its kind (`Task.loss_kind`):

- `cross_entropy` (classifiers, next-token prediction): the label-smoothed cross-entropy for
  training, the plain cross-entropy for validation, accuracy as the score;
- `mse` (a regression on one standardised target): the mean squared error for training and
  validation, MSE and RMSE as the scores. It has no label smoothing: such a task does not take
  the `loss` role.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F


class Terms(NamedTuple):
    """The training loss's terms: the plain loss, and (a classifier's) the cross-entropy against
    the uniform distribution that label smoothing mixes in; None where the loss has no smoothing."""
    plain: torch.Tensor
    uniform: torch.Tensor | None = None


def training_loss_of(terms: Terms, smoothing=None) -> torch.Tensor:
    """The training loss from its terms: label-smoothed where `smoothing` is given (a float or
    a tensor; the loss is linear in it)."""
    if smoothing is None:
        return terms.plain
    if terms.uniform is None:
        raise ValueError("label smoothing given to a loss that has none (a task without the `loss` role)")
    return smoothed(terms.plain, terms.uniform, smoothing)


def smoothed_cross_entropy(logits: torch.Tensor, target: torch.Tensor, smoothing) -> torch.Tensor:
    """PyTorch's label-smoothed cross-entropy, written out so `smoothing` may be a tensor
    that requires grad (F.cross_entropy only takes a float)."""
    return smoothed(*cross_entropy_terms(logits, target), smoothing)


def smoothed(nll, uniform, smoothing):
    """The label-smoothed loss from its two terms: linear in the smoothing."""
    return (1 - smoothing) * nll + smoothing * uniform


def rows(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (M, C) and targets (M,). Classes come along dim 1, as in F.cross_entropy: (N, C)
    with (N,), or (N, C, T) with (N, T) for sequences, whose positions become rows with the
    classes last. A sequence model's (N, C, T) is a transposed view of its (N, T, C): a softmax
    over the strided dim made the tiny GPT-2's training step 1.5x slower (CPU)."""
    if logits.dim() == 2:
        return logits, target
    return logits.movedim(1, -1).reshape(-1, logits.shape[1]), target.reshape(-1)


def cross_entropy_terms(logits: torch.Tensor, target: torch.Tensor):
    """The two means (over examples, or tokens of sequences) the smoothed loss mixes: the
    cross-entropy against the targets and against the uniform distribution."""
    logits, target = rows(logits, target)
    logp = F.log_softmax(logits, dim=1)
    nll = -logp.gather(1, target.unsqueeze(1)).squeeze(1)
    return nll.mean(), -logp.mean(dim=1).mean()


def validation_loss(logits: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """The plain cross-entropy: no smoothing, no augmentation."""
    return F.cross_entropy(*rows(logits, target), reduction=reduction)


def accuracy_count(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """How many examples (tokens of sequences) the argmax gets right."""
    logits, target = rows(logits, target)
    return (logits.argmax(1) == target).sum()


def squared_errors(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-example squared errors of a one-output regression ((N, 1) or (N,) against (N,))."""
    return (output.reshape(target.shape) - target) ** 2


class CrossEntropy:
    name = "cross_entropy"
    smoothable = True
    totals = ("acc",)  # what `sums` adds up per example (or token); scores are their means

    @staticmethod
    def terms(logits, target) -> Terms:
        return Terms(*cross_entropy_terms(logits, target))

    @staticmethod
    def validation_loss(logits, target, reduction: str = "mean"):
        return validation_loss(logits, target, reduction)

    @staticmethod
    def sums(logits, target) -> dict:
        return {"acc": accuracy_count(logits, target)}

    @staticmethod
    def scores(split: str, means: dict) -> dict[str, float]:
        """{split}_acc: the fraction right."""
        return {f"{split}_acc": float(means["acc"])}


class SquaredError:
    name = "mse"
    smoothable = False
    totals = ("mse",)

    @staticmethod
    def terms(output, target) -> Terms:
        return Terms(squared_errors(output, target).mean())

    @staticmethod
    def validation_loss(output, target, reduction: str = "mean"):
        errors = squared_errors(output, target)
        if reduction == "none":
            return errors
        return errors.sum() if reduction == "sum" else errors.mean()

    @staticmethod
    def sums(output, target) -> dict:
        return {"mse": squared_errors(output, target).sum()}

    @staticmethod
    def scores(split: str, means: dict) -> dict[str, float]:
        """{split}_mse and its root, {split}_rmse (on the target's standardised scale). Predictions
        that overflowed (a diverging trial: NaN errors) score the worst error, inf, not a missing one:
        a record's scores have no gaps."""
        mse = float(means["mse"])
        mse = math.inf if math.isnan(mse) else mse
        return {f"{split}_mse": mse, f"{split}_rmse": math.sqrt(mse)}


LOSS_KINDS = {kind.name: kind for kind in (CrossEntropy(), SquaredError())}
