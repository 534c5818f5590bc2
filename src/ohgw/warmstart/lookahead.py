"""The one-step lookahead objective F(psi) = L_val(w1(psi); B2) and its gradient.

w1(psi) is the weights after ONE step of the task's optimizer (PyTorch's SGD or AdamW
update, ohgw.optimizers) from the module's current weights on the training batch B1, with the
training loss at psi (label smoothing, augmentation at magnitude psi). The step is
functional: the module's parameters, buffers and the optimizer state are never modified.
Both forward passes run in training mode.
"""
from __future__ import annotations

import math
from typing import Mapping

import torch
import torch.nn.functional as F
from torch.func import functional_call
from torch.utils.flop_counter import FlopCounterMode

from ohgw import optimizers
from ohgw.hparams import cross_entropy_terms, smoothed, smoothed_cross_entropy


def lookahead_loss(module, train_batch, val_batch, hparams: Mapping, *,
                   optimizer_state: Mapping[str, dict] | None = None,
                   lr_scale: float = 1.0) -> torch.Tensor:
    """F(psi) as a scalar tensor, differentiable in any entry of `hparams` that is a tensor
    requiring grad. `hparams` may be partial: missing values come from `module.hp`.
    `optimizer_state` (parameter name -> the optimizer's state for it, as in
    `ohgw.optimizers.state_by_name`) continues a run in progress; None is the first step.
    `lr_scale` is the LR schedule's current factor."""
    return _lookahead(module, train_batch, val_batch, hparams, optimizer_state, lr_scale,
                      create_graph=True)


def _lookahead(module, train_batch, val_batch, hparams, optimizer_state, lr_scale, create_graph):
    with _train_mode(module):
        hp = _as_tensors(module, hparams)
        w1, buffers = _one_step(module, train_batch, hp, optimizer_state, lr_scale, create_graph)
        return _val_loss(module, w1, buffers, val_batch)


class HyperGradient(dict):
    """dF/dpsi per hyperparameter (a plain dict of floats) plus how it was obtained."""

    def __init__(self, grads: dict, finite_difference: tuple, loss: float):
        super().__init__(grads)
        self.finite_difference = finite_difference  # names computed by central differences
        self.loss = loss                            # F(psi)


def hypergradient(module, train_batch, val_batch, hparams: Mapping, *, names=None,
                  optimizer_state=None, lr_scale: float = 1.0,
                  fd_step: float = 1e-3) -> HyperGradient:
    """dF/dpsi for `names` (default: every continuous hyperparameter of the module's search
    space) by autograd; hyperparameters the space marks non-differentiable use a central
    difference of F with step `fd_step` x their range, on the same batches and draws."""
    by_autograd, by_fd = _split(module.search_space, names)
    rng = _rng_state_on(next(module.parameters()).device)
    with _restored_rng(module, rng):
        loss, raw = _autograd_part(module, train_batch, val_batch, hparams, by_autograd,
                                   optimizer_state, lr_scale)
    # no path (momentum on the first step): the gradient is exactly zero
    grads = {n: 0.0 if g is None else g.item() for n, g in raw.items()}
    space = module.search_space
    for n in by_fd:
        grads[n] = _central_difference(module, train_batch, val_batch, hparams, n,
                                       fd_step * space[n].range, optimizer_state, lr_scale, rng)
    return HyperGradient({n: grads[n] for n in by_autograd + by_fd}, tuple(by_fd), loss.item())


def hypergradient_flops(module, train_batch, val_batch, hparams: Mapping, *, names=None) -> int:
    """FLOPs of `hypergradient` (first step) with these shapes, counted on the meta device:
    no compute, no time taken from the trial."""
    by_autograd, by_fd = _split(module.search_space, names)
    meta = module.meta_copy()

    args = (meta, _to_meta(train_batch), _to_meta(val_batch))
    with FlopCounterMode(display=False) as counter:
        _autograd_part(*args, hparams, by_autograd, None, 1.0)
        for _ in range(2 * len(by_fd)):
            _lookahead(*args, hparams, None, 1.0, create_graph=False)
    return counter.get_total_flops()


def _to_meta(tensors):
    return [t.to("meta") for t in tensors]


def _split(space, names):
    names = list(space.continuous if names is None else names)
    return [n for n in names if space[n].differentiable], [n for n in names if not space[n].differentiable]


def _autograd_part(module, train_batch, val_batch, hparams, by_autograd, optimizer_state, lr_scale):
    """F and dF/dpsi as tensors (None where psi has no path to F)."""
    with _train_mode(module):
        psi = _as_tensors(module, hparams, requires_grad=by_autograd)
        params = _trainable(module)
        grads, buffers = _training_gradient(module, params, train_batch, psi, by_autograd)
        w1 = optimizers.step(module.optimizer_name, params, grads, psi, optimizer_state, lr_scale)
        # Backpropagate in two phases: dF/dw1 first, then the cheap elementwise step into psi.
        w1_leaf = {k: v.detach().requires_grad_() for k, v in w1.items()}
        loss = _val_loss(module, w1_leaf, buffers, val_batch)
        dloss_dw1 = torch.autograd.grad(loss, list(w1_leaf.values()))
        if not by_autograd:
            return loss.detach(), {}
        raw = torch.autograd.grad(list(w1.values()), [psi[n] for n in by_autograd],
                                  grad_outputs=dloss_dw1, allow_unused=True)
        return loss.detach(), dict(zip(by_autograd, raw))


def _training_gradient(module, params, train_batch, psi, by_autograd):
    """The training gradient g at psi, with the training graph already freed (so the
    validation pass runs at a training step's memory), as tensors whose derivatives in label
    smoothing and augmentation magnitude are exact at psi: g + (s - s0) dg/ds + (m - m0) dg/dm.

    The loss is linear in label smoothing, so dg/ds is a first-order gradient (of the
    uniform term minus the plain one). Only the magnitude needs a second-order pass."""
    smoothing, magnitude = psi["label_smoothing"], psi["aug_magnitude"]
    m_leaf = magnitude.detach().requires_grad_("aug_magnitude" in by_autograd)
    x, y = train_batch
    logits, buffers = _training_forward(module, params, x, m_leaf)
    nll, uniform = cross_entropy_terms(logits, y)
    loss = smoothed(nll, uniform, smoothing.detach())
    weights = list(params.values())
    slopes = []  # (hyperparameter, dg/dhyperparameter)
    if "label_smoothing" in by_autograd:
        slopes.append((smoothing, torch.autograd.grad(uniform - nll, weights, retain_graph=True)))
    if m_leaf.requires_grad:
        *grads, dloss_dm = torch.autograd.grad(loss, weights + [m_leaf], create_graph=True)
        slopes.append((magnitude, torch.autograd.grad(dloss_dm, weights)))
        grads = [g.detach() for g in grads]
    else:
        grads = torch.autograd.grad(loss, weights)
    for hp, slope in slopes:
        at_zero = hp - hp.detach()  # value 0, derivative 1 in hp
        grads = [g + at_zero * d for g, d in zip(grads, slope)]
    return grads, buffers


def _central_difference(module, train_batch, val_batch, hparams, name, h, optimizer_state, lr_scale, rng):
    values = []
    base = {**module.hp, **hparams}
    for sign in (1, -1):
        shifted = {**base, name: float(base[name]) + sign * h}
        with _restored_rng(module, rng):
            values.append(_lookahead(module, train_batch, val_batch, shifted, optimizer_state, lr_scale,
                                     create_graph=False).item())
    return (values[0] - values[1]) / (2 * h)


def _one_step(module, train_batch, hp, optimizer_state, lr_scale, create_graph):
    """Weights after one optimizer step at hp, as a name -> tensor dict, and the buffers used."""
    params = _trainable(module)
    x, y = train_batch
    logits, buffers = _training_forward(module, params, x, hp["aug_magnitude"])
    loss = smoothed_cross_entropy(logits, y, hp["label_smoothing"])
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
    return optimizers.step(module.optimizer_name, params, grads, hp, optimizer_state, lr_scale), buffers


def _trainable(module) -> dict:
    return {n: p for n, p in module.named_parameters() if p.requires_grad}


def _training_forward(module, params, x, magnitude):
    """Logits of the augmented training batch with weights `params`, and the buffers used:
    copies, because BatchNorm updates its running stats in place in training mode."""
    buffers = {n: b.clone() for n, b in module.named_buffers()}
    return functional_call(module, (params, buffers), (module.augment(x, magnitude),)), buffers


def _val_loss(module, weights, buffers, val_batch):
    x, y = val_batch
    return F.cross_entropy(functional_call(module, (weights, buffers), (x,)), y)


def _as_tensors(module, hparams, requires_grad=()):
    ref = next(module.parameters())
    out = {}
    for name, value in {**module.hp, **hparams}.items():
        if torch.is_tensor(value):
            out[name] = value
        else:
            out[name] = torch.tensor(float(value), dtype=ref.dtype, device=ref.device,
                                     requires_grad=name in requires_grad)
    return out


class _train_mode:
    def __init__(self, module):
        self.module = module

    def __enter__(self):
        self.was_training = self.module.training
        self.module.train()

    def __exit__(self, *exc):
        self.module.train(self.was_training)


class _restored_rng:
    """Run a block from a saved RNG state, and leave the caller's RNG stream as it was
    (the warm-start must not shift the trial's augmentation draws)."""

    def __init__(self, module, state):
        self.device = next(module.parameters()).device
        self.state = state

    def __enter__(self):
        self.saved = _rng_state_on(self.device)
        _set_rng_state_on(self.device, self.state)

    def __exit__(self, *exc):
        _set_rng_state_on(self.device, self.saved)


def _rng_state_on(device):
    return torch.get_rng_state(), (torch.cuda.get_rng_state(device) if device.type == "cuda" else None)


def _set_rng_state_on(device, state):
    cpu, cuda = state
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state(cuda, device)


def is_finite(grads: Mapping[str, float]) -> bool:
    return all(math.isfinite(v) for v in grads.values())
