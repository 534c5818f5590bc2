import pytest
import torch

from ohgw.warmstart.cost import Cost

MB = 2 ** 20


def _allocate(n_half_mb):
    return [torch.ones(MB // 8) for _ in range(n_half_mb)]


def test_cpu_peak_counts_memory_that_earlier_work_freed():
    # Freed heap memory below a live allocation stays resident; a block that reuses it
    # must still show its peak.
    torch.ones(MB)  # freeing an mmapped 4 MB chunk lifts glibc's mmap threshold: 512 KB go to the heap
    freed = _allocate(128)
    pin = torch.ones(1024)  # above them on the heap: keeps the heap from shrinking
    del freed
    with Cost("cpu") as cost:
        held = _allocate(128)
    assert len(held) == 128 and pin.sum() == 1024
    assert 60 * MB <= cost.peak_bytes <= 100 * MB


def test_time_only_cost_measures_no_memory():
    with Cost("cpu", memory=False) as cost:
        _allocate(8)
    assert cost.peak_bytes == 0 and cost.seconds > 0


class FakeAllocator:
    """CUDA's caching allocator as ohgw.warmstart.cost.cuda_memory reads it: bytes allocated,
    the peaks of allocated and reserved since the last reset (reserved memory stays cached)."""

    def __init__(self, allocated):
        self.allocated = self.peak = self.reserved = self.reserved_peak = allocated

    def use(self, nbytes):  # a block allocates nbytes, then frees them
        self.peak = max(self.peak, self.allocated + nbytes)
        self.reserved = max(self.reserved, self.allocated + nbytes)
        self.reserved_peak = max(self.reserved_peak, self.reserved)

    def measure(self, device, reset=False):
        out = (self.allocated, self.peak, self.reserved_peak)
        if reset:
            self.peak, self.reserved_peak = self.allocated, self.reserved
        return out


def test_the_process_peak_on_a_gpu_keeps_the_hyper_step_measured_before_a_training_step(monkeypatch):
    from ohgw.warmstart import cost

    gpu = FakeAllocator(allocated=100 * MB)  # weights, data
    monkeypatch.setattr(cost, "cuda_memory", gpu.measure)
    monkeypatch.setattr(cost, "_EARLIER_PEAKS", {})
    device = torch.device("cuda", 0)
    with Cost(device) as hyper_step:  # the warm-start: the largest block of the trial
        gpu.use(400 * MB)
    with Cost(device) as step:  # the yardstick step after it resets the peaks again
        gpu.use(50 * MB)
    assert (hyper_step.peak_bytes, step.peak_bytes) == (400 * MB, 50 * MB)
    peak_mb, reserved_mb = cost.process_memory_mb(device)
    assert peak_mb == 500 and reserved_mb == 500  # not the 150 MB since the last reset
    gpu.use(600 * MB)  # later training, past the warm-start
    assert cost.process_memory_mb(device) == (700, 700)


def test_the_process_peak_on_cpu_is_the_peak_resident_set_and_has_no_reserved_memory():
    from ohgw.warmstart.cost import process_memory_mb

    peak_mb, reserved_mb = process_memory_mb("cpu")
    held = torch.ones(64 * MB // 4)  # 64 MB touched
    after, _ = process_memory_mb("cpu")
    assert held.sum() == 64 * MB // 4 and after >= peak_mb and after > 64
    assert reserved_mb != reserved_mb  # NaN


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_the_process_peak_includes_a_block_measured_before_the_last_reset():
    from ohgw.warmstart.cost import process_memory_mb

    device = torch.device("cuda", torch.cuda.current_device())
    before, _ = process_memory_mb(device)
    with Cost(device) as big:
        x = torch.ones(256 * MB // 4, device=device)
        del x
    with Cost(device) as small:
        y = torch.ones(MB // 4, device=device)
        del y
    peak_mb, reserved_mb = process_memory_mb(device)
    assert big.peak_bytes >= 256 * MB and small.peak_bytes < 8 * MB
    assert peak_mb >= 256 and reserved_mb >= peak_mb and peak_mb >= before
