"""The order in which the replicates ran, as their records' start times tell it: a report states
it, since drift in a machine's load that lines up with the variants reads as an effect. A sweep
runs in randomized blocks by default (ohgw.tuner.run_order: each seed's variants together, in an
order drawn per seed); records from before, or launched by hand, may have run variant by variant."""
from __future__ import annotations

from collections import Counter
from itertools import groupby


def _segments(values: list) -> int:
    """How many runs of equal consecutive values the sequence has."""
    return sum(1 for _ in groupby(values))


def _namer(keys):
    """Names for the compared groups that tell them apart: the scheduler where schedulers differ (a
    searcher study compares schedulers under one warm-start variant), the task where tasks differ."""
    parts = [part for part, values in (("task", {k.task for k in keys}), ("scheduler", {k.scheduler for k in keys}))
             if len(values) > 1]
    if len({k.label() for k in keys}) > 1 or not parts:
        parts.append("label")
    return lambda k: "/".join(k.label() if part == "label" else getattr(k, part) for part in parts)


def describe(collection) -> str:
    """One line: how the replicates' start times order seeds and variants."""
    reps = sorted((r for r in collection.replicates if r.record.get("started_at")),
                  key=lambda r: r.record["started_at"])
    variants = {r.key for r in reps}
    seeds = [r.seed for r in reps]
    if len(variants) < 2 or len(reps) < 2:
        return "Run order: one variant, nothing to order."
    if _segments(seeds) == len(set(seeds)):  # each seed's replicates ran together
        name = _namer(variants)
        blocks = [tuple(name(r.key) for r in block) for _, block in groupby(reps, key=lambda r: r.seed)]
        first = Counter(block[0] for block in blocks)
        return (f"Run order (from the records' start times): randomized blocks: each seed's {len(variants)} "
                f"variants ran next to each other, in {len(set(blocks))} distinct order(s) over {len(blocks)} seeds; "
                "first in its block: " + ", ".join(f"{name} {n}x" for name, n in first.most_common()) + ".")
    if _segments([r.key for r in reps]) == len(variants):
        return ("Run order (from the records' start times): variant by variant, all seeds of one variant before "
                "the next: a drift in the machine's load over the sweep lines up with the variants and reads as "
                "an effect (the A/A control shows how much).")
    return ("Run order (from the records' start times): interleaved, neither in blocks of seeds nor variant by "
            "variant (several launches, or reruns).")
