"""Every hyperparameter the harness knows, by the role that says where it acts, defined once.

A task's search space (or its `fixed` values) may name:
- a registry entry whose role the task takes (`task.roles`):
    optimizer       a setting of the optimizer (lr, weight decay, momentum / beta1, ...)
    schedule        the LR schedule (warm-up length)
    loss            the training loss (label smoothing)
    augmentation    the training augmentation (its magnitude)
    data            the data loader (batch size)
    optimizer_kind  which optimizer (sgd, adamw)
- or a constructor argument of the task's network (`task.network`, role `network`): layers,
  units, dropout rates, ... A dropout rate the network exposes as a HyperDropout module is
  also live: a warm-start may move it (ohgw.hyperparams.dropout); any other network argument
  only shapes the network when it is built.

An unsearched hyperparameter takes the task's `fixed` value, else its default (the entry's,
or the task's own field for batch_size and optimizer, or the network argument's). Adding a
hyperparameter is one `register(Entry(...))` here; only a new kind of effect needs code
where that role acts (the loss, the schedule, the augmentation).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ohgw.errors import ConfigError

OPTIMIZERS = ("sgd", "adamw")  # the values of the optimizer_kind role (ohgw.hyperparams.optimizers)
ROLES = ("optimizer", "schedule", "loss", "augmentation", "network", "data", "optimizer_kind")
# roles whose hyperparameters act on the training forward pass: their hyper-gradient needs
# the training gradient's derivative in them (a second-order pass; see warmstart.lookahead)
FORWARD_ROLES = ("augmentation", "network")


def identity(v):
    return v


def pow10(v):
    return 10 ** v


TASK_FIELD = "task field"  # default: the task's own field of that name (batch_size, optimizer)


@dataclass(frozen=True)
class Entry:
    name: str
    role: str
    default: object           # TASK_FIELD, or None: no default (an alternative name, e.g. lr)
    doc: str
    setting: str | None = None            # optimizer role: the setting it gives
    to_setting: Callable = identity       # value -> setting (floats and tensors alike)
    optimizers: tuple = ("sgd", "adamw")  # optimizer role: the kinds that take the setting
    discrete: bool = False                # never moved by a warm-start

    def __post_init__(self):
        if self.role not in ROLES or self.role == "network":
            raise ValueError(f"{self.name}: role must be one of {ROLES} but network "
                             f"(network arguments are the task's), got {self.role!r}")
        if (self.role == "optimizer") != (self.setting is not None):
            raise ValueError(f"{self.name}: an optimizer entry names its setting, no other does")


ENTRIES: dict[str, Entry] = {}


def register(entry: Entry) -> Entry:
    if entry.name in ENTRIES:
        raise ValueError(f"hyperparameter {entry.name!r} is registered already")
    ENTRIES[entry.name] = entry
    return entry


def unregister(name: str) -> None:
    ENTRIES.pop(name)


register(Entry("log_lr", "optimizer", -2.0, "log10 of the learning rate", setting="lr", to_setting=pow10))
register(Entry("lr", "optimizer", None, "learning rate (instead of log_lr)", setting="lr"))
register(Entry("log_wd", "optimizer", -4.0, "log10 of the weight decay", setting="weight_decay",
               to_setting=pow10))
register(Entry("weight_decay", "optimizer", None, "weight decay (instead of log_wd)", setting="weight_decay"))
register(Entry("momentum", "optimizer", 0.9, "SGD's momentum; AdamW's beta1", setting="momentum"))
register(Entry("beta2", "optimizer", 0.999, "AdamW's beta2", setting="beta2", optimizers=("adamw",)))
register(Entry("log_eps", "optimizer", -8.0, "log10 of AdamW's epsilon", setting="eps", to_setting=pow10,
               optimizers=("adamw",)))
register(Entry("nesterov", "optimizer", False, "Nesterov momentum (SGD)", setting="nesterov",
               optimizers=("sgd",), discrete=True))
register(Entry("warmup", "schedule", 0.0, "linear LR warm-up, as a fraction of the schedule's steps"))
register(Entry("label_smoothing", "loss", 0.0, "label smoothing of the training loss"))
register(Entry("aug_magnitude", "augmentation", 0.0, "magnitude of the training augmentation"))
register(Entry("batch_size", "data", TASK_FIELD, "training batch size (default: task.batch_size)",
               discrete=True))
register(Entry("optimizer", "optimizer_kind", TASK_FIELD, "the optimizer, sgd or adamw (default: "
               "task.optimizer)", discrete=True))


@dataclass(frozen=True)
class Hyperparameters:
    """What one task accepts: the registry entries of its roles and its network's arguments
    (name -> default); `resolve` gives every hyperparameter the task's training reads."""
    task: str
    roles: tuple
    network: dict = field(default_factory=dict)   # network argument -> default
    live: frozenset = frozenset()                 # network arguments a warm-start may move
    task_fields: dict = field(default_factory=dict)  # batch_size, optimizer: the task's fields

    def __post_init__(self):
        unknown = [r for r in self.roles if r not in ROLES]
        if unknown:
            raise ConfigError(f"task {self.task}: unknown role(s) {unknown}; roles are {', '.join(ROLES)}")
        clash = sorted(set(self.network) & set(ENTRIES))
        if clash:
            raise ConfigError(f"task {self.task}: network argument(s) {clash} shadow registered hyperparameters")

    @property
    def accepted(self) -> list[str]:
        return [n for n, e in ENTRIES.items() if e.role in self.roles] + (
            list(self.network) if "network" in self.roles else [])

    def role(self, name: str) -> str:
        return "network" if name in self.network else ENTRIES[name].role

    def check(self, names, where: str) -> None:
        """ConfigError naming the first name this task does not take, with what it takes."""
        for name in names:
            if name in self.accepted:
                continue
            role = ENTRIES[name].role if name in ENTRIES else "network" if name in self.network else None
            why = (f"role {role!r}, which task {self.task} does not take" if role
                   else "neither a registered hyperparameter nor an argument of its network")
            raise ConfigError(
                f"{where}.{name}: task {self.task} takes no hyperparameter {name!r} ({why}); it takes "
                f"{', '.join(n for n in self.accepted if n not in self.network)}"
                + (f" and network arguments {', '.join(self.network)}" if self.network and "network" in self.roles
                   else " and no network arguments"))
        check_one_per_setting(names, where)

    def resolve(self, given: dict) -> dict:
        """Every hyperparameter the task's training reads: `given` (searched or fixed values)
        over the defaults of its roles; a default is dropped where a given name sets the same
        optimizer setting (lr given: no log_lr)."""
        check_one_per_setting(given, "hyperparameters")
        settings = {ENTRIES[n].setting for n in given if n in ENTRIES and ENTRIES[n].setting}
        out = {}
        for name, entry in ENTRIES.items():
            if entry.default is None or (entry.setting is not None and entry.setting in settings):
                continue
            if entry.default == TASK_FIELD:  # batch size and optimizer: every task trains with them
                out[name] = self.task_fields[name]
            elif entry.role in self.roles:
                out[name] = entry.default
        # the network is always built with its arguments (the role makes them searchable)
        return {**out, **self.network, **given}

    def movable(self, name: str) -> bool:
        """Can a warm-start move it (given a continuous domain)? Not a discrete entry, nor a
        network argument that only shapes the network."""
        if name in self.network:
            return name in self.live
        return not ENTRIES[name].discrete

    def forward_acting(self, name: str) -> bool:
        return self.role(name) in FORWARD_ROLES


def check_optimizer(name: str) -> None:
    if name not in OPTIMIZERS:
        raise ConfigError(f"task.optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")


def optimizer_settings(kind: str, hp) -> dict:
    """The settings of optimizer `kind` from hyperparameter values (floats, or tensors in the
    lookahead): each optimizer entry in `hp` that `kind` takes (one per setting: resolve)."""
    return {e.setting: e.to_setting(hp[n]) for n, e in ENTRIES.items()
            if n in hp and e.role == "optimizer" and kind in e.optimizers}


def check_one_per_setting(names, where: str) -> None:
    by_setting: dict = {}
    for n in names:
        entry = ENTRIES.get(n)
        if entry is not None and entry.setting is not None:
            by_setting.setdefault(entry.setting, []).append(n)
    for setting, given in by_setting.items():
        if len(given) > 1:
            raise ConfigError(f"{where}: {' and '.join(given)} both set the optimizer's {setting}; keep one")
