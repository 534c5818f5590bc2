"""The training objective at hyperparameters psi, one definition for the real training step
(HyperModule.training_step), the functional lookahead step (warmstart.lookahead) and the cost
measurement (warmstart.cost): the augmentation at psi's magnitude, the network with psi's live
dropout rates, the label-smoothed cross-entropy. psi's values may be floats or tensors."""
from __future__ import annotations

from torch.func import functional_call

from ohgw.hyperparams import dropout
from ohgw.hyperparams.loss import cross_entropy_terms, smoothed, validation_loss


def training_logits(module, x, hp, weights=None, buffers=None):
    """Logits of the training batch x at hp, through the module's own weights or, given
    `weights` and `buffers`, functionally with those."""
    if module.augment is not None and "aug_magnitude" in hp:
        x = module.augment(x, hp["aug_magnitude"])
    with dropout.rates(module.net, hp):
        return module(x) if weights is None else functional_call(module, (weights, buffers), (x,))


def training_terms(module, x, y, hp, weights=None, buffers=None):
    """(nll, uniform): the two terms the label-smoothed loss mixes (see loss.smoothed)."""
    return cross_entropy_terms(training_logits(module, x, hp, weights, buffers), y)


def training_loss(module, x, y, hp, weights=None, buffers=None):
    nll, uniform = training_terms(module, x, y, hp, weights, buffers)
    return smoothed(nll, uniform, hp["label_smoothing"]) if "label_smoothing" in hp else nll


def lookahead_validation_loss(module, x, y, weights, buffers):
    """The lookahead's validation side: the plain cross-entropy, in training mode (BatchNorm
    on the batch's statistics, as in the training pass) but without dropout."""
    with dropout.off(module.net):
        return validation_loss(functional_call(module, (weights, buffers), (x,)), y)
