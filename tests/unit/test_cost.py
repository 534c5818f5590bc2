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
