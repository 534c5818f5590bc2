"""A prediction for one task from earlier records: the auxiliary net trained on (meta-features of
each OTHER task -> the best configuration its records hold), then applied to this task's features.

What it is trained on is `training_set(histories, held_out)`: every history but the held-out
task's; scheduler=aux_net and the leave-one-task-out evaluation both predict through here."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from ohgw.results.history import HistoryError, TaskHistory, check_space
from ohgw.auxnet.features import features_of_config
from ohgw.auxnet.net import NetSettings, fit
from ohgw.hyperparams.space import SearchSpace

MIN_TASKS = 2  # earlier tasks the net needs: with one, it could only repeat that task's best


@dataclass
class Prediction:
    task: str                       # the task label it is for
    config: dict                    # the predicted configuration
    trained_on: dict = field(default_factory=dict)  # task label -> the best configuration it learnt
    features: list = field(default_factory=list)    # this task's meta-features
    loss: float = 0.0               # the net's final training loss
    seconds: float = 0.0            # meta-features of the earlier tasks and training

    def as_dict(self) -> dict:
        return {"task": self.task, "prediction": self.config, "trained_on": self.trained_on,
                "features": self.features, "training_loss": self.loss, "seconds": self.seconds}


def training_set(histories: dict[str, TaskHistory], held_out: str) -> dict[str, TaskHistory]:
    """The histories the net may learn from when predicting for `held_out`: all but its own."""
    return {label: h for label, h in histories.items() if label != held_out}


def predict(label: str, features: list[float], space: SearchSpace, histories: dict[str, TaskHistory],
            settings: NetSettings = NetSettings()) -> Prediction:
    """The net's configuration for task `label` (its `features`), trained on the other tasks of
    `histories`; HistoryError if fewer than MIN_TASKS other tasks, or one searched another space."""
    start = time.perf_counter()
    earlier = training_set(histories, label)
    if len(earlier) < MIN_TASKS:
        raise HistoryError(f"scheduler aux_net for task {label}: needs earlier records of at least {MIN_TASKS} "
                           f"other tasks, has {len(earlier)} ({', '.join(sorted(earlier)) or 'none'})")
    check_space(earlier, space, label)
    labels = sorted(earlier)
    best = {lb: earlier[lb].finite().best().config for lb in labels}  # a diverged trial is never the best
    inputs = [features_of_config(earlier[lb].task_config) for lb in labels]
    net, loss = fit(space, inputs, [best[lb] for lb in labels], settings)
    return Prediction(label, net.predict(features), best, list(features), loss, time.perf_counter() - start)
