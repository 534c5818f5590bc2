"""Hyperparameters: the registry of roles (where each acts), the search space on its own
scale, and the one definition of what they act on: the training objective, the optimizers'
update, the LR schedule, dropout rates."""
from ohgw.hyperparams.registry import ENTRIES, ROLES, Entry, Hyperparameters, register, unregister
from ohgw.hyperparams.space import HyperParameter, SearchSpace

__all__ = ["ENTRIES", "ROLES", "Entry", "Hyperparameters", "HyperParameter", "SearchSpace", "register",
           "unregister"]
