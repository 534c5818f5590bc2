"""Hydra callback (conf/config.yaml, hydra.callbacks): analyse a multirun into
<sweep dir>/analysis when it ends. It may not make a finished multirun fail: an error becomes
one warning line."""
from __future__ import annotations

import sys
from pathlib import Path

from hydra.experimental.callback import Callback


class AnalysisCallback(Callback):
    def on_multirun_end(self, config, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            from ohgw.analysis.pipeline import analyze

            analyze([sweep_dir])
        except Exception as e:  # noqa: BLE001 - the multirun itself has finished
            print(f"warning: analysis of {sweep_dir} failed ({type(e).__name__}: {e}); "
                  f"rerun: python -m ohgw.analysis {sweep_dir}", file=sys.stderr)
