"""Shared by the tests: compose the real Hydra config, run the real entry points."""
import json
import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir

from ohgw import CONF_DIR

ROOT = CONF_DIR.parent
TRIAL = ROOT / "src" / "ohgw" / "trial" / "main.py"
# replicates written before the results contract (schema version 1): the analysis must read them
RESULTS_V1 = ROOT / "tests" / "fixtures" / "results_v1"
# what differs between two runs of the same replicate: times and memory, not results
TIMING = {"wallclock_s", "elapsed_s", "train_s", "first_batch_s", "process_peak_mb", "process_reserved_mb",
          "ws_seconds", "ws_startup_s", "ws_peak_mb", "step_seconds", "step_peak_mb"}
HP = {"log_lr": -1.0, "log_wd": -4.0, "momentum": 0.9, "label_smoothing": 0.1, "aug_magnitude": 0.3}


def compose_config(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def trial_config(tmp: Path, *overrides: str) -> Path:
    """The trial config a replicate writes (ohgw.tuner.replicate.write_trial_config)."""
    from ohgw.config import instantiate
    from ohgw.tasks import build
    from ohgw.tuner.replicate import write_trial_config
    from ohgw.tuner.runtime import runtime

    cfg = compose_config("n_workers=1", *overrides)
    return write_trial_config(cfg, tmp, build(cfg.task), instantiate(cfg.warmstart), runtime(cfg))


def trial_args(config: Path, trial_dir: Path, epochs: int, **hp) -> list[str]:
    hp = {**HP, **hp}
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


def edit_record(job_dir: Path, change) -> None:
    """Apply `change` to a copied replicate's replicate.json (the analysis tests' bad input)."""
    record = json.loads((job_dir / "replicate.json").read_text())
    change(record)
    (job_dir / "replicate.json").write_text(json.dumps(record))


def with_controls(runs: Path) -> None:
    """RESULTS_V1 copied to `runs`, made a study with controls: tau lowered so that every seed reaches
    it, and copies standing in for an A/A control (aa0, aa1: baseline seeds 0, 1) and a planted
    positive control (planted0, planted1: ohgw seeds 0, 1), their role implied by their direction."""
    import shutil

    for job in ("0", "1", "2", "3"):
        edit_record(runs / job, lambda r: r.update(tau=0.7))
    for source, copy, direction in (("0", "aa0", "zero"), ("1", "aa1", "zero"),
                                    ("2", "planted0", "planted"), ("3", "planted1", "planted")):
        shutil.copytree(runs / source, runs / copy)
        name = copy.rstrip("01")
        edit_record(runs / copy, lambda r: (r.update(warmstart=name, eta_h=None),
                                            r["config"]["warmstart"].update(direction=direction, name=name)))


def refused(capsys, *args) -> str:
    """The one stderr line of a refused analysis (`python -m ohgw.analysis ARGS`): exit status 2."""
    from ohgw.analysis.__main__ import main

    assert main([*map(str, args)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def fit(module, data, epochs: int, callbacks=(), validate: bool = False):
    """A quiet Lightning fit on CPU (no logger, checkpoints or progress bar; no validation
    unless asked for); returns the trainer."""
    import lightning as L

    trainer = L.Trainer(max_epochs=epochs, callbacks=list(callbacks), logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                        accelerator="cpu", **({} if validate else {"limit_val_batches": 0}))
    trainer.fit(module, datamodule=data)
    return trainer


def trained(tuner: Path) -> set[tuple]:
    """Every epoch a trial process trained and reported (trials append to their std.out across
    attempts), as (trial, epoch, its cumulative seconds): a report printed again from a checkpoint
    has the seconds of the first; an epoch trained again has its own."""
    epochs = set()
    for out in tuner.glob("*/std.out"):
        for line in out.read_text().splitlines():
            if line.startswith("[tune-metric]: "):
                report = json.loads(line.split(": ", 1)[1])
                epochs.add((int(out.parent.name), report["epoch"], report["elapsed_s"]))
    return epochs
