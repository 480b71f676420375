"""Structured JSON logs that carry the message and correlation ids of the work in hand."""

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

_message_id: ContextVar[str | None] = ContextVar("message_id", default=None)
_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self._service
        record.message_id = _message_id.get()
        record.correlation_id = _correlation_id.get()
        # uvicorn adds an ANSI-coloured copy of its message: noise in a JSON line.
        record.__dict__.pop("color_message", None)
        return True


def configure_logging(service: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter(service))
    handler.setFormatter(
        JsonFormatter(
            "{asctime}{levelname}{name}{message}{service}{message_id}{correlation_id}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # The Stripe SDK logs every request and every answer at INFO: two lines per call beside the
    # service's own line saying what the call did (2 % of collections' CPU when debiting at full
    # budget). At DEBUG they are kept.
    if level != "DEBUG":
        logging.getLogger("stripe").setLevel(logging.WARNING)


@contextmanager
def message_context(message_id: str | None, correlation_id: str | None) -> Iterator[None]:
    message_token = _message_id.set(message_id)
    correlation_token = _correlation_id.set(correlation_id)
    try:
        yield
    finally:
        _message_id.reset(message_token)
        _correlation_id.reset(correlation_token)
