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


def cross_entropy_terms(logits: torch.Tensor, target: torch.Tensor):
    """The two batch means the smoothed loss mixes: the cross-entropy against the targets
    and against the uniform distribution. Classes along dim 1, as in F.cross_entropy:
    logits (N, C) with targets (N,), or (N, C, T) with (N, T) for sequences."""
    logp = F.log_softmax(logits, dim=1)
    nll = -logp.gather(1, target.unsqueeze(1)).squeeze(1)
    return nll.mean(), -logp.mean(dim=1).mean()


def validation_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The plain cross-entropy: no smoothing, no augmentation."""
    return F.cross_entropy(logits, target)
