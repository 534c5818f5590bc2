"""A stand-in trial for the fork server (tests/test_throughput.py): prints the GPUs the
backend gave it, then sleeps for --sleep seconds if given."""
import os
import time

PROCESS_START = time.time()


def main(argv) -> int:
    print("[devices]", os.environ.get("CUDA_VISIBLE_DEVICES"), flush=True)
    if "--sleep" in argv:
        time.sleep(float(argv[argv.index("--sleep") + 1]))
    return 0
