"""How search-space values become training settings. One place, used by the real
optimizer and by the functional lookahead step, so both always agree."""
from __future__ import annotations

import torch
import torch.nn.functional as F

# Every task must give these a value, in its search space or in `fixed`.
REQUIRED = ("log_lr", "log_wd", "momentum", "label_smoothing", "aug_magnitude")
# Hyperparameters that act only through the optimizer step (first-order in the lookahead).
STEP_ONLY = frozenset({"log_lr", "log_wd", "momentum"})


def optimizer_settings(hp) -> dict:
    """lr, weight_decay, momentum from search-space values (floats or tensors)."""
    return {"lr": 10 ** hp["log_lr"], "weight_decay": 10 ** hp["log_wd"], "momentum": hp["momentum"]}


def smoothed_cross_entropy(logits: torch.Tensor, target: torch.Tensor, smoothing) -> torch.Tensor:
    """PyTorch's label-smoothed cross-entropy, written out so `smoothing` may be a tensor
    that requires grad (F.cross_entropy only takes a float)."""
    logp = F.log_softmax(logits, dim=-1)
    nll = -logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)
    uniform = -logp.mean(dim=-1)
    return ((1 - smoothing) * nll + smoothing * uniform).mean()
