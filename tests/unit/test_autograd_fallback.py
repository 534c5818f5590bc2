"""Where autograd cannot take a hyperparameter's hyper-gradient (an op on its path without a
double backward), a central difference stands in for that hyperparameter alone, the trial
records it and trains on. The op: PyTorch's fused attention (scaled_dot_product_attention,
whose CPU kernel has no double backward), in the byte Transformer instead of its written-out
attention: the same function, so the written-out network's exact hyper-gradient is the
reference."""
import lightning as L
import pytest
import torch
import torch.nn.functional as F

from ohgw.tasks.language import Block
from ohgw.trial.warmstart_callback import WarmStartCallback
from ohgw.warmstart import hypergradient
from ohgw.warmstart.lookahead import CENTRAL_DIFFERENCE, hypergradient_flops
from ohgw.warmstart.variants import WarmStart
from tests.conftest import HP


class FusedAttentionBlock(Block):
    """The byte Transformer's block with PyTorch's fused causal attention."""

    def forward(self, h):
        n, t, w = h.shape
        q, k, v = (a.reshape(n, t, self.heads, -1).transpose(1, 2) for a in self.qkv(self.norm1(h)).chunk(3, -1))
        attn = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        h = h + self.out(attn.transpose(1, 2).reshape(n, t, w))
        return h + self.mlp(self.norm2(h))


def fused(module):
    for block in module.net.blocks:
        block.__class__ = FusedAttentionBlock
    return module


def test_the_fused_attention_has_no_double_backward():
    x = torch.randn(1, 2, 3, 4, dtype=torch.float64, requires_grad=True)
    g, = torch.autograd.grad(F.scaled_dot_product_attention(x, x, x, is_causal=True).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="not implemented"):
        torch.autograd.grad(g.pow(2).sum(), x)


def test_a_central_difference_stands_in_where_autograd_fails_and_for_that_hyperparameter_only(python_docs4):
    module, train, val = python_docs4
    torch.manual_seed(1)
    exact = hypergradient(module, train, val, HP)  # the written-out attention
    torch.manual_seed(1)
    # a small difference step: AdamW's first step is ~sign(g), so F jumps wherever a component
    # of g changes sign, and the default step (1e-3 of the range) straddles such jumps here
    grads = hypergradient(fused(module), train, val, HP, fd_step=1e-7)
    # the augmentation's magnitude acts on the forward pass: its dg/dm needs the double backward
    assert list(grads.fallbacks) == ["aug_magnitude"] and "not implemented" in grads.fallbacks["aug_magnitude"]
    assert grads.methods["aug_magnitude"] == CENTRAL_DIFFERENCE and grads.finite_difference == ("aug_magnitude",)
    assert {n for n, m in grads.methods.items() if m == "autograd"} == set(HP) - {"aug_magnitude"}
    for name in HP:  # the others by autograd as before; the stand-in close to the exact value
        assert grads[name] == pytest.approx(exact[name], rel=1e-4 if name == "aug_magnitude" else 1e-9, abs=1e-12)
    assert abs(exact["aug_magnitude"]) > 1e-4 and grads.loss == pytest.approx(exact.loss, rel=1e-12)
    # the replicate's FLOP count (meta device) takes the same way instead of failing
    assert hypergradient_flops(module, train, val, HP) > hypergradient_flops(module, train, val, HP, names=["log_lr"])


def test_the_trial_records_the_stand_in_and_trains_on(python_docs4, capfd):
    module, _, _ = python_docs4
    import ohgw.tasks

    _, data = ohgw.tasks.load("python_docs", hparams=HP, batch_size=4, seq_len=16, train_size=64)
    data.setup("fit")
    callback = WarmStartCallback(WarmStart("ohgw", "hypergradient", eta_h=0.1), rng_seed=0,
                                 flops={"hyperstep": 10, "step": 3})
    trainer = L.Trainer(max_epochs=1, limit_train_batches=4, limit_val_batches=1, callbacks=[callback],
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0, accelerator="cpu")
    trainer.fit(fused(module.float()), datamodule=data)
    record = callback.record
    assert record["ws_status"] == "applied" and record["ws_fd_fallback"] == 1
    assert record["hgvia_aug_magnitude"] == CENTRAL_DIFFERENCE and record["hgvia_log_lr"] == "autograd"
    assert record["psi_aug_magnitude"] != HP["aug_magnitude"] and trainer.global_step == 4
    assert "autograd failed for aug_magnitude" in capfd.readouterr().err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_the_lstms_hyper_step_completes_with_cudnns_rnn(fortunes_lstm4):
    """cuDNN's RNN has no double backward: on a GPU the word LSTM's forward-acting
    hyperparameters (dropout, augmentation) may need the stand-in; the others must not."""
    from ohgw.warmstart.lookahead import movable

    module, train, val = fortunes_lstm4
    hp = {name: module.hp[name] for name in movable(module)}
    module = module.float().cuda()
    batches = [[t.cuda().float() if t.is_floating_point() else t.cuda() for t in b] for b in (train, val)]
    grads = hypergradient(module, *batches, hp)
    assert set(grads) == set(hp) and all(g == g for g in grads.values())
    assert set(grads.fallbacks) <= {n for n in hp if module.accepts.forward_acting(n)}, grads.fallbacks
    print("fallbacks on cuda:", grads.fallbacks)
