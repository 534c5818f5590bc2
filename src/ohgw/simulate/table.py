"""Recorded learning curves as a Syne Tune blackbox table.

The curves experiment (scheduler=table, experiment=curves_<task>) trains every configuration of a
fixed sample to the maximum resource, once per warm-start variant and training seed; its replicates
are read here through the results contract and written in Syne Tune's blackbox-repository format
(BlackboxTabular, one blackbox per variant, `serialize`/`deserialize`): any Syne Tune tool reads
them, and ohgw.simulate.replay runs the harness's schedulers on them in virtual time.

    python -m ohgw.simulate.table outputs/curves/digits --out tables/digits
    python -m ohgw.simulate.table docs/results/simulation/digits/curves_digits.jsonl.xz --out tables/digits  # from an archive

A blackbox's seeds are the training seeds (the curve replicates' seeds), its fidelities the epochs
1..max_epochs, its objectives every numeric column of results.csv (the metric, the test metric,
times, the warm-start's own columns), plus `elapsed_time`: the trial's cumulative seconds, what the
simulator reads as the time an epoch ends.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ohgw.errors import one_line_errors
from ohgw.results.contract import SAMPLED
from ohgw.results.records import RecordsError, find_replicates

ELAPSED_TIME = "elapsed_time"  # the simulator's clock: a copy of elapsed_s, which it rewrites on a resume
# results.csv columns that are not curves: the tuner's own, or the same for every variant
NOT_OBJECTIVES = ("trial_id", "epoch", "wallclock_s", "decision")
META = "ohgw_table.json"      # beside Syne Tune's files: what the table was built from


def variant_label(record: dict) -> str:
    """A variant's name in the table: warm-start name, and its eta_h where the step uses one."""
    return record["warmstart"] if record["eta_h"] is None else f"{record['warmstart']}-eta{float(record['eta_h']):g}"


def build(dirs: list[Path | str]) -> tuple[dict, dict]:
    """{variant label: BlackboxTabular} from the curve replicates below `dirs`, and the metadata
    (task, metric, the variants' configs, the seeds, configurations that did not finish)."""
    from syne_tune.blackbox_repository.blackbox_tabular import BlackboxTabular
    from syne_tune.config_space import randint

    reps = replicates(dirs)
    first = reps[0].record
    if any(r.record["scheduler"] != "table" for r in reps):
        raise RecordsError("a table is built from curve replicates (scheduler=table) only; got "
                           f"{sorted({r.record['scheduler'] for r in reps})}")
    for r in reps:
        if r.record["task"] != first["task"] or r.record["config"]["scheduler"] != first["config"]["scheduler"]:
            raise RecordsError(f"{r.path}: another task or sample than {reps[0].path}")
        if len(r.record["sampled_configs"]) != first["config"]["scheduler"]["configurations"]["size"]:
            raise RecordsError(f"{r.path}: started {len(r.record['sampled_configs'])} of the sample's "
                               f"{first['config']['scheduler']['configurations']['size']} configurations")
    hp_names = [c[len(SAMPLED):] for c in reps[0].results.columns if c.startswith(SAMPLED)]
    seeds = sorted({r.seed for r in reps})
    max_epochs = int(first["config"]["task"]["max_epochs"])
    by_variant: dict[str, dict[int, object]] = {}
    for r in reps:
        by_variant.setdefault(variant_label(r.record), {})[r.seed] = r
    missing = {v: sorted(set(seeds) - set(s)) for v, s in by_variant.items() if set(s) != set(seeds)}
    if missing:
        raise RecordsError(f"every variant needs every training seed {seeds}; missing: {missing}")
    configs = _configs([r.results for r in reps], hp_names)
    worst = math.inf if first["mode"] == "min" else -math.inf
    objectives = _objectives(reps, hp_names)
    unfinished = {}
    blackboxes = {}
    space = _configuration_space(first, hp_names)
    for label, per_seed in sorted(by_variant.items()):
        values = np.full((len(configs), len(seeds), max_epochs, len(objectives)), np.nan)
        for s_i, seed in enumerate(seeds):
            frame = per_seed[seed].results.assign(**{ELAPSED_TIME: per_seed[seed].results["elapsed_s"]})
            curves = dict(_curves(frame, configs, hp_names))
            for c_i in range(len(configs)):
                curve = curves.get(c_i, _never_reported(frame, objectives, worst, first["test_metric"]))
                curve = curve.set_index("epoch").reindex(range(1, max_epochs + 1))
                if curve[objectives[0]].isna().any():  # a diverged (failed) trial: its last epoch stands
                    unfinished.setdefault(label, []).append({"config": c_i, "seed": seed,
                                                             "epochs": int(curve[objectives[0]].notna().sum()
                                                                           - (c_i not in curves))})
                    curve = curve.ffill()
                values[c_i, s_i] = curve[objectives].to_numpy(dtype=float)
        blackboxes[label] = BlackboxTabular(
            hyperparameters=configs, configuration_space=space, fidelity_space={"epoch": randint(1, max_epochs)},
            objectives_evaluations=values, fidelity_values=np.arange(1, max_epochs + 1), objectives_names=objectives)
    meta = {"task": first["task"], "task_config_name": first["config"]["task"]["name"],
            "task_config": first["config"]["task"], "metric": first["metric"], "test_metric": first["test_metric"],
            "mode": first["mode"], "tau": first["tau"], "max_epochs": max_epochs, "seeds": seeds,
            "hyperparameters": hp_names, "sample": first["config"]["scheduler"]["configurations"],
            "variants": {label: {"warmstart": by_variant[label][seeds[0]].record["config"]["warmstart"],
                                 "role": by_variant[label][seeds[0]].record["role"]} for label in sorted(by_variant)},
            # no paths: the same records give the same table (and digest) from their directories or an archive
            "unfinished": unfinished, "commits": sorted({r.record["git_commit"] for r in reps}),
            "replicates": len(reps)}
    return blackboxes, meta


def replicates(paths: list[Path | str]) -> list:
    """The complete replicates below directories, or in archives (ohgw.analysis.archive): a report's
    table is rebuilt from its committed archive."""
    from ohgw.analysis import archive

    archives = [p for p in paths if archive.is_archive(p)]
    dirs = [p for p in paths if not archive.is_archive(p)]
    reps = [r for a in archives for r in archive.load(a).replicates]
    return reps + (find_replicates(dirs).replicates if dirs else [])


def _configs(frames: list[pd.DataFrame], hp_names: list[str]) -> pd.DataFrame:
    """The sample's configurations, in the order of the first replicate's trials, then those its
    trials never reported (diverged before their first epoch's report) in the order others did."""
    columns = [SAMPLED + n for n in hp_names]
    firsts = [f.sort_values(["trial_id", "epoch"]).groupby("trial_id").first()[columns] for f in frames]
    return (pd.concat(firsts).drop_duplicates().rename(columns=lambda c: c[len(SAMPLED):])
            .reset_index(drop=True))


def _never_reported(frame: pd.DataFrame, objectives: list[str], worst: float, test_metric: str) -> pd.DataFrame:
    """The curve of a trial that diverged before its first report: one epoch at the worst score,
    ending when this replicate's median first epoch did (the simulator needs a time)."""
    first_epochs = frame[frame["epoch"] == 1]
    row = {name: np.nan for name in objectives}
    row.update({objectives[0]: worst, test_metric: worst, "epoch": 1,
                **{t: float(first_epochs[t].median()) for t in ("elapsed_s", ELAPSED_TIME)}})
    return pd.DataFrame([row])


def _curves(frame: pd.DataFrame, configs: pd.DataFrame, hp_names: list[str]):
    """(row of `configs`, that configuration's rows in `frame`) for every configuration it reported."""
    index = {tuple(row): i for i, row in enumerate(configs[hp_names].itertuples(index=False))}
    for _, rows in frame.groupby("trial_id"):
        key = tuple(rows.iloc[0][[SAMPLED + n for n in hp_names]])
        if key not in index:
            raise RecordsError(f"a trial trained {dict(zip(hp_names, key))}, which is not in the sample")
        yield index[key], rows


def _objectives(reps, hp_names: list[str]) -> list[str]:
    """Numeric columns every curve replicate has, the metric first, then elapsed_time (added to each
    replicate's frame where the table reads it)."""
    metric = reps[0].record["metric"]
    common = set.intersection(*(set(r.results.columns) for r in reps))
    numeric = [c for c in reps[0].results.columns
               if c in common and c not in NOT_OBJECTIVES and not c.startswith(SAMPLED) and c != metric
               and all(pd.api.types.is_numeric_dtype(r.results[c]) for r in reps)]
    return [metric, *numeric, ELAPSED_TIME]


def _configuration_space(record: dict, hp_names: list[str]) -> dict:
    from omegaconf import OmegaConf

    from ohgw.tasks import build as build_task

    space = build_task(OmegaConf.create(record["config"]["task"])).space.to_syne_tune()
    return {n: space[n] for n in hp_names}


def write(blackboxes: dict, meta: dict, out: Path | str) -> Path:
    """Serialize with Syne Tune's `serialize`, the harness's metadata beside it."""
    from syne_tune.blackbox_repository.blackbox_tabular import serialize

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)  # Syne Tune makes the last folder only
    serialize(blackboxes, str(out), metadata={"ohgw": meta})
    (out / META).write_text(json.dumps(meta, indent=1, default=str) + "\n")
    return out


def load(path: Path | str) -> tuple[dict, dict]:
    """{variant label: BlackboxTabular} and the harness's metadata of a written table."""
    from syne_tune.blackbox_repository.blackbox_tabular import deserialize

    path = Path(path)
    if not (path / META).is_file():
        raise RecordsError(f"{path}: not a curves table (no {META}; build one with python -m ohgw.simulate.table)")
    return deserialize(str(path)), json.loads((path / META).read_text())


@one_line_errors(RecordsError)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ohgw.simulate.table", description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="+", help="directories holding the curve replicates, or their archives")
    parser.add_argument("--out", required=True, help="the table's directory")
    args = parser.parse_args(argv)
    from ohgw.tuner.quiet import import_blackbox_repository

    import_blackbox_repository()
    blackboxes, meta = build(args.dirs)
    out = write(blackboxes, meta, args.out)
    bb = next(iter(blackboxes.values()))
    print(f"{out}: {len(blackboxes)} variants x {len(bb.hyperparameters)} configurations x {bb.num_seeds} seeds "
          f"x {bb.num_fidelities} epochs, {len(bb.objectives_names)} objectives"
          + (f"; unfinished curves (diverged, last epoch carried): {meta['unfinished']}" if meta["unfinished"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
