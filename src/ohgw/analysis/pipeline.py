"""collect -> measures -> tables, plots, report: the whole analysis of some directories."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path

from ohgw.analysis import plots, report, run_order
from ohgw.analysis.bias import bias_lines, bias_table
from ohgw.analysis.collect import collect
from ohgw.analysis.searchers import DEFAULT_MARGIN, comparisons, searcher_lines, searchers_table
from ohgw.analysis.sensitivity import sensitivity_lines, sensitivity_table
from ohgw.analysis.protocol import protocol_of, verdict_lines
from ohgw.analysis.robustness import clean_tasks, ood_lines, ood_per_rung_table, retained_lines, retained_table
from ohgw.analysis.tables import (criteria_lines, hyperparams_table, measures, paired_table,
                                  steps_table, summary_table)
from ohgw.analysis.trust import floor_lines
from ohgw.results.io import atomic_write_text

OUT_DIR = "analysis"
SENSITIVITY_TEXT = ("Each seed's speed-up 1 - T@tau(variant) / T@tau(baseline) in the protocol's primary unit (a "
                    "censored seed at the cost its replicate consumed), a curve fitted over log10 eta_h as the "
                    "protocol says (LOESS, or a cubic spline through the means), the eta_h of its peak with a 95% "
                    "percentile bootstrap interval over seeds (1000 resamples, fixed seed), and the near-optimal "
                    "region: where the fitted speed-up is at least the stated share of its peak.")
BIAS_TEXT = ("Per numeric hyperparameter, on the search-space scale, the values the trials trained with: the best "
             "trial of each seed (final) and every trial that reached the top rung the scheduler used (top_rung); "
             "the variant against the baseline over the seeds both have: the shift of the medians and of the means, "
             "and the energy distance with a permutation p that swaps the two variants within seeds (each seed's "
             "two replicates share their sampled configurations); Bonferroni over each variant's tests.")
RETAINED_TEXT = ("For a variant run on noisy data (label or token noise) and on the same task's clean data: the "
                 "reduction of T@tau in the protocol's primary unit on each, with its 95% bootstrap interval (as in "
                 "paired.csv), and the share of the clean reduction that remains on noisy data, reduction_noisy / reduction_clean; "
                 "undefined where the clean data gave no speed-up.")
OOD_TEXT = ("At each rung level the scheduler decided at (a scheduler without rungs: the last epoch), per seed, the "
            "out-of-distribution perplexity at that epoch of the trial with the best validation score there (the "
            "configuration the scheduler ranks first); the variant minus its baseline, paired by seed (positive = "
            "worse out of distribution): the median of the differences with a 95% percentile bootstrap interval "
            "(4000 resamples, fixed seed) and a paired Wilcoxon p, Bonferroni over each variant's rungs.")


def analyze(dirs: list[Path | str], out: Path | str | None = None, margin: float = DEFAULT_MARGIN) -> Path:
    """Analyse every replicate below `dirs` (or in the archives among them) into `out` (default:
    <first dir>/analysis, beside an archive); `margin`:
    the searcher comparison's distance to the best score found (ohgw.analysis.searchers).
    Everything is computed before the first file lands in `out`, and the report comes last:
    a failure leaves no half-written analysis that looks valid."""
    collection = collect(dirs)
    first = Path(dirs[0])
    out = Path(out) if out is not None else (first.parent if first.is_file() else first) / OUT_DIR
    protocol = protocol_of(collection)
    per_seed = measures(collection)
    summary = summary_table(collection, per_seed)
    paired = paired_table(collection, per_seed, protocol)
    hyper = hyperparams_table(collection)
    steps = steps_table(collection)
    criteria = criteria_lines(paired, protocol)
    trust = floor_lines(paired, steps, protocol.primary_unit)
    verdict = verdict_lines(paired, protocol)
    sensitivity = sensitivity_table(collection, per_seed, protocol)  # none without an eta_h sweep
    bias = bias_table(collection)
    retained = retained_table(paired, clean_tasks(collection), protocol.primary_unit)  # needs noisy and clean data
    ood = ood_per_rung_table(collection)  # none without an OOD split
    comps = comparisons(collection, per_seed, margin)  # none unless a sweep varied the scheduler
    searchers = searchers_table(collection, per_seed, comps)
    searcher_text = searcher_lines(searchers)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    try:
        pngs = plots.plot_all(collection, per_seed, staging, protocol, sensitivity)
        searcher_pngs = plots.plot_searchers(collection, comps, staging)
        generated = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        tables = {"summary.csv": summary, "paired.csv": paired, "hyperparams.csv": hyper, "steps.csv": steps,
                  "searchers.csv": searchers, "sensitivity.csv": sensitivity, "bias.csv": bias,
                  "retained.csv": retained, "ood_rungs.csv": ood}
        optional = ("searchers.csv", "sensitivity.csv", "bias.csv", "retained.csv", "ood_rungs.csv")  # where they exist
        written = {name: frame for name, frame in tables.items() if name not in optional or len(frame)}
        blocks = report.build(collection, {"summary": summary, "paired": paired, "steps": steps, "hyperparams": hyper,
                                           "files": list(written)},
                              {"protocol": protocol.lines(paired.attrs.get("m"), paired.attrs.get("found"))
                                           + [run_order.describe(collection)],
                               "trust": trust, "criteria": criteria, "verdict": verdict},
                              protocol, [out / p.name for p in pngs], generated,
                              report.searcher_blocks(searchers, searcher_text, [out / p.name for p in searcher_pngs])
                              + report.section_blocks("Sensitivity to eta_h: the fitted optimum", SENSITIVITY_TEXT,
                                                      sensitivity_lines(sensitivity), sensitivity)
                              + report.section_blocks("Bias: the configurations each variant selects and promotes, "
                                                      "against the baseline's", BIAS_TEXT,
                                                      bias_lines(bias, protocol.alpha), bias)
                              + report.section_blocks("Retained speed-up under noise", RETAINED_TEXT,
                                                      retained_lines(retained), retained)
                              + report.section_blocks("Delta OOD perplexity per rung", OOD_TEXT,
                                                      ood_lines(ood, protocol.alpha), ood))
        html = report.to_html([(b[0], staging / b[1].name, *b[2:]) if b[0] == "img" else b for b in blocks])
        for png in pngs + searcher_pngs:
            os.replace(png, out / png.name)
        for name, frame in tables.items():
            if name in written:
                atomic_write_text(out / name, frame.to_csv(index=False))
            else:  # an earlier analysis's table would claim what this one has not
                (out / name).unlink(missing_ok=True)
        atomic_write_text(out / "report.md", report.to_markdown(blocks))
        atomic_write_text(out / "report.html", html)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for path, why in collection.excluded:
        print(f"excluded {path}: {why}")
    print("\n".join(trust + criteria + searcher_text + verdict))
    print(f"analysis of {len(collection.replicates)} replicate(s) written to {out}")
    return out
