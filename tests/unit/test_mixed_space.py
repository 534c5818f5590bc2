"""A mixed space (experiment=mixed_space): discrete hyperparameters reach the network, the
loader and the optimizer as sampled and are never moved; a dropout rate's hyper-gradient is
the pathwise derivative, checked against central differences on the same draws."""
import lightning as L
import pytest
import torch

import ohgw.tasks
from ohgw.hyperparams.dropout import HyperDropout
from ohgw.trial.warmstart_callback import WarmStartCallback
from ohgw.warmstart import hypergradient
from ohgw.warmstart.lookahead import PATHWISE
from ohgw.warmstart.variants import WarmStart
from tests.conftest import HP, REGRESSION_HP, small_float64
from tests.finite_differences import assert_matches_finite_differences
from tests.helpers import compose_config

MIXED = compose_config("experiment=mixed_space").task.search_space
SAMPLED = {**HP, "batch_size": 32, "layers": 4, "dropout": 0.3, "optimizer": "adamw"}


@pytest.mark.parametrize("task, hparams", [("digits", {**HP, "dropout": 0.3}),
                                           ("tabular", {**HP, "dropout": 0.2}),
                                           ("diabetes", {**REGRESSION_HP, "dropout": 0.2}),
                                           ("fashion_mnist_cnn", {**HP, "dropout": 0.3})])
def test_dropout_hypergradient_matches_central_differences_on_the_same_draws(task, hparams):
    space = {"dropout": {"type": "float", "low": 0.0, "high": 0.5}}
    module, train, val = small_float64(task, 16, hparams=hparams, search_space=space)
    torch.manual_seed(1)
    grads = hypergradient(module, train, val, hparams)
    assert grads.methods["dropout"] == PATHWISE and abs(grads["dropout"]) > 1e-6
    # the same seed gives the same uniform draws, hence the same masks at p +- h
    assert_matches_finite_differences(module, train, val, hparams, "dropout", grads["dropout"])
    for name in hparams:  # and the others still agree with dropout in the network
        assert_matches_finite_differences(module, train, val, hparams, name, grads[name])


def test_the_lookahead_validation_pass_runs_without_dropout():
    space = {"dropout": {"type": "float", "low": 0.0, "high": 0.99}}
    module, train, val = small_float64("digits", 16, hparams={**HP, "dropout": 0.9}, search_space=space)
    # with lr ~ 0 the training step changes nothing, so F is the validation loss at w0: the
    # same at any rate, unless the validation pass dropped 90% of the features
    tiny = {**HP, "log_lr": -12.0}
    f = [hypergradient(module, train, val, {**tiny, "dropout": p}, names=["log_lr"]).loss for p in (0.9, 0.0)]
    assert f[0] == pytest.approx(f[1], rel=1e-9)


def fit(hparams, variant):
    L.seed_everything(0, verbose=False)
    module, data = ohgw.tasks.load("digits", hparams=hparams, search_space=MIXED)
    callback = WarmStartCallback(variant, rng_seed=0, flops={"hyperstep": 1, "step": 1})
    trainer = L.Trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=1, callbacks=[callback],
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0, accelerator="cpu")
    trainer.fit(module, datamodule=data)
    return module, data, trainer, callback.record


def test_a_trial_trains_with_its_sampled_discrete_values_and_the_warm_start_leaves_them():
    module, data, trainer, record = fit(SAMPLED, WarmStart("ohgw", "hypergradient", eta_h=0.5))
    assert sum(isinstance(m, torch.nn.Conv2d) for m in module.net.modules()) == 4  # layers
    assert data.train_dataloader().batch_size == 32 and trainer.global_step == 3  # batch_size
    assert isinstance(trainer.optimizers[0], torch.optim.AdamW)  # optimizer
    for name in ("batch_size", "layers", "optimizer"):
        assert module.hp[name] == SAMPLED[name] and record[f"psi_{name}"] == SAMPLED[name]
        assert record[f"hgvia_{name}"] == ""  # no hyper-gradient for a discrete hyperparameter
    # the continuous ones moved, dropout included, and train on: the network reads the new rate
    assert record["hgvia_dropout"] == PATHWISE and record["psi_dropout"] != SAMPLED["dropout"]
    assert [m.p for m in module.net.modules() if isinstance(m, HyperDropout)] == [record["psi_dropout"]]


def test_the_warm_start_targets_of_the_mixed_space_are_its_continuous_hyperparameters():
    task = ohgw.tasks.build(ohgw.tasks.config("digits", search_space=MIXED))
    targets = WarmStart("ohgw", "hypergradient").targets(task.space, task.hyperparameters.movable)
    assert targets == ["log_lr", "log_wd", "momentum", "label_smoothing", "aug_magnitude", "dropout"]


@pytest.mark.parametrize("experiment, movable", [("low_budget_tpe", ["log_lr", "log_wd", "dropout"]),
                                                 ("meta_bo", []), ("aux_net", ["log_lr"])])
def test_the_related_studies_spaces_give_the_warm_start_only_their_continuous_hyperparameters(experiment, movable):
    task = ohgw.tasks.build(compose_config(f"experiment={experiment}", "warmstart=ohgw").task)
    assert WarmStart("ohgw", "hypergradient").targets(task.space, task.hyperparameters.movable) == movable
    assert task.space.discrete and not set(task.space.discrete) & set(movable)
