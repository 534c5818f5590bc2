"""Task meta-features: a fixed-length numeric vector of a built task's data statistics and model
details, what the auxiliary network reads. FEATURES is the list, in order, each with its meaning;
`meta_features(task)` computes it (it reads the task's data and builds its network once).

A task whose data is missing, or whose class has no data kind here (KINDS), is refused with a
ConfigError naming the task and why."""
from __future__ import annotations

import json
import math

import torch

from ohgw.errors import ConfigError

# The data kind of each task class, by class path; a subclass takes its nearest listed base's.
KINDS = {
    "ohgw.tasks.vision.ImageTask": "image",
    "ohgw.tasks.digits.DigitsTask": "image",
    "ohgw.tasks.features.TabularTask": "tabular",
    "ohgw.tasks.features.DiabetesTask": "tabular",
    "ohgw.tasks.features.FortunesTask": "text",
    "ohgw.tasks.language.PythonDocsTask": "sequence",
    "ohgw.tasks.lm.LMTask": "sequence",
}
KIND_NAMES = ("image", "text", "tabular", "sequence")

FEATURES = (
    ("log10_train_examples", "log10 of the training split's examples"),
    ("log10_classes", "log10 of a classifier's classes (distinct training labels); 0 for regression "
                      "and sequence models"),
    ("log10_input_size", "log10 of the numbers in one input example (pixels, features, tokens)"),
    *((f"kind_{k}", f"1 if the data are {k}s, else 0") for k in KIND_NAMES),
    ("classifies", "1 if the task classifies examples (macro F1 reported), else 0"),
    ("log10_max_epochs", "log10 of the task's max_epochs (every trial's schedule)"),
    ("log10_parameters", "log10 of the network's parameters, built with the task's network settings"),
    ("adamw", "1 if the task trains with AdamW by default, 0 with SGD"),
    ("mode_max", "1 if the metric is maximised (accuracy), 0 if minimised (loss, perplexity, RMSE)"),
)
NAMES = tuple(name for name, _ in FEATURES)


def kind_of(task) -> str:
    for cls in type(task).__mro__:
        kind = KINDS.get(f"{cls.__module__}.{cls.__qualname__}")
        if kind is not None:
            return kind
    raise ConfigError(f"task {task.name}: no meta-features for a task of class {type(task).__qualname__} "
                      f"(its data kind is not defined in ohgw.auxnet.features.KINDS)")


def meta_features(task) -> list[float]:
    """The task's FEATURES, in order; ConfigError (one line naming the task) if they cannot be had."""
    kind = kind_of(task)
    try:
        (x, y), *_ = task.cached_splits()
    except ConfigError as e:
        raise ConfigError(f"task {task.name}: no meta-features without its data: {e}") from None
    classes = int(y.max()) + 1 if task.classifies and not torch.is_floating_point(y) else 1
    net = task.network(**task.hyperparameters.network)
    values = {
        "log10_train_examples": math.log10(len(x)),
        "log10_classes": math.log10(classes),
        "log10_input_size": math.log10(max(1, int(torch.tensor(x.shape[1:]).prod()))),
        **{f"kind_{k}": float(kind == k) for k in KIND_NAMES},
        "classifies": float(task.classifies),
        "log10_max_epochs": math.log10(task.max_epochs),
        "log10_parameters": math.log10(sum(p.numel() for p in net.parameters())),
        "adamw": float(task.optimizer == "adamw"),
        "mode_max": float(task.mode == "max"),
    }
    return [float(values[name]) for name in NAMES]


_CACHE: dict[str, list[float]] = {}


def features_of_config(task_config: dict) -> list[float]:
    """meta_features of the task a (resolved) task config builds, computed once per process."""
    from ohgw.tasks import build

    key = json.dumps(task_config, sort_keys=True, default=str)
    if key not in _CACHE:
        _CACHE[key] = meta_features(build(task_config))
    return list(_CACHE[key])
