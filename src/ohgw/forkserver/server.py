"""A fork server for trials: imports the trial's modules and loads the task's data once,
then forks one process per trial start or resume, so a trial starts in milliseconds
instead of paying ~7-10 s of imports. Each trial is still its own process: a crash or
kill takes down that trial only, and its memory goes with it.

    python -m ohgw.forkserver TRIAL_MODULE MESSAGE_FD

One server serves every replicate its tuner process runs (a multirun's jobs): each sends a
`preload` with its trial config first, which loads that task's data (once per task).
Requests arrive as JSON lines on stdin (EOF = shut down, killing every live trial);
replies go out as JSON lines on MESSAGE_FD. The server never initialises CUDA: a process
forked after that cannot use the GPU, so each trial initialises it itself, after the
backend's CUDA_VISIBLE_DEVICES is in its environment.

Protocol
    in:  {"op": "preload", "config": TRIAL_CONFIG_PATH}
         {"op": "launch", "id": K, "argv": [...], "stdout": P, "stderr": P, "env": {...}, "at": T}
         {"op": "kill", "id": K}
    out: {"ready": SECONDS} (once imports are done), {"id": K, "pid": PID}, {"id": K, "exit": CODE}
CODE is what subprocess.Popen.returncode would say: -N for death by signal N.
The trial module must have `main(argv, started_at, data_cache) -> int`: each child passes
the launch time T (so that the trial's elapsed seconds count from launch) and the server's
data cache (the splits it loaded, which the child inherits).
"""
from __future__ import annotations

import ast
import atexit
import ctypes
import importlib.util
import json
import os
import selectors
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

PR_SET_PDEATHSIG = 1

TUNER_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2)


@dataclass
class Launch:
    """What a freshly forked child runs."""
    id: int
    argv: list
    stdout: str
    stderr: str
    env: dict
    at: float


def imported_by(module: str) -> list[str]:
    """Every module `module` imports, at the top or lazily inside its functions."""
    tree = ast.parse(Path(importlib.util.find_spec(module).origin).read_text())
    return [name for node in ast.walk(tree)
            for name in ([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])]


def preload(trial_module: str):
    """Import what a trial imports."""
    for name in imported_by(trial_module):
        importlib.import_module(name)
    assert_no_cuda()
    return importlib.import_module(trial_module)


def load_data(trial_config: str, cache: dict) -> None:
    """Load a replicate's task data into `cache`, for every later child to inherit, and
    import its logger."""
    from omegaconf import OmegaConf

    from ohgw.tasks import build

    cfg = OmegaConf.load(trial_config)
    importlib.import_module(cfg.logger._target_.rsplit(".", 1)[0])
    build(cfg.task, data_cache=cache).datamodule()
    assert_no_cuda()


def assert_no_cuda() -> None:
    """CUDA does not survive fork: fail now rather than in every trial."""
    import torch

    if torch.cuda.is_initialized():
        raise RuntimeError("fork server: CUDA was initialised while preloading; "
                           "forked trials could not use the GPU")


class Server:
    def __init__(self, requests: int, messages: int):
        self.requests, self.messages = requests, messages
        self.children: dict[int, tuple[int, str]] = {}  # pid -> (launch id, stderr path)
        self.pids: dict[int, int] = {}  # launch id -> pid, while alive
        self.killed: set[int] = set()  # pids killed on request: their exit is not news
        self.wake_r, self.wake_w = os.pipe()
        for fd in (self.wake_r, self.wake_w):
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes select via wake_w
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.requests, selectors.EVENT_READ)
        self.selector.register(self.wake_r, selectors.EVENT_READ)
        self.buffer = b""
        self.data_cache: dict = {}  # splits by task setting, inherited by every child

    def send(self, **message) -> None:
        os.write(self.messages, (json.dumps(message) + "\n").encode())

    def serve(self) -> Launch | None:
        """Serve until stdin closes (returns None); in a forked child, returns its Launch."""
        while True:
            for key, _ in self.selector.select():
                if key.fd == self.wake_r:
                    drain(self.wake_r)
                    self.reap()
                    continue
                chunk = os.read(self.requests, 1 << 16)
                if not chunk:
                    self.shutdown()
                    return None
                *lines, self.buffer = (self.buffer + chunk).split(b"\n")
                for line in lines:
                    launch = self.handle(json.loads(line))
                    if launch is not None:
                        return launch

    def handle(self, request: dict) -> Launch | None:
        if request["op"] == "preload":
            load_data(request["config"], self.data_cache)
            return None
        if request["op"] == "kill":
            pid = self.pids.get(request["id"])
            if pid is not None:  # not reaped yet, so the pid is still this child's
                self.killed.add(pid)
                os.kill(pid, signal.SIGKILL)
            return None
        launch = Launch(**{k: v for k, v in request.items() if k != "op"})
        sys.stdout.flush()
        sys.stderr.flush()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            self.become_child(parent)
            return launch
        self.children[pid] = (launch.id, launch.stderr)
        self.pids[launch.id] = pid
        self.send(id=launch.id, pid=pid)
        return None

    def become_child(self, parent: int) -> None:
        """Drop everything of the server's in the forked child."""
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for sig in TUNER_SIGNALS:  # they act as on a stock trial
            signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)
        self.selector.close()
        for fd in (self.requests, self.messages, self.wake_r, self.wake_w):
            os.close(fd)
        die_with_parent(parent)

    def reap(self) -> None:
        while self.children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            launch_id, stderr = self.children.pop(pid)
            del self.pids[launch_id]
            code = os.waitstatus_to_exitcode(status)
            if code != 0 and pid not in self.killed:
                note_exit(stderr, pid, code)
            self.killed.discard(pid)
            self.send(id=launch_id, exit=code)

    def shutdown(self) -> None:
        for pid in self.children:
            os.kill(pid, signal.SIGKILL)
        for pid in list(self.children):
            os.waitpid(pid, 0)


def drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def note_exit(stderr: str, pid: int, code: int) -> None:
    """A trial that died without a word (segfault, OOM kill) says so in its std.err."""
    how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
    with open(stderr, "a") as f:
        f.write(f"[forkserver] trial process {pid} {how} (exit status {code})\n")


def die_with_parent(parent: int) -> None:
    """A trial must not outlive its server (Linux; elsewhere the server's shutdown kills it)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the server died before prctl took effect
        os.kill(os.getpid(), signal.SIGKILL)


def run_child(trial, launch: Launch, data_cache: dict) -> int:
    """In the forked child: become the trial process the stock backend would have started."""
    os.environ.clear()
    os.environ.update(launch.env)  # CUDA_VISIBLE_DEVICES before anything initialises CUDA
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    for fd, path in ((1, launch.stdout), (2, launch.stderr)):
        out = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(out, fd)
        os.close(out)
    os.close(null)
    sys.argv = [trial.__file__, *launch.argv]
    try:
        code = trial.main(launch.argv, started_at=launch.at, data_cache=data_cache)
    except SystemExit as e:  # as the interpreter treats it: a message means status 1
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
        code = 1 if isinstance(e.code, str) else e.code
    except BaseException:  # noqa: BLE001 - as the interpreter would: traceback, status 1
        traceback.print_exc()
        code = 1
    return code or 0


def leave(code: int):
    """Exit without the interpreter's teardown of torch & co (seconds, and the worker slot
    stays busy until the process is gone); atexit handlers (loggers) still run."""
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str]):
    trial_module, messages = argv
    # Thread pools started here would not exist in the children (one thread, as LocalBackend
    # gives stock trials); and CUDA availability checks by imported code must not init CUDA.
    os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
                      PYTORCH_NVML_BASED_CUDA_CHECK="1")
    # The tuner decides: these reach it too (Ctrl-C; Slurm signals every process of a job:
    # SIGTERM on preemption, then submitit's USR2, or Lightning's USR1, for the requeue).
    # The server follows the tuner: its requests pipe closes when the tuner ends, however it ends.
    for sig in TUNER_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    requests = os.dup(0)  # stdin is for requests only, never read by imported code
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    t0 = time.perf_counter()
    trial = preload(trial_module)
    server = Server(requests, int(messages))
    server.send(ready=round(time.perf_counter() - t0, 1))  # the tuner says so once it is used
    launch = server.serve()
    leave(0 if launch is None else run_child(trial, launch, server.data_cache))
