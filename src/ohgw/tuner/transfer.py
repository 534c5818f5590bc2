"""scheduler=transfer_bo: Bayesian optimisation in a search space learned from earlier tasks.

Syne Tune's BoundingBox (Perrone et al., NeurIPS 2019) around its GP BayesianOptimization: the best
`num_hyperparameters_per_task` configurations of each earlier task span a box (a float or int
hyperparameter: the min..max of their values; a choice: the set of their values), and BO searches
that box on the task being tuned, every trial to max_epochs. The earlier tasks are this project's
replicate records below `scheduler.train_from` (ohgw.results.history.histories_for: the tuned task
left out by its task label; the same space, metric and mode), each trial one evaluation at the last
epoch it trained. Bad input is a HistoryError (one line) when the scheduler is built, which
replicate.check_config's dry build does before any trial starts or a Slurm array is queued."""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
from syne_tune.config_space import Categorical, Domain, choice, config_space_size
from syne_tune.optimizer.baselines import BayesianOptimization
from syne_tune.optimizer.schedulers.transfer_learning import BoundingBox, TransferLearningTaskEvaluations

from ohgw.results.history import HistoryError, TaskHistory, histories_for
from ohgw.results.io import atomic_write_text

OUTPUT = "transfer_bo.json"  # what a replicate's box was learned from, in its job directory


class TransferBO(BoundingBox):
    def __init__(self, config_space: dict, metric: str, mode: str, random_seed: int, task, train_from: list,
                 num_hyperparameters_per_task: int = 1, **bo_args):
        k = num_hyperparameters_per_task
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise HistoryError(f"scheduler transfer_bo: num_hyperparameters_per_task must be an integer >= 1, got {k}")
        if not train_from:
            raise HistoryError("scheduler transfer_bo: train_from is empty: give directories of earlier replicates "
                               "of other tasks (scheduler.train_from=[DIR], or the top-level train_from)")
        try:
            self.sources = histories_for(train_from, task)
        except HistoryError as e:
            raise HistoryError(f"scheduler transfer_bo: {e}") from None
        self.train_from, self.k = [str(d) for d in train_from], k

        def bo(box: dict, mode: str, metric: str):
            return BayesianOptimization(space_values(box, config_space), metric=metric, mode=mode,
                                        random_seed=random_seed, **bo_args)

        self.evaluations = {label: task_evaluations(h, config_space) for label, h in self.sources.items()}
        with contextlib.redirect_stdout(io.StringIO()):  # it prints the box; write_outputs records it
            super().__init__(bo, config_space, metric, self.evaluations, mode, k)
        self.box, self.metric, self.mode = self.scheduler.config_space, metric, mode  # metric, mode: as Syne Tune's FIFO schedulers name them

    def spanning(self) -> dict[str, list[dict]]:
        """Per earlier task, the configurations that span the box, as BoundingBox chose them (its
        top k by score; among tied scores its sort decides)."""
        top = self.top_k_hyperparameter_configurations_per_task(self.evaluations, self.k, self.mode,
                                                                 self.metric_names()[0])
        return {label: [{n: c[n] for n in describe(self.box)} for c in configs] for label, configs in top.items()}

    def write_outputs(self, job_dir: Path) -> None:
        """transfer_bo.json: the earlier tasks, their replicates and evaluations, the configurations
        that span the box, and the box."""
        spanning = self.spanning()
        out = {"train_from": self.train_from, "num_hyperparameters_per_task": self.k,
               "sources": {label: {"replicates": [str(p) for p in h.replicates], "evaluations": len(h.evaluations),
                                   "best_score": h.best().score, "spanning": spanning[label]}
                           for label, h in self.sources.items()},
               "box": describe(self.box), "box_configurations": config_space_size(
                   {n: d for n, d in self.box.items() if isinstance(d, Domain)})}
        atomic_write_text(Path(job_dir, OUTPUT), json.dumps(out, indent=1, default=str) + "\n")


def task_evaluations(history: TaskHistory, config_space: dict) -> TransferLearningTaskEvaluations:
    """One earlier task's evaluations as Syne Tune reads them: one row per trial (one seed, one
    fidelity: the last epoch it trained), the config space's constants as constant columns."""
    constants = {n: v for n, v in config_space.items() if not isinstance(v, Domain)}
    frame = pd.DataFrame([{**constants, **e.config} for e in history.evaluations])
    scores = np.array([e.score for e in history.evaluations], dtype=float).reshape(-1, 1, 1, 1)
    return TransferLearningTaskEvaluations(config_space, frame, [history.metric], scores)


def space_values(box: dict, config_space: dict) -> dict:
    """The box with each choice's values as the search space holds them, in its order (the box
    has them as read back from results.csv, sorted, as numpy scalars)."""
    out = dict(box)
    for name, domain in box.items():
        if isinstance(domain, Categorical):
            kept = list(domain.categories)
            out[name] = choice([c for c in config_space[name].categories if any(c == v for v in kept)])
    return out


def describe(box: dict) -> dict:
    """Each searched dimension of a box as plain values: a choice's list, a range's [low, high]."""
    return {n: list(d.categories) if isinstance(d, Categorical) else [d.lower, d.upper]
            for n, d in box.items() if isinstance(d, Domain)}
