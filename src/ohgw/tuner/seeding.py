"""Seeds from the replicate seed s. The scheduler's seed depends on s only, so every
warm-start variant of seed s samples the same configurations; a trial's seed depends on
(s, trial_id), so trial k has the same init, data order and draws in every variant."""
import numpy as np


def scheduler_seed(seed: int) -> int:
    return int(seed)


def trial_seed(seed: int, trial_id: int, stream: int = 0) -> int:
    return int(np.random.SeedSequence([int(seed), int(trial_id), stream]).generate_state(1)[0])


RANDOM_DIRECTION_STREAM = 1
TABLE_SEED_STREAM = 2  # a simulated trial's training seed among a curves table's (ohgw.simulate.replay)
