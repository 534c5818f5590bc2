"""The search space: one domain per searched hyperparameter, shared by the scheduler
(sampling, through Syne Tune's domains), the warm-start (its step and clipping, on the
search-space scale) and the trial (parsing the sampled values).

The search-space scale is the scale on which a domain samples uniformly: the value itself
for `float`, log10 of it for `float` with `log: true` (Syne Tune's loguniform). Names such
as `log_lr` hold log10 values already, on a plain `float` domain (the registry turns them
into settings). Integers and choices are discrete: never moved by a warm-start."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ohgw.errors import ConfigError

KINDS = ("float", "int", "choice")


@dataclass(frozen=True)
class HyperParameter:
    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    log: bool = False              # sampled log-uniformly; the warm-start steps in log10
    # False: no differentiable path to the lookahead loss -> finite differences
    differentiable: bool = True
    grid_points: int | None = None

    @property
    def continuous(self) -> bool:
        return self.kind == "float"

    @property
    def range(self) -> float:
        """Width of the domain on the search-space scale."""
        return self.scale_high - self.scale_low

    @property
    def scale_low(self) -> float:
        return math.log10(self.low) if self.log else self.low

    @property
    def scale_high(self) -> float:
        return math.log10(self.high) if self.log else self.high

    def to_scale(self, value):
        """The value on the search-space scale (floats or tensors)."""
        if not self.log:
            return value
        return value.log10() if hasattr(value, "log10") else np.log10(value)  # tensors; floats, arrays

    def from_scale(self, u):
        return 10 ** u if self.log else u

    def clip(self, value: float) -> float:
        return min(max(value, self.low), self.high)

    def midpoint(self):
        """Where Syne Tune's searchers start (the first configuration), for defaults."""
        if self.kind == "choice":
            return self.choices[0]
        centre = self.from_scale((self.scale_low + self.scale_high) / 2)
        return round(centre) if self.kind == "int" else centre

    def parse(self, raw: str):
        """A sampled value as the backend passes it on a trial's command line."""
        if self.kind == "float":
            return float(raw)
        if self.kind == "int":
            return int(raw)
        for c in self.choices:
            if str(c) == raw:
                return c
        raise ValueError(f"{self.name}={raw!r} is none of {list(self.choices)}")


class SearchSpace:
    def __init__(self, params: list[HyperParameter]):
        self.params = {p.name: p for p in params}

    @classmethod
    def from_config(cls, spec: Mapping[str, Mapping[str, Any]]) -> "SearchSpace":
        """From a task's `search_space`; an entry set to null is not searched (so that a
        task or an override can drop one of its base's: task.search_space.aug_magnitude=null)."""
        entries = {name: entry for name, entry in (spec or {}).items() if entry is not None}
        if not entries:
            raise ConfigError("search_space is empty")
        return cls([_parse(name, dict(entry)) for name, entry in entries.items()])

    def __iter__(self):
        return iter(self.params.values())

    def __getitem__(self, name: str) -> HyperParameter:
        return self.params[name]

    def __contains__(self, name: str) -> bool:
        return name in self.params

    @property
    def names(self) -> list[str]:
        return list(self.params)

    @property
    def continuous(self) -> list[str]:
        return [p.name for p in self if p.continuous]

    @property
    def discrete(self) -> list[str]:
        return [p.name for p in self if not p.continuous]

    def to_syne_tune(self) -> dict[str, Any]:
        from syne_tune.config_space import choice, lograndint, loguniform, randint, uniform

        def domain(p: HyperParameter):
            if p.kind == "float":
                return (loguniform if p.log else uniform)(p.low, p.high)
            if p.kind == "int":
                return (lograndint if p.log else randint)(int(p.low), int(p.high))
            return choice(list(p.choices))

        return {p.name: domain(p) for p in self}


def _parse(name: str, entry: dict) -> HyperParameter:
    kind = entry.pop("type", None)
    if kind not in KINDS:
        raise ConfigError(f"search_space.{name}: type must be one of {KINDS}, got {kind!r}")
    if kind == "choice":
        choices = entry.pop("choices", None)
        if not choices:
            raise ConfigError(f"search_space.{name}: a choice needs a non-empty 'choices' list")
        types = {type(c).__name__ for c in choices}
        if len(types) > 1:
            raise ConfigError(f"search_space.{name}: the choices mix types ({', '.join(sorted(types))}) "
                              f"in {list(choices)}; give values of one type")
        if len({str(c) for c in choices}) < len(choices):
            raise ConfigError(f"search_space.{name}: repeated choices in {list(choices)}")
        return HyperParameter(name, kind, choices=tuple(choices), differentiable=False, **_rest(name, entry))
    try:
        low, high = float(entry.pop("low")), float(entry.pop("high"))
    except KeyError as missing:
        raise ConfigError(f"search_space.{name}: missing bound {missing}") from None
    if not low < high:
        raise ConfigError(f"search_space.{name}: bounds inverted or empty (low={low} >= high={high})")
    log = bool(entry.pop("log", False))
    if log and low <= 0:
        raise ConfigError(f"search_space.{name}: a log domain needs low > 0, got {low}")
    if kind == "int" and (low != int(low) or high != int(high)):
        raise ConfigError(f"search_space.{name}: an int domain needs integer bounds, got {low}, {high}")
    return HyperParameter(name, kind, low=low, high=high, log=log,
                          differentiable=bool(entry.pop("differentiable", kind == "float")),
                          **_rest(name, entry))


def _rest(name: str, entry: dict) -> dict:
    grid_points = entry.pop("grid_points", None)
    if entry:
        raise ConfigError(f"search_space.{name}: unknown field(s) {sorted(entry)}")
    return {"grid_points": grid_points}
