"""Syne Tune announces every optional extra that is not installed (AWS, Ray Tune, SMAC, ...),
about a dozen lines on every run, bad input included, on stdout and on the root logger. The tuner
imports it through here: with the announcements dropped, everything else it says kept."""
from __future__ import annotations

import contextlib
import io
import logging

ANNOUNCEMENT = "since dependencies are missing"


class _NotInstalledExtras(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return ANNOUNCEMENT not in record.getMessage()


def import_syne_tune() -> None:
    """Import the parts of Syne Tune the tuner uses, without the announcements (later lazy
    imports log theirs on the root logger, which keeps the filter)."""
    root = logging.getLogger()
    if not any(isinstance(f, _NotInstalledExtras) for f in root.filters):
        root.addFilter(_NotInstalledExtras())
    with contextlib.redirect_stdout(io.StringIO()):
        import syne_tune.backend  # noqa: F401
        import syne_tune.optimizer.baselines  # noqa: F401
