"""experiment=mixed_space end to end: every trial trained with what the scheduler sampled
(read back from its own checkpoint and reports), the discrete values never moved."""
import json

import pandas as pd
import pytest
import torch

from ohgw.tasks import build, config
from tests.helpers import run_cli


def test_mixed_space_replicate_trains_each_trial_as_sampled(tmp_path):
    done = run_cli("experiment=mixed_space", "budget.epochs=14", "task.max_epochs=3", f"hydra.run.dir={tmp_path}",
                   f"rerun.root={tmp_path}")
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((tmp_path / "replicate.json").read_text())
    assert record["status"] == "complete"
    frame = pd.read_csv(tmp_path / "results.csv")
    task = build(config("digits"))
    sampled = {c["trial_id"]: c for c in record["sampled_configs"]}
    assert len({(c["batch_size"], c["layers"], c["optimizer"]) for c in sampled.values()}) > 1
    for trial_id, rows in frame.groupby("trial_id"):
        x = sampled[trial_id]
        last = rows.iloc[-1]
        for name in ("batch_size", "layers", "optimizer"):  # never moved
            assert last[f"psi_{name}"] == x[name] == last[f"hp_{name}"]
        # the loader: optimizer steps per epoch are the training set over the sampled batch size
        assert last["train_steps"] == last["epoch"] * task.steps_per_epoch(x["batch_size"])
        ckpt = torch.load(tmp_path / "tuner" / str(trial_id) / "checkpoints" / "last.ckpt", weights_only=False)
        # the network: one conv weight per block
        convs = [k for k, v in ckpt["state_dict"].items() if k.endswith(".weight") and v.dim() == 4]
        assert len(convs) == x["layers"]
        # the optimizer's kind
        group = ckpt["optimizer_states"][0]["param_groups"][0]
        assert ("betas" in group) == (x["optimizer"] == "adamw")
        # the continuous ones train as the warm-start left them, dropout included
        assert ckpt["ohgw_hp"]["dropout"] == pytest.approx(last["psi_dropout"], rel=1e-12) and last["hgvia_dropout"] == "pathwise"
