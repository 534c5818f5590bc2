"""The PNG plots, one set per (task, scheduler): best-so-far curves, T@tau per seed,
survival per rung, |hyper-gradient| vs paired benefit, final hyperparameter distributions; and one
per searcher comparison: best-so-far per scheduler against trials started and device-seconds."""
from __future__ import annotations

import functools
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ohgw.analysis.collect import BASELINE, Collection, GroupKey, Replicate, task_label  # noqa: E402
from ohgw.analysis.metrics import EPOCH, ITERATIONS, UNIT_LABELS, UNITS, progress, rung_levels, trials  # noqa: E402
from ohgw.analysis.sensitivity import GRID, fit, speedups  # noqa: E402
from ohgw.analysis.tables import search_space, trial_benefit  # noqa: E402
from ohgw.results.contract import ADJUSTED, SAMPLED, column  # noqa: E402

DPI = 110


def plot_all(collection: Collection, per_seed: dict[GroupKey, pd.DataFrame], out: Path, protocol=None,
             sensitivity: pd.DataFrame | None = None) -> list[Path]:
    """Write every plot into `out`; returns the files in reading order. `protocol` and `sensitivity`
    (ohgw.analysis.sensitivity's table): the eta_h sweeps' plot."""
    files = []
    eta = functools.partial(eta_sensitivity, protocol=protocol, table=sensitivity)
    for (task, scheduler), groups in blocks(collection).items():
        stem = f"{task}_{scheduler}"
        colours = {k: ("black" if _is_baseline(groups, k) else f"C{i}") for i, k in enumerate(groups)}
        for name, draw in (("best_so_far", best_so_far), ("t_tau", t_tau_dots), ("survival", survival),
                           ("hypergradient_benefit", hypergradient_benefit),
                           ("hyperparameters", hyperparameters), ("eta_sensitivity", eta),
                           ("ood_perplexity", ood_perplexity)):
            drawn = draw(groups, per_seed, colours)
            if drawn is None:  # nothing to show (e.g. no warm-start variant with a baseline)
                continue
            fig, title = drawn
            fig.suptitle(f"{title}\n{task} / {scheduler}")
            path = out / f"{name}_{stem}.png"
            fig.savefig(path, dpi=DPI)
            plt.close(fig)
            files.append(path)
    return files


def plot_searchers(collection: Collection, comps: list, out: Path) -> list[Path]:
    """Per searcher comparison (ohgw.analysis.searchers.Comparison): best-so-far validation score
    against trials started and against device-seconds, median over seeds and IQR band per
    scheduler (the reference in black), with tau and the margin's target."""
    files = []
    for comp in comps:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
        first = collection.groups()[comp.keys[comp.reference]][0].record
        for i, (scheduler, key) in enumerate(comp.keys.items()):
            progs = [progress(r.results, r.record) for r in collection.groups()[key]]
            colour = "black" if scheduler == comp.reference else f"C{i}"
            name = f"{scheduler} (reference)" if scheduler == comp.reference else scheduler
            for ax, unit in zip(axes, (ITERATIONS, "device_s")):
                grid = (np.arange(1, max(p[unit].max() if len(p) else 1 for p in progs) + 1) if unit == ITERATIONS
                        else np.linspace(0, max(p[unit].max() if len(p) else 0.0 for p in progs), 300))
                curves = np.array([_step_at(p[unit].to_numpy(), p["best"].to_numpy(), grid) for p in progs])
                _band(ax, grid, curves, colour, name)
        for ax, unit in zip(axes, (ITERATIONS, "device_s")):
            if first["metric"].endswith("_ppl"):
                ax.set_yscale("log")  # perplexities fall over orders of magnitude
            ax.axhline(first["tau"], color="red", linestyle="--", linewidth=1, label=f"tau = {first['tau']}")
            ax.axhline(comp.target, color="grey", linestyle=":", linewidth=1,
                       label=f"best found {comp.best_any:.4g} {'-' if comp.mode == 'max' else '+'} "
                             f"margin {comp.margin:g}")
            ax.set_xlabel(UNIT_LABELS[unit])
            ax.set_ylabel(f"best-so-far {first['metric']}")
            ax.grid(alpha=0.3)
        axes[0].legend(loc="lower right" if comp.mode == "max" else "upper right", fontsize=8)
        fig.suptitle(f"Searchers: best-so-far validation score, median over seeds, IQR band\n{comp.label()}")
        stem = f"{comp.task}_{comp.warmstart}" + ("" if comp.eta_h is None else f"_eta{comp.eta_h:g}")
        path = out / f"searchers_{stem}.png"
        fig.savefig(path, dpi=DPI)
        plt.close(fig)
        files.append(path)
    return files


def blocks(collection: Collection) -> dict[tuple[str, str], dict[GroupKey, list[Replicate]]]:
    """Groups per (task, scheduler), baseline first."""
    out: dict = {}
    for key, reps in sorted(collection.groups().items(), key=lambda kv: (kv[1][0].role != BASELINE, kv[0])):
        out.setdefault((key.task, key.scheduler), {})[key] = reps
    return out


def _is_baseline(groups, key) -> bool:
    return groups[key][0].role == BASELINE


def _baseline(groups) -> GroupKey | None:
    return next((k for k in groups if _is_baseline(groups, k)), None)


def _band(ax, x, curves: np.ndarray, colour, label):
    """Median line and IQR band over seeds (rows of `curves`). NaN = that seed has no report
    yet: the line starts once every seed has one, so the median never mixes in fewer seeds."""
    q25, med, q75 = np.percentile(curves, [25, 50, 75], axis=0)
    ax.plot(x, med, color=colour, label=f"{label} (n={len(curves)})", drawstyle="steps-post")
    ax.fill_between(x, q25, q75, color=colour, alpha=0.2, step="post", linewidth=0)


def best_so_far(groups, per_seed, colours):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    first = next(iter(groups.values()))[0].record
    for key, reps in groups.items():
        progs = [progress(r.results, r.record) for r in reps]
        epochs = np.arange(1, max(len(p) for p in progs) + 1)
        by_epoch = np.array([_step_at(p["epochs"].to_numpy(), p["best"].to_numpy(), epochs) for p in progs])
        _band(axes[0], epochs, by_epoch, colours[key], key.label())
        grid = np.linspace(0, max(p["wallclock_s"].max() if len(p) else 0.0 for p in progs), 300)
        by_time = np.array([_step_at(p["wallclock_s"].to_numpy(), p["best"].to_numpy(), grid) for p in progs])
        _band(axes[1], grid, by_time, colours[key], key.label())
    for ax, unit in zip(axes, ("epochs", "wallclock_s")):
        if first["metric"].endswith("_ppl"):
            ax.set_yscale("log")  # perplexities fall over orders of magnitude
        ax.axhline(first["tau"], color="red", linestyle="--", linewidth=1, label=f"tau = {first['tau']}")
        ax.set_xlabel(UNIT_LABELS[unit])
        ax.set_ylabel(f"best-so-far {first['metric']}")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="lower right" if first["mode"] == "max" else "upper right", fontsize=8)
    return fig, "Best-so-far validation score: median over seeds, IQR band"


def _step_at(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """y of the last point with x <= grid value (NaN before the first point)."""
    if len(x) == 0:  # a replicate in which no trial finished an epoch
        return np.full(len(grid), np.nan)
    idx = np.searchsorted(x, grid, side="right") - 1
    return np.where(idx >= 0, y[np.clip(idx, 0, None)], np.nan)


def t_tau_dots(groups, per_seed, colours):
    fig, axes = plt.subplots(1, len(UNITS), figsize=(4.2 * len(UNITS), 4.2), layout="constrained")
    keys = list(groups)
    base = _baseline(groups)
    for ax, unit in zip(axes, UNITS):
        values = pd.DataFrame({k: per_seed[k][f"t_{unit}"] for k in keys})  # seeds x variants
        finite = values.to_numpy()[np.isfinite(values.to_numpy())]
        top = (finite.max() if len(finite) else 1.0) * 1.15
        shown = values.replace(np.inf, top)
        # seeds side by side within a variant, so equal times stay visible
        n = len(shown)
        offsets = (np.arange(n) / (n - 1) - 0.5) * 0.3 if n > 1 else np.zeros(1)
        for offset, (_, row) in zip(offsets, shown.iterrows()):
            for i, k in enumerate(keys):
                if base is not None and k != base and not np.isnan(row[k]) and not np.isnan(row[base]):
                    ax.plot([keys.index(base) + offset, i + offset], [row[base], row[k]],
                            color="grey", alpha=0.4, linewidth=0.8)
        for i, k in enumerate(keys):
            censored = np.isinf(values[k]).to_numpy()
            for mask, marker in ((~censored, "o"), (censored, "x")):
                ax.scatter(i + offsets[mask], shown[k].to_numpy()[mask], color=colours[k], marker=marker, zorder=3)
        ax.axhline(top, color="red", linestyle=":", linewidth=1)
        ax.text(len(keys) - 0.5, top, "not reached (censored, x)", color="red", fontsize=8, ha="right", va="bottom")
        ax.set_xticks(range(len(keys)), [k.label() for k in keys], rotation=20, ha="right", fontsize=8)
        ax.set_xlim(-0.5, len(keys) - 0.5)
        ax.set_ylim(0, top * 1.08)
        ax.set_ylabel(f"T@tau, {UNIT_LABELS[unit]}")
        ax.grid(alpha=0.3, axis="y")
    return fig, "Time to reach tau per seed (lines join the same seed)"


def survival(groups, per_seed, colours):
    """The share of trials that reached each rung level the scheduler used (all replicates' levels);
    nothing for a scheduler without rungs."""
    used = [rung_levels(r.record) for reps in groups.values() for r in reps]
    if any(levels is None for levels in used):
        return None
    levels = sorted(set().union(*used))
    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    width = 0.8 / len(groups)
    for j, (key, reps) in enumerate(groups.items()):
        depth = pd.concat([trials(r.results)[EPOCH] for r in reps])
        frac = [(depth >= level).mean() for level in levels]
        ax.bar(np.arange(len(levels)) + (j - (len(groups) - 1) / 2) * width, frac, width,
               color=colours[key], label=f"{key.label()} ({len(depth)} trials)")
    ax.set_xticks(range(len(levels)), [str(level) for level in levels])
    ax.set_xlabel("rung (epochs trained)")
    ax.set_ylabel("fraction of trials reaching the rung")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return fig, "Survival of configurations per rung (all seeds)"


def hypergradient_benefit(groups, per_seed, colours):
    base = _baseline(groups)
    if base is None:
        return None
    base_reps = {r.seed: r for r in groups[base]}
    frames = {k: pd.concat([trial_benefit(base_reps[r.seed], r) for r in reps if r.seed in base_reps])
              for k, reps in groups.items() if k != base and any(r.seed in base_reps for r in reps)}
    frames = {k: f for k, f in frames.items() if len(f) and (f["hg_norm"] > 0).any()}
    if not frames:
        return None
    metric = groups[base][0].record["metric"]
    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    for key, f in frames.items():
        f = f[f["hg_norm"] > 0]
        ax.scatter(f["hg_norm"], f["benefit"], color=colours[key], alpha=0.7, label=f"{key.label()} ({len(f)} trials)")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("|dF/dpsi| at the sampled x (L2 norm over hyperparameters, search-space scale)")
    ax.set_ylabel(f"paired benefit: {metric} variant - baseline\n(same trial, deepest common epoch)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig, "Hyper-gradient magnitude vs the trial's paired benefit"


def hyperparameters(groups, per_seed, colours):
    """Per continuous hyperparameter, the values the trials trained with (psi'; x for the
    baseline) as a box and one dot per trial, variants side by side on the search space's
    full range (its own scale: log10 for a log domain)."""
    specs = [p for p in search_space(next(iter(groups.values()))[0]) if p.continuous]
    if not specs:
        return None
    fig, axes = plt.subplots(1, len(specs), figsize=(max(3.3, 0.9 * len(groups)) * len(specs), 4),
                             layout="constrained", squeeze=False)
    jitter = np.random.default_rng(0)  # fixed: the same plot every time
    for ax, spec in zip(axes[0], specs):
        for i, (key, reps) in enumerate(groups.items()):
            per_trial = pd.concat([trials(r.results) for r in reps])
            col = column(ADJUSTED, spec.name)
            values = spec.to_scale(per_trial[col if col in per_trial else column(SAMPLED, spec.name)]
                                   .astype(float).to_numpy())
            ax.boxplot([values], positions=[i], widths=0.5, showfliers=False,
                       medianprops={"color": colours[key]})
            ax.scatter(i + jitter.uniform(-0.15, 0.15, len(values)), values, s=12, alpha=0.6, color=colours[key])
        ax.set_xticks(range(len(groups)), [k.label().replace(" (", "\n(") for k in groups], fontsize=7)
        ax.set_ylim(spec.scale_low, spec.scale_high)
        ax.set_ylabel(f"{spec.name} ({'log10, ' if spec.log else ''}search-space scale)")
        ax.grid(alpha=0.3, axis="y")
    return fig, "Hyperparameters the trials trained with (baseline: sampled x; variants: adjusted psi'), one dot per trial"


def eta_sensitivity(groups, per_seed, colours, protocol=None, table: pd.DataFrame | None = None):
    """Where a variant ran at three or more eta_h (ohgw.analysis.sensitivity): each seed's speed-up in the
    primary unit against log10 eta_h, the fitted curve, the eta_h of its peak and that eta_h's bootstrap
    interval."""
    if protocol is None or table is None or table.empty:
        return None
    first = next(iter(groups.values()))[0].record
    rows = table[(table["task"] == task_label(first)) & (table["scheduler"] == first["scheduler"])]
    base = _baseline(groups)
    if rows.empty or base is None:
        return None
    unit, s = protocol.primary_unit, protocol.sensitivity
    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    for i, (_, row) in enumerate(rows.iterrows()):
        keys = [k for k in groups if k.warmstart == row["warmstart"] and k.eta_h is not None]
        points = speedups(per_seed[base], {k.eta_h: per_seed[k] for k in keys}, unit)
        x, y = points["log_eta"].to_numpy(float), points["speedup"].to_numpy(float)
        grid = np.linspace(x.min(), x.max(), GRID)
        ax.scatter(x, y, color=f"C{i}", alpha=0.6, label=f"{row['warmstart']}: one dot per seed")
        ax.plot(grid, fit(x, y, grid, s.fit, s.frac), color=f"C{i}", label=f"{row['warmstart']}: {s.fit} fit")
        ax.axvline(np.log10(row["eta_best"]), color=f"C{i}", linestyle="--", linewidth=1,
                   label=f"peak at eta_h = {row['eta_best']:.3g}")
        ax.axvspan(np.log10(row["eta_best_low"]), np.log10(row["eta_best_high"]), color=f"C{i}", alpha=0.1,
                   label="its 95% bootstrap interval over seeds")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("log10 eta_h")
    ax.set_ylabel(f"speed-up in {unit}: 1 - T@tau(variant) / T@tau(baseline)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return fig, "Speed-up against the hyper-step size eta_h (paired by seed; censored: at the cost consumed)"


def ood_perplexity(groups, per_seed, colours):
    """Language models: the out-of-distribution perplexity after each of a trial's epochs (median
    over all trials of all seeds, IQR band), with the validation perplexity dashed: how the
    ordering drift's cost changes as trials train."""
    first = next(iter(groups.values()))[0]
    if "ood_ppl" not in first.results:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    for key, reps in groups.items():
        rows = pd.concat([r.results for r in reps])
        by_epoch = rows.groupby("epoch")
        epochs = np.array(sorted(by_epoch.groups))
        q = by_epoch["ood_ppl"].quantile([0.25, 0.5, 0.75]).unstack()
        ax.plot(epochs, q[0.5], color=colours[key], label=f"{key.label()}: OOD")
        ax.fill_between(epochs, q[0.25], q[0.75], color=colours[key], alpha=0.15, linewidth=0)
        ax.plot(epochs, by_epoch[first.record["metric"]].median(), color=colours[key], linestyle="--",
                label=f"{key.label()}: validation")
    ax.set_yscale("log")
    ax.set_xlabel("trial epoch")
    ax.set_ylabel("perplexity (median over trials)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return fig, "Out-of-distribution (sections shuffled) vs validation perplexity by epoch"

