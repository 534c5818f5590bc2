"""Lightning callback applying a warm-start variant at the start of training."""
from __future__ import annotations

import sys

import lightning as L
import numpy as np
import torch

from ohgw.hyperparams import optimizers
from ohgw.results.contract import ADJUSTED, HG_METHOD, HYPERGRADIENT, column
from ohgw.warmstart.cost import Cost, flops_profile, shape_key
from ohgw.warmstart.lookahead import hypergradient, is_finite
from ohgw.warmstart.variants import WarmStart

MB = 2 ** 20
# The optimizer step whose training step is the yardstick of the warm-start's cost, the same in
# every variant (the last step of a trial that takes fewer): past ohgw3's three hyper-steps,
# and past CUDA's start-up (its libraries, kernels and allocator pools load at the first steps).
YARDSTICK_STEP = 3


def trial_flops(profiles: dict, task, variant, sampled: dict) -> dict:
    """FLOPs per hyper-step and per training step for this trial's shapes: from the
    replicate's profiles (counted once by the tuner at the space's midpoint), else counted
    here on the meta device (a space that searches the batch size or the network's shape)."""
    hp = task.hparams(sampled)
    key = shape_key(hp, task.hyperparameters)
    return profiles[key] if key in profiles else flops_profile(task, variant, sampled)


class WarmStartCallback(L.Callback):
    """Before each of the first `variant.steps` training steps: one lookahead hyper-step on
    that step's batch and the first validation batch, then train on with psi'. Its state
    (done, the record) is saved in the checkpoint, so a resumed trial keeps psi' (restored
    by the module) and never warm-starts again. Also measures one normal training step,
    the yardstick for the warm-start's cost, at the same optimizer step in every variant.
    The hyper-step runs under the trial's precision (bf16 autocast where it trains so), as the
    training step it is measured against does."""

    def __init__(self, variant: WarmStart, rng_seed: int, flops: dict):
        self.variant = variant
        self.flops = flops  # per hyper-step and per training step: shapes only, counted once
        self.rng = np.random.default_rng(rng_seed)
        self.done = False
        self.record: dict = {}
        self._val_batch = None
        self._step_cost = None

    # -- checkpointed state ---------------------------------------------------
    def state_dict(self):
        return {"done": self.done, "record": self.record}

    def load_state_dict(self, state):
        self.done, self.record = state["done"], state["record"]

    # -- hooks -----------------------------------------------------------------
    def on_train_start(self, trainer, module):
        if self.record:  # resumed: nothing to do
            return
        space = module.search_space
        movable = module.accepts.movable
        self.record = {"ws_status": "baseline", "ws_steps_applied": 0, "ws_steps_nan": 0,
                       "ws_seconds": 0.0, "ws_startup_s": 0.0, "ws_fd_fallback": 0, "ws_flops": 0, "ws_peak_mb": 0.0,
                       "step_flops": self.flops["step"],
                       **{column(ADJUSTED, n): module.hp[n] for n in space.names},
                       **{column(HYPERGRADIENT, n): float("nan") for n in space.names},
                       **{column(HG_METHOD, n): "" for n in space.names}}
        if self.variant.active and not self.variant.check(space, movable):
            self.record["ws_status"] = "no_continuous"
        self.done = self.record["ws_status"] != "baseline" or not self.variant.active

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if not self.done:
            self._hyper_step(trainer, module, batch)
            self.done = trainer.global_step + 1 >= self.variant.steps
        last = trainer.estimated_stepping_batches - 1
        if "step_seconds" not in self.record and trainer.global_step >= min(YARDSTICK_STEP, last):
            self._step_cost = Cost(module.device).__enter__()  # this training step alone

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if self._step_cost is not None:
            cost, self._step_cost = self._step_cost, None
            cost.__exit__(None, None, None)
            self.record.update(step_seconds=cost.seconds, step_peak_mb=cost.peak_bytes / MB)

    # -- the hyper-step --------------------------------------------------------
    def _hyper_step(self, trainer, module, batch):
        space = module.search_space
        targets = self.variant.targets(space, module.accepts.movable)
        state = optimizers.state_by_name(trainer.optimizers[0], module)  # empty before step 1
        val_batch = self._validation_batch(trainer, module, len(batch[1]))
        central = self.variant.central_steps(targets, space, module.accepts.forward_acting)

        def step(train, val):
            return hypergradient(module, train, val, module.hp, names=targets,
                                 optimizer_state=state, step=trainer.global_step, central=central)

        r = self.record
        with trainer.precision_plugin.forward_context():
            if trainer.global_step == 0:
                # The process's first double backward allocates thread pools and caches once
                # (~30 MB of RSS on CPU; on a GPU, CUDA's libraries and kernels load): pay that
                # on two examples, outside the measurement, so that the hyper-step's seconds and
                # peak are its own. Its seconds are recorded apart (ws_startup_s).
                with Cost(module.device, memory=False) as startup:
                    step([t[:2] for t in batch], [t[:2] for t in val_batch])
                r["ws_startup_s"] = startup.seconds
            with Cost(module.device) as cost:
                grads = step(batch, val_batch)
        r["ws_seconds"] += cost.seconds
        r["ws_flops"] += self.flops["hyperstep"]
        r["ws_peak_mb"] = max(r["ws_peak_mb"], cost.peak_bytes / MB)
        if trainer.global_step == 0:  # the one-shot gradient at the sampled x
            r.update({column(HYPERGRADIENT, n): g for n, g in grads.items()})
            r.update({column(HG_METHOD, n): how for n, how in grads.methods.items()})
            r["ws_fd_fallback"] = len(grads.fallbacks)
            for name, error in grads.fallbacks.items():  # the trial's log says why
                print(f"warm-start: autograd failed for {name} ({error}); a central difference stood in",
                      file=sys.stderr)
        if not is_finite(grads):  # skip, keep the trial alive
            r["ws_steps_nan"] += 1
        else:
            module.apply_hparams(self.variant.propose(module.hp, grads, space, self.rng))
            r["ws_steps_applied"] += 1
        r["ws_status"] = "applied" if r["ws_steps_applied"] else "skipped_nan"
        r.update({column(ADJUSTED, n): module.hp[n] for n in space.names})

    def _validation_batch(self, trainer, module, size):
        if self._val_batch is None:
            self._val_batch = validation_batch(trainer.datamodule, size, module.device)
        return self._val_batch


def validation_batch(datamodule, size: int, device) -> tuple:
    """The hyper-step's validation batch: the first `size` validation examples (as many as a
    training batch), on `device`."""
    with torch.random.fork_rng(devices=[]):  # a new DataLoader iterator draws a seed
        x, y = next(iter(datamodule.val_dataloader()))
    return x[:size].to(device), y[:size].to(device)
