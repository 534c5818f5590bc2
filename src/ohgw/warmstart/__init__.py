"""One-Shot Hyper-Gradient Warm-Starts: the lookahead objective, its hyper-gradient,
the variants (baseline, ohgw, ohgw3, random) and their cost; the trial applies them
(ohgw.trial.warmstart_callback)."""
from ohgw.warmstart.lookahead import HyperGradient, hypergradient, lookahead_loss

__all__ = ["HyperGradient", "hypergradient", "lookahead_loss"]
