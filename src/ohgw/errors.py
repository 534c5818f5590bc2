class ConfigError(ValueError):
    """Bad user input: reported as one line and a non-zero exit, before any trial starts."""


class DataMissingError(ConfigError):
    """A task's data files are not on this machine."""


class Interrupted(BaseException):
    """The tuner process was asked to stop by a signal (SIGTERM: `kill`, a time limit): the
    replicate is left resumable. A BaseException, as KeyboardInterrupt is, so that no
    `except Exception` on the way out takes it for an error."""

    def __init__(self, signum: int):
        import signal

        super().__init__(f"signal {signal.Signals(signum).name}")
        self.signum = signum


def one_line_errors(*errors: type[Exception]):
    """A command's `main(argv) -> int`: any of `errors` (bad input) is one line on stderr and exit 2,
    where main would otherwise print a traceback."""
    import functools
    import sys

    def wrap(main):
        @functools.wraps(main)
        def wrapped(argv=None) -> int:
            try:
                return main(argv)
            except errors as e:
                print(f"error: {e}", file=sys.stderr)
                return 2
        return wrapped
    return wrap
