"""The LightningModule every task trains: a network plus the hyperparameters psi
(search-space scale) that the warm-start may change before training starts."""
from __future__ import annotations

import copy
import math
from typing import Callable

import lightning as L
import torch
import torch.nn.functional as F

from ohgw import optimizers
from ohgw.hparams import smoothed_cross_entropy
from ohgw.space import SearchSpace


class Diverged(RuntimeError):
    """Training loss became NaN or infinite."""


class HyperModule(L.LightningModule):
    def __init__(self, network: torch.nn.Module, hparams: dict, search_space: SearchSpace,
                 augment: Callable, max_epochs: int, optimizer: str):
        super().__init__()
        self.net = network
        self.optimizer_name = optimizer  # one of ohgw.optimizers.OPTIMIZERS
        self.hp = {k: float(v) for k, v in hparams.items()}  # psi: current values
        self.search_space = search_space
        self.augment = augment
        # The cosine schedule spans the task's maximum epochs, never the `epochs` cap
        # that promotion-type schedulers rewrite at each resume.
        self.schedule_epochs = max_epochs

    def meta_copy(self) -> "HyperModule":
        """The same module on the meta device (shapes only), for counting FLOPs."""
        return HyperModule(copy.deepcopy(self.net).to("meta"), self.hp, self.search_space,
                           self.augment, self.schedule_epochs, self.optimizer_name)

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self(self.augment(x, self.hp["aug_magnitude"]))
        loss = smoothed_cross_entropy(logits, y, self.hp["label_smoothing"])
        if not torch.isfinite(loss):
            raise Diverged(f"training loss is {loss.item()} at epoch {self.current_epoch + 1}, "
                           f"step {batch_idx}")
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        loss, acc = self.evaluate_batch(batch)
        self.log("val_loss", loss, on_epoch=True, batch_size=len(batch[1]))
        self.log("val_acc", acc, on_epoch=True, batch_size=len(batch[1]))

    def evaluate_batch(self, batch):
        x, y = batch
        logits = self(x)
        return F.cross_entropy(logits, y), (logits.argmax(1) == y).float().mean()

    @torch.no_grad()
    def evaluate(self, loader) -> tuple[float, float]:
        """(loss, accuracy) over a whole loader, in eval mode."""
        was_training = self.training
        self.eval()
        total_loss, correct, count = 0.0, 0.0, 0
        for x, y in loader:
            x, y = x.to(self.device), y.to(self.device)
            logits = self(x)
            total_loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
            count += y.numel()  # examples, or tokens of sequences
        self.train(was_training)
        return total_loss / count, correct / count

    def configure_optimizers(self):
        optimizer = optimizers.make(self.optimizer_name, self.parameters(), self.hp)
        total = self.schedule_epochs
        cosine = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda epoch: 0.5 * (1 + math.cos(math.pi * min(epoch, total) / total)))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": cosine, "interval": "epoch"}}

    def lr_scale(self) -> float:
        """Current factor of the LR schedule (1 during the first epoch)."""
        scheduler = self.trainer.lr_scheduler_configs[0].scheduler
        return scheduler.get_last_lr()[0] / scheduler.base_lrs[0]

    def apply_hparams(self, psi: dict) -> None:
        """Train from now on with psi: optimizer groups, schedule base, loss, augmentation."""
        self.hp.update({k: float(v) for k, v in psi.items()})
        settings = optimizers.settings(self.optimizer_name, self.hp)
        scale = self.lr_scale()
        scheduler = self.trainer.lr_scheduler_configs[0].scheduler
        for i, group in enumerate(self.trainer.optimizers[0].param_groups):
            group.update(settings, lr=settings["lr"] * scale, initial_lr=settings["lr"])
            scheduler.base_lrs[i] = settings["lr"]

    def on_save_checkpoint(self, checkpoint):
        checkpoint["ohgw_hp"] = dict(self.hp)

    def on_load_checkpoint(self, checkpoint):
        self.hp = dict(checkpoint["ohgw_hp"])
