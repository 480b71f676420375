"""How the CLI talks to its user: plain lines, flushed at once so pipes and logs see them in order."""

import sys


def say(line: str = "") -> None:
    print(line, flush=True)


def warn(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
