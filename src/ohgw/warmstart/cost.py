"""Cost of a block of code: wall seconds and peak memory above the level at entry (CUDA
max-allocated on a GPU; sampled resident set size on CPU), and the process's own peaks. FLOPs
are counted apart, on the meta device, so that counting never slows the timed work."""
from __future__ import annotations

import ctypes
import threading
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from ohgw.hyperparams.objective import training_loss

_PAGE = 4096
MB = 2 ** 20
try:
    _LIBC = ctypes.CDLL("libc.so.6")
except OSError:  # not glibc: RSS sampling still works, less exactly
    _LIBC = None


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


def cuda_memory(device, reset: bool = False) -> tuple[int, int, int]:
    """(allocated now, peak allocated, peak reserved) in bytes once the device's queued work is
    done, the peaks since the last reset; with `reset`, the peaks start again from now. The
    one place the CUDA allocator is read or reset."""
    torch.cuda.synchronize(device)
    out = (torch.cuda.memory_allocated(device), torch.cuda.max_memory_allocated(device),
           torch.cuda.max_memory_reserved(device))
    if reset:
        torch.cuda.reset_peak_memory_stats(device)
    return out


# Each Cost resets CUDA's peaks to measure its own block: the process's peaks before that
# reset are kept here (device -> [peak allocated, peak reserved]), so that the trial's peak
# still counts a hyper-step measured before a later training step.
_EARLIER_PEAKS: dict[str, list[int]] = {}


def _keep_peaks(device, allocated: int, reserved: int) -> None:
    kept = _EARLIER_PEAKS.setdefault(str(device), [0, 0])
    kept[0], kept[1] = max(kept[0], allocated), max(kept[1], reserved)


def process_memory_mb(device) -> tuple[float, float]:
    """(peak, peak reserved) of this process so far, MiB. On a GPU: CUDA max-allocated and
    max-reserved over the whole process, across the resets each Cost makes (reserved memory
    is what decides how many trials fit on a device); on CPU: the peak resident set (VmHWM:
    a forked trial starts from the fork server's pages), and NaN reserved."""
    device = torch.device(device)
    if device.type == "cuda":
        _, allocated, reserved = cuda_memory(device)
        kept = _EARLIER_PEAKS.get(str(device), [0, 0])
        return max(allocated, kept[0]) / MB, max(reserved, kept[1]) / MB
    return _peak_rss() / MB, float("nan")


def _peak_rss() -> int:
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) * 1024
    except (OSError, StopIteration):  # not Linux
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class Cost:
    """with Cost(device) as c: ...  then c.seconds, c.peak_bytes.

    memory=False times the block alone: on CPU the peak measurement first returns free heap
    memory to the system, and the block then pays for faulting it back in."""

    def __init__(self, device: torch.device, memory: bool = True):
        self.device = torch.device(device)
        self.memory = memory
        self.seconds = self.peak_bytes = 0

    def __enter__(self):
        if self.device.type == "cuda":
            self._base, allocated, reserved = cuda_memory(self.device, reset=True)
            _keep_peaks(self.device, allocated, reserved)
        elif self.memory:
            self._start_rss_sampler()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            _, allocated, _ = cuda_memory(self.device)
            self.peak_bytes = allocated - self._base
        elif self.memory:
            self._stop_rss_sampler()
        self.seconds = time.perf_counter() - self._t0

    # On CPU, freed heap memory stays resident and would be reused unseen: return it to the
    # system first, so that RSS grows with every byte the block needs beyond what is live.
    # (Not mallopt(M_MMAP_THRESHOLD): setting it ends glibc's dynamic threshold for the rest
    # of the process, and every later training step then pays mmap page faults, ~30% slower.)
    def _start_rss_sampler(self):
        if _LIBC is not None:
            _LIBC.malloc_trim(0)
        self._base = self._peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        while not self._stop.wait(0.0005):
            self._peak = max(self._peak, _rss())

    def _stop_rss_sampler(self):
        self._peak = max(self._peak, _rss())
        self._stop.set()
        self._thread.join()
        self.peak_bytes = self._peak - self._base


def training_step_flops(module, batch) -> int:
    """FLOPs of one training step's forward and backward, counted on the meta device."""
    meta = module.meta_copy()
    x, y = (t.to("meta") for t in batch)
    with FlopCounterMode(display=False) as counter:
        training_loss(meta, x, y, meta.hp).backward()
    return counter.get_total_flops()


def shape_key(hp: dict, accepts) -> str:
    """What FLOPs per step depend on: every hyperparameter but the continuous ones that only
    set a value (learning rate, dropout rate, ...), i.e. batch size, optimizer, the network's
    shape. Trials of one replicate with the same key have the same FLOPs."""
    import json

    shaping = {k: v for k, v in sorted(hp.items())
               if not isinstance(v, float) or (k in accepts.network and k not in accepts.live)}
    return json.dumps(shaping, sort_keys=True, default=str)


def flops_profile(task, variant, hparams: dict | None = None) -> dict:
    """FLOPs of one hyper-step of `variant` and of one training step on `task`'s batch
    shapes at `hparams` (default: the space's midpoint), counted on the meta device."""
    from ohgw.warmstart.lookahead import hypergradient_flops

    module = task.module(hparams)
    data = task.datamodule(batch_size=module.hp["batch_size"])
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    x_val, y_val = next(iter(data.val_dataloader()))
    val_batch = (x_val[: len(batch[1])], y_val[: len(batch[1])])
    targets = variant.targets(task.space, task.hyperparameters.movable)
    hyperstep = hypergradient_flops(module, batch, val_batch, module.hp, names=targets) \
        if variant.active and targets else 0
    return {"hyperstep": hyperstep, "step": training_step_flops(module, batch)}
