"""report.md and a self-contained report.html (plots embedded) from one list of blocks."""
from __future__ import annotations

import base64
import html
import math
import re
from pathlib import Path

import pandas as pd

from ohgw.analysis import measures
from ohgw.analysis.measures import per

# A block: ("h1"|"h2"|"p"|"pre", text) | ("table", DataFrame) | ("img", path, caption)
Block = tuple

CONCEPTS = """\
- **T@tau**: the cost spent when the best-so-far validation score of a replicate first reaches the task's
  target tau; a replicate that never reaches it is *censored* (inf): the Wilcoxon test and the medians count
  it as slower than any replicate that did; its spread counts it at the cost its replicate consumed.
- **median, IQR**: over seeds; a quantile that falls on a censored replicate is inf.
- **p_bonf_<unit>** (the primary unit): the protocol's Bonferroni correction, min(1, p x m), for the rows of
  its family only (**in_family**); other rows and units give their uncorrected p.
- **crit_<name>**: whether the protocol's criterion holds (empty where it does not apply: other data, or a
  significance asked of a row outside the family); **meets_all**: a family row in which every applicable
  criterion holds; the study verdict counts them among the treatments' rows.
- **noise floor verdict**: a variant is *faster than the floor* when its interval against the A/A control
  lies above 0 and the corrected p (Bonferroni over every variant's test against the A/A control in the
  primary unit) is below alpha, *slower* when the interval lies below 0 (same test), else *within the floor*.
- **seeds_needed_<unit>**: seeds a 15% reduction would need at the family's corrected alpha with power 0.8,
  from the observed spread of the paired log-ratios (normal approximation refined once with t quantiles, over
  the Wilcoxon test's efficiency 3/pi).
- **steps**: mean |psi' - x| per hyperparameter on the search-space scale, and the fraction of trials whose
  learning rate the warm-start moved down (short horizons bias it downwards).
- **KL**: KL(adjusted psi' || sampled x) in nats between 10-bin histograms on the search-space bounds
  (0.5 pseudo-counts per bin)."""

KEY_COLUMNS = ["task", "scheduler", "warmstart", "eta_h", "role"]


def summary_columns(summary: pd.DataFrame) -> list[str]:
    return [c for c in [*KEY_COLUMNS, "tau", "n_seeds", "n_censored"] if c in summary] + \
        measures.shown(measures.REPLICATE, summary.columns)


def paired_columns(paired: pd.DataFrame, unit: str) -> list[str]:
    judged = [per("p", unit), per("p_bonf", unit), *(c for c in paired if c.startswith("crit_")), "meets_all"]
    return [c for c in [*KEY_COLUMNS, "n_pairs", "in_family"] if c in paired] + \
        measures.shown(measures.PAIRED, paired.columns) + [c for c in [*judged, "note"] if c in paired]


def floor_columns(paired: pd.DataFrame, unit: str) -> list[str]:
    names = ["n_floor_pairs", *(per(base, unit) for base in ("floor", "vs_floor")),
             *measures.bounds(per("vs_floor", unit)),
             *(per(base, unit) for base in ("p_bonf_vs_floor", "floor_verdict", "spread", "seeds_needed"))]
    return [c for c in KEY_COLUMNS if c in paired] + [c for c in names if c in paired]


def definitions() -> str:
    return CONCEPTS + "\n" + "\n".join(measures.definitions())


SEARCHER_COLUMNS = ["task", "warmstart", "eta_h", "scheduler", "reference", "n_seeds", "n_pairs",
                    *[c for cost in ("iterations_to_tau", "device_s_to_tau", "iterations_to_margin")
                      for c in (f"{cost}_median", f"reduction_{cost}", f"reduction_{cost}_low",
                                f"reduction_{cost}_high", f"p_bonf_{cost}", f"n_censored_{cost}")],
                    "best_val_median", "best_val_change", "p_bonf_best_val", "test_of_best_median",
                    "device_s_median", "epochs_used_median", "note"]

SEARCHER_DEFINITIONS = """\
- **reference**: `grid` if the comparison has it, else `random`, else the alphabetically first scheduler;
  every other scheduler is paired with it seed by seed (same task, warm-start variant, eta_h, budget).
- **iterations**: trials started (distinct trial ids, a trial counting from its first report) until the
  best-so-far validation score first reaches the target; **device-seconds** as for T@tau; inf = never.
- **margin**: the target `best found - margin` (`+ margin` for a minimised score), *best found* being the
  best validation score any scheduler's replicate of the comparison reached; `--margin` sets it.
- **reduction**: 1 - median(scheduler) / median(reference) over the paired seeds, with its 95% bootstrap
  interval; **p**: paired Wilcoxon signed-rank (censored ranked worst), Bonferroni over every test of
  searchers.csv (the four costs and the best validation score per scheduler); **best_val_change**: median
  paired difference of the best validation score (positive = better); **compute**: device-seconds and
  epochs the replicate consumed in all."""


def section_blocks(title: str, text: str, lines: list[str], table: pd.DataFrame) -> list[Block]:
    """A section of plain lines and its table; nothing when the table is empty."""
    if table.empty:
        return []
    return [("h2", title), ("p", text), ("pre", "\n".join(lines)), ("table", table)]


def searcher_blocks(table: pd.DataFrame, lines: list[str], plots: list[Path]) -> list[Block]:
    """The section of the searcher comparison; nothing when no sweep varied the scheduler."""
    if table.empty:
        return []
    return [("h2", "Searchers: each scheduler vs the reference scheduler (paired by seed)"),
            ("p", SEARCHER_DEFINITIONS),
            ("pre", "\n".join(lines)),
            ("table", table[[c for c in SEARCHER_COLUMNS if c in table]]),
            *[("img", p, p.stem.replace("_", " ")) for p in plots]]


def build(collection, tables: dict[str, pd.DataFrame], sections: dict[str, list[str]], protocol,
          plots: list[Path], generated: str, extra: list[Block] = ()) -> list[Block]:
    """The report: `tables` (summary, paired, steps, hyperparams), `sections` (plain lines: protocol,
    trust, criteria, verdict), `extra` (the searcher comparison, the sensitivity and bias sections,
    after the summary); it ends with the study verdict."""
    summary, paired = tables["summary"], tables["paired"]
    unit = protocol.primary_unit
    blocks: list[Block] = [
        ("h1", "ohgw-bench analysis"),
        ("p", f"Generated {generated} from {len(collection.replicates)} complete replicate(s) below "
              + ", ".join(f"`{r}`" for r in collection.roots)
              + f"; {len(collection.excluded)} excluded. Full tables: " + ", ".join(tables["files"]) + "."),
        ("p", "The question: does a warm-start variant reach the target validation score tau sooner than the "
              "baseline, at what cost, and does it bias the hyperparameters? A replicate is one seed of one "
              "variant; replicates with the same seed share the sampled configurations, so each variant is "
              "compared with the baseline seed by seed. Definitions are at the end, the study verdict last."),
        ("h2", "Protocol"),
        ("pre", "\n".join(sections["protocol"])),
        ("h2", f"Effects against the noise floor, intervals and power (T@tau in {unit})"),
        ("pre", "\n".join(sections["trust"]) or "No warm-start variant to compare with a baseline."),
        ("h2", "Success criteria of the protocol, per comparison"),
        ("pre", "\n".join(sections["criteria"]) or "No warm-start variant to compare with a baseline."),
        ("h2", "Summary per variant (T@tau: median over seeds)"),
        ("table", summary[summary_columns(summary)]),
        *extra,
        ("h2", "Each variant vs its baseline (paired by seed)"),
        ("table", paired[paired_columns(paired, unit)] if len(paired) else paired),
        ("h2", "Each variant vs the A/A control (the noise floor) and the seeds the criterion needs"),
        ("table", paired[floor_columns(paired, unit)] if per("floor", unit) in paired else pd.DataFrame()),
        ("h2", "Size and direction of the hyper-steps"),
        ("table", tables["steps"]),
        ("h2", "Hyperparameter shift psi' - x"),
        ("table", tables["hyperparams"]),
        ("h2", "Plots"),
        *[("img", p, p.stem.replace("_", " ")) for p in plots],
        ("h2", "Definitions"),
        ("p", definitions()),
        ("h2", "Study verdict"),
        ("pre", "\n".join(sections["verdict"])),
    ]
    if collection.excluded:
        excluded = pd.DataFrame([(str(p), why) for p, why in collection.excluded], columns=["replicate", "why"])
        blocks[3:3] = [("h2", "Excluded replicates"), ("table", excluded)]
    return blocks


def _fmt(v) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else ("-inf" if v < 0 else "inf") if math.isinf(v) else f"{v:.4g}"
    return str(v)


def to_markdown(blocks: list[Block]) -> str:
    out = []
    for kind, body, *rest in blocks:
        if kind == "h1":
            out.append(f"# {body}")
        elif kind == "h2":
            out.append(f"## {body}")
        elif kind == "p":
            out.append(body)
        elif kind == "pre":
            out.append(f"```\n{body}\n```")
        elif kind == "table":
            out.append(_md_table(body))
        elif kind == "img":
            out.append(f"![{rest[0]}]({body.name})")
    return "\n\n".join(out) + "\n"


def _md_table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "(none)"
    cells = [[_fmt(v).replace("|", "\\|") for v in row] for row in frame.itertuples(index=False)]
    return "\n".join(["| " + " | ".join(map(str, frame.columns)) + " |",
                      "|" + "---|" * len(frame.columns),
                      *["| " + " | ".join(row) + " |" for row in cells]])


def _inline_html(text: str) -> str:
    """The little markdown the paragraphs use: **bold**, `code`, *italic*, '- ' list lines."""
    text = html.escape(text, quote=False)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    text = re.sub(r"`(.+?)`", r"<code>\1</code>", text)
    text = re.sub(r"\*(.+?)\*", r"<i>\1</i>", text)
    return text.replace("\n- ", "<br>- ")


def to_html(blocks: list[Block]) -> str:
    out = ["<!doctype html><html><head><meta charset='utf-8'><title>ohgw-bench analysis</title>",
           "<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
           "table{border-collapse:collapse;font-size:12px;margin:1em 0}td,th{border:1px solid #ccc;"
           "padding:3px 6px;text-align:right}img{max-width:100%}pre{background:#f5f5f5;padding:1em;"
           "overflow-x:auto}</style></head><body>"]
    for kind, body, *rest in blocks:
        if kind in ("h1", "h2"):
            out.append(f"<{kind}>{html.escape(body)}</{kind}>")
        elif kind == "p":
            out.append("<p>" + _inline_html(body) + "</p>")
        elif kind == "pre":
            out.append(f"<pre>{html.escape(body)}</pre>")
        elif kind == "table":
            out.append("<p>(none)</p>" if body.empty else body.to_html(index=False, na_rep="", float_format=_fmt))
        elif kind == "img":
            data = base64.b64encode(Path(body).read_bytes()).decode()
            out.append(f"<figure><img alt='{html.escape(rest[0])}' src='data:image/png;base64,{data}'>"
                       f"<figcaption>{html.escape(rest[0])}</figcaption></figure>")
    return "\n".join(out + ["</body></html>"]) + "\n"
