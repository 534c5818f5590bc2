"""Cost of one warm-start (k=1 hyper-step) against one normal training step.

    python scripts/bench_warmstart.py [--tasks digits fashion_mnist] [--devices cpu cuda] [task settings]
    python scripts/bench_warmstart.py network.arch=resnet50 batch_size=32 --tasks fashion_mnist  # settings before --tasks
    python scripts/bench_warmstart.py augmentation=randaugment cutout=16 --tasks fashion_mnist --devices cuda --precision bf16

For each task and device: median seconds of one training step (forward, backward,
optimizer step) and of one warm-start (the hyper-gradient at the step's batch and one
validation batch of the same size), their ratio, and peak memory above the level before
each (CUDA max-allocated on a GPU; sampled RSS on CPU). Goals: ratio <= 3, memory <= 1.5x.
`--precision bf16` runs both under bf16 autocast, as a trial that trains in bf16 runs them
(Lightning's bf16-mixed).
"""
import argparse
import statistics
import sys

import torch

import ohgw.tasks
from ohgw.hyperparams import optimizers
from ohgw.hyperparams.objective import training_loss
from ohgw.warmstart import hypergradient
from ohgw.warmstart.lookahead import hypergradient_flops
from ohgw.warmstart.cost import Cost, training_step_flops

MB = 2 ** 20
TASK_OVERRIDES = {"fashion_mnist": {"train_size": 1024, "val_size": 1024}}  # one batch is enough


def measure(fn, device, repeats):
    """Median seconds at steady state, and median peak MB apart: measuring the peak on CPU
    first returns free memory to the system, and faulting it back in slows the block."""
    for _ in range(2):  # warm-up: allocator pools, kernels, thread pools
        fn()
    seconds = []
    for _ in range(repeats):
        with Cost(device, memory=False) as cost:
            fn()
        seconds.append(cost.seconds)
    peaks = []
    for _ in range(repeats):
        with Cost(device) as cost:
            fn()
        peaks.append(cost.peak_bytes)
    return statistics.median(seconds), statistics.median(peaks) / MB


def settings(pairs: list[str]) -> dict:
    """key=value task settings (dotted keys nest: network.arch=resnet50) as a nested dict."""
    import yaml

    out: dict = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        *parents, leaf = key.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(value)
    return out


def rows(module) -> list[tuple[str, list[str]]]:
    """Which hyperparameters are differentiated, by what their hyper-gradient needs: all the
    movable ones; those whose path skips the training forward pass (no second-order pass:
    not the augmentation, not a dropout); those acting through the optimizer step alone."""
    movable = [p.name for p in module.search_space if p.continuous and module.accepts.movable(p.name)]
    first_order = [n for n in movable if not module.accepts.forward_acting(n)]
    step_only = [n for n in first_order if module.accepts.role(n) in ("optimizer", "schedule")]
    return [(f"all {len(movable)}", movable), ("no second-order pass", first_order), (", ".join(step_only), step_only)]


def load(task, overrides=None):
    return ohgw.tasks.load(task, **{**TASK_OVERRIDES.get(task, {}), **(overrides or {})})


def blocks(module, batch, val_batch, device, names=None, precision="32"):
    """(one training step, one warm-start) on these batches, as callables; under bf16 autocast
    where `precision` is bf16, as a trial that trains in bf16 (Lightning's bf16-mixed) runs both."""
    (x, y), (xv, yv) = batch, val_batch
    optimizer = optimizers.make(module.optimizer_name, module.parameters(), module.hp)

    def at_precision():  # around the forward pass and the hyper-step
        return torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=precision == "bf16")

    def train_step():
        with at_precision():
            loss = training_loss(module, x, y, module.hp)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def warm_start():
        with at_precision():
            hypergradient(module, (x, y), (xv, yv), module.hp, names=names)

    return train_step, warm_start


def bench(task, device, repeats, names=None, overrides=None, precision="32"):
    torch.manual_seed(0)
    module, data = load(task, overrides)
    data.setup("fit")
    module.to(device).train()
    x, y = (t.to(device) for t in next(iter(data.train_dataloader())))
    xv, yv = (t[: len(y)].to(device) for t in next(iter(data.val_dataloader())))
    train_step, warm_start = blocks(module, (x, y), (xv, yv), device, names, precision)
    flops = hypergradient_flops(module, (x, y), (xv, yv), module.hp, names=names) \
        / training_step_flops(module, (x, y))
    return measure(train_step, device, repeats), measure(warm_start, device, repeats), len(y), flops


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=["digits", "fashion_mnist"])
    parser.add_argument("--devices", nargs="+", default=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--precision", default="32", choices=["32", "bf16"])
    parser.add_argument("--rows", type=int, default=3, help="the first ROWS rows per task (all hyperparameters first)")
    parser.add_argument("settings", nargs="*", help="task settings key=value for every task")
    args = parser.parse_intermixed_args()  # options may follow the settings
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, precision {args.precision}"
          + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""))
    header = f"{'task':<14}{'device':<7}{'batch':>6} {'hyperparameters':<26}{'step s':>9}{'warm s':>9}{'ratio':>7}{'step MB':>9}{'warm MB':>9}{'ratio':>7}{'FLOPs':>7}"
    print(header)
    for task in args.tasks:
        for device in args.devices:
            for label, names in rows(load(task, settings(args.settings))[0])[: args.rows]:
                (ts, ms), (tw, mw), batch, flops = bench(task, device, args.repeats, names, settings(args.settings),
                                                         args.precision)
                print(f"{task:<14}{device:<7}{batch:>6} {label:<26}{ts:>9.4f}{tw:>9.4f}{tw / ts:>7.2f}"
                      f"{ms:>9.1f}{mw:>9.1f}{mw / ms if ms else float('nan'):>7.2f}{flops:>7.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
