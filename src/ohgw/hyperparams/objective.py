"""The training objective at hyperparameters psi, one definition for the real training step
(HyperModule.training_step), the functional lookahead step (warmstart.lookahead) and the cost
measurement (warmstart.cost): the augmentation at psi's magnitude, the network with psi's live
dropout rates, the task's loss (ohgw.hyperparams.loss: the label-smoothed cross-entropy, or a
regression's squared error). psi's values may be floats or tensors."""
from __future__ import annotations

from torch.func import functional_call

from ohgw.hyperparams import dropout
from ohgw.hyperparams.loss import Terms, training_loss_of


def training_outputs(module, x, hp, weights=None, buffers=None):
    """The network's outputs (logits) on the training batch x at hp, through the module's own
    weights or, given `weights` and `buffers`, functionally with those."""
    if module.augment is not None and "aug_magnitude" in hp:
        x = module.augment(x, hp["aug_magnitude"])
    with dropout.rates(module.net, hp):
        return module(x) if weights is None else functional_call(module, (weights, buffers), (x,))


def training_terms(module, x, y, hp, weights=None, buffers=None) -> Terms:
    """The terms of the training loss (see loss.Terms)."""
    return module.loss_kind.terms(training_outputs(module, x, hp, weights, buffers), y)


def training_loss(module, x, y, hp, weights=None, buffers=None):
    return training_loss_of(training_terms(module, x, y, hp, weights, buffers), hp.get("label_smoothing"))


def lookahead_validation_loss(module, x, y, weights, buffers):
    """The lookahead's validation side: the task's plain validation loss, in training mode
    (BatchNorm on the batch's statistics, as in the training pass) but without dropout."""
    with dropout.off(module.net):
        return module.loss_kind.validation_loss(functional_call(module, (weights, buffers), (x,)), y)
