"""Server-Sent Events wire format (kept apart from the connection handling)."""

from __future__ import annotations

import json
from typing import Any

HEARTBEAT = b": keep-alive\n\n"


def encode_json(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def format_event(
    data: dict[str, Any], *, event_id: int | str | None = None, retry_ms: int | None = None
) -> bytes:
    """One event without an `event:` line, so EventSource.onmessage receives it."""
    lines = []
    if retry_ms is not None:
        lines.append(f"retry: {retry_ms}")
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"data: {encode_json(data)}")
    return ("\n".join(lines) + "\n\n").encode()
