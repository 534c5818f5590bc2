"""ohgw-bench: One-Shot Hyper-Gradient Warm-Starts for bandit-style HPO schedulers."""
from pathlib import Path

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
