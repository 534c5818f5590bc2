"""Phase 1 of the low-budget study: narrow a search space from an exploratory run (typically random
search on a data subset), as Hydra overrides for the run on the full data.

Rule, per searched hyperparameter, over the top `top` trials of the run (by the task's metric at
each trial's last epoch): a float or int takes [min, max] of their values on the search-space
scale, widened by `widen` x the original width on each side and clipped to the original bounds
(ints rounded outwards); a choice keeps the values they used, in the original order.

    python -m ohgw.analysis.ranges outputs/phase1 --top 5 --widen 0.1
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from ohgw.results.history import HistoryError, TaskHistory, load_histories
from ohgw.errors import ConfigError, one_line_errors


def narrowed(history: TaskHistory, top: int, widen: float) -> dict[str, dict]:
    """name -> {low, high} or {choices}: the narrowed domain of each searched hyperparameter."""
    if top < 1 or widen < 0:
        raise ConfigError(f"--top must be >= 1 and --widen >= 0, got {top} and {widen}")
    sign = 1 if history.mode == "max" else -1
    best = sorted(history.evaluations, key=lambda e: -sign * e.score)[:top]
    out = {}
    for p in history.space:
        values = [e.config[p.name] for e in best]
        if p.kind == "choice":
            out[p.name] = {"choices": [c for c in p.choices if c in values]}
            continue
        scaled = [p.to_scale(v) for v in values]
        margin = widen * p.range
        low, high = max(p.scale_low, min(scaled) - margin), min(p.scale_high, max(scaled) + margin)
        low, high = p.from_scale(low), p.from_scale(high)
        if p.kind == "int":
            low, high = math.floor(low + 1e-9), math.ceil(high - 1e-9)
        out[p.name] = {"low": low, "high": high}
    return out


def as_overrides(domains: dict[str, dict]) -> str:
    """The domains as Hydra command-line overrides of task.search_space."""
    parts = []
    for name, d in domains.items():
        for key, value in d.items():
            text = "[" + ",".join(map(str, value)) + "]" if key == "choices" else f"{value:.6g}"
            parts.append(f"task.search_space.{name}.{key}={text}")
    return " ".join(parts)


@one_line_errors(ConfigError, HistoryError)
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ohgw.analysis.ranges", description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="+", type=Path, help="directories holding the exploratory run's replicates")
    parser.add_argument("--top", type=int, default=5, help="trials whose values span the new ranges (default 5)")
    parser.add_argument("--widen", type=float, default=0.1,
                        help="margin on each side, as a fraction of the original width (default 0.1)")
    args = parser.parse_args(argv)
    histories = load_histories(args.dirs)
    if len(histories) != 1:
        raise ConfigError(f"the exploratory run holds {len(histories)} tasks ({', '.join(histories)}); "
                          "pass the directories of one")
    history = next(iter(histories.values()))
    if len(history.evaluations) < args.top:
        raise ConfigError(f"--top {args.top} needs as many trials; task {history.label} has "
                          f"{len(history.evaluations)}")
    print(as_overrides(narrowed(history, args.top, args.widen)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
