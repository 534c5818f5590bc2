"""Every configured scheduler, built as a replicate builds it (ohgw.tuner.schedulers), run by
Syne Tune's own Tuner on its simulated backend (UserBlackboxBackend: simulated time, no trial
processes) over made-up learning curves on digits' search space: one line per scheduler with
the trials it started, the results it got and a digest of its decisions and the
configurations it proposed. Run under two NumPy versions, equal lines show that the parts of
Syne Tune 0.13 the harness uses behave the same (the GPU machine has NumPy 2).

    python scripts/scheduler_probe.py [--results 40] [--schedulers asha pasha ...]

transfer_bo and aux_net learn from earlier records and are left out; optuna_tpe is skipped,
saying so, where Optuna is not installed (the GPU machine's wheels leave it out).
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import logging
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

from ohgw import CONF_DIR

LEARNING_FROM_RECORDS = ("transfer_bo", "aux_net")
NEEDS = {"optuna_tpe": "optuna"}  # schedulers whose package the GPU machine need not have: skipped without it


def curves(task, metric: str):
    """A Blackbox whose learning curve is a smooth deterministic function of the configuration
    (best near the middle of each numeric range) and the epoch; an epoch takes 1 s."""
    from syne_tune.blackbox_repository.blackbox import Blackbox
    from syne_tune.config_space import randint

    from ohgw.tuner.schedulers import config_space

    space = {k: v for k, v in config_space(task).items() if hasattr(v, "sample")}
    epochs = task.max_epochs

    class Curves(Blackbox):
        fidelity_values = np.arange(1, epochs + 1)

        def __init__(self):
            super().__init__(configuration_space=space, fidelity_space={"epoch": randint(1, epochs)},
                             objectives_names=[metric, "elapsed_s"])

        def fidelity_name(self):
            return "epoch"

        def _objective_function(self, configuration, fidelity=None, seed=None):
            score = 0.0
            for name, domain in space.items():
                value = configuration[name]
                if hasattr(domain, "lower") and isinstance(value, (int, float)):
                    middle = (domain.lower + domain.upper) / 2
                    score -= ((value - middle) / (domain.upper - domain.lower + 1e-9)) ** 2
                else:
                    score -= 0.05 * (sorted(map(str, domain.categories)).index(str(value)) if hasattr(domain, "categories") else 0)
            rows = [[1 - math.exp(-e / 3) * (1 - 0.5 * math.exp(score)), float(e)] for e in self.fidelity_values]
            return np.array(rows)

    return Curves()


def compose(*overrides: str):
    from hydra import compose as hydra_compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=list(overrides))


def probe(name: str, results: int) -> str:
    from syne_tune import StoppingCriterion, Tuner
    from syne_tune.backend.simulator_backend.simulator_callback import SimulatorCallback
    from syne_tune.blackbox_repository.simulated_tabular_backend import UserBlackboxBackend

    from ohgw.tasks import build
    from ohgw.tuner.schedulers import MAX_RESOURCE_ATTR, make_scheduler
    import random

    np.random.seed(0), random.seed(0)  # each probe alone: schedulers that draw from the global streams
    cfg = compose(f"scheduler={name}")
    task = build(cfg.task)
    scheduler = make_scheduler(cfg.scheduler, task, 0, {})
    backend = UserBlackboxBackend(curves(task, task.metric), elapsed_time_attr="elapsed_s",
                                  max_resource_attr=MAX_RESOURCE_ATTR)
    # simulated time only: Syne Tune would add the scheduler's own real seconds, so that the
    # order of events, and a GP scheduler's choices, would depend on the machine's load
    backend.time_keeper.real_time_since_last_recent_exit = lambda: 0.0
    with tempfile.TemporaryDirectory() as tmp:
        import os

        os.environ["SYNETUNE_FOLDER"] = tmp
        tuner = Tuner(trial_backend=backend, scheduler=scheduler, n_workers=2, sleep_time=0,
                      stop_criterion=StoppingCriterion(max_num_evaluations=results), callbacks=[SimulatorCallback()],
                      results_update_interval=3600, print_update_interval=3600, save_tuner=False,
                      tuner_name="probe", suffix_tuner_name=False)
        tuner.run()
        frame = tuner.tuning_status.get_dataframe()
    rows = sorted(json.dumps({k: (round(v, 6) if isinstance(v, float) else v) for k, v in trial.config.items()},
                             sort_keys=True, default=str) for trial in backend._trial_dict.values())
    # the last result and status of every trial; st_tuner_time adds real seconds to the simulated ones
    decisions = frame.drop(columns=["st_tuner_time"], errors="ignore").to_json(orient="records", double_precision=6)
    digest = hashlib.sha256(("\n".join(rows) + decisions).encode()).hexdigest()[:16]
    return f"{name:<16} trials {len(rows):>3}  results {results}  configs and decisions {digest}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=int, default=40)
    parser.add_argument("--schedulers", nargs="*")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    names = args.schedulers or sorted(p.stem for p in (CONF_DIR / "scheduler").glob("*.yaml")
                                      if p.stem not in LEARNING_FROM_RECORDS)
    if len(names) > 1:  # each in a process of its own: what one leaves in a process changed another's run
        return alone(names, args.results)
    print(f"numpy {np.__version__} ({Path(np.__file__).parent})")
    package = NEEDS.get(names[0])
    if package is not None and importlib.util.find_spec(package) is None:
        print(f"{names[0]:<16} skipped: {package} is not installed", flush=True)
        return 0
    try:
        print(probe(names[0], args.results), flush=True)
        return 0
    except Exception as e:  # noqa: BLE001 - a scheduler that breaks is the finding
        print(f"{names[0]:<16} FAILED {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", flush=True)
        return 1


def alone(names: list[str], results: int) -> int:
    import os
    import subprocess
    from concurrent.futures import ThreadPoolExecutor

    def run(name):
        return subprocess.run([sys.executable, __file__, "--results", str(results), "--schedulers", name],
                              capture_output=True, text=True)

    with ThreadPoolExecutor(max(1, min(8, len(os.sched_getaffinity(0))))) as pool:
        done = list(pool.map(run, names))
    lines = [line for p in done for line in p.stdout.splitlines() if line.strip()]
    print(lines[0])  # numpy's version, as every process printed it
    for p in done:
        print(p.stdout.splitlines()[-1] if p.stdout.strip() else f"FAILED (exit {p.returncode}) {p.stderr[-300:]}")
    return sum(p.returncode != 0 for p in done)


if __name__ == "__main__":
    sys.exit(main())
