"""What Syne Tune says on the terminal.

- Every optional extra that is not installed (AWS, Ray Tune, SMAC, ...) is announced, about a
  dozen lines on every run, bad input included, on stdout and on the root logger: dropped.
- Its log (a line per scheduled trial, ~300 characters) and its status tables (lines of ~700
  characters, at each replicate's end) go to the job's log file only, unless asked for
  (`terminal.status_tables`): the terminal shows the progress line (ohgw.tuner.progress).
  Syne Tune prints the final table with print(); it is routed through its logger here, so that
  one rule decides where both tables go."""
from __future__ import annotations

import contextlib
import io
import logging

ANNOUNCEMENT = "since dependencies are missing"
SYNE_TUNE = "syne_tune"


class _NotInstalledExtras(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return ANNOUNCEMENT not in record.getMessage()


class _SyneTuneInfo(logging.Filter):
    """On a terminal's handler: Syne Tune's records below WARNING are left to the log file."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not record.name.startswith(SYNE_TUNE)


def import_syne_tune() -> None:
    """Import the parts of Syne Tune the tuner uses, without the announcements (later lazy
    imports log theirs on the root logger, which keeps the filter), its final status table
    logged instead of printed."""
    root = logging.getLogger()
    if not any(isinstance(f, _NotInstalledExtras) for f in root.filters):
        root.addFilter(_NotInstalledExtras())
    with contextlib.redirect_stdout(io.StringIO()):
        import syne_tune.backend  # noqa: F401
        import syne_tune.optimizer.baselines  # noqa: F401
        import syne_tune.tuner
    if not getattr(syne_tune.tuner.print_best_metric_found, "logged", False):
        syne_tune.tuner.print_best_metric_found = _logged(syne_tune.tuner.print_best_metric_found)


def import_blackbox_repository() -> None:
    """Syne Tune's blackbox repository and simulator backend (ohgw.simulate), without the
    announcements of its optional extras (YAHPO, h5py, AWS), which it prints on both streams."""
    import_syne_tune()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        import syne_tune.backend.simulator_backend.simulator_callback  # noqa: F401
        import syne_tune.blackbox_repository.blackbox_tabular  # noqa: F401
        import syne_tune.blackbox_repository.simulated_tabular_backend  # noqa: F401


def _logged(print_table):
    """Syne Tune's print_best_metric_found, its printed lines logged on Syne Tune's tuner logger."""
    def log_table(*args, **kwargs):
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            best = print_table(*args, **kwargs)
        if printed.getvalue().strip():
            logging.getLogger(f"{SYNE_TUNE}.tuner").info(printed.getvalue().rstrip())
        return best

    log_table.logged = True
    return log_table


def syne_tune_on_terminal(show: bool) -> None:
    """Whether Syne Tune's log and tables reach the terminal's handlers of the root logger (Hydra
    sets them up again for each job, so each job calls this); the log file has them either way."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler) or not isinstance(handler, logging.StreamHandler):
            continue
        for f in [f for f in handler.filters if isinstance(f, _SyneTuneInfo)]:
            handler.removeFilter(f)
        if not show:
            handler.addFilter(_SyneTuneInfo())
