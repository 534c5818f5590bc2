"""The warm-start variants and the Lightning callback that applies them."""
import math
import warnings

import lightning as L
import numpy as np
import pytest
import torch

import ohgw.tasks
from ohgw.errors import ConfigError
from ohgw.hyperparams.space import SearchSpace
from ohgw.trial.warmstart_callback import WarmStartCallback
from ohgw.warmstart.variants import WarmStart, step_norm
from tests.conftest import HP

SPACE = SearchSpace.from_config({
    "log_lr": {"type": "float", "low": -3.0, "high": 0.0},
    "log_wd": {"type": "float", "low": -6.0, "high": -2.0},
    "momentum": {"type": "float", "low": 0.5, "high": 0.99},
    "label_smoothing": {"type": "float", "low": 0.0, "high": 0.2},
    "aug_magnitude": {"type": "float", "low": 0.0, "high": 1.0},
    "width": {"type": "choice", "choices": [16, 32]},
})
GRADS = {"log_lr": -0.06, "log_wd": 1e-6, "momentum": 0.0, "label_smoothing": 0.03, "aug_magnitude": 0.02}
PSI = {**HP, "width": 16}


def test_raw_step_is_minus_eta_times_gradient():
    new = WarmStart("ohgw", "hypergradient", eta_h=0.5).propose(PSI, GRADS, SPACE, np.random.default_rng(0))
    for n, g in GRADS.items():
        assert new[n] == pytest.approx(PSI[n] - 0.5 * g)
    assert new["width"] == 16  # discrete: never changed


def test_normalized_step_is_eta_times_range_along_unit_gradient():
    new = WarmStart("ohgw", "hypergradient", eta_h=0.01, step="normalized").propose(
        PSI, GRADS, SPACE, np.random.default_rng(0))
    norm = math.sqrt(sum(g * g for g in GRADS.values()))
    for n, g in GRADS.items():
        assert new[n] == pytest.approx(PSI[n] - 0.01 * SPACE[n].range * g / norm)


@pytest.mark.parametrize("step", ["raw", "normalized"])
def test_random_control_has_the_ohgw_step_norm_and_another_direction(step):
    # small steps: clipping at a bound would shorten either one
    ohgw = WarmStart("ohgw", "hypergradient", eta_h=0.01, step=step).propose(PSI, GRADS, SPACE, None)
    rng = np.random.default_rng(7)
    rand = WarmStart("random", "random", eta_h=0.01, step=step).propose(PSI, GRADS, SPACE, rng)
    names = list(GRADS)
    assert step_norm(PSI, rand, names) == pytest.approx(step_norm(PSI, ohgw, names), rel=1e-12)
    assert rand != ohgw


def test_random_control_fixed_sigma():
    rand = WarmStart("random", "random", sigma=0.01).propose(PSI, GRADS, SPACE, np.random.default_rng(1))
    moves = np.array([rand[n] - PSI[n] for n in GRADS])
    expected = 0.01 * np.random.default_rng(1).standard_normal(len(GRADS))
    assert moves == pytest.approx(expected)


def test_step_is_clipped_to_the_bounds():
    at_bounds = {**PSI, "log_lr": 0.0, "label_smoothing": 0.0}
    new = WarmStart("ohgw", "hypergradient", eta_h=100.0).propose(
        at_bounds, {**GRADS, "log_lr": -1.0, "label_smoothing": 1.0}, SPACE, None)
    assert new["log_lr"] == 0.0 and new["label_smoothing"] == 0.0
    assert all(SPACE[n].low <= new[n] <= SPACE[n].high for n in GRADS)


def test_mask_leaves_hyperparameters_untouched():
    variant = WarmStart("ohgw", "hypergradient", mask=["log_lr"])
    assert variant.targets(SPACE) == ["log_wd", "momentum", "label_smoothing", "aug_magnitude"]


@pytest.mark.parametrize("kwargs, message", [
    ({"mask": ["learning_rate"]}, "unknown hyperparameter"),
    ({"eta_h": 0.0}, "eta_h must be > 0"),
    ({"eta_h": -1e-3}, "eta_h must be > 0"),
    ({"steps": 0}, "steps must be an integer >= 1"),
    ({"step": "adam"}, "warmstart.step"),
])
def test_bad_variant_settings_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        WarmStart("ohgw", "hypergradient", **kwargs).targets(SPACE)


def test_no_continuous_hyperparameter_warns_once_and_runs_as_baseline():
    discrete = SearchSpace.from_config({"width": {"type": "choice", "choices": [16, 32]}})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert WarmStart("ohgw", "hypergradient").check(discrete) is False
    assert len(caught) == 1 and "running as baseline" in str(caught[0].message)


# -- the callback inside a real Lightning fit ----------------------------------------

def fit(variant, epochs=1, batches=3, val_nan=False, seed=0, optimizer="sgd", precision="32-true", callbacks=()):
    L.seed_everything(seed, verbose=False)
    module, data = ohgw.tasks.load("digits", hparams=HP, optimizer=optimizer)
    data.setup("fit")
    if val_nan:
        data.splits["val"][0][:] = float("nan")
    callback = WarmStartCallback(variant, rng_seed=0, flops={"hyperstep": 10, "step": 3})
    trainer = L.Trainer(max_epochs=epochs, limit_train_batches=batches, limit_val_batches=1,
                        callbacks=[callback, *callbacks], logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0, accelerator="cpu", precision=precision)
    trainer.fit(module, datamodule=data)
    return module, trainer, callback.record


def test_ohgw_writes_psi_prime_into_optimizer_loss_and_augmentation():
    module, trainer, record = fit(WarmStart("ohgw", "hypergradient", eta_h=0.5))
    assert record["ws_status"] == "applied" and record["ws_steps_applied"] == 1
    assert record["ws_flops"] == 10 and record["ws_seconds"] > 0 and record["step_seconds"] > 0
    psi = {n: record[f"psi_{n}"] for n in HP}
    for n in ("log_lr", "label_smoothing", "aug_magnitude"):
        assert psi[n] == pytest.approx(HP[n] - 0.5 * record[f"hg_{n}"])
        assert module.hp[n] == psi[n]
    group = trainer.optimizers[0].param_groups[0]
    scheduler = trainer.lr_scheduler_configs[0].scheduler
    assert scheduler.base_lrs[0] == pytest.approx(10 ** psi["log_lr"])
    assert group["weight_decay"] == pytest.approx(10 ** psi["log_wd"])
    assert group["momentum"] == pytest.approx(psi["momentum"])


def test_ohgw3_takes_three_hyper_steps_with_momentum_from_the_second():
    module, _, record = fit(WarmStart("ohgw3", "hypergradient", steps=3, eta_h=0.5), batches=4)
    one, _, _ = fit(WarmStart("ohgw", "hypergradient", eta_h=0.5), batches=4)
    assert record["ws_steps_applied"] == 3 and record["ws_flops"] == 30
    assert record["hg_momentum"] == 0.0  # recorded gradient is the first step's
    assert module.hp["momentum"] != HP["momentum"]  # moved by steps 2 and 3
    assert one.hp["momentum"] == HP["momentum"]


def test_ohgw3_with_adamw_moves_beta1_from_the_second_step_and_writes_it_back():
    module, trainer, record = fit(WarmStart("ohgw3", "hypergradient", steps=3, eta_h=0.5),
                                  batches=4, optimizer="adamw")
    assert isinstance(trainer.optimizers[0], torch.optim.AdamW)
    assert record["ws_steps_applied"] == 3 and record["hg_momentum"] == 0.0
    assert module.hp["momentum"] != HP["momentum"]  # beta1, moved by steps 2 and 3
    group = trainer.optimizers[0].param_groups[0]
    assert group["betas"] == (pytest.approx(module.hp["momentum"]), 0.999)
    assert group["weight_decay"] == pytest.approx(10 ** module.hp["log_wd"])


def test_baseline_changes_nothing_and_keeps_the_rng_stream():
    base, _, record = fit(WarmStart("baseline", "none"))
    ohgw, _, _ = fit(WarmStart("ohgw", "hypergradient", eta_h=1e-12))
    assert record["ws_status"] == "baseline" and {n: base.hp[n] for n in HP} == HP
    # same draws and data order: a negligible step gives (nearly) the same weights
    for a, b in zip(base.parameters(), ohgw.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_nan_hypergradient_skips_the_step_and_the_trial_goes_on():
    module, trainer, record = fit(WarmStart("ohgw", "hypergradient"), val_nan=True)
    assert record["ws_status"] == "skipped_nan" and record["ws_steps_nan"] == 1
    assert {n: module.hp[n] for n in HP} == HP and trainer.current_epoch == 1


# -- what the callback measures: the warm-start's own cost against the same step ----------

def spy_hypergradient(monkeypatch, before_call=None):
    """Every hyper-gradient the callback takes, through the real function: (training batch
    size, whether CPU autocast was on) per call; `before_call(batch)` runs first."""
    import ohgw.trial.warmstart_callback as callback_module

    calls, real = [], callback_module.hypergradient

    def spy(module, train, val, hparams, **kwargs):
        calls.append((len(train[1]), torch.is_autocast_enabled("cpu")))
        if before_call is not None:
            before_call(train)
        return real(module, train, val, hparams, **kwargs)

    monkeypatch.setattr(callback_module, "hypergradient", spy)
    return calls


def test_the_start_up_run_is_recorded_apart_and_not_in_ws_seconds(monkeypatch):
    import time

    # the start-up run (two examples) made to take 2 s: none of it may land in ws_seconds
    calls = spy_hypergradient(monkeypatch, lambda train: time.sleep(2.0) if len(train[1]) == 2 else None)
    _, _, record = fit(WarmStart("ohgw", "hypergradient", eta_h=0.5))
    assert [size for size, _ in calls] == [2, 64]
    assert record["ws_startup_s"] >= 2.0
    assert 0 < record["ws_seconds"] < 2.0 and record["ws_fd_fallback"] == 0


class StepWatch(L.Callback):
    """The optimizer steps at which the warm-start callback (run before it) times its yardstick."""

    def __init__(self):
        self.steps = []

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        warmstart = next(c for c in trainer.callbacks if isinstance(c, WarmStartCallback))
        if warmstart._step_cost is not None:
            self.steps.append(trainer.global_step)


@pytest.mark.parametrize("batches, expected", [(6, 3), (2, 1)])
def test_every_variant_times_its_yardstick_at_the_same_optimizer_step(batches, expected):
    seen = {}
    for variant in (WarmStart("baseline", "none"), WarmStart("ohgw", "hypergradient"),
                    WarmStart("ohgw3", "hypergradient", steps=3)):
        watch = StepWatch()
        _, _, record = fit(variant, batches=batches, callbacks=[watch])
        assert record["step_seconds"] > 0 and record["step_peak_mb"] >= 0
        seen[variant.name] = watch.steps
    # past ohgw3's hyper-steps and the first steps' start-up; the last step of a shorter trial
    assert seen == {"baseline": [expected], "ohgw": [expected], "ohgw3": [expected]}


def test_the_hyper_step_runs_under_the_trials_precision(monkeypatch):
    calls = spy_hypergradient(monkeypatch)
    _, _, record = fit(WarmStart("ohgw", "hypergradient", eta_h=0.5), precision="bf16-mixed")
    assert calls == [(2, True), (64, True)] and record["ws_status"] == "applied"
    calls.clear()
    fit(WarmStart("ohgw", "hypergradient", eta_h=0.5))
    assert calls == [(2, False), (64, False)]


def test_the_epoch_report_evaluates_at_the_trials_precision_and_gives_the_process_peaks(monkeypatch, tmp_path, capsys):
    import json

    from ohgw.tasks.module import HyperModule
    from ohgw.trial.reporting import METRIC_PREFIX, EpochReporter

    autocast, real = [], HyperModule.evaluate

    def evaluate(self, loader, predictions=False):
        autocast.append(torch.is_autocast_enabled("cpu"))
        return real(self, loader, predictions)

    monkeypatch.setattr(HyperModule, "evaluate", evaluate)

    class Reporter(EpochReporter):  # reads the warm-start callback Lightning runs before it
        def on_train_start(self, trainer, module):
            self.warmstart = next(c for c in trainer.callbacks if isinstance(c, WarmStartCallback))

    fit(WarmStart("ohgw", "hypergradient", eta_h=0.5), precision="bf16-mixed",
        callbacks=[Reporter(tmp_path / "last.ckpt", None, 0.0)])
    report = json.loads(capsys.readouterr().out.split(METRIC_PREFIX)[1])
    assert autocast == [True]  # the test split, in bf16 as validation is
    assert report["ws_status"] == "applied" and report["process_peak_mb"] > 0
    assert math.isnan(report["process_reserved_mb"])  # CPU: no caching allocator
