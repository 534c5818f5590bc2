"""ohgw-bench's Hydra sweeper: Hydra's basic sweeper, its jobs run in randomized blocks
(ohgw.tuner.run_order): the variants of one seed next to each other, in an order drawn per seed.

Light to import: Hydra imports every module here at each start (without sys.modules, so no
`from __future__ import annotations`: the dataclass below reads its annotations)."""

from dataclasses import dataclass
from typing import List, Optional

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper, BasicSweeperConf
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.types import Override


@dataclass
class BlockedSweeperConf(BasicSweeperConf):
    _target_: str = "hydra_plugins.ohgw_sweeper.BlockedSweeper"
    block_by: Optional[str] = "seed"  # the jobs of one value of this key run together; null: Hydra's order
    order_seed: int = 0               # draws each block's order (change it to run the same sweep in another order)


ConfigStore.instance().store(group="hydra/sweeper", name="ohgw_blocked", node=BlockedSweeperConf,
                             provider="ohgw-bench")


class BlockedSweeper(BasicSweeper):
    def __init__(self, max_batch_size: Optional[int], params=None, block_by: Optional[str] = "seed",
                 order_seed: int = 0):
        super().__init__(max_batch_size=max_batch_size, params=params)
        self.block_by, self.order_seed = block_by, order_seed

    def split_arguments(self, overrides: List[Override], max_batch_size: Optional[int]) -> List[List[List[str]]]:
        from ohgw.tuner.run_order import blocked

        (jobs,) = BasicSweeper.split_arguments(overrides, None)
        jobs = blocked(jobs, self.block_by, self.order_seed)
        size = max_batch_size or len(jobs) or 1
        return [jobs[i:i + size] for i in range(0, len(jobs), size)]
