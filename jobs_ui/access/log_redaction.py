"""Access tokens and API keys never reach a log: every record is redacted as it is made.

A record factory (not a handler filter) so that every logger is covered, whoever set up
its handlers: the HTTP client logging its request URLs, a server's access log, ours.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

# `token=<value>` in a URL or a message, and our API keys wherever they appear.
_SECRETS = re.compile(r"(?P<name>(?:[?&;]|\b)token=)[^&\s\"'#]+|\bjui_[0-9a-f]{12}_[\w-]+")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    return _SECRETS.sub(
        lambda m: f"{m.group('name')}{REDACTED}" if m.group("name") else REDACTED, text
    )


def _redacted(value: object) -> object:
    """The value, or its text redacted when that text holds a secret (a URL object too)."""
    if isinstance(value, int | float | bool) or value is None:
        return value
    text = str(value)
    cleaned = redact(text)
    return value if cleaned == text else cleaned


class _RedactingFactory:
    """A log record factory: makes each record with `make_record`, then redacts it."""

    redacts = True  # what `install` looks for, so that it installs only once

    def __init__(self, make_record: Callable[..., logging.LogRecord]) -> None:
        self._make_record = make_record

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self._make_record(*args, **kwargs)
        # Redact the format and each argument in place, keeping their shapes: formatters
        # such as a server's access log read the arguments themselves.
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redacted(value) for key, value in record.args.items()}
        return record


def install() -> None:
    """Redact every log record from now on (calling it again changes nothing)."""
    make_record = logging.getLogRecordFactory()
    if getattr(make_record, "redacts", False):
        return
    logging.setLogRecordFactory(_RedactingFactory(make_record))
