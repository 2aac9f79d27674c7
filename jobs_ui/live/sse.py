"""Server-Sent Events wire format (kept apart from the connection handling)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

HEARTBEAT = b": keep-alive\n\n"


def encode_json(data: BaseModel | dict[str, Any]) -> str:
    """Compact JSON; a model as the REST API sends it (by alias), byte for byte."""
    if isinstance(data, BaseModel):
        return data.model_dump_json(by_alias=True)
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def format_event(
    data: BaseModel | dict[str, Any],
    *,
    event_id: int | str | None = None,
    retry_ms: int | None = None,
) -> bytes:
    """One event without an `event:` line, so EventSource.onmessage receives it."""
    lines = []
    if retry_ms is not None:
        lines.append(f"retry: {retry_ms}")
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"data: {encode_json(data)}")
    return ("\n".join(lines) + "\n\n").encode()
