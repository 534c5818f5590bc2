"""A stand-in trial for the fork server (tests/throughput/test_throughput.py): prints the
GPUs the backend gave it, then sleeps for --sleep seconds if given."""
import os
import time


def main(argv, started_at=None, data_cache=None) -> int:
    print("[devices]", os.environ.get("CUDA_VISIBLE_DEVICES"), flush=True)
    if "--sleep" in argv:
        time.sleep(float(argv[argv.index("--sleep") + 1]))
    return 0
