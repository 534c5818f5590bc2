"""One-Shot Hyper-Gradient Warm-Starts: the lookahead objective, its hyper-gradient,
the variants (baseline, ohgw, ohgw3, random) and their cost; the trial applies them
(ohgw.trial.warmstart_callback). The lookahead is imported on first use, so that the
variants stay light to import (no torch) for the checks run.py makes first."""

__all__ = ["HyperGradient", "hypergradient", "lookahead_loss"]


def __getattr__(name):
    if name in __all__:
        from ohgw.warmstart import lookahead

        return getattr(lookahead, name)
    raise AttributeError(f"module 'ohgw.warmstart' has no attribute {name!r}")
