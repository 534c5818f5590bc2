"""scheduler=aux_net: Syne Tune's FIFOScheduler (single fidelity, like `bo`) with a searcher that
proposes the auxiliary net's prediction first, then configurations around it.

Around the prediction: each float or int hyperparameter is drawn from a Gaussian centred on the
prediction in the normalised space ([0, 1] over its domain on the search-space scale) with
standard deviation `width`, clipped to the domain (ints rounded); each choice keeps the predicted
value with probability `keep_choice`, else is drawn uniformly from the choices. Duplicates are
never proposed (Syne Tune's exclusion list); after `tries` duplicates in a row, a uniform draw.
The searcher does not learn from the task's own results: what it knows comes from other tasks."""
from __future__ import annotations

import json
from pathlib import Path

from syne_tune.optimizer.schedulers import FIFOScheduler
from syne_tune.optimizer.schedulers.searchers.searcher_base import StochasticAndFilterDuplicatesSearcher

from ohgw.results.history import label_of, load_histories
from ohgw.auxnet.features import meta_features
from ohgw.auxnet.net import NetSettings, denormalised, normalised
from ohgw.auxnet.predict import Prediction, predict
from ohgw.errors import ConfigError
from ohgw.results.io import atomic_write_text

NET_KEYS = tuple(NetSettings.__dataclass_fields__)
AROUND_KEYS = ("width", "keep_choice", "tries")
OUTPUT = "aux_net.json"  # in the job directory: the prediction, what it was trained on, the settings


class AuxNetSearcher(StochasticAndFilterDuplicatesSearcher):
    def __init__(self, config_space: dict, metric: str, prediction: Prediction, space, width: float = 0.1,
                 keep_choice: float = 0.7, tries: int = 100, **kwargs):
        super().__init__(config_space, metric=metric, points_to_evaluate=[dict(prediction.config)], **kwargs)
        self.prediction, self.space = prediction, space
        self.width, self.keep_choice, self.tries = float(width), float(keep_choice), int(tries)

    def _get_config(self, **kwargs):
        config = self._next_initial_config()  # the prediction
        if config is not None and not self.should_not_suggest(config):
            return config
        for _ in range(self.tries):
            config = self._around()
            if not self.should_not_suggest(config):
                return config
        return self._get_random_config()  # None once the space is exhausted

    def _around(self) -> dict:
        rs, centre, out = self.random_state, self.prediction.config, {}
        for p in self.space:
            if p.kind == "choice":
                keep = rs.rand() < self.keep_choice
                out[p.name] = centre[p.name] if keep else p.choices[rs.randint(len(p.choices))]
            else:
                out[p.name] = denormalised(p, normalised(p, centre[p.name]) + self.width * rs.randn())
        return out

    def _update(self, trial_id, config, result):
        pass  # no model of this task's own results

    def clone_from_state(self, state):
        raise NotImplementedError("aux_net is not resumed from a saved state")


class AuxNetScheduler(FIFOScheduler):
    """FIFOScheduler with an AuxNetSearcher trained on `train_from` (never on `task` itself)."""

    def __init__(self, config_space: dict, metric: str, mode: str, random_seed: int, task, train_from: list,
                 net: dict | None = None, around: dict | None = None, **kwargs):
        label = label_of(task)
        net, around = dict(net or {}), dict(around or {})
        for what, given, known in (("net", net, NET_KEYS), ("around", around, AROUND_KEYS)):
            if set(given) - set(known):
                raise ConfigError(f"scheduler aux_net: unknown {what} setting(s) {sorted(set(given) - set(known))}; "
                                  f"known: {', '.join(known)}")
        settings = NetSettings.from_config(net)
        if not 0 < float(around.get("width", 0.1)) or not 0 <= float(around.get("keep_choice", 0.7)) <= 1:
            raise ConfigError(f"scheduler aux_net: around.width must be > 0 and around.keep_choice in [0, 1], "
                              f"got {around}")
        histories = load_histories(list(train_from), exclude_label=label)
        self.prediction = predict(label, meta_features(task), task.space, histories, settings)
        self.settings = {"net": vars(settings), "around": around, "train_from": [str(d) for d in train_from],
                         "replicates": {lb: [str(p) for p in h.replicates] for lb, h in histories.items()}}
        searcher = AuxNetSearcher(config_space, metric, self.prediction, task.space, mode=mode,
                                  random_seed=random_seed, **around)
        super().__init__(config_space, metric=metric, mode=mode, searcher=searcher, random_seed=random_seed, **kwargs)

    def write_outputs(self, job_dir: Path) -> None:
        record = {**self.prediction.as_dict(), **self.settings}
        atomic_write_text(Path(job_dir) / OUTPUT, json.dumps(record, indent=2, default=str) + "\n")


def read_output(job_dir: Path) -> dict | None:
    """A replicate's aux_net.json, or None where it has none."""
    path = Path(job_dir) / OUTPUT
    return json.loads(path.read_text()) if path.exists() else None
