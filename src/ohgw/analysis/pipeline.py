"""collect -> measures -> tables, plots, report: the whole analysis of some directories."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path

from ohgw.analysis import plots, report
from ohgw.analysis.collect import collect
from ohgw.analysis.searchers import DEFAULT_MARGIN, comparisons, searcher_lines, searchers_table
from ohgw.analysis.protocol import protocol_of, verdict_lines
from ohgw.analysis.tables import (criteria_lines, hyperparams_table, measures, paired_table,
                                  steps_table, summary_table)
from ohgw.analysis.trust import floor_lines
from ohgw.results.io import atomic_write_text

OUT_DIR = "analysis"


def analyze(dirs: list[Path | str], out: Path | str | None = None, margin: float = DEFAULT_MARGIN) -> Path:
    """Analyse every replicate below `dirs` into `out` (default: <first dir>/analysis); `margin`:
    the searcher comparison's distance to the best score found (ohgw.analysis.searchers).
    Everything is computed before the first file lands in `out`, and the report comes last:
    a failure leaves no half-written analysis that looks valid."""
    collection = collect(dirs)
    out = Path(out) if out is not None else Path(dirs[0]) / OUT_DIR
    protocol = protocol_of(collection)
    per_seed = measures(collection)
    summary = summary_table(collection, per_seed)
    paired = paired_table(collection, per_seed, protocol)
    hyper = hyperparams_table(collection)
    steps = steps_table(collection)
    criteria = criteria_lines(paired, protocol)
    trust = floor_lines(paired, steps, protocol.primary_unit)
    verdict = verdict_lines(paired, protocol)
    comps = comparisons(collection, per_seed, margin)  # none unless a sweep varied the scheduler
    searchers = searchers_table(collection, per_seed, comps)
    searcher_text = searcher_lines(searchers)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    try:
        pngs = plots.plot_all(collection, per_seed, staging)
        searcher_pngs = plots.plot_searchers(collection, comps, staging)
        generated = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        tables = {"summary.csv": summary, "paired.csv": paired, "hyperparams.csv": hyper, "steps.csv": steps,
                  "searchers.csv": searchers}
        written = {name: frame for name, frame in tables.items() if name != "searchers.csv" or len(frame)}
        blocks = report.build(collection, {"summary": summary, "paired": paired, "steps": steps, "hyperparams": hyper,
                                           "files": list(written)},
                              {"protocol": protocol.lines(paired.attrs.get("m"), paired.attrs.get("found")),
                               "trust": trust, "criteria": criteria, "verdict": verdict},
                              protocol, [out / p.name for p in pngs], generated,
                              report.searcher_blocks(searchers, searcher_text, [out / p.name for p in searcher_pngs]))
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
