"""exp2's shapes on one device: GPT-2 small (124M, 12 layers, width 768) on 1,024-token blocks
with a 50,257-token BPE vocabulary, AdamW, bf16 autocast, on the Python documentation (the
corpus that is there offline). Peak memory and seconds of
  - one evaluation of the validation split at exp2's evaluation size (256 blocks; the task
    evaluates them in chunks whose logits fit, Task.eval_batch_size), and its calibration;
  - one training step and one warm-start (all six hyperparameters: the dropouts' second-order
    pass through eager attention) at exp2's batch of 16 blocks, as scripts/bench_warmstart.py
    measures them.
An out-of-memory is reported as such, and the exit status is the number of parts that failed.

    python scripts/gpu_lm_memory.py --device cuda [data_dir=DIR tokenizer_dir=DIR]
    python scripts/gpu_lm_memory.py --prepare [data_dir=DIR tokenizer_dir=DIR]   # the tokenizer, ahead (CPU)
    python scripts/gpu_lm_memory.py --device cpu seq_len=64 vocab_size=2048 ...  # the same code, small
Settings key=value override the task's (network.n_layer=2 nests).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_warmstart import MB, blocks, measure, settings  # noqa: E402

import ohgw.tasks  # noqa: E402
from ohgw.tasks.lm import expected_calibration_error  # noqa: E402
from ohgw.warmstart.cost import Cost, process_memory_mb  # noqa: E402

# exp2's model, sequence, vocabulary and batch (conf/experiment/exp2.yaml), on the offline corpus
EXP2 = {"corpus": "python_docs", "seq_len": 1024, "vocab_size": 50257, "batch_size": 16,
        "train_blocks": 64, "eval_blocks": 256, "data_dir": "data/python-docs", "tokenizer_dir": "data/tokenizers",
        "network": {"n_layer": 12, "n_head": 12, "n_embd": 768, "n_positions": 1024}}


def task_of(overrides: dict):
    network = {**EXP2["network"], **overrides.get("network", {})}
    return ohgw.tasks.build(ohgw.tasks.config("lm", **{**EXP2, **overrides, "network": network}))


def part(name, fn) -> bool:
    """Run one part; an out-of-memory is a figure, not a crash."""
    try:
        fn()
        return True
    except torch.cuda.OutOfMemoryError as e:
        print(f"{name}: out of memory ({str(e).splitlines()[0][:160]})", flush=True)
        torch.cuda.empty_cache()
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--prepare", action="store_true", help="only train and cache the tokenizer")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("settings", nargs="*")
    args = parser.parse_args()
    task = task_of(settings(args.settings))
    task.cached_splits()  # reads the corpus, trains (or reads) the tokenizer
    if args.prepare:
        print(f"tokenizer cached in {task.tokenizer_dir}")
        return 0
    device = torch.device(args.device)
    torch.manual_seed(0)
    module, data = task.module(), task.datamodule()
    data.setup("fit")
    module.to(device).train()
    data.splits = {k: tuple(t.to(device) for t in v) for k, v in data.splits.items()}
    bf16 = lambda: torch.autocast(device.type, dtype=torch.bfloat16)  # noqa: E731  the trial's bf16-mixed
    n_params = sum(p.numel() for p in module.parameters())
    print(f"GPT-2 {n_params / 1e6:.1f}M parameters, blocks of {task.seq_len} tokens, vocabulary {task.vocab_size}, "
          f"bf16 autocast on {device}", flush=True)

    def evaluation():
        loader = data.val_dataloader()
        with Cost(device) as cost, bf16():
            loss = module.evaluate(loader).loss
            ece = expected_calibration_error(module, loader)
        print(f"evaluation: {len(loader.y)} blocks in chunks of {loader.batch_size}: {cost.seconds:.2f} s, "
              f"peak {cost.peak_bytes / MB:.0f} MiB above the model (loss {loss:.3f}, ECE {ece:.3f})", flush=True)

    x, y = next(iter(data.train_dataloader()))
    xv, yv = (t[: len(y)] for t in next(iter(data.val_dataloader())))
    train_step, warm_start = blocks(module, (x, y), (xv, yv), device, precision="bf16")

    def step_and_warm_start():
        (ts, ms), (tw, mw) = measure(train_step, device, args.repeats), measure(warm_start, device, args.repeats)
        print(f"batch {len(y)} blocks: training step {ts:.3f} s, {ms:.0f} MiB; warm-start (all six) {tw:.3f} s, "
              f"{mw:.0f} MiB; ratios {tw / ts:.2f} x time, {mw / ms if ms else float('nan'):.2f} x memory", flush=True)

    ok = [part("evaluation", evaluation), part("warm-start at batch 16", step_and_warm_start)]
    peak, reserved = process_memory_mb(device)
    print(f"process peak {peak:.0f} MiB, reserved {reserved:.0f} MiB", flush=True)
    return ok.count(False)


if __name__ == "__main__":
    sys.exit(main())
