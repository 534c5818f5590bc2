"""Where a result came from: the project's git commit and the versions of what computed it."""
from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("torch", "lightning", "syne-tune", "optuna")  # optuna: scheduler=optuna_tpe
PROJECT_ROOT = Path(__file__).resolve().parents[3]


def git_commit(root: Path = PROJECT_ROOT) -> str:
    """HEAD of the checkout the code runs from ('-dirty' when files differ from it), or
    'unknown' outside a checkout (an installed wheel, no git)."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10)
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return head.stdout.strip() + ("-dirty" if dirty else "")


def versions() -> dict:
    out = {}
    for package in PACKAGES:
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = None
    return out
