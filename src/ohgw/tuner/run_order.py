"""The order in which a multirun runs its jobs: a randomized block design.

Hydra's basic sweeper runs the product of its axes in the order given, so
`-m warmstart=baseline,aa,ohgw,random 'seed=range(10)'` runs ten baseline seeds, then ten A/A seeds,
and so on: any drift in the machine's load (other work coming and going, a warming GPU) lines up
with the variants and reads as an effect. Here the jobs of one block (by default one seed: every
variant, scheduler and eta_h of that seed) run next to each other, blocks in the order their seeds
were given, and within each block in an order drawn afresh for each block from (sweep order seed,
block), so that drift lands on seeds, which the paired statistics take out, and no variant is
always first. Light to import: run.py's command line and the Hydra sweeper both use it."""
from __future__ import annotations

import random


def block_of(job: list[str], by: str) -> str | None:
    """The value of the `by` override in one job's overrides (None if the job has none)."""
    for override in job:
        key, _, value = override.lstrip("+").partition("=")
        if key == by:
            return value
    return None


def blocked(jobs: list[list[str]], by: str | None = "seed", order_seed: int = 0) -> list[list[str]]:
    """The jobs in randomized blocks of equal `by` (None: the order given, Hydra's). Blocks come in
    the order their first job was given; a block's own order is drawn from (order_seed, block)
    alone, so that a sweep with more seeds keeps the order of the seeds it shares with a smaller one."""
    if by is None:
        return [list(j) for j in jobs]
    blocks: dict[str | None, list[list[str]]] = {}
    for job in jobs:
        blocks.setdefault(block_of(job, by), []).append(list(job))
    ordered = []
    for value, block in blocks.items():
        random.Random(f"{order_seed}:{by}={value}").shuffle(block)
        ordered += block
    return ordered
