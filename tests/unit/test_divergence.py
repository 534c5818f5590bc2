"""A diverged trial is caught without a host sync at every step: the training loss is checked
for NaN and infinity every FINITE_CHECK_EVERY steps and at the epoch's last step, before the
epoch is reported."""
import lightning as L
import pytest
import torch

import ohgw.tasks
import ohgw.tasks.module as module_code
from ohgw.tasks.module import Diverged
from tests.conftest import HP


class Poison(L.Callback):
    """From optimizer step `at` on, the first weight is NaN: every later loss is NaN."""

    def __init__(self, at: int):
        self.at, self.steps = at, []

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.steps.append(batch_idx)
        if trainer.global_step == self.at:
            next(module.parameters()).data.fill_(float("nan"))


def train(poison_at, batches, epochs=1):
    L.seed_everything(0, verbose=False)
    module, data = ohgw.tasks.load("digits", hparams=HP, batch_size=8)
    poison = Poison(poison_at)
    trainer = L.Trainer(max_epochs=epochs, limit_train_batches=batches, limit_val_batches=0, callbacks=[poison],
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu")
    with pytest.raises(Diverged) as caught:
        trainer.fit(module, datamodule=data)
    return str(caught.value), poison.steps


def test_a_nan_loss_is_caught_at_the_next_check_of_the_interval(monkeypatch):
    monkeypatch.setattr(module_code, "FINITE_CHECK_EVERY", 4)
    message, steps = train(poison_at=5, batches=20)
    # steps 0-3 checked finite; NaN from step 5; the check after step 7 stops the trial
    assert steps == list(range(8)) and "training loss is nan in steps 4-7 of epoch 1" in message


def test_a_nan_loss_is_caught_at_the_epochs_last_step_before_its_report():
    assert module_code.FINITE_CHECK_EVERY > 3
    message, steps = train(poison_at=1, batches=3, epochs=2)
    assert steps == [0, 1, 2] and "in steps 0-2 of epoch 1" in message


def test_an_infinite_loss_is_caught_too(monkeypatch):
    monkeypatch.setattr(module_code, "FINITE_CHECK_EVERY", 2)
    module, data = ohgw.tasks.load("digits", hparams={**HP, "log_lr": 6.0}, batch_size=8)  # lr 10^6
    L.seed_everything(0, verbose=False)
    trainer = L.Trainer(max_epochs=3, limit_val_batches=0, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    with pytest.raises(Diverged, match=r"training loss is (nan|inf) in steps \d+-\d+ of epoch 1"):
        trainer.fit(module, datamodule=data)
    assert trainer.global_step < 50


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_a_training_step_between_checks_never_waits_for_the_gpu(monkeypatch):
    from ohgw.tasks.module import HyperModule

    real, unchecked = HyperModule.training_step, []

    def step(self, batch, batch_idx):  # between checks: any host sync in the step is an error
        check = (batch_idx + 1) % module_code.FINITE_CHECK_EVERY == 0 or batch_idx + 1 == self.trainer.num_training_batches
        torch.cuda.set_sync_debug_mode(0 if check else "error")
        try:
            return real(self, batch, batch_idx)
        finally:
            torch.cuda.set_sync_debug_mode(0)
            unchecked.append(not check)

    monkeypatch.setattr(HyperModule, "training_step", step)
    module, data = ohgw.tasks.load("digits", hparams=HP, batch_size=8)
    trainer = L.Trainer(max_epochs=1, limit_train_batches=60, limit_val_batches=0, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        accelerator="gpu", devices=1)
    trainer.fit(module, datamodule=data)
    assert sum(unchecked) == 58 and trainer.global_step == 60
