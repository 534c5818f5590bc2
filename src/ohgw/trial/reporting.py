"""Trial-side reporting: one line per epoch in Syne Tune's `[tune-metric]: {json}` format,
printed directly so trials need not import syne_tune. Each report is one row of the results
contract (ohgw.results.contract.ROW) with the trial's warm-start record."""
from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from ohgw.trial.class_scores import class_scores
from ohgw.warmstart.cost import process_memory_mb

METRIC_PREFIX = "[tune-metric]: "


def report(**metrics) -> None:
    metrics["st_worker_timestamp"] = time.time()  # the backend orders results by it
    sys.stdout.write(METRIC_PREFIX + json.dumps(metrics) + "\n")
    sys.stdout.flush()


class EpochReporter(L.Callback):
    """At the end of every epoch (after validation): test score, checkpoint, report.
    The checkpoint is written before the report, so a scheduler that pauses the trial on
    this report always finds it. Cumulative seconds survive pauses through the checkpoint, and
    so does the report itself: a process that resumes from the checkpoint prints it again, in
    case the one before died between the two (the backend drops a report it has already read:
    ohgw.tuner.backends.Recoverable)."""

    def __init__(self, checkpoint: Path, warmstart, process_start: float, epoch_metrics=None):
        self.checkpoint = checkpoint
        self.warmstart = warmstart  # its record goes into every report
        self.process_start = process_start
        self.epoch_metrics = epoch_metrics  # the task's own (Task.epoch_metrics)
        self.train_s = 0.0
        self.elapsed_before = 0.0  # seconds of earlier processes of this trial
        self.first_batch_s = None  # this process's start-up: launch to its first batch
        self.last_report: dict | None = None  # the report of the epoch the checkpoint holds
        self.replay = None  # that report, read from the checkpoint this process resumes from

    def state_dict(self):
        # Lightning does not checkpoint the RNGs: without them a resumed trial would draw
        # other augmentations than the same trial run straight through
        return {"train_s": self.train_s, "elapsed_s": self._elapsed(), "rng": _rng_states(),
                "last_report": self.last_report}

    def load_state_dict(self, state):
        self.train_s, self.elapsed_before = state["train_s"], state["elapsed_s"]
        self.replay = state.get("last_report")
        _set_rng_states(state["rng"])

    def on_train_start(self, trainer, module):
        if self.replay is not None:
            report(**self.replay)
            self.replay = None

    def _elapsed(self) -> float:
        return self.elapsed_before + time.time() - self.process_start

    def on_train_epoch_start(self, trainer, module):
        self._t0 = time.perf_counter()
        if self.first_batch_s is None:
            self.first_batch_s = time.time() - self.process_start

    def on_train_epoch_end(self, trainer, module):
        self.train_s += time.perf_counter() - self._t0
        logged, kind = trainer.callback_metrics, module.loss_kind
        metrics = {k: float(logged[k]) for k in ("val_loss", "train_loss") if k in logged}
        if all(f"val_{name}" in logged for name in kind.totals):  # val_acc; a regression's val_mse, val_rmse
            metrics.update(kind.scores("val", {name: float(logged[f"val_{name}"]) for name in kind.totals}))
        # at the trial's precision (bf16 autocast on a GPU), as Lightning runs validation: this
        # hook runs outside Lightning's autocast
        with trainer.precision_plugin.forward_context():
            test = module.evaluate(trainer.datamodule.test_dataloader(), predictions=module.keep_predictions)
            test_loss = test.loss
            metrics.update(kind.scores("test", test.means))
            if module.keep_predictions:  # a classifier: macro precision, recall and F1 beside accuracy
                metrics.update(class_scores("val", *module.validation_predictions()),
                               **class_scores("test", test.predicted, test.target))
            if self.epoch_metrics is not None:
                metrics.update(self.epoch_metrics(module, trainer.datamodule, {**metrics, "test_loss": test_loss}))
        peak_mb, reserved_mb = process_memory_mb(module.device)  # the warm-start's peak included
        self.last_report = dict(epoch=trainer.current_epoch + 1, **metrics, test_loss=test_loss,
                                train_steps=trainer.global_step, train_s=self.train_s, elapsed_s=self._elapsed(),
                                first_batch_s=self.first_batch_s, process_peak_mb=peak_mb,
                                process_reserved_mb=reserved_mb, **self.warmstart.record)
        tmp = self.checkpoint.with_suffix(".tmp")
        trainer.save_checkpoint(tmp)
        os.replace(tmp, self.checkpoint)
        report(**self.last_report)


class UnreadableCheckpoint(Exception):
    """The trial's checkpoint cannot be read: the trial must fail, never restart from scratch."""


class CheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint files, with a file it cannot read told apart from errors in
    training (one read, by Lightning itself)."""

    def load_checkpoint(self, path, *args, **kwargs):
        try:
            return super().load_checkpoint(path, *args, **kwargs)
        except Exception as e:  # noqa: BLE001 - any unreadable file is the same error
            raise UnreadableCheckpoint(f"{path}: {e}") from e


def _rng_states() -> dict:
    states = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
    if "cuda" in states:
        torch.cuda.set_rng_state_all(states["cuda"])
