"""What the GPU check runs on, checked after its install: every pinned package imports from the
install's target folder at its pinned version, every requirement of those packages is met by
what this interpreter sees (Syne Tune 0.13's numpy < 1.27 excepted: the schedulers' behaviour on
NumPy 2 is probed apart, scripts/scheduler_probe.py), and NumPy, torch and the device compute
together. One line per figure.

    PYTHONPATH=TARGET:src python scripts/gpu_env.py TARGET --device cuda
"""
from __future__ import annotations

import argparse
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_install import pins  # noqa: E402

WAIVED = {("syne-tune", "numpy")}  # (package, requirement) not held to its version range


def check_packages(target: Path) -> list[str]:
    """Problems with the pinned packages (empty: none)."""
    problems = []
    for name, version in pins():
        dist = metadata.distribution(name)
        where = Path(dist.locate_file("")).resolve()
        if dist.version != version or not where.is_relative_to(target.resolve()):
            problems.append(f"{name} {dist.version} from {where}, not {version} from {target}")
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            try:
                have = metadata.version(req.name)
            except metadata.PackageNotFoundError:
                problems.append(f"{name} needs {req}: not installed")
                continue
            if (name, req.name.lower()) not in WAIVED and have not in req.specifier:
                problems.append(f"{name} needs {req}: {have} installed")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", type=Path)
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    problems = check_packages(args.target)
    for p in problems:
        print(f"problem: {p}")
    import numpy
    import torch

    import ohgw

    print(f"python {sys.version.split()[0]} ({sys.executable}); numpy {numpy.__version__}; torch {torch.__version__}; "
          f"ohgw from {Path(ohgw.__file__).parent}")
    device = torch.device(args.device)
    x = torch.from_numpy(numpy.arange(6.0).reshape(2, 3)).to(device)
    assert float((x @ x.T).sum().cpu()) == 83.0  # [[5, 14], [14, 50]]
    if device.type == "cuda":
        print(f"{torch.cuda.get_device_name(device)}: CUDA {torch.version.cuda}, "
              f"{torch.cuda.get_device_properties(device).total_memory / 2 ** 30:.0f} GiB, "
              f"bf16 {torch.cuda.is_bf16_supported()}")
    print(f"{len(pins())} pinned packages from {args.target}: {'ok' if not problems else f'{len(problems)} problems'}")
    return len(problems)


if __name__ == "__main__":
    sys.exit(main())
