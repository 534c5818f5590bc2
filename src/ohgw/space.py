"""The search space on its own scale (log10 for lr and weight decay), shared by the
scheduler (sampling), the warm-start (gradient step and clipping) and the trial."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ohgw.errors import ConfigError

KINDS = ("float", "int", "choice")


@dataclass(frozen=True)
class HyperParameter:
    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    # False: no differentiable path to the lookahead loss -> finite differences
    differentiable: bool = True
    grid_points: int | None = None

    @property
    def continuous(self) -> bool:
        return self.kind == "float"

    @property
    def range(self) -> float:
        return self.high - self.low

    def clip(self, value: float) -> float:
        return min(max(value, self.low), self.high)


class SearchSpace:
    def __init__(self, params: list[HyperParameter]):
        self.params = {p.name: p for p in params}

    @classmethod
    def from_config(cls, spec: Mapping[str, Mapping[str, Any]]) -> "SearchSpace":
        if not spec:
            raise ConfigError("search_space is empty")
        return cls([_parse(name, dict(entry)) for name, entry in spec.items()])

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

    def clip(self, values: Mapping[str, float]) -> dict[str, float]:
        return {k: (self[k].clip(v) if k in self and self[k].continuous else v) for k, v in values.items()}

    def to_syne_tune(self) -> dict[str, Any]:
        from syne_tune.config_space import choice, randint, uniform

        def domain(p: HyperParameter):
            if p.kind == "float":
                return uniform(p.low, p.high)
            if p.kind == "int":
                return randint(int(p.low), int(p.high))
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
        return HyperParameter(name, kind, choices=tuple(choices), differentiable=False, **_rest(name, entry))
    try:
        low, high = float(entry.pop("low")), float(entry.pop("high"))
    except KeyError as missing:
        raise ConfigError(f"search_space.{name}: missing bound {missing}") from None
    if not low < high:
        raise ConfigError(f"search_space.{name}: bounds inverted or empty (low={low} >= high={high})")
    return HyperParameter(name, kind, low=low, high=high,
                          differentiable=bool(entry.pop("differentiable", kind == "float")),
                          **_rest(name, entry))


def _rest(name: str, entry: dict) -> dict:
    grid_points = entry.pop("grid_points", None)
    if entry:
        raise ConfigError(f"search_space.{name}: unknown field(s) {sorted(entry)}")
    return {"grid_points": grid_points}
