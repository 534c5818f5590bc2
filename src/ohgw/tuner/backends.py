"""How trials are launched (config `launcher`):
- subprocess: Syne Tune's LocalBackend, a fresh interpreter per trial start and resume;
- fork: the same backend, launching through a fork server (ohgw.forkserver) that
  has already imported the trial's modules and loaded its data.
Both keep Syne Tune's semantics: one process per start or resume, stop and pause kill it
with SIGKILL, its exit code gives its status, its output goes to the trial's std.out/std.err."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from syne_tune.backend import LocalBackend
from syne_tune.constants import ST_CHECKPOINT_DIR, ST_CONFIG_JSON_FNAME_ARG
from syne_tune.util import dump_json_with_numpy

from ohgw.errors import ConfigError
from ohgw.tuner.checks import LAUNCHERS
from ohgw.tuner.forkclient import ForkServer, fork_server
from ohgw.tuner.order import ordered


def make_backend(launcher: str, trial_module: str, trial_config: Path, order: str = "arrival",
                 **backend_kwargs) -> LocalBackend:
    """The backend for `launcher`; with order=deterministic it hands results to the tuner in
    virtual-clock order (ohgw.tuner.order)."""
    entry_point = importlib.util.find_spec(trial_module).origin
    wrap = ordered if order == "deterministic" else (lambda cls: cls)
    if launcher == "subprocess":
        return wrap(LocalBackend)(entry_point=entry_point, **backend_kwargs)
    if launcher == "fork":
        server = fork_server(trial_module)  # already started by start_early, or now
        server.request(op="preload", config=str(trial_config))
        return wrap(ForkServerBackend)(entry_point, server, **backend_kwargs)
    raise ConfigError(f"launcher must be one of {', '.join(LAUNCHERS)}, got {launcher!r}")


class ForkServerBackend(LocalBackend):
    def __init__(self, entry_point: str, server: ForkServer, **kwargs):
        super().__init__(entry_point=entry_point, **kwargs)
        self.server = server

    def _schedule(self, trial_id: int, config: dict):
        # as LocalBackend._schedule, with the fork server in place of subprocess.Popen
        self._prepare_for_schedule()
        trial_path = self.trial_path(trial_id)
        os.makedirs(trial_path, exist_ok=True)
        for log in ("std.out", "std.err"):  # the tuner may read them before the child opens them
            (trial_path / log).touch()
        config_json = str(trial_path / "config.json")
        args = {ST_CONFIG_JSON_FNAME_ARG: config_json} if self.pass_args_as_json else config.copy()
        args[ST_CHECKPOINT_DIR] = str(self.checkpoint_trial_path(trial_id))
        dump_json_with_numpy(config, config_json)
        env = dict(os.environ)
        self._allocate_gpu(trial_id, env)
        # joined and split on spaces, exactly as LocalBackend does, so trials see the same argv
        argv = " ".join(f"--{key} {value}" for key, value in args.items()).split(" ")
        self.trial_subprocess[trial_id] = self.server.launch(
            argv, trial_path / "std.out", trial_path / "std.err", env)
        self._busy_trial_id_candidates.add(trial_id)
