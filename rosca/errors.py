"""The one error the CLI shows to a user as a clear message instead of a traceback."""


class CliError(Exception):
    """A problem the user can act on; ``str()`` is the whole message, ``details`` an optional excerpt."""

    def __init__(self, message: str, *, details: str = "", exit_code: int = 1) -> None:
        super().__init__(message)
        self.details = details
        self.exit_code = exit_code


class UsageError(CliError):
    """Bad input on the command line: exit status 2, like a configuration error."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=2)


def one_line(error: BaseException) -> str:
    """An unexpected error in one line: its type and the first line of its message."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
