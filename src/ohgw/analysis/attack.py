"""Adversarial token substitutions against a replicate's best language model: a gradient-guided
(HotFlip-style, Ebrahimi et al., 2018) attack that needs nothing from outside.

    python -m ohgw.analysis.attack <job dir> [--sequences 64] [--flips 4]

It stands in for TextFooler, which the study names but which needs word embeddings and a
synonym resource that cannot be had offline. For each test sequence: the gradient of the loss in
the input embeddings ranks every (position, replacement token) pair by the first-order increase
of the loss, (e_new - e_old) . dL/de; the best `flips` positions take their best replacements
(one at a time, the gradient taken again after each). The perplexity of the attacked sequences
against the clean ones is written to <job dir>/attack.json (ohgw.results.contract.ATTACK).

Unlike the rest of the analysis this runs the model: it reads the best trial's checkpoint.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

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


def hotflip(net, ids: torch.Tensor, flips: int) -> torch.Tensor:
    """`ids` (N, T) with `flips` tokens per sequence replaced, greedily, one position at a time."""
    embedding = net.model.transformer.wte.weight
    ids = ids.clone()
    done = torch.zeros_like(ids, dtype=torch.bool)
    for _ in range(flips):
        inputs = embedding[ids].detach().requires_grad_()
        logits = net.model(inputs_embeds=inputs[:, :-1], attention_mask=torch.ones_like(ids[:, :-1]),
                           use_cache=False).logits
        loss = F.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="sum")
        (grad,) = torch.autograd.grad(loss, inputs)
        # first-order gain of putting token w at position i: (e_w - e_old) . g_i
        gain = grad @ embedding.T - (grad * inputs).sum(-1, keepdim=True)
        gain[:, -1] = -math.inf  # the last token is only a target
        gain[done] = -math.inf  # each position flips once
        best, token = gain.max(-1)
        position = best.argmax(-1)
        rows = torch.arange(len(ids))
        ids[rows, position] = token[rows, position]
        done[rows, position] = True
    return ids


def perplexity(net, ids: torch.Tensor) -> float:
    with torch.no_grad():
        return math.exp(F.cross_entropy(net(ids[:, :-1]), ids[:, 1:]).item())


def attack(job_dir: Path, sequences: int, flips: int) -> dict:
    module, task, trial_id = best_model(job_dir)
    _, _, (x_test, y_test) = task.cached_splits()
    ids = torch.cat([x_test[:sequences], y_test[:sequences, -1:]], dim=1)  # blocks of seq_len + 1 tokens
    # a few sequences at a time: the gains are (sequences x tokens x vocabulary) floats
    attacked = torch.cat([hotflip(module.net, chunk, flips) for chunk in ids.split(8)])
    out = {"trial_id": trial_id, "sequences": len(ids), "tokens_per_sequence": ids.shape[1],
           "flips_per_sequence": flips, "ppl_clean": perplexity(module.net, ids),
           "ppl_attacked": perplexity(module.net, attacked),
           "tokens_changed": int((attacked != ids).sum())}
    out["ppl_ratio"] = out["ppl_attacked"] / out["ppl_clean"]
    atomic_write_text(job_dir / ATTACK, json.dumps(out, indent=2) + "\n")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ohgw.analysis.attack", description=__doc__.split("\n\n")[0])
    parser.add_argument("job_dir", type=Path)
    parser.add_argument("--sequences", type=int, default=64, help="test sequences attacked (5,000 on GPUs)")
    parser.add_argument("--flips", type=int, default=4, help="tokens replaced per sequence")
    args = parser.parse_args(argv)
    print(json.dumps(attack(args.job_dir, args.sequences, args.flips), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
