"""The trial process Syne Tune launches: per-epoch reports, checkpoint and resume,
loud failures."""
import pytest

from tests.helpers import finish, start_trial, trial_config


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    return trial_config(tmp_path_factory.mktemp("cfg"), "task.max_epochs=3")


def test_resume_continues_at_the_next_epoch_with_the_same_hyperparameters(config, tmp_path):
    whole, paused = tmp_path / "whole" / "0", tmp_path / "paused" / "0"
    straight = start_trial(config, whole, epochs=3)
    first = start_trial(config, paused, epochs=2)
    code, before, _ = finish(first)
    assert code == 0 and [r["epoch"] for r in before] == [1, 2]
    code, after, err = finish(start_trial(config, paused, epochs=3))  # resumed by a promotion
    assert code == 0, err
    # first the checkpoint's own report again (its process may have died before printing it)
    assert [r["epoch"] for r in after] == [2, 3]
    replayed, after = after[0], after[1:]
    assert {k: v for k, v in replayed.items() if k != "st_worker_timestamp"} == \
        {k: v for k, v in before[-1].items() if k != "st_worker_timestamp"}
    code, reference, _ = finish(straight)
    assert code == 0 and [r["epoch"] for r in reference] == [1, 2, 3]
    # same weights, optimizer and LR schedule position as an uninterrupted run
    for key in ("val_loss", "val_acc", "test_acc", "train_loss", "val_f1", "test_f1", "val_recall"):
        assert after[0][key] == pytest.approx(reference[2][key], rel=1e-5), key
    assert all(0 < r["val_f1"] <= 1 and 0 < r["test_precision"] <= 1 for r in reference)
    # psi' restored from the checkpoint; no second warm-start
    ws_keys = [k for k in before[0] if k.startswith(("ws_", "psi_", "hg_"))]
    assert ws_keys and all(after[0][k] == before[0][k] for k in ws_keys)
    assert before[0]["ws_status"] == "applied" and before[0]["psi_log_lr"] != -1.0
    # cumulative time carries over the pause
    assert after[0]["elapsed_s"] > before[-1]["elapsed_s"]
    assert after[0]["train_s"] > before[-1]["train_s"]


def test_corrupt_checkpoint_fails_loudly(config, tmp_path):
    trial_dir = tmp_path / "7"
    (trial_dir / "checkpoints").mkdir(parents=True)
    (trial_dir / "checkpoints" / "last.ckpt").write_bytes(b"not a checkpoint")
    code, reports, err = finish(start_trial(config, trial_dir, epochs=2))
    assert code == 4 and reports == []
    assert "corrupt checkpoint" in err and "last.ckpt" in err


def test_diverging_trial_exits_with_its_own_status(tmp_path):
    # baseline: a warm-start would clip lr = 10^4 back into the search space
    config = trial_config(tmp_path, "task.max_epochs=3", "warmstart=baseline")
    code, reports, err = finish(start_trial(config, tmp_path / "3", epochs=2, log_lr=4.0))
    assert code == 3 and reports == []
    assert "diverged" in err


def test_deterministic_trials_use_pytorchs_deterministic_algorithms_and_train_the_same_on_cpu(tmp_path, capsys):
    import json

    import torch

    from ohgw.trial.main import main
    from tests.helpers import trial_args

    reports = {}
    try:
        for setting in ("false", "true"):
            (tmp_path / setting).mkdir()
            config = trial_config(tmp_path / setting, "task.max_epochs=1", f"deterministic={setting}")
            assert main(trial_args(config, tmp_path / setting / "0", epochs=1)) == 0
            # where PyTorch has no deterministic kernel (on a GPU) it warns instead of stopping the trial
            assert torch.are_deterministic_algorithms_enabled() == (setting == "true")
            assert torch.is_deterministic_algorithms_warn_only_enabled() == (setting == "true")
            reports[setting] = json.loads(capsys.readouterr().out.split("[tune-metric]: ")[1])
    finally:
        torch.use_deterministic_algorithms(False)
    for key in ("val_loss", "train_loss", "test_acc", "hg_log_lr"):  # CPU kernels are deterministic already
        assert reports["true"][key] == reports["false"][key], key
