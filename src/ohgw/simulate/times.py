"""One clock for every variant of a curves table.

A table's epoch times are the seconds each variant's trials took while that variant was recorded,
so they carry the machine's load at that moment: on digits the same 9-epoch trial took a median of
1.9 s in one variant and 10.3 s in another (docs/results/simulation/digits/recorded_times.csv), and the
asynchronous schedulers order their decisions by those times. `common_times` puts every variant on
the reference variant's clock: for each configuration, the median seconds of its first epoch (the
reference's own warm-start taken out) and of each later epoch over the reference's training seeds
and epochs, plus the variant's own warm-start seconds (ws_seconds + ws_startup_s) in its first
epoch, scaled by the load it was recorded under (the reference's later-epoch seconds over the
curve's own, same configuration). What then differs between two variants' replays is what the
warm-start did to the curves and what it cost itself.
"""
from __future__ import annotations

import warnings

import numpy as np

from ohgw.errors import ConfigError
from ohgw.simulate.table import ELAPSED_TIME

WARMSTART_SECONDS = ("ws_seconds", "ws_startup_s")  # the warm-start's own time, in a trial's first epoch
CLOCK = (ELAPSED_TIME, "elapsed_s")                  # what the simulator and the records read as time


def common_times(blackboxes: dict, reference: str) -> dict:
    """{variant: BlackboxTabular} with every variant's clock columns rebuilt from `reference`'s times."""
    from syne_tune.blackbox_repository.blackbox_tabular import BlackboxTabular

    if reference not in blackboxes:
        raise ConfigError(f"times: {reference!r} is not a variant of the table; it has {', '.join(sorted(blackboxes))}")
    ref = blackboxes[reference]
    first, later = _epoch_seconds(ref)
    later_ref = later[:, None]
    epochs = np.arange(ref.num_fidelities)
    out = {}
    for label, bb in blackboxes.items():
        values = bb.objectives_evaluations.copy()
        clock = (first[:, None, None] + epochs[None, None, :] * later[:, None, None]
                 + (_warmstart_seconds(bb) * _load_ratio(bb, later_ref))[:, :, None])
        for name in CLOCK:
            if name in bb.objectives_names:
                values[..., bb.objectives_names.index(name)] = clock
        out[label] = BlackboxTabular(
            hyperparameters=bb.hyperparameters, configuration_space=bb.configuration_space,
            fidelity_space=bb.fidelity_space, objectives_evaluations=values, fidelity_values=bb.fidelity_values,
            objectives_names=bb.objectives_names)
    return out


def _column(bb, name: str) -> np.ndarray:
    """(configurations, seeds, epochs) of one objective."""
    return np.asarray(bb.objectives_evaluations[..., bb.objectives_names.index(name)], dtype=float)


def _warmstart_seconds(bb) -> np.ndarray:
    """(configurations, seeds): the warm-start's seconds of each curve (0 where it took none)."""
    total = np.zeros(bb.objectives_evaluations.shape[:2])
    for name in WARMSTART_SECONDS:
        if name in bb.objectives_names:
            total += np.nan_to_num(_column(bb, name)[:, :, 0])
    return total


def _later_epochs(bb) -> np.ndarray:
    """(configurations, seeds, epochs - 1): seconds of each epoch after the first; NaN where a
    diverged curve's carried epochs take none."""
    steps = np.diff(_column(bb, ELAPSED_TIME), axis=2)
    return np.where(steps > 0, steps, np.nan)


def _load_ratio(bb, later_ref: np.ndarray) -> np.ndarray:
    """(configurations, seeds): the reference's later-epoch seconds over the curve's own (1 where the
    curve has no later epoch): a warm-start recorded on a busier machine took longer by as much."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN curve: ratio 1
        own = np.nanmedian(_later_epochs(bb), axis=2)
    ratio = later_ref / own
    return np.where(np.isfinite(ratio), ratio, 1.0)


def _epoch_seconds(ref) -> tuple[np.ndarray, np.ndarray]:
    """Per configuration: the median first epoch without the warm-start, and the median later epoch.
    A diverged curve's carried epochs (no time passes) are left out; a configuration with no later
    epoch in any seed takes the median over the others."""
    elapsed = _column(ref, ELAPSED_TIME)
    first = elapsed[:, :, 0] - _warmstart_seconds(ref)
    steps = _later_epochs(ref).reshape(len(elapsed), -1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN row's median: filled below
        first_c, later_c = np.nanmedian(first, axis=1), np.nanmedian(steps, axis=1)
    return _filled(first_c), _filled(later_c)


def _filled(per_config: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(per_config), per_config, np.nanmedian(per_config))

