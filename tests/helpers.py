"""Shared by the tests: compose the real Hydra config, run the real entry points."""
import json
import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from ohgw import CONF_DIR

ROOT = CONF_DIR.parent
TRIAL = ROOT / "src" / "ohgw" / "trial.py"


def compose_config(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def trial_config(tmp: Path, *overrides: str) -> Path:
    """A resolved trial config like the replicate runner writes."""
    from ohgw.tasks import build
    from ohgw.tuning.replicate import runtime
    from ohgw.warmstart.measure import flops_profile
    from ohgw.config import instantiate

    cfg = compose_config("n_workers=1", *overrides)
    rt = runtime(cfg)
    rt["flops"] = flops_profile(build(cfg.task), instantiate(cfg.warmstart))
    path = tmp / "trial_config.yaml"
    OmegaConf.save(OmegaConf.create({**OmegaConf.to_container(cfg, resolve=True), "runtime": rt}), path)
    return path


def trial_args(config: Path, trial_dir: Path, epochs: int, **hp) -> list[str]:
    hp = {"log_lr": -1.0, "log_wd": -4.0, "momentum": 0.9, "label_smoothing": 0.1,
          "aug_magnitude": 0.3, **hp}
    args = [f"--{k}={v}" for k, v in hp.items()]
    return [a for kv in args for a in kv.split("=", 1)] + [
        "--epochs", str(epochs), "--ohgw_config", str(config),
        "--st_checkpoint_dir", str(trial_dir / "checkpoints")]


def start_trial(config: Path, trial_dir: Path, epochs: int, **hp) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(TRIAL), *trial_args(config, trial_dir, epochs, **hp)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, timeout=300):
    out, err = proc.communicate(timeout=timeout)
    reports = [json.loads(line.split(": ", 1)[1]) for line in out.splitlines()
               if line.startswith("[tune-metric]: ")]
    return proc.returncode, reports, err


def run_cli(*args: str, cwd=ROOT, timeout=600, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=env)
