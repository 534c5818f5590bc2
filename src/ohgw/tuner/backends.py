"""How trials are launched (config `launcher`):
- subprocess: Syne Tune's LocalBackend, a fresh interpreter per trial start and resume;
- fork: the same backend, launching through a fork server (ohgw.forkserver) that
  has already imported the trial's modules and loaded its data.
Both keep Syne Tune's semantics: one process per start or resume, stop and pause kill it
with SIGKILL, its exit code gives its status, its output goes to the trial's std.out/std.err.
Both can be saved with the tuner and take up a replicate where it was interrupted (Recoverable)."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from syne_tune.backend import LocalBackend
from syne_tune.constants import ST_CHECKPOINT_DIR, ST_CONFIG_JSON_FNAME_ARG, ST_SAGEMAKER_METRIC_TAG
from syne_tune.util import dump_json_with_numpy

from ohgw.errors import ConfigError
from ohgw.tuner.checks import LAUNCHERS
from ohgw.tuner.forkclient import ForkServer, fork_server
from ohgw.tuner.order import ordered

METRIC_PREFIX = f"[{ST_SAGEMAKER_METRIC_TAG}]: "  # how a trial's report line starts (ohgw.trial.reporting)

DECISION_MARKERS = ("stop", "pause")  # LocalBackend's files that record the tuner's stop or pause of a trial
END_MARKER = "end"  # and its file that holds when the trial's process ended


@dataclass
class Ended:
    """What a saved backend keeps of a trial's process: its exit code, None if it was still
    running (lost with the interrupted tuner). Answers poll() and kill() as a finished
    process does, so that Syne Tune reads the status of a trial that ended before the save."""
    returncode: int | None

    def poll(self) -> int | None:
        return self.returncode

    def kill(self) -> None:
        pass


class Recoverable:
    """Mixin for a LocalBackend: saved with the tuner (Syne Tune's Tuner.save), without the live
    process handles; after loading, `relaunch` starts a process again for each trial whose process
    was lost, which resumes from the trial's last checkpoint. Reports are read once per epoch:
    a trial reports again the last epoch of the checkpoint it resumes from (in case it died
    between writing that checkpoint and reporting it), and any report of an epoch it has
    already reported is dropped here."""

    def __getstate__(self):
        state = dict(self.__dict__)
        state["trial_subprocess"] = {i: Ended(p.poll()) for i, p in self.trial_subprocess.items()}
        state["decisions_at_save"] = {i: [m for m in DECISION_MARKERS if (self.trial_path(i) / m).exists()]
                                      for i in self.trial_ids}
        state.pop("server", None)
        return state

    def restore_decisions(self) -> None:
        """Each trial's stop and pause markers as they were at the save: what the interrupted
        run decided after it (a stop, a pause, a resume that removed a pause; the stop of every
        trial on its way out) is void, and the scheduler decides again."""
        for trial_id, markers in getattr(self, "decisions_at_save", {}).items():
            for marker in DECISION_MARKERS:
                path = self.trial_path(trial_id) / marker
                if marker in markers:
                    path.touch()
                else:
                    path.unlink(missing_ok=True)

    def lost(self) -> list[int]:
        """Trials whose process was still running when this backend was saved."""
        return sorted(i for i, p in self.trial_subprocess.items() if isinstance(p, Ended) and p.returncode is None)

    def relaunch(self, trial_id: int) -> None:
        """Start the lost trial's process again, as it was (its config, its epochs): it resumes
        from its checkpoint (call restore_decisions first)."""
        path = self.trial_path(trial_id)
        (path / END_MARKER).unlink(missing_ok=True)  # the end of the lost process
        out = path / "std.out"
        if out.exists() and out.stat().st_size and not out.read_bytes().endswith(b"\n"):
            with open(out, "a") as f:  # a line cut by the kill must not run into the next report
                f.write("\n")
        self._schedule(trial_id, self._trial_dict[trial_id].config)

    def forget_unsaved(self) -> list[int]:
        """Remove the directories of trials started after the save (the scheduler will propose
        them again, from scratch); their ids."""
        gone = []
        if self.local_path is not None and self.local_path.is_dir():
            for p in self.local_path.iterdir():
                if p.is_dir() and p.name.isdigit() and int(p.name) >= len(self.trial_ids):
                    shutil.rmtree(p)
                    gone.append(int(p.name))
        return sorted(gone)

    def stdout(self, trial_id: int) -> list[str]:
        lines, last = [], 0
        for line in super().stdout(trial_id):
            if line.startswith(METRIC_PREFIX):
                try:
                    epoch = int(json.loads(line[len(METRIC_PREFIX):]).get("epoch", 0))
                except ValueError:  # a line cut by a kill: never a report
                    continue
                if epoch <= last:
                    continue  # reported already, by an earlier process of this trial
                last = epoch
            lines.append(line)
        return lines


def make_backend(launcher: str, trial_module: str, trial_config: Path, order: str = "arrival",
                 **backend_kwargs) -> LocalBackend:
    """The backend for `launcher`; with order=deterministic it hands results to the tuner in
    virtual-clock order (ohgw.tuner.order)."""
    entry_point = importlib.util.find_spec(trial_module).origin
    wrap = ordered if order == "deterministic" else (lambda cls: cls)
    if launcher == "subprocess":
        return wrap(RecoverableLocalBackend)(entry_point=entry_point, **backend_kwargs)
    if launcher == "fork":
        server = fork_server(trial_module)  # already started by start_early, or now
        server.request(op="preload", config=str(trial_config))
        return wrap(ForkServerBackend)(entry_point, server, **backend_kwargs)
    raise ConfigError(f"launcher must be one of {', '.join(LAUNCHERS)}, got {launcher!r}")


class RecoverableLocalBackend(Recoverable, LocalBackend):
    pass


class ForkServerBackend(Recoverable, LocalBackend):
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
