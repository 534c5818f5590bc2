"""The training loss and the validation loss, one definition for the real training step, the
functional lookahead and the cost measurement."""
from __future__ import annotations

import torch
import torch.nn.functional as F


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
