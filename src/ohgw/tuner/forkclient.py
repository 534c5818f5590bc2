"""The tuner's end of the fork server (ohgw.forkserver): start it, send it
requests, follow its trial processes. Standard library only, so that run.py can start the
server before its own heavy imports, which the server's then overlap."""
from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import time
from pathlib import Path

TRIAL_MODULE = "ohgw.trial.main"


def start_early(launcher: str) -> None:
    """Start the trial launcher's server now if `launcher` is fork (unknown launchers are
    reported later, by make_backend)."""
    if launcher == "fork":
        fork_server(TRIAL_MODULE)


_SERVERS: dict[str, "ForkServer"] = {}


def fork_server(trial_module: str) -> "ForkServer":
    """This process's fork server for `trial_module`, started on first use. It outlives the
    replicate: the later replicates of a multirun (jobs of one process) reuse it, so only the
    first pays its start-up (imports). It goes when this process exits."""
    server = _SERVERS.get(trial_module)
    if server is None or server.proc.poll() is not None:
        server = _SERVERS[trial_module] = ForkServer(trial_module)
    return server


def close_fork_servers() -> None:
    while _SERVERS:
        _SERVERS.popitem()[1].close()


atexit.register(close_fork_servers)


class ForkServer:
    """The tuner's end of a fork server process (started at once: it imports while the
    tuner sets up)."""

    def __init__(self, trial_module: str):
        read, write = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ohgw.forkserver", trial_module, str(write)],
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
            if "ready" in message:  # said here, not by the server: a run that stops on bad input never says it
                print(f"[forkserver] ready in {message['ready']:.1f} s", file=sys.stderr)
            elif "exit" in message:
                self.exits[message["id"]] = message["exit"]
            elif "pid" in message:
                self.pids[message["id"]] = message["pid"]
        if not alive:
            raise RuntimeError(f"fork server exited with status {self.proc.returncode} (see its stderr)")

    def close(self) -> None:
        """Shut the server down: it kills its live trials and waits for them. One that never
        launched a trial may still be importing: it is killed rather than waited for."""
        if self.launched == 0:
            self.proc.kill()
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
