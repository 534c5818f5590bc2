"""Replicates in virtual time: the harness's schedulers run on a curves table (ohgw.simulate.table)
with Syne Tune's simulator backend (UserBlackboxBackend: each epoch ends when the recorded
`elapsed_time` says; SimulatorCallback: the tuner's clock is virtual).

A simulated replicate is a replicate: the same scheduler, built by ohgw.tuner.schedulers from the
same config (its proposals restricted to the table's sample, as a real run's `configurations`),
the same budget, the same records (replicate.json and results.csv, checksummed) with
`simulated` in the record, so that `python -m ohgw.analysis` reads them as it reads real ones. A
trial's curve is the table's for its configuration at one training seed, drawn from the replicate
seed and the trial id (ohgw.tuner.seeding): trial k of seed s trains with the same seed in every
variant, as in a real run. What it leaves out: launches and a real tuner's polling, every
interaction between trials (no contention for cores), and the time the scheduler takes to decide
(Syne Tune's simulator would add those real seconds to its clock, so that near-ties at many workers
resolved differently from one run to the next; here a replay is a function of the table, the
scheduler and the seed). With `--times REFERENCE` every variant runs on one clock, the reference
variant's epoch times plus its own warm-start seconds (ohgw.simulate.times): the recorded times
carry the machine's load while each variant was recorded.

    python -m ohgw.simulate.replay TABLE --scheduler asha --variants baseline,ohgw-eta0.01 \
        --seeds 1000 --n-workers 16 --out DIR [--times baseline] [--set budget.epochs=60]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from ohgw.errors import ConfigError, one_line_errors
from ohgw.results.contract import SAMPLED, SCHEMA_VERSION, test_metric
from ohgw.results.io import write_record, write_results, vouch
from ohgw.results.provenance import git_commit, versions
from ohgw.results.records import RecordsError
from ohgw.simulate.table import ELAPSED_TIME, load
from ohgw.tuner.budget import Budget
from ohgw.tuner.recorder import ResultsRecorder
from ohgw.tuner.seeding import TABLE_SEED_STREAM, scheduler_seed, trial_seed

SIMULATED_ACCELERATOR = "simulated"


@dataclass
class Plan:
    """One scheduler x one variant x one number of workers on one table: its config without the
    seed, and what every replicate of it shares."""
    cfg: DictConfig
    task: object
    variant: object
    label: str
    blackbox: object
    table: Path
    table_digest: str
    times: str | None = None  # the variant whose clock every variant replays on (None: each its own)
    diverged: dict | None = None  # (configuration values, seed index): epochs its curve reported

    def __post_init__(self):
        self.resolved = OmegaConf.to_container(self.cfg, resolve=True)  # once: a thousand seeds share it
        self.n_workers = int(self.cfg.n_workers)


def compose(table: Path, meta: dict, scheduler: str, label: str, n_workers: int, overrides=()) -> DictConfig:
    """The replicate's config, as run.py would compose it, with the recorded task and variant."""
    from hydra import compose as hydra_compose, initialize_config_dir

    from ohgw import CONF_DIR

    if label not in meta["variants"]:
        raise ConfigError(f"variant {label!r} is not in the table {table}; it has {', '.join(sorted(meta['variants']))}")
    recorded = meta["variants"][label]["warmstart"]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = hydra_compose("config", overrides=[f"task={meta['task_config_name']}", f"scheduler={scheduler}",
                                                 f"warmstart={recorded['name']}", f"n_workers={n_workers}",
                                                 *overrides])
    OmegaConf.set_struct(cfg, False)
    cfg.task = OmegaConf.create(meta["task_config"])  # as recorded
    cfg.warmstart = OmegaConf.create(recorded)
    cfg.scheduler.configurations = OmegaConf.create(meta["sample"])  # proposals from the table's sample only
    cfg.simulate = OmegaConf.create({"table_sha256": None, "times": None})  # the variant's curves: the record's `simulated`
    return cfg


def plan(table: Path, scheduler: str, label: str, n_workers: int, overrides=(), loaded=None,
         times: str | None = None) -> Plan:
    from ohgw.config import instantiate
    from ohgw.tasks import build
    from ohgw.tuner.schedulers import fixed_sample

    blackboxes, meta = loaded or load_on_clock(table, times)
    cfg = compose(table, meta, scheduler, label, n_workers, overrides)
    digest = table_digest(table)
    cfg.simulate.table_sha256 = digest
    cfg.simulate.times = times  # in the config, so in the key: another clock is another replicate
    task = build(cfg.task)
    budget = OmegaConf.to_container(cfg.budget, resolve=True)
    if budget.get("wallclock_s") is not None:
        raise ConfigError("budget.wallclock_s: a simulated replicate's clock is virtual; limit it by epochs, trials "
                          "or device_hours")
    blackbox = blackboxes[label]
    names = list(blackbox.hyperparameters.columns)
    sample = {tuple(c[n] for n in names) for c in fixed_sample(task, **meta["sample"])}
    if sample != set(blackbox.hyperparameters.itertuples(index=False, name=None)):
        raise RecordsError(f"{table}: its configurations are not the sample {meta['sample']} of task {task.name}")
    return Plan(cfg, task, instantiate(cfg.warmstart), label, blackbox, Path(table), digest, times,
                diverged_curves(meta, label, blackbox))


def diverged_curves(meta: dict, label: str, blackbox) -> dict:
    """{(configuration values, seed index): epochs reported} of the variant's curves that diverged
    (ohgw.simulate.table carries their last epoch to the end; a replay fails them where they failed)."""
    rows = list(blackbox.hyperparameters.itertuples(index=False, name=None))
    return {(rows[c["config"]], meta["seeds"].index(c["seed"])): c["epochs"] for c in meta["unfinished"].get(label, [])}


def load_on_clock(table: Path, times: str | None) -> tuple[dict, dict]:
    """The table, every variant on `times`' clock where it is given."""
    from ohgw.simulate.times import common_times

    blackboxes, meta = load(table)
    return (common_times(blackboxes, times) if times else blackboxes), meta


def table_digest(table: Path) -> str:
    """sha256 over the table's files: a simulated record names the table it replayed."""
    digest = hashlib.sha256()
    for p in sorted(Path(table).iterdir()):
        if p.is_file():
            digest.update(p.name.encode() + p.read_bytes())
    return f"sha256:{digest.hexdigest()}"


class SimulatedRecorder(ResultsRecorder):
    """The recorder on the simulator's virtual clock: a row's wallclock_s is the virtual time its
    epoch ended (the simulator's event time); device-seconds are the recorded elapsed_s at each
    trial's last report."""

    def on_tuning_start(self, tuner):
        self.event_time = 0.0

    def now(self) -> float:
        return self.event_time

    def on_fetch_status_results(self, trial_status_dict, new_results):
        pass

    def on_trial_result(self, trial, status, result, decision):
        from syne_tune.constants import ST_TUNER_TIME

        self.event_time = float(result[ST_TUNER_TIME])
        # the table's float32 values as the float64 a trial's report gives (a float32 written as such
        # is printed shorter, and reads back as another number)
        super().on_trial_result(trial, status, {k: float(v) if isinstance(v, np.floating) else v
                                                for k, v in result.items() if k != ELAPSED_TIME}, decision)

    def device_s(self) -> float:
        return float(sum(self.device_at_report.values()))


def _backend_class():
    from syne_tune.backend.simulator_backend.time_keeper import SimulatedTimeKeeper
    from syne_tune.blackbox_repository.simulated_tabular_backend import UserBlackboxBackend

    class DecisionFreeTimeKeeper(SimulatedTimeKeeper):
        """Virtual time that only the table's epochs advance: Syne Tune's keeper adds the real seconds
        spent outside the backend (the scheduler deciding), which varies from run to run."""

        def real_time_since_last_recent_exit(self) -> float:
            return 0.0

    class SeededBlackboxBackend(UserBlackboxBackend):
        """The table's curve for a trial at the training seed its replicate seed and trial id give;
        a curve that diverged fails after its last reported epoch, as the real trial did (a trial
        that failed before its first report: after the table's one epoch at the worst score)."""

        def __init__(self, replicate_seed: int, diverged: dict, **kwargs):
            super().__init__(**kwargs)
            self.replicate_seed = replicate_seed
            self.diverged = diverged
            self._time_keeper = DecisionFreeTimeKeeper()

        def _run_job_and_collect_results(self, trial_id, config=None):
            from syne_tune.backend.trial_status import Status

            seed = self._seed_for_trial.setdefault(
                trial_id, trial_seed(self.replicate_seed, trial_id, TABLE_SEED_STREAM) % self.blackbox.num_seeds)
            status, results = super()._run_job_and_collect_results(trial_id, config)
            config = self._trial_dict[trial_id].config if config is None else config
            reported = self.diverged.get((tuple(config[n] for n in self.blackbox.hyperparameters.columns), seed))
            if reported is None:
                return status, results
            return Status.failed, [r for r in results if int(r[self.resource_attr]) <= max(reported, 1)]

    return SeededBlackboxBackend


def _clock_class():
    from syne_tune.backend.simulator_backend.simulator_callback import SimulatorCallback

    class VirtualClock(SimulatorCallback):
        """Syne Tune's SimulatorCallback without its copy of every result (the recorder keeps them)."""

        def on_trial_result(self, trial, status, result, decision):
            pass

        def store_results(self):
            pass

        def _modify_stop_criterion(self, tuner):
            pass  # the harness's Budget never reads the real clock here (plan() refuses budget.wallclock_s)

    return VirtualClock


def run_one(p: Plan, seed: int, job_dir: Path) -> dict:
    """One simulated replicate of seed `seed` into `job_dir`; its record."""
    from syne_tune import Tuner

    from ohgw.tuner.replicate import bind, summarize
    from ohgw.tuner.schedulers import make_scheduler, MAX_RESOURCE_ATTR

    job_dir = Path(job_dir)
    job_dir.mkdir(parents=True, exist_ok=True)
    recorder = SimulatedRecorder(p.task.space.names)
    budget = bind(Budget(**p.resolved["budget"]), recorder)
    scheduler = make_scheduler(p.cfg.scheduler, p.task, scheduler_seed(seed), {})
    backend = _backend_class()(replicate_seed=int(seed), diverged=p.diverged or {}, blackbox=p.blackbox,
                               elapsed_time_attr=ELAPSED_TIME, max_resource_attr=MAX_RESOURCE_ATTR)
    record = new_record(p, int(seed))
    tuner = Tuner(trial_backend=backend, scheduler=scheduler, stop_criterion=budget, n_workers=p.n_workers,
                  sleep_time=0, max_failures=int(p.cfg.tuner.max_failures),  # diverged curves fail, as real trials do
                  callbacks=[_clock_class()(), recorder], tuner_name=f"sim-{seed}",
                  suffix_tuner_name=False, save_tuner=False, print_update_interval=1e9, results_update_interval=1e9,
                  trial_backend_path=str(job_dir / "tuner"))
    started = time.perf_counter()
    tuner.run()
    frame = recorder.frame()
    write_results(job_dir, frame)
    status = tuner.tuning_status
    record.update(summarize(frame, record, status, recorder.device_s()), sampled_configs=recorder.sampled,
                  trial_status={str(k): v for k, v in status.last_trial_status_seen.items()}, status="complete",
                  error=None, finished_at=record["started_at"])
    record["wallclock_s"] = float(frame["wallclock_s"].max()) if len(frame) else 0.0  # virtual seconds
    record["budget_used"]["wallclock_s"] = record["wallclock_s"]
    record["simulated"]["seconds"] = time.perf_counter() - started
    record["checksums"] = vouch(job_dir)
    write_record(job_dir, record)
    return record


_SHARED: dict = {}


def new_record(p: Plan, seed: int) -> dict:
    """A replicate record as ohgw.tuner.replicate writes one, with `simulated` beside it."""
    import copy
    import datetime as dt

    from ohgw.results.contract import PAIRING_FREE
    from ohgw.tuner.rerun import key_of

    if "versions" not in _SHARED:  # the same for every replicate of a process
        _SHARED.update(versions=versions(), git_commit=git_commit(), python=sys.version.split()[0])
    task, variant = p.task, p.variant
    config = {**copy.deepcopy(p.resolved), "seed": seed}
    keys = {"key": key_of(copy.deepcopy(config), variant.uses_eta),
            "comparison": key_of(copy.deepcopy(config), variant.uses_eta, PAIRING_FREE)}
    return {"schema_version": SCHEMA_VERSION, "status": "running", "task": task.name, "scheduler": config["scheduler"]["name"],
            "warmstart": variant.name, "role": variant.role, "eta_h": variant.eta_h if variant.uses_eta else None,
            "seed": seed, "tau": task.tau, "metric": task.metric, "test_metric": test_metric(task.metric),
            "mode": task.mode, "budget": config["budget"],
            "runtime": {"n_workers": p.n_workers, "accelerator": SIMULATED_ACCELERATOR, "gpus": None},
            "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "python": _SHARED["python"], "git_commit": _SHARED["git_commit"], "versions": _SHARED["versions"],
            **keys, "replaces": [], "slurm": {},
            "simulated": {"table": str(p.table), "table_sha256": p.table_digest, "variant": p.label,
                          "training_seeds": int(p.blackbox.num_seeds), "times": p.times or "own"},
            "config": config}


def run_many(table: Path, scheduler: str, labels: list[str], seeds: list[int], n_workers: int, out: Path,
             overrides=(), times: str | None = None) -> dict:
    """Every (variant, seed) into out/<variant>/<seed>; seconds taken per variant."""
    loaded = load_on_clock(table, times)
    taken = {}
    for label in labels:
        p = plan(table, scheduler, label, n_workers, overrides, loaded, times)
        started = time.perf_counter()
        for seed in seeds:
            run_one(p, seed, Path(out) / label / str(seed))
        taken[label] = time.perf_counter() - started
    return taken


@one_line_errors(ConfigError, RecordsError)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ohgw.simulate.replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("table", type=Path)
    parser.add_argument("--scheduler", required=True, help="a conf/scheduler name (asha, pasha, hyperband, ...)")
    parser.add_argument("--variants", required=True, help="comma-separated table variants (baseline,ohgw-eta0.01)")
    parser.add_argument("--seeds", type=int, default=1000, help="replicate seeds 0..N-1")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--n-workers", type=int, default=4)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--times", metavar="VARIANT", help="replay every variant on this variant's epoch times "
                        "plus its own warm-start seconds (default: each variant's recorded times)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config override")
    args = parser.parse_args(argv)
    from ohgw.tuner.quiet import import_blackbox_repository

    import_blackbox_repository()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    taken = run_many(args.table, args.scheduler, args.variants.split(","), seeds, args.n_workers, args.out, args.set,
                     args.times)
    for label, seconds in taken.items():
        print(f"{label}: {len(seeds)} simulated replicates of {args.scheduler} at {args.n_workers} workers in "
              f"{seconds:.1f} s -> {args.out / label}")
    print(json.dumps({"seconds": taken}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
