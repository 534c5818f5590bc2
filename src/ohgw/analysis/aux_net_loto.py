"""Leave-one-task-out evaluation of the auxiliary network (scheduler=aux_net):

    python -m ohgw.analysis.aux_net_loto <dirs of earlier records> [--aux <dirs of aux_net replicates>] --out DIR

For each task label in the earlier records: the net trained on every OTHER task's records (its own
never enter: ohgw.auxnet.predict.training_set), its predicted configuration, and that
configuration's score where an aux_net replicate on the task ran it as its first trial; beside it,
per earlier scheduler on the task (grid, random, bo, ...), the best score it found, the trials and
device-seconds it spent to get there, and those it spent until it first matched the predicted
score. A trial's score is its metric at the last epoch it trained (ohgw.results.history); costs
count trials in start order and add up their device-seconds. Medians over a scheduler's
replicates (seeds). Writes loto.csv (task x searcher), predictions.csv (task) and loto.md."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from ohgw import CONF_DIR
from ohgw.analysis import report
from ohgw.analysis.collect import AnalysisError, find_replicates, task_label
from ohgw.results.history import Evaluation, HistoryError, evaluations, load_histories
from ohgw.auxnet.features import features_of_config
from ohgw.auxnet.net import NetSettings, same_prediction
from ohgw.auxnet.predict import predict
from ohgw.auxnet.searcher import read_output
from ohgw.errors import ConfigError, one_line_errors
from ohgw.results.io import atomic_write_text

AUX = "aux_net"
PREDICTED = "aux_net (prediction)"   # the predicted configuration, one trial
SEARCHER_COLUMNS = ("task", "metric", "mode", "searcher", "replicates", "trials", "device_s", "best",
                    "trials_to_best", "device_s_to_best", "trials_to_match", "device_s_to_match")


def default_settings() -> NetSettings:
    """The net's settings as conf/scheduler/aux_net.yaml gives them (what a replicate uses by default)."""
    net = OmegaConf.load(CONF_DIR / "scheduler" / "aux_net.yaml").args.net
    return NetSettings.from_config(OmegaConf.to_container(net))


def costs(evals: list[Evaluation], mode: str, target: float | None) -> dict:
    """The best score of a replicate's trials (in start order), the trials and device-seconds spent
    until it was first found, and until a score at least as good as `target` (inf if never, nan
    without a target)."""
    sign = 1 if mode == "max" else -1
    scores = [sign * e.score for e in evals]
    spent = pd.Series([e.device_s for e in evals]).cumsum().tolist()
    best = max(scores)
    at_best = scores.index(best)
    out = {"trials": len(evals), "device_s": spent[-1], "best": sign * best,
           "trials_to_best": at_best + 1, "device_s_to_best": spent[at_best],
           "trials_to_match": math.nan, "device_s_to_match": math.nan}  # nan: no predicted score to match
    if target is not None and not math.isnan(target):
        out.update(trials_to_match=math.inf, device_s_to_match=math.inf)
        hit = next((i for i, s in enumerate(scores) if s >= sign * target - 1e-9), None)
        if hit is not None:
            out.update(trials_to_match=hit + 1, device_s_to_match=spent[hit])
    return out


def aux_replicates(dirs: list) -> dict[str, list]:
    """Task label -> [(replicate, its aux_net.json)] of the aux_net replicates below `dirs`."""
    out: dict[str, list] = {}
    for rep in find_replicates(dirs).replicates:
        if rep.record["scheduler"] != AUX:
            continue
        output = read_output(rep.path)
        if output is None:
            raise HistoryError(f"aux_net replicate {rep.path} has no aux_net.json: its prediction is unknown")
        out.setdefault(task_label(rep.record), []).append((rep, output))
    return out


def first_trial_is(rep, config: dict, space) -> bool:
    return same_prediction(space, evaluations(rep)[0].config, config)


def evaluate(dirs: list, aux_dirs: list, settings: NetSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(loto: task x searcher, predictions: task); HistoryError / AnalysisError on unusable input."""
    earlier = find_replicates(dirs).replicates
    learnt = [str(r.path) for r in earlier if r.record["scheduler"] == AUX]
    if learnt:
        raise HistoryError(f"aux_net replicates among the earlier records ({learnt[0]}): pass them with --aux, "
                           "so that no prediction is trained on another prediction's trials")
    histories = load_histories(dirs)
    aux = aux_replicates(aux_dirs) if aux_dirs else {}
    unknown = sorted(set(aux) - set(histories))
    if unknown:
        raise HistoryError(f"aux_net replicates of task(s) {unknown} have no earlier records to compare with")
    rows, predictions = [], []
    for label, history in sorted(histories.items()):
        p = predict(label, features_of_config(history.task_config), history.space, histories, settings)
        runs = aux.get(label, [])
        ran = [(rep, out) for rep, out in runs if first_trial_is(rep, p.config, history.space)]
        score = _median([evaluations(rep)[0].score for rep, _ in ran]) if ran else math.nan
        predictions.append({"task": label, "metric": history.metric, "mode": history.mode,
                            "trained_on": " ".join(sorted(p.trained_on)), **{f"pred_{k}": v for k, v in p.config.items()},
                            "predicted_score": score, "aux_replicates": len(runs), "ran_prediction_first": len(ran),
                            "same_as_replicate": all(set(out["prediction"]) == set(p.config) and same_prediction(
                                history.space, out["prediction"], p.config) for _, out in runs)
                            if runs else None, "net_seconds": p.seconds})
        target = None if math.isnan(score) else score
        if ran:
            first = [evaluations(rep)[0] for rep, _ in ran]
            rows.append(_row(label, history, PREDICTED, [costs([e], history.mode, target) for e in first]))
            rows.append(_row(label, history, f"{AUX} (all trials)",
                             [costs(evaluations(rep), history.mode, target) for rep, _ in ran]))
        by_scheduler: dict[str, list] = {}
        for rep in earlier:
            if task_label(rep.record) == label:
                by_scheduler.setdefault(rep.record["scheduler"], []).append(rep)
        for scheduler, reps in sorted(by_scheduler.items()):
            rows.append(_row(label, history, scheduler, [costs(evaluations(r), history.mode, target) for r in reps]))
    return pd.DataFrame(rows, columns=list(SEARCHER_COLUMNS)), pd.DataFrame(predictions)


def _row(label, history, searcher: str, measured: list[dict]) -> dict:
    return {"task": label, "metric": history.metric, "mode": history.mode, "searcher": searcher,
            "replicates": len(measured), **{k: _median([m[k] for m in measured]) for k in measured[0]}}


def to_markdown(loto: pd.DataFrame, predictions: pd.DataFrame, dirs: list, aux_dirs: list) -> str:
    return report.to_markdown([
        ("h1", "aux_net: leave-one-task-out"),
        ("p", f"Earlier records: {', '.join(map(str, dirs))}; aux_net replicates: "
              f"{', '.join(map(str, aux_dirs)) or 'none'}."),
        ("p", "Each task's prediction comes from the net trained on the OTHER tasks' best configurations. "
              "A trial's score is its metric at its last epoch; medians over replicates; `never` = not reached."),
        ("h2", "Predictions"), ("table", predictions.map(_cell)),
        ("h2", "Predicted configuration vs the searchers"),
        ("p", "`to match`: trials (device-seconds) until the searcher first scored at least the predicted "
              "configuration's score."),
        ("table", loto.map(_cell))])


def _cell(v) -> str:
    """A table cell: `never` for a cost never reached (inf), `-` where there is nothing to measure."""
    if isinstance(v, float):
        return "never" if math.isinf(v) else "-" if math.isnan(v) else f"{v:.4g}"
    return "-" if v is None else str(v)


def write(out: Path, loto: pd.DataFrame, predictions: pd.DataFrame, markdown: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "loto.csv", loto.to_csv(index=False))
    atomic_write_text(out / "predictions.csv", predictions.to_csv(index=False))
    atomic_write_text(out / "loto.md", markdown)


def _median(values):
    s = pd.Series(values, dtype=float)
    return float(s.median()) if len(s) else math.nan




@one_line_errors(ConfigError, AnalysisError)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ohgw.analysis.aux_net_loto", description=(
        "Leave-one-task-out evaluation of scheduler=aux_net: per task, the net's prediction trained on the "
        "other tasks' records, its score where an aux_net replicate ran it, against what each earlier "
        "scheduler found on the task and what it spent to get there."))
    parser.add_argument("dirs", nargs="+", help="directories of earlier replicate records (grid, random, bo, ...)")
    parser.add_argument("--aux", nargs="*", default=[], help="directories of aux_net replicates on those tasks")
    parser.add_argument("--out", required=True, help="output directory: loto.csv, predictions.csv, loto.md")
    args = parser.parse_args(argv)
    loto, predictions = evaluate(args.dirs, args.aux, default_settings())
    write(Path(args.out), loto, predictions, to_markdown(loto, predictions, args.dirs, args.aux))
    print(f"leave-one-task-out over {len(predictions)} task(s) written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
