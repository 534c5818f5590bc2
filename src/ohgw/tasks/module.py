"""The LightningModule every task trains: a network plus the hyperparameters psi that the
warm-start may change before training starts. What each hyperparameter does is defined in
ohgw.hyperparams (objective, optimizers, schedule, dropout); this only applies them."""
from __future__ import annotations

import copy
from typing import Callable, NamedTuple

import lightning as L
import torch

from ohgw.hyperparams import dropout, optimizers
from ohgw.hyperparams.loss import LOSS_KINDS, rows
from ohgw.hyperparams.objective import training_loss
from ohgw.hyperparams.registry import Hyperparameters
from ohgw.hyperparams.schedule import lr_factor
from ohgw.hyperparams.space import SearchSpace


class Diverged(RuntimeError):
    """Training loss became NaN or infinite."""


# Steps between checks that the training loss is finite: a check makes the CPU wait for the
# GPU, so it is made every this many steps and at the epoch's last step, not at every step
# (a loss summed over the steps is non-finite if any of them was).
FINITE_CHECK_EVERY = 50


class Evaluation(NamedTuple):
    loss: float
    means: dict  # per example (token of sequences): the loss kind's totals ({"acc": accuracy} ...)
    predicted: torch.Tensor | None = None  # argmax class per example (CPU), when asked for
    target: torch.Tensor | None = None


class HyperModule(L.LightningModule):
    def __init__(self, network: torch.nn.Module, hparams: dict, search_space: SearchSpace,
                 accepts: Hyperparameters, augment: Callable | None, max_epochs: int, steps_per_epoch: int,
                 keep_predictions: bool = False, loss_kind=LOSS_KINDS["cross_entropy"]):
        super().__init__()
        self.net = network
        self.loss_kind = loss_kind  # ohgw.hyperparams.loss: the training and validation loss, the scores
        self.hp = dict(hparams)  # psi: every hyperparameter's current value
        self.search_space = search_space
        self.accepts = accepts   # the task's roles and live network arguments
        self.augment = augment
        # The schedule spans the task's maximum epochs, never the `epochs` cap that
        # promotion-type schedulers rewrite at each resume.
        self.schedule_epochs, self.steps_per_epoch = int(max_epochs), int(steps_per_epoch)
        # a classifier keeps its validation predictions of the epoch (for macro precision, recall,
        # F1) from the pass that computes val_acc, instead of a second pass
        self.keep_predictions = keep_predictions
        self.val_predictions: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._unchecked = None  # the training losses summed since the last finite check (a tensor)
        self._unchecked_from = 0
        dropout.set_rates(self.net, self.hp)

    @property
    def optimizer_name(self) -> str:
        return self.hp["optimizer"]

    @property
    def total_steps(self) -> int:
        return self.schedule_epochs * self.steps_per_epoch

    def meta_copy(self) -> "HyperModule":
        """The same module on the meta device (shapes only), for counting FLOPs."""
        return HyperModule(copy.deepcopy(self.net).to("meta"), self.hp, self.search_space, self.accepts,
                           self.augment, self.schedule_epochs, self.steps_per_epoch, self.keep_predictions,
                           self.loss_kind)

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = training_loss(self, x, y, self.hp)
        self._check_finite(loss, batch_idx)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def _check_finite(self, loss, batch_idx: int) -> None:
        """Raise Diverged if a training loss since the last check was NaN or infinite: checked
        every FINITE_CHECK_EVERY steps and at the epoch's last step (before its report)."""
        if self._unchecked is None or batch_idx == 0:
            self._unchecked, self._unchecked_from = loss.detach(), batch_idx
        else:
            self._unchecked = self._unchecked + loss.detach()
        last = batch_idx + 1 >= self.trainer.num_training_batches
        if (batch_idx + 1 - self._unchecked_from) % FINITE_CHECK_EVERY and not last:
            return
        total, self._unchecked = self._unchecked, None
        if not torch.isfinite(total):
            raise Diverged(f"training loss is {total.item()} in steps {self._unchecked_from}-{batch_idx} "
                           f"of epoch {self.current_epoch + 1}")

    def on_validation_epoch_start(self):
        self.val_predictions = []

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val_loss", self.loss_kind.validation_loss(logits, y), on_epoch=True, batch_size=len(y))
        for name, total in self.loss_kind.sums(logits, y).items():  # val_acc; a regression's val_mse
            self.log(f"val_{name}", total / y.numel(), on_epoch=True, batch_size=len(y))
        if self.keep_predictions:
            self.val_predictions.append(_predicted(logits, y))

    @torch.no_grad()
    def evaluate(self, loader, predictions: bool = False) -> Evaluation:
        """The validation loss and the means of the loss kind's totals (accuracy; a
        regression's MSE) over a whole loader, in eval mode; with `predictions`, also the argmax
        class of every example and its target."""
        was_training = self.training
        self.eval()
        total_loss, totals, count, kept = 0.0, dict.fromkeys(self.loss_kind.totals, 0.0), 0, []
        for x, y in loader:
            x, y = x.to(self.device), y.to(self.device)
            logits = self(x)
            total_loss += self.loss_kind.validation_loss(logits, y, reduction="sum").item()
            for name, total in self.loss_kind.sums(logits, y).items():
                totals[name] += total.item()
            count += y.numel()  # examples, or tokens of sequences
            if predictions:
                kept.append(_predicted(logits, y))
        self.train(was_training)
        means = {name: total / count for name, total in totals.items()}
        if not predictions:
            return Evaluation(total_loss / count, means)
        return Evaluation(total_loss / count, means, *(torch.cat(t) for t in zip(*kept)))

    def validation_predictions(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(predicted, target) of the last validation epoch (keep_predictions)."""
        return tuple(torch.cat(t) for t in zip(*self.val_predictions))

    def configure_optimizers(self):
        optimizer = optimizers.make(self.optimizer_name, self.parameters(), self.hp)
        # the factor reads psi when it is called: a warm-started warm-up applies from then on
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: lr_factor(step, self.total_steps, self.hp.get("warmup", 0.0)))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def lr_factor(self) -> float:
        """The LR schedule's factor for the coming optimizer step."""
        return lr_factor(self.trainer.global_step, self.total_steps, self.hp.get("warmup", 0.0))

    def apply_hparams(self, psi: dict) -> None:
        """Train from now on with psi: optimizer groups and schedule base, loss, augmentation
        and dropout rates (which read self.hp)."""
        self.hp.update(psi)
        dropout.set_rates(self.net, self.hp)
        group = optimizers.param_group(self.optimizer_name, self.hp)
        factor = self.lr_factor()
        scheduler = self.trainer.lr_scheduler_configs[0].scheduler
        for i, g in enumerate(self.trainer.optimizers[0].param_groups):
            g.update(group, lr=group["lr"] * factor, initial_lr=group["lr"])
            scheduler.base_lrs[i] = group["lr"]

    def on_save_checkpoint(self, checkpoint):
        checkpoint["ohgw_hp"] = dict(self.hp)

    def on_load_checkpoint(self, checkpoint):
        self.hp = dict(checkpoint["ohgw_hp"])
        dropout.set_rates(self.net, self.hp)


def _predicted(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    logits, target = rows(logits, target)
    return logits.argmax(1).cpu(), target.cpu()
