"""Training throughput of a harness trial against a bare PyTorch loop: the same model, data,
batches, augmentation, loss, optimizer, precision and device, each epoch one pass over the
training examples and one over the validation examples (what the trial's `train_s` times).

    python scripts/bench_throughput.py                                   # ResNet-20, Fashion-MNIST subset, CPU
    python scripts/bench_throughput.py --device cuda task.precision=bf16 task.train_size=null
    python scripts/bench_throughput.py --task lm                         # the tiny GPT-2: tokens/s

The harness side is a real trial (`ohgw.trial.main.main`, in this process, warmstart=baseline)
reading the trial config a replicate writes; its images/s come from its reports (`train_s`). The
bare side builds the same task's network and batches and trains them with a plain loop. The
first epoch of each is left out (warm-up). Extra arguments are Hydra overrides of both.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

from ohgw import CONF_DIR

# per task: its settings here, and the hyperparameters both sides train with
DEFAULTS = {"fashion_mnist": ["task.train_size=1024", "task.val_size=512", "task.test_size=256",
                              "task.augmentation=randaugment"],
            "lm": []}
HP = {"fashion_mnist": {"log_lr": -1.0, "log_wd": -4.0, "momentum": 0.9, "label_smoothing": 0.1,
                        "aug_magnitude": 0.3},
      "lm": {"log_lr": -2.5, "log_wd": -2.0, "label_smoothing": 0.1, "attn_dropout": 0.1,
             "resid_dropout": 0.1, "warmup": 0.05}}


def config(task, overrides, device):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=[f"task={task}", *DEFAULTS[task], "warmstart=baseline",
                                                        "n_workers=1", f"device={device}", *overrides])


def items_per_example(task) -> int:
    """Images count one per example; a language model's blocks count their tokens."""
    return int(task.cached_splits()[0][1][0].numel())


def harness(cfg, epochs: int, out: Path) -> float:
    """Images (tokens) per second of a real trial, epochs 2.. (from its reports)."""
    from ohgw.config import instantiate
    from ohgw.tasks import build
    from ohgw.trial.main import main
    from ohgw.tuner.replicate import write_trial_config
    from ohgw.tuner.runtime import runtime

    task = build(cfg.task)
    trial_cfg = write_trial_config(cfg, out, task, instantiate(cfg.warmstart), runtime(cfg))
    argv = [a for k, v in HP[task.name].items() for a in (f"--{k}", str(v))] + [
        "--epochs", str(epochs), "--ohgw_config", str(trial_cfg), "--st_checkpoint_dir", str(out / "0" / "checkpoints")]
    printed = StringIO()
    with redirect_stdout(printed):
        assert main(argv) == 0
    reports = [json.loads(line.split(": ", 1)[1]) for line in printed.getvalue().splitlines()
               if line.startswith("[tune-metric]: ")]
    seconds = reports[-1]["train_s"] - reports[0]["train_s"]
    return task.steps_per_epoch(task.batch_size) * task.batch_size * items_per_example(task) * (epochs - 1) / seconds


def bare(cfg, epochs: int) -> float:
    """Images (tokens) per second of a plain loop over the same network, batches and steps."""
    import torch.nn.functional as F

    from ohgw.hyperparams import optimizers
    from ohgw.tasks import build
    from ohgw.tuner.runtime import runtime

    rt = runtime(cfg)
    device = torch.device("cuda" if rt["accelerator"] == "gpu" else "cpu")
    torch.set_num_threads(rt["threads_per_trial"])
    task = build(cfg.task)
    hp = HP[task.name]
    module = task.module(hp)
    net, augment = module.net.to(device), module.augment
    if rt["channels_last"]:  # as the trial's module (task.channels_last on a GPU)
        net = net.to(memory_format=torch.channels_last)
    data = task.datamodule(shuffle_seed=0, batch_size=task.batch_size)
    data.splits = {k: tuple(t.to(device) for t in v) for k, v in data.splits.items()}
    optimizer = optimizers.make(module.optimizer_name, net.parameters(), module.hp)  # a torch.optim optimizer
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=rt["precision"] == "bf16-mixed")
    seconds = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        net.train()
        for x, y in data.train_dataloader():
            with autocast:
                logits = net(x if augment is None else augment(x, hp["aug_magnitude"]))
                if logits.dim() == 3:  # a language model: (N, V, T), a view of (N, T, V) -> one row per token
                    logits, y = logits.transpose(1, 2).reshape(-1, logits.shape[1]), y.reshape(-1)
                loss = F.cross_entropy(logits, y, label_smoothing=hp["label_smoothing"])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        net.eval()
        with torch.no_grad(), autocast:
            for x, y in data.val_dataloader():
                (net(x).argmax(1) == y).float().mean().item()
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - t0)
    return len(data.train_dataloader()) * task.batch_size * items_per_example(task) * (epochs - 1) / sum(seconds[1:])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs of each side; medians")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--task", default="fashion_mnist", choices=sorted(DEFAULTS))
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_intermixed_args()  # options may follow the settings
    cfg = config(args.task, args.overrides, args.device)
    ours, theirs = [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            ours.append(harness(cfg, args.epochs, Path(tmp)))
        theirs.append(bare(cfg, args.epochs))
    med = lambda v: sorted(v)[len(v) // 2]  # noqa: E731
    unit = "tokens/s" if args.task == "lm" else "images/s"
    print(f"{cfg.task.name} {dict(cfg.task.network)} batch {cfg.task.batch_size} on {args.device} "
          f"({torch.get_num_threads()} threads), {args.epochs} epochs, {args.repeats} runs each:")
    print(f"  harness trial: {med(ours):8.1f} {unit}  (runs: {', '.join(f'{v:.1f}' for v in ours)})")
    print(f"  bare loop:     {med(theirs):8.1f} {unit}  (runs: {', '.join(f'{v:.1f}' for v in theirs)})")
    print(f"  ratio harness / bare: {med(ours) / med(theirs):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
