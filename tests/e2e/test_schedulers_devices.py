"""Multi-GPU workers without GPUs: Syne Tune's real LocalBackend launches real trial
processes (a stand-in script that prints its CUDA_VISIBLE_DEVICES) on a faked GPU count;
which trial gets which GPUs is what a node with that many GPUs would see."""
import os
import time

import pytest
from syne_tune.backend import LocalBackend

from ohgw.errors import ConfigError
from ohgw.tuner.workers import backend_kwargs, gpu_environment, gpu_plan, visible_gpus

PRINT_DEVICES = "import os; print('[devices]', os.environ.get('CUDA_VISIBLE_DEVICES'))\n"


class Node:
    """A LocalBackend as the replicate builds it, on a node with `physical` GPUs."""

    def __init__(self, tmp_path, physical: int, inherited: str | None, gpus_to_use=None, per_trial=1):
        script = tmp_path / "trial.py"
        script.write_text(PRINT_DEVICES)
        env = {} if inherited is None else {"CUDA_VISIBLE_DEVICES": inherited}
        n_visible = physical if inherited is None else len(inherited.split(","))
        self.plan = gpu_plan(visible_gpus(n_visible, env), gpus_to_use, per_trial)
        self.backend = LocalBackend(entry_point=str(script), **backend_kwargs(self.plan))
        self.backend.set_path(str(tmp_path), "tuner")
        self.backend._prepare_for_schedule(num_gpus=physical)  # instead of nvidia-smi
        self.inherited = inherited

    def start(self) -> int:
        with pytest.MonkeyPatch.context() as env:
            if self.inherited is not None:
                env.setenv("CUDA_VISIBLE_DEVICES", self.inherited)
            with gpu_environment(self.plan):
                return self.backend.start_trial({"x": 1}).trial_id

    def devices(self, trial_id: int) -> str:
        deadline = time.time() + 30
        while time.time() < deadline:
            for line in self.backend.stdout(trial_id):
                if line.startswith("[devices]"):
                    return line.split()[1]
            time.sleep(0.05)
        raise TimeoutError(f"trial {trial_id} printed nothing: {self.backend.stderr(trial_id)}")

    def finish(self, trial_id: int):
        self.devices(trial_id)
        self.backend.trial_subprocess[trial_id].wait()
        self.backend.fetch_status_results([trial_id])  # the backend frees its GPUs here


def test_one_gpu_per_trial_rotates_over_the_whole_node(tmp_path):
    node = Node(tmp_path, physical=4, inherited=None)
    first = [node.start() for _ in range(4)]
    assert [node.devices(t) for t in first] == ["0", "1", "2", "3"]
    node.finish(first[2])
    assert node.devices(node.start()) == "2"  # the free one


def test_inherited_cuda_visible_devices_is_honoured(tmp_path):
    # a Slurm-style allocation of GPUs 5 and 7 on an 8-GPU node
    node = Node(tmp_path, physical=8, inherited="5,7")
    trials = [node.start() for _ in range(3)]
    assert [node.devices(t) for t in trials[:2]] == ["5", "7"]
    assert node.devices(trials[2]) in {"5", "7"}  # more workers than GPUs: they share
    assert node.backend.num_gpus == 2


def test_gpus_to_use_are_positions_among_the_visible_ones(tmp_path):
    node = Node(tmp_path, physical=8, inherited="4,5,6,7", gpus_to_use=[1, 3])
    assert [node.devices(node.start()) for _ in range(2)] == ["5", "7"]


def test_several_gpus_per_trial(tmp_path):
    node = Node(tmp_path, physical=4, inherited=None, per_trial=2)
    assert [node.devices(node.start()) for _ in range(2)] == ["0,1", "2,3"]


def test_a_single_gpu_to_use_is_inherited_by_every_trial(tmp_path):
    # the backend sets nothing with one GPU: trials must not see the whole node
    before = os.environ.get("CUDA_VISIBLE_DEVICES")
    node = Node(tmp_path, physical=4, inherited=None, gpus_to_use=[2])
    assert [node.devices(node.start()) for _ in range(2)] == ["2", "2"]
    assert os.environ.get("CUDA_VISIBLE_DEVICES") == before  # only while the tuner runs


def test_n_workers_defaults_to_gpus_over_gpus_per_trial(monkeypatch):
    import torch

    from ohgw.tuner.replicate import runtime
    from tests.helpers import compose_config

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
    rt = runtime(compose_config("num_gpus_per_trial=2"))
    assert rt["n_workers"] == 2 and rt["gpus"] == {"gpus": [0, 1, 2, 3], "num_gpus_per_trial": 2}
    assert runtime(compose_config("device=cpu"))["gpus"] is None


@pytest.mark.parametrize("visible, gpus_to_use, per_trial", [
    ([0, 1], [2], 1), ([0, 1], [0, 0], 1), ([0, 1], [], 1), ([0, 1], None, 3), ([0, 1], None, 0)])
def test_bad_gpu_requests(visible, gpus_to_use, per_trial):
    with pytest.raises(ConfigError):
        gpu_plan(visible, gpus_to_use, per_trial)


def test_gpu_uuids_are_refused():
    with pytest.raises(ConfigError, match="integer GPU indices"):
        visible_gpus(1, {"CUDA_VISIBLE_DEVICES": "GPU-8a2f"})
