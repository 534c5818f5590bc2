"""The one-step lookahead objective F(psi) = L_val(w1(psi); B2) and its gradient.

w1(psi) is the weights after ONE step of the task's optimizer (PyTorch's SGD or AdamW
update, ohgw.hyperparams.optimizers, at the LR schedule's factor for that step) from the
module's current weights on the training batch B1, with the training objective at psi
(ohgw.hyperparams.objective: augmentation, dropout rates, the task's loss and its label
smoothing). L_val is the task's plain validation loss (cross-entropy, or a regression's
squared error). The step is functional: the module's parameters, buffers and the optimizer
state are never modified. Both forward passes run in training mode; the validation pass
without dropout.

Gradients are taken on the search-space scale (log10 of the value for a `log` domain).
"""
from __future__ import annotations

import math
from typing import Mapping

import torch
from torch.utils.flop_counter import FlopCounterMode

from ohgw.hyperparams import optimizers
from ohgw.hyperparams.loss import training_loss_of
from ohgw.hyperparams.objective import lookahead_validation_loss, training_loss, training_terms
from ohgw.hyperparams.schedule import lr_factor

# how a hyper-gradient was obtained (results column hgvia_<name>)
AUTOGRAD, PATHWISE, CENTRAL_DIFFERENCE = "autograd", "pathwise", "central_difference"


def lookahead_loss(module, train_batch, val_batch, hparams: Mapping, *,
                   optimizer_state: Mapping[str, dict] | None = None, step: int = 0) -> torch.Tensor:
    """F(psi) as a scalar tensor, differentiable in any entry of `hparams` that is a tensor
    requiring grad. `hparams` may be partial: missing values come from `module.hp`.
    `optimizer_state` (parameter name -> the optimizer's state for it, as in
    `ohgw.hyperparams.optimizers.state_by_name`) continues a run in progress; None is the
    first step. `step` is the optimizer step about to be taken (for the LR schedule)."""
    return _lookahead(module, train_batch, val_batch, hparams, optimizer_state, step, create_graph=True)


def _lookahead(module, train_batch, val_batch, hparams, optimizer_state, step, create_graph):
    with _train_mode(module):
        psi, _ = _as_tensors(module, hparams)
        params = _trainable(module)
        x, y = train_batch
        buffers = _buffers(module)
        loss = training_loss(module, x, y, psi, params, buffers)
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
        w1 = _optimizer_step(module, params, grads, psi, optimizer_state, step)
        return lookahead_validation_loss(module, *val_batch, w1, buffers)


class HyperGradient(dict):
    """dF/du per hyperparameter (u: its search-space scale; a plain dict of floats) plus how
    each was obtained, and where autograd failed, why (a central difference stood in)."""

    def __init__(self, grads: dict, methods: dict, loss: float, fallbacks: dict | None = None):
        super().__init__(grads)
        self.methods = methods  # name -> AUTOGRAD | PATHWISE | CENTRAL_DIFFERENCE
        self.loss = loss        # F(psi)
        self.fallbacks = dict(fallbacks or {})  # name -> autograd's error, for those it failed on

    @property
    def finite_difference(self) -> tuple:
        return tuple(n for n, m in self.methods.items() if m == CENTRAL_DIFFERENCE)


def hypergradient(module, train_batch, val_batch, hparams: Mapping, *, names=None,
                  optimizer_state=None, step: int = 0, fd_step: float = 1e-3,
                  central: Mapping[str, float] | None = None) -> HyperGradient:
    """dF/du for `names` (default: every hyperparameter of the module's search space that a
    warm-start can move) by autograd; those the space marks non-differentiable, and an
    augmentation magnitude whose path is piecewise constant (RandAugment), use a central
    difference of F with step `fd_step` x their range (the augmentation's own for its
    magnitude: about one bin), on the same batches and draws.
    Dropout rates get the pathwise derivative with the masks held fixed (hyperparams.dropout).
    Where autograd fails for a hyperparameter (an op on its path without a double backward),
    a central difference stands in for it, and `.fallbacks` says why.
    `central` (name -> h on the search-space scale) asks for a central difference of half-width h
    for those names instead, whatever autograd could do (WarmStart's estimator central_step: the
    slope of F over the hyper-step's own scale, not at a point)."""
    order = sum(_split(module, names), [])  # the names in the order the gradient lists them
    central = dict(central or {})
    if set(central) - set(order):
        raise ValueError(f"central names {sorted(set(central) - set(order))}, not among {order}")
    by_autograd, by_fd = ([n for n in part if n not in central] for part in _split(module, names))
    rng = _rng_state_on(next(module.parameters()).device)
    loss, raw, fallbacks = _autograd_or_fallbacks(module, train_batch, val_batch, hparams, by_autograd,
                                                  optimizer_state, step, rng)
    # no path (momentum on the first step): the gradient is exactly zero
    grads = {n: 0.0 if g is None else g.item() for n, g in raw.items()}
    space = module.search_space
    half_widths = {n: fd_step_of(module, n, fd_step) * space[n].range for n in by_fd + list(fallbacks)} | central
    for n, h in half_widths.items():
        grads[n] = _central_difference(module, train_batch, val_batch, hparams, n, h, optimizer_state, step, rng)
    methods = {n: PATHWISE if module.accepts.role(n) == "network" else AUTOGRAD for n in by_autograd}
    methods.update({n: CENTRAL_DIFFERENCE for n in half_widths})
    loss = loss.item() if loss is not None else \
        lookahead_value(module, train_batch, val_batch, hparams, rng, optimizer_state, step)  # autograd took none
    return HyperGradient({n: grads[n] for n in order}, {n: methods[n] for n in order}, loss, fallbacks)


def _autograd_or_fallbacks(module, train_batch, val_batch, hparams, names, optimizer_state, step, rng):
    """(F, dF/du by autograd for the names it can take, {name: autograd's error} for the others).
    All at once first; if that fails, each name alone, so that one hyperparameter whose path
    has an op without a double backward leaves the others to autograd. F is None when every
    name failed. Running out of memory is no fallback: it is raised."""
    def attempt(part):
        with _restored_rng(module, rng):
            return _autograd_part(module, train_batch, val_batch, hparams, part, optimizer_state, step)

    try:
        loss, raw = attempt(names)
        return loss, raw, {}
    except torch.cuda.OutOfMemoryError:
        raise
    except RuntimeError:  # NotImplementedError too; which names failed is found below
        if not names:
            raise
    loss, raw, failed = None, {}, {}
    for name in names:
        try:
            loss, one = attempt([name])
            raw.update(one)
        except torch.cuda.OutOfMemoryError:
            raise
        except RuntimeError as e:
            failed[name] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return loss, raw, failed


def movable(module) -> list[str]:
    """The search space's hyperparameters a warm-start can move: continuous ones whose role
    allows it (not a network argument that only shapes the network)."""
    return [n for n in module.search_space.continuous if module.accepts.movable(n)]


def hypergradient_flops(module, train_batch, val_batch, hparams: Mapping, *, names=None) -> int:
    """FLOPs of `hypergradient` (first step) with these shapes, counted on the meta device:
    no compute, no time taken from the trial."""
    by_autograd, by_fd = _split(module, names)
    meta = module.meta_copy()
    args = (meta, _to_meta(train_batch), _to_meta(val_batch))
    with FlopCounterMode(display=False) as counter:
        _, _, fallbacks = _autograd_or_fallbacks(*args, hparams, by_autograd, None, 0, _rng_state_on(torch.device("cpu")))
        for _ in range(2 * (len(by_fd) + len(fallbacks))):
            _lookahead(*args, hparams, None, 0, create_graph=False)
    return counter.get_total_flops()


def _to_meta(tensors):
    return [t.to("meta") for t in tensors]


def differentiable(module, name: str) -> bool:
    """Has `name` a path to F autograd can follow? Not if the space says so, nor for the
    magnitude of an augmentation that is piecewise constant in it (RandAugment on uint8)."""
    if not module.search_space[name].differentiable:
        return False
    return not (module.accepts.role(name) == "augmentation" and not getattr(module.augment, "differentiable", True))


def fd_step_of(module, name: str, default: float) -> float:
    """The central difference's step for `name`, as a fraction of its range: the
    augmentation's own (about one of RandAugment's bins) for its magnitude."""
    if module.accepts.role(name) == "augmentation":
        return getattr(module.augment, "fd_step", default)
    return default


def _split(module, names):
    names = list(movable(module) if names is None else names)
    return [n for n in names if differentiable(module, n)], [n for n in names if not differentiable(module, n)]


def _autograd_part(module, train_batch, val_batch, hparams, by_autograd, optimizer_state, step):
    """F and dF/du as tensors (None where u has no path to F)."""
    with _train_mode(module):
        psi, leaves = _as_tensors(module, hparams, requires_grad=by_autograd)
        params = _trainable(module)
        grads, buffers = _training_gradient(module, params, train_batch, psi, by_autograd)
        w1 = _optimizer_step(module, params, grads, psi, optimizer_state, step)
        # Backpropagate in two phases: dF/dw1 first, then the cheap elementwise step into psi.
        w1_leaf = {k: v.detach().requires_grad_() for k, v in w1.items()}
        loss = lookahead_validation_loss(module, *val_batch, w1_leaf, buffers)
        dloss_dw1 = torch.autograd.grad(loss, list(w1_leaf.values()))
        if not by_autograd:
            return loss.detach(), {}
        raw = torch.autograd.grad(list(w1.values()), [leaves[n] for n in by_autograd],
                                  grad_outputs=dloss_dw1, allow_unused=True)
        return loss.detach(), dict(zip(by_autograd, raw))


def _training_gradient(module, params, train_batch, psi, by_autograd):
    """The training gradient g at psi, with the training graph already freed (so the
    validation pass runs at a training step's memory), as tensors whose derivatives in the
    hyperparameters acting through the training pass are exact at psi:
    g + sum_h (h - h0) dg/dh.

    The loss is linear in label smoothing, so dg/ds is a first-order gradient (of the
    uniform term minus the plain one). A hyperparameter acting on the forward pass (the
    augmentation's magnitude, a dropout rate) needs a second-order pass: dg/dh is the
    gradient in the weights of dL/dh."""
    forward = [n for n in by_autograd if module.accepts.forward_acting(n)]
    # the training pass sees leaves of its own for those, so that their dg/dh can be taken
    # apart from the step; everything else enters it as a constant
    leaves = {n: psi[n].detach().requires_grad_() for n in forward}
    at = {k: (v.detach() if torch.is_tensor(v) else v) for k, v in psi.items()} | leaves
    x, y = train_batch
    buffers = _buffers(module)
    terms = training_terms(module, x, y, at, params, buffers)
    loss = training_loss_of(terms, at.get("label_smoothing"))
    weights = list(params.values())
    slopes = []  # (hyperparameter value, dg/dh)
    if "label_smoothing" in by_autograd:
        slope = torch.autograd.grad(terms.uniform - terms.plain, weights, retain_graph=True)
        slopes.append((psi["label_smoothing"], slope))
    if leaves:
        both = torch.autograd.grad(loss, weights + list(leaves.values()), create_graph=True)
        grads, dloss_dh = both[:len(weights)], both[len(weights):]
        for i, (name, d) in enumerate(zip(leaves, dloss_dh)):
            slope = torch.autograd.grad(d, weights, retain_graph=i < len(leaves) - 1, allow_unused=True)
            slopes.append((psi[name], [torch.zeros_like(w) if s is None else s for s, w in zip(slope, weights)]))
        grads = [g.detach() for g in grads]
    else:
        grads = torch.autograd.grad(loss, weights)
    for value, slope in slopes:
        at_zero = value - value.detach()  # value 0, derivative 1 in the hyperparameter
        grads = [g + at_zero * d for g, d in zip(grads, slope)]
    return grads, buffers


def _optimizer_step(module, params, grads, psi, optimizer_state, step):
    factor = lr_factor(step, module.total_steps, psi["warmup"]) if "warmup" in psi else \
        lr_factor(step, module.total_steps)
    return optimizers.step(module.optimizer_name, params, grads, psi, optimizer_state, factor)


def rng_state(module):
    """The RNG state a hyper-gradient taken now draws from (augmentation, dropout masks):
    `lookahead_value` from it sees the same draws."""
    return _rng_state_on(next(module.parameters()).device)


def lookahead_value(module, train_batch, val_batch, hparams: Mapping, rng, optimizer_state=None,
                    step: int = 0) -> float:
    """F at `hparams` as a float, its draws from the RNG state `rng` (`rng_state`), the caller's
    RNG stream left as it was: F at two psi from the same `rng` differs only by psi."""
    with _restored_rng(module, rng):
        return _lookahead(module, train_batch, val_batch, hparams, optimizer_state, step, create_graph=False).item()


def _central_difference(module, train_batch, val_batch, hparams, name, h, optimizer_state, step, rng):
    """(F(u + h) - F(u - h)) / 2h in `name`'s search-space value u, on the same draws; an end
    past the domain is held at its bound (the difference is then over the shorter interval)."""
    spec = module.search_space[name]
    base = {**module.hp, **hparams}
    u = spec.to_scale(float(base[name]))
    ends = min(u + h, spec.scale_high), max(u - h, spec.scale_low)
    values = [lookahead_value(module, train_batch, val_batch, {**base, name: spec.from_scale(e)}, rng,
                              optimizer_state, step) for e in ends]
    return (values[0] - values[1]) / (ends[0] - ends[1])


def _trainable(module) -> dict:
    return {n: p for n, p in module.named_parameters() if p.requires_grad}


def _buffers(module) -> dict:
    """Copies of the buffers: BatchNorm updates its running stats in place in training mode."""
    return {n: b.clone() for n, b in module.named_buffers()}


def _as_tensors(module, hparams, requires_grad=()):
    """(psi, leaves): every continuous value as a tensor of the module's dtype (discrete ones
    as they are), and for the names in `requires_grad` the leaf u on the search-space scale
    that psi's value is computed from (value = 10**u on a log domain)."""
    ref = next(module.parameters())
    space = module.search_space
    psi, leaves = {}, {}
    for name, value in {**module.hp, **hparams}.items():
        if torch.is_tensor(value) or not isinstance(value, float):
            psi[name] = value
        elif name in requires_grad:
            spec = space[name]
            leaves[name] = torch.tensor(spec.to_scale(value), dtype=ref.dtype, device=ref.device,
                                        requires_grad=True)
            psi[name] = spec.from_scale(leaves[name])
        else:
            psi[name] = torch.tensor(value, dtype=ref.dtype, device=ref.device)
    return psi, leaves


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
