"""Earlier tuning runs as evaluations, read from replicate records (ohgw.results.records):
what the searchers that learn across tasks start from (scheduler=transfer_bo, scheduler=aux_net).

One TaskHistory per task label (the task's name with its data condition: `digits+class_subset=0,1,2`
is another task than `digits`), pooling every complete replicate of it, whatever its scheduler,
warm-start or seed. Each trial is one Evaluation: the configuration it sampled and the metric at the
last epoch it trained (a trial a multi-fidelity scheduler stopped early counts at that epoch)."""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from ohgw.results.records import CONDITION_SETTINGS, RecordsError, Replicate, find_replicates, task_label
from ohgw.errors import ConfigError
from ohgw.hyperparams.space import SearchSpace
from ohgw.results import contract


class HistoryError(ConfigError):
    """Earlier records that cannot serve: none usable, or of another search space."""


@dataclass(frozen=True)
class Evaluation:
    config: dict      # the sampled hyperparameters (search-space names and values)
    score: float      # the task's metric at the last epoch the trial trained
    epochs: int       # epochs it trained
    device_s: float   # seconds of its processes (elapsed_s at its last report)


@dataclass
class TaskHistory:
    label: str            # the task label (collect.task_label)
    task_config: dict     # the resolved config.task of its first replicate: builds the task again
    space: SearchSpace
    metric: str
    mode: str
    evaluations: list[Evaluation] = field(default_factory=list)
    replicates: list[Path] = field(default_factory=list)

    def best(self) -> Evaluation:
        """The evaluation with the best score (ties: the earliest read)."""
        sign = 1 if self.mode == "max" else -1
        return max(self.evaluations, key=lambda e: sign * e.score)

    def finite(self) -> "TaskHistory":
        """This history with only its finite scores (a diverged trial's is not); HistoryError if none."""
        kept = [e for e in self.evaluations if math.isfinite(e.score)]
        if not kept:
            raise HistoryError(f"earlier records of task {self.label} have no finite {self.metric} "
                               f"({self.replicates[0]})")
        return replace(self, evaluations=kept)


def load_histories(dirs: list[Path | str], exclude_label: str | None = None) -> dict[str, TaskHistory]:
    """Task label -> its history, from every complete replicate below `dirs`, leaving out the task
    `exclude_label` (the task being tuned: transfer comes from OTHER tasks). HistoryError with one
    line when no directory has a usable record, or only records of the excluded task."""
    if not dirs:
        raise HistoryError("no directories of earlier replicates given")
    try:
        replicates = find_replicates(dirs).replicates
    except RecordsError as e:
        raise HistoryError(f"no usable earlier records: {e}") from None
    histories: dict[str, TaskHistory] = {}
    for rep in replicates:
        label = task_label(rep.record)
        if label == exclude_label:
            continue
        history = histories.get(label)
        if history is None:
            task_cfg = rep.record.get("config", {}).get("task", {})
            history = histories[label] = TaskHistory(label, task_cfg, SearchSpace.from_config(task_cfg["search_space"]),
                                                     rep.record["metric"], rep.record["mode"])
        elif not same_space(history.space, SearchSpace.from_config(rep.record["config"]["task"]["search_space"])):
            raise HistoryError(f"task {label}: its replicates searched different spaces "
                               f"({history.replicates[0]} vs {rep.path}); pass one of them")
        history.evaluations += evaluations(rep)
        history.replicates.append(rep.path)
    if not histories:
        raise HistoryError(f"no records of a task other than {exclude_label} below {', '.join(map(str, dirs))}")
    return histories


def histories_for(dirs: list[Path | str], task) -> dict[str, TaskHistory]:
    """The histories a searcher tuning `task` (a built Task) may learn from: every earlier task below
    `dirs` but this one (by its task label), each of the same search space, metric and mode, each
    with at least one finite score. HistoryError (one line) otherwise."""
    label = label_of(task)
    histories = load_histories(dirs, exclude_label=label)
    check_space(histories, task.space, label)
    for other, history in histories.items():
        if (history.metric, history.mode) != (task.metric, task.mode):
            raise HistoryError(f"earlier records of task {other} score {history.metric} ({history.mode}), task {label} "
                               f"is tuned on {task.metric} ({task.mode}): transfer needs the same metric")
    return {other: history.finite() for other, history in histories.items()}


def label_of(task) -> str:
    """The task label a built task's records get. collect.task_label reads a record's config, where
    a condition left at its default is absent; a Task holds every one, defaults included."""
    defaults = {}
    for cls in reversed(type(task).__mro__):
        if "__init__" in vars(cls):
            defaults.update((n, p.default) for n, p in inspect.signature(vars(cls)["__init__"]).parameters.items()
                            if p.default is not inspect.Parameter.empty)
    settings = {n: getattr(task, n) for n in CONDITION_SETTINGS
                if hasattr(task, n) and getattr(task, n) != defaults.get(n)}
    return task_label({"task": task.name, "config": {"task": settings}})


def evaluations(rep: Replicate) -> list[Evaluation]:
    """One Evaluation per trial of a replicate, in trial order."""
    metric = rep.record["metric"]
    frame = rep.results.sort_values(["trial_id", "epoch"])
    names = contract.hyperparameters(frame.columns)
    out = []
    for _, rows in frame.groupby("trial_id", sort=True):
        last = rows.iloc[-1]
        out.append(Evaluation({n: _plain(last[contract.column(contract.SAMPLED, n)]) for n in names},
                              float(last[metric]), int(last["epoch"]), float(last["elapsed_s"])))
    return out


def same_space(a: SearchSpace, b: SearchSpace) -> bool:
    return space_difference(a, b) is None


def space_difference(a: SearchSpace, b: SearchSpace) -> str | None:
    """The first difference between two search spaces ('log_lr: [-3, 0] vs [-4, -1]'), else None.
    Only the domains count (not grid_points, nor how a hyper-gradient is taken)."""
    if set(a.names) != set(b.names):
        only_a, only_b = sorted(set(a.names) - set(b.names)), sorted(set(b.names) - set(a.names))
        return f"hyperparameters {only_a or '[]'} vs {only_b or '[]'}"
    for name in a.names:
        pa, pb = a[name], b[name]
        da, db = (pa.kind, pa.low, pa.high, pa.choices, pa.log), (pb.kind, pb.low, pb.high, pb.choices, pb.log)
        if da != db:
            return f"{name}: {_domain(pa)} vs {_domain(pb)}"
    return None


def check_space(histories: dict[str, TaskHistory], space: SearchSpace, task: str) -> None:
    """HistoryError naming the first earlier task whose search space differs from `space`."""
    for label, history in histories.items():
        diff = space_difference(history.space, space)
        if diff:
            raise HistoryError(f"earlier records of task {label} searched another space than task {task} "
                               f"({diff}; {history.replicates[0]}): transfer needs the same space")


def _domain(p) -> str:
    if p.kind == "choice":
        return f"choice {list(p.choices)}"
    return f"{p.kind}{' log' if p.log else ''} [{p.low:g}, {p.high:g}]"


def _plain(value):
    """numpy scalars as Python values (a searcher compares them with the space's choices)."""
    return value.item() if hasattr(value, "item") else value
