"""The hyperparameter registry: a new hyperparameter is one entry and reaches both the real
training step and the lookahead; what a task accepts; defaults; log domains; bad input."""
import warnings

import lightning as L
import pytest
import torch

import ohgw.tasks
from ohgw.errors import ConfigError
from ohgw.hyperparams import Entry, optimizers, register, unregister
from ohgw.hyperparams.objective import training_loss
from ohgw.hyperparams.space import SearchSpace
from ohgw.tasks import build, config
from ohgw.trial.warmstart_callback import WarmStartCallback
from ohgw.warmstart import hypergradient
from ohgw.warmstart.variants import WarmStart
from tests.conftest import HP, small_float64
from tests.finite_differences import assert_matches_finite_differences


@pytest.fixture
def beta2_gap():
    """A hyperparameter the registry did not have: AdamW's beta2 as log10(1 - beta2). One
    entry; its effect (the optimizer's beta2 setting) is already defined."""
    register(Entry("log_beta2_gap", "optimizer", -3.0, "log10(1 - AdamW's beta2)", setting="beta2",
                   to_setting=lambda v: 1 - 10 ** v, optimizers=("adamw",)))
    yield {**HP, "log_beta2_gap": -2.0}
    unregister("log_beta2_gap")


SPACE_WITH_GAP = {"log_beta2_gap": {"type": "float", "low": -4.0, "high": -1.0}}


def test_a_new_hyperparameter_reaches_the_real_training_step(beta2_gap):
    L.seed_everything(0, verbose=False)
    module, data = ohgw.tasks.load("digits", hparams=beta2_gap, optimizer="adamw", search_space=SPACE_WITH_GAP)
    callback = WarmStartCallback(WarmStart("ohgw", "hypergradient", eta_h=50.0), rng_seed=0,
                                 flops={"hyperstep": 1, "step": 1})
    trainer = L.Trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=1, callbacks=[callback],
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0, accelerator="cpu")
    trainer.fit(module, datamodule=data)
    moved = callback.record["psi_log_beta2_gap"]
    assert callback.record["hgvia_log_beta2_gap"] == "autograd"
    # the real AdamW trained with the (warm-started) value, through the registry entry alone
    assert trainer.optimizers[0].param_groups[0]["betas"][1] == pytest.approx(1 - 10 ** moved)
    assert module.hp["log_beta2_gap"] == moved


def test_a_new_hyperparameter_reaches_the_lookahead(beta2_gap):
    # beta2 acts from the second step on (the first bias-corrected second moment is g*g)
    module, train, val = small_float64("digits", 16, optimizer="adamw", search_space=SPACE_WITH_GAP)
    real = optimizers.make("adamw", module.parameters(), beta2_gap)
    assert real.param_groups[0]["betas"][1] == pytest.approx(1 - 10 ** -2.0)
    for _ in range(2):
        real.zero_grad()
        training_loss(module, *train, {**beta2_gap, "aug_magnitude": 0.0}).backward()
        real.step()
    state = {n: {k: v.clone() for k, v in s.items()} for n, s in optimizers.state_by_name(real, module).items()}
    torch.manual_seed(1)
    grads = hypergradient(module, train, val, beta2_gap, optimizer_state=state)
    assert "log_beta2_gap" in grads and grads["log_beta2_gap"] != 0.0
    assert_matches_finite_differences(module, train, val, beta2_gap, "log_beta2_gap", grads["log_beta2_gap"],
                                      optimizer_state=state)


def test_unsearched_hyperparameters_take_fixed_values_then_defaults():
    task = build(config("digits", search_space={"label_smoothing": None, "aug_magnitude": None},
                        fixed={"label_smoothing": 0.05}))
    hp = task.hparams()
    assert hp["label_smoothing"] == 0.05  # fixed
    assert hp["aug_magnitude"] == 0.0 and hp["warmup"] == 0.0  # the registry's defaults
    assert hp["batch_size"] == 64 and hp["optimizer"] == "sgd"  # the task's own fields
    assert hp["layers"] == 3 and hp["dropout"] == 0.0  # the network's arguments
    assert hp["log_lr"] == -1.5  # searched: the space's midpoint until sampled


def test_a_task_without_a_role_does_not_apply_it():
    task = build(config("tabular", roles=["optimizer", "schedule", "data", "optimizer_kind"],
                        search_space={"label_smoothing": None, "aug_magnitude": None}))
    hp = task.hparams()
    assert "label_smoothing" not in hp and "aug_magnitude" not in hp
    assert hp["dropout"] == 0.0  # the network is built with its defaults, not searchable
    module = task.module()
    x, y = next(iter(task.datamodule().train_dataloader()))
    torch.manual_seed(0)
    plain = torch.nn.functional.cross_entropy(module(x), y)
    assert torch.allclose(training_loss(module, x, y, hp), plain)  # no smoothing, no noise


def test_lr_on_a_log_domain_equals_log_lr():
    """`lr` sampled log-uniformly: its warm-start scale is log10(lr), so its hyper-gradient is
    the one of log_lr at the same learning rate."""
    space = {"log_lr": None, "lr": {"type": "float", "low": 1e-3, "high": 1.0, "log": True}}
    hp = {k: v for k, v in HP.items() if k != "log_lr"}
    by_lr = small_float64("digits", 16, hparams={**hp, "lr": 0.1}, search_space=space)
    by_log_lr = small_float64("digits", 16)
    torch.manual_seed(1)
    g_lr = hypergradient(by_lr[0], by_lr[1], by_lr[2], {**hp, "lr": 0.1})
    torch.manual_seed(1)
    g_log = hypergradient(by_log_lr[0], by_log_lr[1], by_log_lr[2], HP)
    assert "log_lr" not in by_lr[0].hp and by_lr[0].search_space["lr"].to_scale(0.1) == pytest.approx(-1.0)
    assert g_lr["lr"] == pytest.approx(g_log["log_lr"], rel=1e-9)
    step = WarmStart("ohgw", "hypergradient", eta_h=0.1).propose({"lr": 0.1}, {"lr": 1.0}, by_lr[0].search_space,
                                                                 None)
    assert step["lr"] == pytest.approx(10 ** -1.1)  # the step is taken in log10(lr)


def test_network_arguments_build_the_network():
    task = build(config("digits"))
    convs = lambda m: sum(isinstance(x, torch.nn.Conv2d) for x in m.modules())  # noqa: E731
    assert convs(task.module().net) == 3 and convs(task.module({"layers": 4}).net) == 4
    dropout = [m for m in task.module({"dropout": 0.3}).net.modules() if type(m).__name__ == "HyperDropout"]
    assert [m.p for m in dropout] == [0.3]


@pytest.mark.parametrize("overrides, says", [
    ({"search_space": {"units": {"type": "int", "low": 50, "high": 150}}},
     "search_space.units: task digits takes no hyperparameter 'units' (neither a registered hyperparameter "
     "nor an argument of its network); it takes log_lr, lr, log_wd"),
    ({"fixed": {"hidden": 32}}, "and network arguments layers, width, dropout"),
    ({"roles": ["optimizer", "schedule", "loss", "data"]},
     "'aug_magnitude' (role 'augmentation', which task digits does not take)"),
    ({"search_space": {"lr": {"type": "float", "low": 0.001, "high": 0.1}}},
     "log_lr and lr both set the optimizer's lr"),
    ({"search_space": {"batch_size": {"type": "choice", "choices": [16, "32"]}}}, "the choices mix types (int, str)"),
    ({"search_space": {"optimizer": {"type": "choice", "choices": ["sgd", "adam"]}}},
     "task.optimizer must be one of sgd, adamw, got 'adam'"),
    ({"fixed": {"log_lr": -2.0}}, "['log_lr'] both searched and fixed"),
    ({"roles": ["optimizer", "physics"]}, "unknown role(s) ['physics']"),
    ({"search_space": {"lr": {"type": "float", "low": 0.0, "high": 0.1, "log": True}, "log_lr": None}},
     "a log domain needs low > 0"),
])
def test_bad_hyperparameters_are_refused_naming_what_is_accepted(overrides, says):
    with pytest.raises(ConfigError) as caught:
        build(config("digits", **overrides))
    assert says in str(caught.value)


def test_a_discrete_hyperparameter_in_the_mask_warns_and_is_never_moved():
    space = SearchSpace.from_config({"log_lr": {"type": "float", "low": -3.0, "high": 0.0},
                                     "batch_size": {"type": "choice", "choices": [16, 32]}})
    variant = WarmStart("ohgw", "hypergradient", mask=["batch_size"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert variant.check(space) is True
    assert len(caught) == 1 and "['batch_size'] are never moved" in str(caught[0].message)
    assert variant.targets(space) == ["log_lr"]
