"""Hydra's instantiate, keeping our own ConfigError visible (Hydra wraps every exception
raised by a target in InstantiationException, which would turn one clear line into a
stack of context)."""
import hydra.utils
from hydra.errors import InstantiationException

from ohgw.errors import ConfigError


def instantiate(cfg, *args, **kwargs):
    try:
        return hydra.utils.instantiate(cfg, *args, **kwargs)
    except InstantiationException as e:
        cause = e.__cause__
        while isinstance(cause, InstantiationException):
            cause = cause.__cause__
        if isinstance(cause, ConfigError):
            raise cause from None
        raise
