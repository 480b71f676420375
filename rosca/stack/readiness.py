"""Waiting for the gateway and for every service's ``/<name>/readyz`` through it."""

import time
from collections.abc import Callable, Iterable, Mapping

import httpx

from rosca.errors import CliError
from rosca.stack.processes import ChildProcess
from rosca.stack.signals import StopSignal

POLL_SECONDS = 0.2


def probe_ready(client: httpx.Client, url: str) -> tuple[bool, str]:
    """(ready, what the endpoint last said) for one readiness URL."""
    try:
        answer = client.get(url, timeout=2.0)
    except httpx.HTTPError as error:
        return False, f"no answer ({type(error).__name__})"
    body = answer.text.strip()
    try:
        ready = answer.status_code == 200 and answer.json().get("status") in ("ready", "ok")
    except ValueError:
        ready = False
    return ready, f"{answer.status_code} {body[:500]}"


def wait_until_ready(
    urls: Mapping[str, str],
    *,
    watched: Iterable[ChildProcess],
    logs: Mapping[str, ChildProcess],
    stop: StopSignal,
    timeout_seconds: float,
    on_ready: Callable[[str, float], None] = lambda _name, _seconds: None,
) -> None:
    """Poll every URL of ``urls`` ({name: readyz URL}) until all are ready.

    Fails as soon as a watched process exits, or after ``timeout_seconds`` naming what is not ready
    and what its readiness endpoint said last.
    """
    watched = list(watched)
    started = time.monotonic()
    pending = dict(urls)
    last_answer = dict.fromkeys(urls, "not asked yet")
    with httpx.Client(trust_env=False) as client:
        while pending:
            stop.raise_if_requested()
            for child in watched:
                if child.exit_code() is not None:
                    raise child.exited_early()
            for name, url in list(pending.items()):
                ready, last_answer[name] = probe_ready(client, url)
                if ready:
                    del pending[name]
                    on_ready(name, time.monotonic() - started)
            if pending and time.monotonic() - started > timeout_seconds:
                raise _not_ready(pending, last_answer, logs, timeout_seconds)
            if pending:
                stop.wait(POLL_SECONDS)


def _not_ready(
    pending: Mapping[str, str],
    last_answer: Mapping[str, str],
    logs: Mapping[str, ChildProcess],
    timeout_seconds: float,
) -> CliError:
    lines = [f"  {name}: GET {url} -> {last_answer[name]}" for name, url in pending.items()]
    first = next(iter(pending))
    process = logs.get(first)
    tail = f"last lines of {process.log_path}:\n{process.log_tail()}" if process else ""
    return CliError(
        f"not ready after {timeout_seconds:.0f} s: {', '.join(pending)}\n" + "\n".join(lines),
        details=tail,
    )
