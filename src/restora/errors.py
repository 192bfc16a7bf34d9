"""The one exception type that reaches users as a one-line message (exit code 2)."""


class RestoraError(Exception):
    """A problem with the user's input: printed as one line, never as a traceback."""
