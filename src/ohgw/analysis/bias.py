"""Bias as the study means it: do a variant's scheduler runs end on, and promote, other
configurations than the baseline's? Per numeric hyperparameter, on the search-space scale, the values
the trials trained with (psi'; x for the baseline) of two selections of each seed:

- final: the trial of the best validation report (one per seed);
- top rung: every trial that reached the highest rung level the scheduler decided at (the record's
  rung_levels; for a scheduler without rungs, the task's last epoch).

Against the baseline over the seeds both have: the shift (variant minus baseline, of the medians and
of the means) and a two-sample test, the energy distance with a permutation p. Each seed's two
replicates share their sampled configurations, so the permutations swap the two variants' labels
within seeds, never across them: all 2^n swaps for n seeds up to MAX_EXACT_SEEDS, else that many
random ones (fixed seed). p counts the permutations whose distance is at least the observed one,
the observed one included. Bonferroni over each variant's tests (its hyperparameters, both
selections): does this variant shift any of them? Choices are left out (no order to shift along)."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from ohgw.analysis.collect import POSITIVE_CONTROL, TREATMENT, Collection, Replicate
from ohgw.analysis.measures import Seen
from ohgw.analysis.metrics import EPOCH, rung_levels, trials
from ohgw.analysis.stats import bonferroni
from ohgw.hyperparams.space import SearchSpace
from ohgw.results.contract import ADJUSTED, SAMPLED, column

MAX_EXACT_SEEDS = 12        # 4096 swaps; more seeds: 4096 random ones
PERMUTATION_SEED = 0        # fixed: the same report every time
JUDGED_ROLES = (TREATMENT, POSITIVE_CONTROL)  # the method, and the control whose shift is known
SELECTIONS = ("final", "top_rung")


def energy_distance(x: np.ndarray, y: np.ndarray) -> float:
    """2 E|X - Y| - E|X - X'| - E|Y - Y'| of the two samples' empirical distributions (0 when they are
    equal, > 0 otherwise)."""
    return _energy(np.concatenate([x, y]), np.r_[np.ones(len(x), bool), np.zeros(len(y), bool)])


def _pair_sum(a: np.ndarray) -> float:
    """sum over all ordered pairs |a_i - a_j|, from the sorted values: O(n log n), not n^2 (a thousand
    simulated seeds, four thousand permutations)."""
    a = np.sort(a)
    n = len(a)
    return float(2 * np.dot(2 * np.arange(1, n + 1) - n - 1, a))


def _energy(values: np.ndarray, in_x: np.ndarray, total: float | None = None) -> float:
    """energy_distance of values[in_x] and values[~in_x]; `total`: _pair_sum(values), the same for
    every relabelling of one sample."""
    x, y = values[in_x], values[~in_x]
    s_x, s_y = _pair_sum(x), _pair_sum(y)
    s_xy = ((_pair_sum(values) if total is None else total) - s_x - s_y) / 2
    d = float(2 * s_xy / (len(x) * len(y)) - s_x / len(x) ** 2 - s_y / len(y) ** 2)
    # equal samples give 0 up to the sums' rounding, which must not read as a shift
    return 0.0 if abs(d) <= 1e-12 * (1.0 + float(np.abs(values).max(initial=0.0))) else d


def swap_test(pairs: list[tuple[np.ndarray, np.ndarray]], seed: int = PERMUTATION_SEED) -> tuple[float, float, int]:
    """(energy distance, permutation p, permutations) of per-seed pairs (baseline values, variant values),
    the labels swapped within seeds."""
    values = np.concatenate([np.concatenate([b, v]) for b, v in pairs])
    owner_is_baseline = np.concatenate([np.r_[np.ones(len(b), bool), np.zeros(len(v), bool)] for b, v in pairs])
    seed_of = np.concatenate([np.full(len(b) + len(v), i) for i, (b, v) in enumerate(pairs)])
    total = _pair_sum(values)

    def distance(swapped) -> float:
        return _energy(values, owner_is_baseline ^ np.asarray(swapped, bool)[seed_of], total)

    observed = distance([False] * len(pairs))
    if len(pairs) <= MAX_EXACT_SEEDS:
        swaps = itertools.product((False, True), repeat=len(pairs))
    else:
        rng = np.random.default_rng(seed)
        swaps = rng.integers(0, 2, size=(2 ** MAX_EXACT_SEEDS, len(pairs))).astype(bool)
    found = np.array([distance(s) for s in swaps])
    return observed, float(np.mean(found >= observed - 1e-12)), len(found)


def selected(rep: Replicate, selection: str) -> pd.DataFrame:
    """The trials a replicate selected (final) or promoted to its top rung (top_rung), one row each."""
    per_trial = _trials(rep)
    if selection == "final":
        best = Seen(rep).best
        return per_trial.loc[[best["trial_id"]]] if best is not None else per_trial.iloc[0:0]
    levels = rung_levels(rep.record)
    top = max(levels) if levels else rep.record.get("config", {}).get("task", {}).get("max_epochs")
    return per_trial[per_trial[EPOCH] >= top] if top else per_trial.iloc[0:0]


def _trials(rep: Replicate) -> pd.DataFrame:
    """trials() of a replicate, once: every hyperparameter and selection reads it."""
    if "_trials" not in rep.__dict__:
        rep.__dict__["_trials"] = trials(rep.results)
    return rep.__dict__["_trials"]


def values(rep: Replicate, selection: str, spec) -> np.ndarray:
    """The selected trials' trained-with values of one hyperparameter on the search-space scale."""
    rows = selected(rep, selection)
    col = column(ADJUSTED, spec.name) if column(ADJUSTED, spec.name) in rows else column(SAMPLED, spec.name)
    if col not in rows:
        return np.array([])
    return np.asarray(spec.to_scale(rows[col].astype(float).to_numpy()), dtype=float)


def bias_table(collection: Collection) -> pd.DataFrame:
    """One row per (variant of a judged role, numeric hyperparameter, selection) against its baseline."""
    rows = []
    groups = collection.groups()
    for key, reps in groups.items():
        if collection.role(key) not in JUDGED_ROLES:
            continue
        base_key = collection.baseline_of(key)
        if base_key is None:
            continue
        base = {r.seed: r for r in groups[base_key]}
        paired = [(base[r.seed], r) for r in reps if r.seed in base]
        space = SearchSpace.from_config(reps[0].record["config"]["task"]["search_space"])
        for spec in space:
            if spec.kind == "choice":
                continue
            for selection in SELECTIONS:
                pairs = [(values(b, selection, spec), values(v, selection, spec)) for b, v in paired]
                pairs = [(b, v) for b, v in pairs if len(b) and len(v)]
                row = {**key._asdict(), "role": collection.role(key), "hyperparameter": spec.name,
                       "selection": selection, "n_seeds": len(pairs)}
                if pairs:
                    b, v = (np.concatenate([p[i] for p in pairs]) for i in (0, 1))
                    distance, p, n_perm = swap_test(pairs)
                    row.update(n_baseline=len(b), n_variant=len(v), median_baseline=float(np.median(b)),
                               median_variant=float(np.median(v)), shift_median=float(np.median(v) - np.median(b)),
                               shift_mean=float(v.mean() - b.mean()), energy=distance, p_perm=p, n_permutations=n_perm)
                rows.append(row)
    table = pd.DataFrame(rows)
    if "p_perm" in table:
        variant = ["task", "scheduler", "warmstart", "eta_h"]
        table["p_bonf"] = table.groupby(variant, dropna=False, sort=False)["p_perm"].transform(
            lambda p: bonferroni(p.to_numpy(float)))
    return table


def bias_lines(table: pd.DataFrame, alpha: float) -> list[str]:
    """Per variant and selection, the hyperparameters whose distribution shifted (corrected p < alpha)
    and the largest shift; a note where the seeds cannot reach a corrected p below alpha."""
    lines = []
    if table.empty or "p_perm" not in table:
        return lines
    tested = table.dropna(subset=["p_perm"])
    for (task, scheduler, warmstart, eta_h), variant in tested.groupby(["task", "scheduler", "warmstart", "eta_h"],
                                                                       dropna=False, sort=False):
        name = f"{task}/{scheduler}: {warmstart}" + ("" if pd.isna(eta_h) else f" (eta_h={eta_h:g})")
        for selection, rows in variant.groupby("selection", sort=False):
            what = "the best trial of each seed" if selection == "final" else "the trials that reached the top rung"
            shifted = rows[rows["p_bonf"] < alpha]
            largest = rows.loc[rows["shift_median"].abs().idxmax()]
            found = ", ".join(f"{r['hyperparameter']} shifted by {r['shift_median']:+.3g} (p {r['p_perm']:.3g}, "
                              f"Bonferroni {r['p_bonf']:.3g})" for _, r in shifted.iterrows())
            n = int(rows["n_seeds"].max())
            lines.append(f"{name} vs baseline, {what} ({n} seeds): "
                         f"{found or f'no hyperparameter shifted (Bonferroni p < {alpha:g})'}; largest median shift "
                         f"{largest['hyperparameter']} {largest['shift_median']:+.3g} (p {largest['p_perm']:.3g})")
            best_possible = min(1.0, smallest_p(n) * len(variant))
            if best_possible >= alpha:
                lines.append(f"  note: with {n} seeds and {len(variant)} tests the smallest corrected p is "
                             f"{best_possible:.3g}: no shift can be shown; run more seeds")
    return lines


def smallest_p(n_seeds: int) -> float:
    """The smallest permutation p that n seeds allow: swapping every seed gives the observed distance
    again, so at least 2 of the 2^n swaps reach it."""
    return 2 / 2 ** n_seeds if n_seeds <= MAX_EXACT_SEEDS else 1 / 2 ** MAX_EXACT_SEEDS
