"""How trials are launched (config `launcher`):
- subprocess: Syne Tune's LocalBackend, a fresh interpreter per trial start and resume;
- fork: the same backend, launching through a fork server (ohgw.tuning.forkserver) that
  has already imported the trial's modules and loaded its data.
Both keep Syne Tune's semantics: one process per start or resume, stop and pause kill it
with SIGKILL, its exit code gives its status, its output goes to the trial's std.out/std.err."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from syne_tune.backend import LocalBackend
from syne_tune.constants import ST_CHECKPOINT_DIR, ST_CONFIG_JSON_FNAME_ARG
from syne_tune.util import dump_json_with_numpy

from ohgw.errors import ConfigError

LAUNCHERS = ("fork", "subprocess")


def make_backend(launcher: str, trial_module: str, trial_config: Path, **backend_kwargs) -> LocalBackend:
    entry_point = importlib.util.find_spec(trial_module).origin
    if launcher == "subprocess":
        return LocalBackend(entry_point=entry_point, **backend_kwargs)
    if launcher == "fork":
        return ForkServerBackend(entry_point, ForkServer(trial_module, trial_config), **backend_kwargs)
    raise ConfigError(f"launcher must be one of {', '.join(LAUNCHERS)}, got {launcher!r}")


class ForkServer:
    """The tuner's end of a fork server process (started at once: it imports while the
    tuner sets up)."""

    def __init__(self, trial_module: str, trial_config: Path):
        read, write = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ohgw.tuning.forkserver", trial_module, str(trial_config), str(write)],
            stdin=subprocess.PIPE, pass_fds=(write,))
        os.close(write)
        os.set_blocking(read, False)
        self.messages, self.buffer = read, b""
        self.pids: dict[int, int] = {}
        self.exits: dict[int, int] = {}
        self.launched = 0

    def request(self, **message) -> None:
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        self.proc.stdin.flush()

    def launch(self, argv: list[str], stdout: Path, stderr: Path, env: dict) -> "ForkedProcess":
        self.launched += 1
        self.request(op="launch", id=self.launched, argv=argv, stdout=str(stdout),
                     stderr=str(stderr), env=env, at=time.time())
        return ForkedProcess(self, self.launched)

    def pump(self) -> None:
        """Take in what the server has said; a server that died is an error (its trials
        will never report an exit)."""
        alive = self.proc.poll() is None  # before reading, so no message sent before death is missed
        try:
            while chunk := os.read(self.messages, 1 << 16):
                self.buffer += chunk
        except BlockingIOError:
            pass
        *lines, self.buffer = self.buffer.split(b"\n")
        for message in map(json.loads, lines):
            if "exit" in message:
                self.exits[message["id"]] = message["exit"]
            elif "pid" in message:
                self.pids[message["id"]] = message["pid"]
        if not alive:
            raise RuntimeError(f"fork server exited with status {self.proc.returncode} (see its stderr)")

    def close(self) -> None:
        """Shut the server down: it kills its live trials and waits for them."""
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
            self.proc.wait()


class ForkedProcess:
    """A trial process of the fork server, with the bits of subprocess.Popen that
    LocalBackend uses."""

    def __init__(self, server: ForkServer, launch_id: int):
        self.server, self.id = server, launch_id

    @property
    def pid(self) -> int:
        while self.id not in self.server.pids:
            self.server.pump()
            time.sleep(0.01)
        return self.server.pids[self.id]

    def poll(self) -> int | None:
        if self.id not in self.server.exits:
            self.server.pump()
        return self.server.exits.get(self.id)

    def kill(self) -> None:
        self.server.request(op="kill", id=self.id)


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

    def stop_all(self):
        # the tuner calls this once, when tuning ends for whatever reason: the server goes too
        try:
            super().stop_all()
        finally:
            self.server.close()
