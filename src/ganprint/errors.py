"""The one error type a stage stops with: its message says what was wrong and what to do.

Library code raises it (or a subclass); every CLI turns it into one ``error:`` line and exit code 2, never a
traceback. Parameter errors have their own type, ``ganprint.config.ConfigError``.
"""


class StageError(RuntimeError):
    """A stage cannot go on: bad input, missing data, a diverged run, an untrusted checkpoint."""
