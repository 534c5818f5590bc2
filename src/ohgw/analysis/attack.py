"""Adversarial token substitutions against a replicate's best language model: a gradient-guided
(HotFlip-style, Ebrahimi et al., 2018) attack that needs nothing from outside.

    python -m ohgw.analysis.attack <job dir> [--sequences 64] [--flips 4] [--candidates 8]

It stands in for TextFooler, which the study names but which needs word embeddings and a
synonym resource that cannot be had offline. The attack replaces tokens of a test block's input
and measures the model's perplexity on the block's own next tokens (the targets stay clean, so a
flip changes what the model reads, never what it must predict). For each sequence, greedily:
the gradient of its loss in the input embeddings ranks every (position, replacement token) pair
by the first-order gain (e_new - e_old) . dL/de; the `candidates` best pairs are tried for real
and the one raising the loss most is kept; up to `flips` rounds, each position flipped once, and
a sequence none of whose candidates raises its loss keeps its tokens from then on. The perplexity
of the attacked inputs against the clean ones is written to <job dir>/attack.json
(ohgw.results.contract.ATTACK).

Unlike the rest of the analysis this runs the model: it reads the best trial's checkpoint.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch

from ohgw.hyperparams.loss import validation_loss
from ohgw.results.contract import ATTACK
from ohgw.results.io import atomic_write_text, load_record


def best_model(job_dir: Path):
    """(the best trial's module with its final weights, the task, the trial id)."""
    from omegaconf import OmegaConf

    from ohgw.tasks import build

    record = load_record(job_dir)
    cfg = OmegaConf.load(job_dir / "trial_config.yaml")
    task = build(cfg.task)
    trial_id = int(record["best_trial_id"])
    sampled = next(c for c in record["sampled_configs"] if c["trial_id"] == trial_id)
    module = task.module({k: v for k, v in sampled.items() if k != "trial_id"})
    checkpoint = torch.load(job_dir / "tuner" / str(trial_id) / "checkpoints" / "last.ckpt", weights_only=False)
    module.load_state_dict(checkpoint["state_dict"])
    return module.eval(), task, trial_id


def sequence_losses(net, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Each sequence's summed next-token cross-entropy."""
    with torch.no_grad():
        return validation_loss(net(x), y, reduction="none").view(len(x), -1).sum(1)


def hotflip(net, x: torch.Tensor, y: torch.Tensor, flips: int, candidates: int) -> torch.Tensor:
    """Inputs `x` (N, T) with up to `flips` tokens per sequence replaced (targets `y` untouched)."""
    embedding = net.model.transformer.wte.weight
    vocab = embedding.shape[0]
    x = x.clone()
    flipped = torch.zeros_like(x, dtype=torch.bool)
    active = torch.ones(len(x), dtype=torch.bool)
    loss_now = sequence_losses(net, x, y)
    rows = torch.arange(len(x))
    for _ in range(flips):
        inputs = embedding[x].detach().requires_grad_()
        logits = net.model(inputs_embeds=inputs, attention_mask=torch.ones_like(x), use_cache=False).logits
        (grad,) = torch.autograd.grad(validation_loss(logits.transpose(1, 2), y, reduction="sum"), inputs)
        # first-order gain of putting token w at position i: (e_w - e_old) . g_i
        gain = grad @ embedding.T - (grad * inputs).sum(-1, keepdim=True)  # (N, T, V)
        gain[flipped] = -math.inf  # each position flips once
        gain.scatter_(2, x.unsqueeze(-1), -math.inf)  # a token for itself is no flip
        top = gain.flatten(1).topk(candidates, dim=1).indices  # (N, k) over positions x tokens
        position, token = top // vocab, top % vocab
        tried = x.unsqueeze(1).repeat(1, candidates, 1)
        tried.scatter_(2, position.unsqueeze(-1), token.unsqueeze(-1))
        losses = sequence_losses(net, tried.flatten(0, 1), y.repeat_interleave(candidates, 0)).view(len(x), -1)
        best_loss, best = losses.max(1)
        take = active & (best_loss > loss_now)
        where, what = position[rows, best], token[rows, best]
        x[rows[take], where[take]] = what[take]
        flipped[rows[take], where[take]] = True
        loss_now = torch.where(take, best_loss, loss_now)
        active &= take
    return x


def perplexity(net, x: torch.Tensor, y: torch.Tensor) -> float:
    return math.exp(float(sequence_losses(net, x, y).sum()) / y.numel())


def attack(job_dir: Path, sequences: int, flips: int, candidates: int) -> dict:
    module, task, trial_id = best_model(job_dir)
    _, _, (x_test, y_test) = task.cached_splits()
    x, y = x_test[:sequences], y_test[:sequences]
    # a few sequences at a time: the gains are (sequences x tokens x vocabulary) floats
    attacked = torch.cat([hotflip(module.net, xs, ys, flips, candidates) for xs, ys in zip(x.split(8), y.split(8))])
    out = {"trial_id": trial_id, "sequences": len(x), "tokens_per_sequence": x.shape[1],
           "flips_per_sequence": flips, "tokens_changed": int((attacked != x).sum()),
           "ppl_clean": perplexity(module.net, x, y), "ppl_attacked": perplexity(module.net, attacked, y)}
    out["ppl_ratio"] = out["ppl_attacked"] / out["ppl_clean"]
    atomic_write_text(job_dir / ATTACK, json.dumps(out, indent=2) + "\n")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ohgw.analysis.attack", description=__doc__.split("\n\n")[0])
    parser.add_argument("job_dir", type=Path)
    parser.add_argument("--sequences", type=int, default=64, help="test sequences attacked (5,000 on GPUs)")
    parser.add_argument("--flips", type=int, default=4, help="tokens replaced per sequence, at most")
    parser.add_argument("--candidates", type=int, default=8, help="first-order best flips tried for real per round")
    args = parser.parse_args(argv)
    print(json.dumps(attack(args.job_dir, args.sequences, args.flips, args.candidates), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
