class ConfigError(ValueError):
    """Bad user input: reported as one line and a non-zero exit, before any trial starts."""


class DataMissingError(ConfigError):
    """A task's data files are not on this machine."""
