"""The hyper-gradient at the scale of its step (issue 24, item 5).

    python -m ohgw.analysis.step_scale --task digits --configs 48 --eta-h 1e-3 1e-2 1e-1 --out DIR

On a fixed seeded sample of a task's configurations (ohgw.tuner.schedulers.fixed_sample, seed 0:
the recorded-curves experiment's), each configuration's module and batches are built as trial i of
replicate `seed` builds them (its training seed, the first training batch, the warm-start's
validation batch), its hyper-gradient g = dF/du is taken by the function the warm-start callback
calls, and for each eta_h, step mode (raw, normalized) and estimator (WarmStart.estimator) the
hyper-step delta = psi' - psi (WarmStart.propose, on the search-space scale) and the matched-norm
random step are compared with what they do to F:

- predicted: g . delta, the change the first-order model of F promises;
- realised: F(psi') - F(psi) on the same batches and the same augmentation and dropout draws (every
  evaluation of F starts from the RNG state the hyper-gradient drew from), so only psi differs;
- and the same for each hyperparameter alone: the step delta_i e_i, predicted g_i delta_i.

Writes steps.csv (one row per configuration x eta_h x step mode x estimator x direction x
hyperparameter or "all") and summary.csv (per estimator, direction, step mode, eta_h and
hyperparameter: the moved steps, the median |predicted| (against F's rounding), the fraction that
lower F, the fraction whose realised change has the predicted sign, the fraction within 10% of the
prediction, the median realised/predicted, and Spearman's correlation of predicted and realised over
the configurations). `table` prints the README's tables from summary.csv."""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

ALL = "all"
DIRECTIONS = ("hypergradient", "random")
STEP_MODES = ("raw", "normalized")
DTYPES = {"float32": torch.float32, "float64": torch.float64}
STEP_COLUMNS = ["config", "seed", "eta_h", "step", "estimator", "direction", "hyperparameter", "value", "g",
                "method", "delta", "predicted", "realised", "F"]


def trial_inputs(task, config: dict, seed: int, dtype=torch.float32):
    """(module, first training batch, validation batch) as a trial with training seed `seed`
    builds them (ohgw.trial.main: the weights drawn after seeding, the data in the seed's order)
    and its warm-start takes them (the validation batch as large as the training batch)."""
    import lightning as L

    from ohgw.trial.warmstart_callback import validation_batch

    L.seed_everything(seed, verbose=False)
    module = task.module(config).to(dtype)
    data = task.datamodule(shuffle_seed=seed, batch_size=module.hp["batch_size"])
    data.setup("fit")
    train = next(iter(data.train_dataloader()))
    val = validation_batch(data, len(train[1]), torch.device("cpu"))

    def cast(batch):
        return tuple(t.to(dtype) if t.is_floating_point() else t for t in batch)

    return module, cast(train), cast(val)


def check_config(module, train, val, index: int, seed: int, direction_seed: int, etas, steps, estimators) -> list:
    """The rows of one configuration (see the module's docstring)."""
    from ohgw.warmstart.lookahead import hypergradient, lookahead_value, rng_state
    from ohgw.warmstart.variants import WarmStart

    space = module.search_space
    names = WarmStart("check").targets(space, module.accepts.movable)
    psi = dict(module.hp)
    draws = rng_state(module)  # the hyper-gradient's draws, and every F's below
    base = hypergradient(module, train, val, psi, names=names)  # the first step: no optimizer state yet
    f0 = lookahead_value(module, train, val, psi, draws)
    if not math.isclose(f0, base.loss, rel_tol=1e-5):
        raise RuntimeError(f"config {index}: F(psi) = {f0} here, {base.loss} in the hyper-gradient: not the same draws")
    rows = []
    for eta in etas:
        for estimator in estimators:
            central = WarmStart("check", eta_h=eta, estimator=estimator).central_steps(
                names, space, module.accepts.forward_acting)
            g = base if not central else hypergradient(module, train, val, psi, names=names, central=central)
            for step in steps:
                for direction in DIRECTIONS:
                    variant = WarmStart("check", direction=direction, eta_h=eta, step=step, estimator=estimator)
                    moved = variant.propose(psi, g, space, np.random.default_rng(direction_seed))
                    delta = {n: space[n].to_scale(moved[n]) - space[n].to_scale(psi[n]) for n in g}
                    common = dict(config=index, seed=seed, eta_h=eta, step=step, estimator=estimator,
                                  direction=direction, F=f0)

                    def realised(at):
                        return lookahead_value(module, train, val, at, draws) - f0 if at != psi else 0.0

                    rows.append({**common, "hyperparameter": ALL, "value": math.nan, "g": math.nan, "method": "",
                                 "delta": math.sqrt(sum(d * d for d in delta.values())),
                                 "predicted": sum(g[n] * delta[n] for n in g), "realised": realised(moved)})
                    for n in g:
                        rows.append({**common, "hyperparameter": n, "value": space[n].to_scale(psi[n]), "g": g[n],
                                     "method": g.methods[n], "delta": delta[n], "predicted": g[n] * delta[n],
                                     "realised": realised({**psi, n: moved[n]})})
    return rows


def summarize(steps: pd.DataFrame) -> pd.DataFrame:
    """Per estimator, direction, step mode, eta_h and hyperparameter, over the configurations whose
    step moved it (delta != 0): n, the median |predicted|, the fraction of steps that lower F, and
    where predicted != 0: the fraction whose realised change has the predicted sign, the fraction
    within 10% of it (|realised - predicted| <= 0.1 |predicted|), the median realised / predicted;
    Spearman's correlation of predicted and realised (NaN under 3 steps or where one is constant)."""
    keys = ["estimator", "direction", "step", "eta_h", "hyperparameter"]
    rows = []
    for key, group in steps.groupby(keys, sort=False):
        moved = group[group["delta"] != 0]
        pred, real = moved["predicted"].to_numpy(), moved["realised"].to_numpy()
        nonzero = pred != 0
        rho = math.nan
        if len(moved) >= 3 and np.ptp(pred) > 0 and np.ptp(real) > 0:
            rho = float(spearmanr(pred, real).statistic)
        p, r = pred[nonzero], real[nonzero]
        some = nonzero.any()
        rows.append({**dict(zip(keys, key)), "n": len(moved),
                     "median_abs_predicted": float(np.median(np.abs(pred))) if len(moved) else math.nan,
                     "frac_lower": float(np.mean(real < 0)) if len(moved) else math.nan,
                     "frac_sign": float(np.mean(np.sign(r) == np.sign(p))) if some else math.nan,
                     "frac_close": float(np.mean(np.abs(r - p) <= 0.1 * np.abs(p))) if some else math.nan,
                     "median_ratio": float(np.median(r / p)) if some else math.nan,
                     "spearman": rho})
    return pd.DataFrame(rows)


def run(task_name: str, configs: int, etas, out: Path, *, steps=STEP_MODES, estimators=None, seed: int = 0,
        sample_seed: int = 0, dtype: str = "float64", log=sys.stderr) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The check on `configs` configurations of the task (fixed_sample with `sample_seed`), trial i
    seeded as trial i of replicate `seed`; writes steps.csv and summary.csv under `out`."""
    import ohgw.tasks
    from ohgw.tuner.schedulers import fixed_sample
    from ohgw.tuner.seeding import RANDOM_DIRECTION_STREAM, trial_seed
    from ohgw.warmstart.variants import ESTIMATORS

    task = ohgw.tasks.build(ohgw.tasks.config(task_name))
    rows = []
    for i, config in enumerate(fixed_sample(task, configs, sample_seed)):
        started = time.perf_counter()
        training_seed = trial_seed(seed, i)
        module, train, val = trial_inputs(task, config, training_seed, DTYPES[dtype])
        rows += check_config(module, train, val, i, training_seed, trial_seed(seed, i, RANDOM_DIRECTION_STREAM),
                             etas, steps, estimators or ESTIMATORS)
        print(f"config {i + 1}/{configs}: {time.perf_counter() - started:.1f} s", file=log, flush=True)
    frame = pd.DataFrame(rows, columns=STEP_COLUMNS)
    summary = summarize(frame)
    out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out / "steps.csv", index=False, float_format="%.6g")
    summary.to_csv(out / "summary.csv", index=False, float_format="%.4g")
    return frame, summary


def table(summary: pd.DataFrame, step: str, estimator: str = "autograd") -> str:
    """Markdown: per hyperparameter and eta_h, hyper-gradient step (hg) against the random step
    (rnd): the fraction of steps lowering F, the median realised / predicted and the fraction
    within 10% of the prediction, for one step mode and estimator; n and the median |predicted|
    are the hyper-gradient step's."""
    part = summary[(summary["step"] == step) & (summary["estimator"] == estimator)]
    columns = ["frac_lower", "median_ratio", "frac_close"]
    wide = part.pivot_table(index=["hyperparameter", "eta_h"], columns="direction", sort=False, dropna=False,
                            values=["n", "median_abs_predicted", *columns])

    def fmt(v, spec=".2f"):
        return "" if pd.isna(v) else f"{v:{spec}}" if abs(v) < 1e3 else f"{v:.2g}"

    lines = ["| hyperparameter | eta_h | n | median abs(g.delta) | lower F: hg | rnd | realised/predicted: hg | rnd "
             "| within 10%: hg | rnd |", "|" + " --- |" * 10]
    for (name, eta), r in wide.iterrows():
        cells = [fmt(r[(c, d)]) for c in columns for d in DIRECTIONS]
        lines.append(f"| {name} | {eta:g} | {int(r[('n', 'hypergradient')])} | "
                     f"{fmt(r[('median_abs_predicted', 'hypergradient')], '.1e')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    from ohgw.warmstart.variants import ESTIMATORS

    parser = argparse.ArgumentParser(prog="python -m ohgw.analysis.step_scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="digits")
    parser.add_argument("--configs", type=int, default=48, help="configurations of fixed_sample (default 48)")
    parser.add_argument("--sample-seed", type=int, default=0, help="fixed_sample's seed (default 0, the curves')")
    parser.add_argument("--seed", type=int, default=0, help="replicate seed of the trials' training seeds")
    parser.add_argument("--eta-h", type=float, nargs="+", default=[1e-3, 1e-2, 1e-1])
    parser.add_argument("--steps", nargs="+", choices=STEP_MODES, default=list(STEP_MODES))
    parser.add_argument("--estimators", nargs="+", choices=ESTIMATORS, default=list(ESTIMATORS))
    parser.add_argument("--dtype", choices=list(DTYPES), default="float64",
                        help="float64 (default): F's rounding stays far below the smallest realised change")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--table", action="store_true", help="print the markdown tables from OUT/summary.csv only")
    args = parser.parse_args(argv)
    if not args.table:
        torch.set_num_threads(args.threads)
        started = time.perf_counter()
        run(args.task, args.configs, args.eta_h, args.out, steps=args.steps, estimators=args.estimators,
            seed=args.seed, sample_seed=args.sample_seed, dtype=args.dtype)
        print(f"wall-clock: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    summary = pd.read_csv(args.out / "summary.csv")
    for estimator in summary["estimator"].unique():
        for step in summary["step"].unique():
            print(f"\n### {step} steps, estimator {estimator}\n\n{table(summary, step, estimator)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
