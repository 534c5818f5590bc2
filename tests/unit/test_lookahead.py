"""The hyper-gradient is the heart of the study: check it against finite differences and
the lookahead objective against a real optimizer step."""
import copy

import pytest
import torch
import torch.nn.functional as F

import ohgw.tasks
from ohgw.hyperparams import optimizers
from ohgw.warmstart import hypergradient
from ohgw.warmstart.lookahead import movable
from tests.conftest import HP, small_float64
from tests.finite_differences import assert_matches_finite_differences, lookahead


@pytest.mark.parametrize("task", ["digits64", "tabular16", "fortunes16", "python_docs4", "diabetes16",
                                  "fortunes_lstm4", pytest.param("resnet20_64", marks=pytest.mark.slow)])
def test_hypergradient_matches_finite_differences(task, request):
    module, train, val = request.getfixturevalue(task)
    # every continuous hyperparameter the task's space searches: HP's (the regression takes no
    # label smoothing), and the LSTM's dropout rate
    hp = {name: module.hp[name] for name in movable(module)}
    assert set(hp) >= set(HP) - ({"label_smoothing"} if module.loss_kind.name == "mse" else set())
    torch.manual_seed(1)
    grads = hypergradient(module, train, val, hp)
    assert set(grads) == set(hp) and grads.finite_difference == ()
    for name in hp:
        assert_matches_finite_differences(module, train, val, hp, name, grads[name])
    # not tiny, so the relative check above applied (it does above 1e-5: AdamW's first step,
    # ~sign(g), is barely moved by label smoothing: fortunes' gradient for it is ~7e-4, the
    # LSTM's ~4e-5)
    assert abs(grads["log_lr"]) > 1e-3 and abs(grads.get("label_smoothing", 1.0)) > 1e-5


def test_momentum_gradient_exactly_zero_on_first_step_nonzero_after(digits64):
    module, train, val = digits64
    assert hypergradient(module, train, val, HP)["momentum"] == 0.0
    state = {n: {"momentum_buffer": torch.randn_like(p) * 0.1} for n, p in module.named_parameters()}
    torch.manual_seed(1)
    grads = hypergradient(module, train, val, HP, optimizer_state=state)
    assert grads["momentum"] != 0.0
    assert_matches_finite_differences(module, train, val, HP, "momentum", grads["momentum"],
                                      optimizer_state=state)


# independent references: torch.optim as a user would set it up from the search-space values
REAL_OPTIMIZERS = {
    "sgd": lambda params, hp: torch.optim.SGD(params, lr=10 ** hp["log_lr"], momentum=hp["momentum"],
                                              weight_decay=10 ** hp["log_wd"]),
    "adamw": lambda params, hp: torch.optim.AdamW(params, lr=10 ** hp["log_lr"], betas=(hp["momentum"], 0.999),
                                                  weight_decay=10 ** hp["log_wd"]),
}


def after_real_steps(optimizer, steps, hp):
    """A float64 digits module and its batches after `steps` real optimizer steps, with the
    optimizer's state by parameter name (copied: the optimizer goes on mutating its own)."""
    module, train, val = small_float64("digits", 16, optimizer=optimizer)
    real = REAL_OPTIMIZERS[optimizer](module.parameters(), hp)

    def real_step():
        real.zero_grad()
        F.cross_entropy(module(train[0]), train[1], label_smoothing=hp["label_smoothing"]).backward()
        real.step()

    for _ in range(steps):
        real_step()
    state = {n: {k: v.clone() for k, v in s.items()} for n, s in optimizers.state_by_name(real, module).items()}
    return module, train, val, state, real_step


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
@pytest.mark.parametrize("earlier_steps", [0, 2])
def test_lookahead_equals_a_real_optimizer_step(optimizer, earlier_steps):
    hp = {**HP, "aug_magnitude": 0.0}
    module, train, val, state, real_step = after_real_steps(optimizer, earlier_steps, hp)
    start = copy.deepcopy(module)  # the weights the lookahead steps from
    real_step()
    expected = F.cross_entropy(module(val[0]), val[1]).item()
    got = lookahead(start, train, val, hp, optimizer_state=state or None)
    assert abs(got - expected) < 1e-10


def test_adamw_hypergradient_matches_finite_differences():
    module, train, val, state, _ = after_real_steps("adamw", 0, HP)
    torch.manual_seed(1)
    assert hypergradient(module, train, val, HP)["momentum"] == 0.0  # beta1 on the first step
    module, train, val, state, _ = after_real_steps("adamw", 2, HP)
    torch.manual_seed(1)
    grads = hypergradient(module, train, val, HP, optimizer_state=state)
    for name in HP:
        assert_matches_finite_differences(module, train, val, HP, name, grads[name], optimizer_state=state)
    assert abs(grads["log_lr"]) > 1e-3 and grads["momentum"] != 0.0


def test_lookahead_leaves_module_untouched(digits64):
    module, train, val = digits64
    module.eval()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    hypergradient(module, train, val, HP)
    lookahead(module, train, val, HP)
    after = module.state_dict()
    assert not module.training  # mode restored
    assert all(torch.equal(before[k], after[k]) for k in before)  # incl. BatchNorm running stats
    assert all(p.grad is None for p in module.parameters())


def test_deterministic_under_manual_seed_and_caller_rng_untouched(digits64):
    module, train, val = digits64
    assert lookahead(module, train, val, HP, seed=5) == lookahead(module, train, val, HP, seed=5)
    assert lookahead(module, train, val, HP, seed=5) != lookahead(module, train, val, HP, seed=6)
    torch.manual_seed(3)
    hypergradient(module, train, val, HP)
    after_warmstart = torch.rand(1)
    torch.manual_seed(3)
    assert torch.equal(after_warmstart, torch.rand(1))  # trials stay paired with the baseline


def test_non_differentiable_hyperparameter_uses_finite_differences(digits64):
    module, train, val = digits64
    torch.manual_seed(1)
    autograd = hypergradient(module, train, val, HP)["log_lr"]
    spec = module.search_space["log_lr"]
    module.search_space.params["log_lr"] = type(spec)(**{**spec.__dict__, "differentiable": False})
    torch.manual_seed(1)
    grads = hypergradient(module, train, val, HP, fd_step=1e-6 / spec.range)
    assert grads.finite_difference == ("log_lr",)
    assert abs(grads["log_lr"] - autograd) / abs(autograd) < 1e-4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_hypergradient_on_cuda_matches_cpu_where_the_draws_agree(digits64):
    """The augmentation draws its shifts and noise from each device's own generator. At
    magnitude 0 the draws have no effect on the batch, so every other hyper-gradient must agree
    with the CPU's; the magnitude's own depends on the draws: it is checked on CUDA against
    CUDA's central differences (the same draws)."""
    module, train, val = digits64
    hp = {**HP, "aug_magnitude": 0.0}
    torch.manual_seed(1)
    cpu = hypergradient(module, train, val, hp)
    on_cuda = module.cuda(), [t.cuda() for t in train], [t.cuda() for t in val]
    torch.manual_seed(1)
    cuda = hypergradient(*on_cuda, hp)
    for name in set(cpu) - {"aug_magnitude"}:
        assert cuda[name] == pytest.approx(cpu[name], rel=1e-6, abs=1e-12), name
    assert_matches_finite_differences(*on_cuda, hp, "aug_magnitude", cuda["aug_magnitude"])


def test_under_bf16_autocast_the_hyper_gradient_keeps_its_direction_and_size():
    """The trial's precision (bf16 autocast) is the hyper-step's too: its hyper-gradient is a step
    direction within a few percent of float32's (docs/warmstart.md), on a real digits batch."""
    torch.manual_seed(0)
    module, data = ohgw.tasks.load("digits", hparams=HP)
    data.setup("fit")
    train = next(iter(data.train_dataloader()))
    val = [t[:len(train[1])] for t in next(iter(data.val_dataloader()))]
    fp32 = hypergradient(module, train, val, HP)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bf16 = hypergradient(module, train, val, HP)
    assert bf16["momentum"] == fp32["momentum"] == 0.0  # no path on the first step, in any precision
    for name in ("log_lr", "log_wd", "label_smoothing", "aug_magnitude"):
        assert bf16[name] == pytest.approx(fp32[name], rel=0.1), name
