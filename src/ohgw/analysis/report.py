"""report.md and a self-contained report.html (plots embedded) from one list of blocks."""
from __future__ import annotations

import base64
import html
import math
import re
from pathlib import Path

import pandas as pd

from ohgw.analysis.metrics import UNITS

# A block: ("h1"|"h2"|"p"|"pre", text) | ("table", DataFrame) | ("img", path, caption)
Block = tuple

DEFINITIONS = """\
- **T@tau**: cost spent when the best-so-far validation score of the replicate first reaches the task's
  target tau, in wall-clock seconds of the tuner, device-seconds (summed over trial processes, start-up
  included) and epochs consumed (one reported epoch = one epoch). A replicate that never reaches tau is
  *censored* (shown as inf): it counts as slower than any replicate that did.
- **median, IQR**: over seeds; a quantile that falls on a censored replicate is inf.
- **reduction**: 1 - median(variant) / median(baseline) over the seeds both have (positive = faster).
- **p**: two-sided paired Wilcoxon signed-rank test over seeds (censored times ranked worse than every
  reached time); **p_bonf**: Bonferroni-corrected over all tests in the paired table.
- **test_f1_of_best** (classifiers): macro F1 on the test split of the best validation report (precision
  and recall beside it in summary.csv).
- **AUC**: mean best-so-far score after each epoch consumed (area under the best-so-far curve per epoch).
- **CI**: 95% percentile bootstrap interval of the reduction, resampling seed pairs (4000 resamples,
  fixed seed); **hl_reduction**: 1 - exp(Hodges-Lehmann estimate of the paired log(T_variant/T_baseline)),
  with its exact 95% interval from the signed-rank distribution, over the pairs where both reached tau.
- **noise floor**: the A/A control's reduction against the baseline (warm-start `aa`: the same computation
  as OHGW, then no step); **vs floor**: the variant's reduction against the A/A control over the seeds all
  three share, its interval and paired Wilcoxon p (Bonferroni over the vs-floor tests). A variant is
  *faster than the floor* when that interval lies above 0 and the corrected p is below 0.05, *slower* when
  the interval lies below 0 (same test), else *within the floor*.
- **power**: seeds a 15% reduction would need at the table's Bonferroni-corrected alpha with power 0.8,
  from the observed standard deviation of the paired log-ratios (normal approximation refined once with t
  quantiles, over the Wilcoxon test's efficiency 3/pi).
- **steps**: mean |psi' - x| per hyperparameter on the search-space scale, and the fraction of trials whose
  learning rate the warm-start moved down (short horizons bias it downwards).
- **extra compute**: warm-start seconds as % of the replicate's device-seconds, and % of training FLOPs;
  **ws_step_equiv**: FLOPs of one trial's warm-start in units of one training step;
  **peak memory ratio**: a hyper-step's peak memory over a normal training step's peak;
  **trial peak ratio**: the criterion's measure: a trial process's peak memory (CUDA max-allocated, or the
  peak resident set on CPU) after its first epoch over the paired baseline trial's, median over trials.
- **std ratio**: seed-wise std of T@tau, variant over baseline (undefined when a seed is censored).
- **KL**: KL(adjusted psi' || sampled x) in nats between 10-bin histograms on the search-space bounds
  (0.5 pseudo-counts per bin)."""

SUMMARY_COLUMNS = ["task", "scheduler", "warmstart", "eta_h", "tau", "n_seeds", "n_censored",
                   *[f"t_{u}_median" for u in UNITS], "t_epochs_q25", "t_epochs_q75", "t_epochs_std",
                   "best_val_median", "test_of_best_median", "auc_epochs_median",
                   "ws_device_pct_median", "ws_step_equiv_median", "peak_mem_ratio_median",
                   "best_ood_ppl_median", "ece_of_best_median", "test_f1_of_best_median"]
PAIRED_COLUMNS = ["task", "scheduler", "warmstart", "eta_h", "n_pairs",
                  *[c for u in UNITS for c in (f"reduction_{u}", f"reduction_{u}_low", f"reduction_{u}_high",
                                               f"p_bonf_{u}")],
                  "final_val_change_rel", "extra_device_pct", "trial_peak_ratio", "peak_mem_ratio", "note"]
FLOOR_COLUMNS = ["task", "scheduler", "warmstart", "eta_h", "n_floor_pairs",
                 *[c for u in UNITS for c in (f"floor_{u}", f"vs_floor_{u}", f"vs_floor_{u}_low", f"vs_floor_{u}_high",
                                              f"p_bonf_vs_floor_{u}", f"spread_{u}", f"seeds_needed_{u}")]]


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


def searcher_blocks(table: pd.DataFrame, lines: list[str], plots: list[Path]) -> list[Block]:
    """The section of the searcher comparison; nothing when no sweep varied the scheduler."""
    if table.empty:
        return []
    return [("h2", "Searchers: each scheduler vs the reference scheduler (paired by seed)"),
            ("p", SEARCHER_DEFINITIONS),
            ("pre", "\n".join(lines)),
            ("table", table[[c for c in SEARCHER_COLUMNS if c in table]]),
            *[("img", p, p.stem.replace("_", " ")) for p in plots]]


def build(collection, summary: pd.DataFrame, paired: pd.DataFrame, hyper: pd.DataFrame, steps: pd.DataFrame,
          criteria: list[str], trust: list[str], plots: list[Path], generated: str,
          searchers: list[Block] = ()) -> list[Block]:
    """`searchers`: the searcher comparison's section (searcher_blocks), after the summary."""
    blocks: list[Block] = [
        ("h1", "ohgw-bench analysis"),
        ("p", f"Generated {generated} from {len(collection.replicates)} complete replicate(s) below "
              + ", ".join(f"`{r}`" for r in collection.roots)
              + f"; {len(collection.excluded)} excluded. Full tables: summary.csv, paired.csv, hyperparams.csv, "
                "steps.csv" + (", searchers.csv." if searchers else ".")),
        ("p", "The question: does a warm-start variant reach the target validation score tau sooner than the "
              "baseline, at what cost, and does it bias the hyperparameters? A replicate is one seed of one "
              "variant; replicates with the same seed share the sampled configurations, so each variant is "
              "compared with the baseline seed by seed. Definitions are at the end."),
        ("h2", "Effects against the noise floor, intervals and power (T@tau in epochs)"),
        ("pre", "\n".join(trust) or "No warm-start variant to compare with a baseline."),
        ("h2", "Success criteria of the strategy, per comparison"),
        ("pre", "\n".join(criteria) or "No warm-start variant to compare with a baseline."),
        ("h2", "Summary per variant (T@tau: median over seeds)"),
        ("table", summary[[c for c in SUMMARY_COLUMNS if c in summary]]),
        *searchers,
        ("h2", "Each variant vs its baseline (paired by seed)"),
        ("table", paired[[c for c in PAIRED_COLUMNS if c in paired]] if len(paired) else paired),
        ("h2", "Each variant vs the A/A control (the noise floor) and the seeds the criterion needs"),
        ("table", paired[[c for c in FLOOR_COLUMNS if c in paired]] if "floor_epochs" in paired else
         pd.DataFrame()),
        ("h2", "Size and direction of the hyper-steps"),
        ("table", steps),
        ("h2", "Hyperparameter shift psi' - x"),
        ("table", hyper),
        ("h2", "Plots"),
        *[("img", p, p.stem.replace("_", " ")) for p in plots],
        ("h2", "Definitions"),
        ("p", DEFINITIONS),
    ]
    if collection.excluded:
        excluded = pd.DataFrame([(str(p), why) for p, why in collection.excluded], columns=["replicate", "why"])
        blocks[2:2] = [("h2", "Excluded replicates"), ("table", excluded)]
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
