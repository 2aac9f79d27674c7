"""A minimal, strict SSE reader for tests: it sees exactly what a browser would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Event:
    data: dict[str, Any]
    id: str | None = None
    retry: int | None = None
    comments: list[str] = field(default_factory=list)


def events(response: httpx.Response) -> Iterator[Event]:
    """Parse events (and collect comment lines) from a streaming response."""
    current: dict[str, Any] = {}
    comments: list[str] = []
    for line in response.iter_lines():
        if line == "":
            if "data" in current:
                yield Event(
                    data=json.loads(current["data"]),
                    id=current.get("id"),
                    retry=int(current["retry"]) if "retry" in current else None,
                    comments=comments,
                )
                comments = []
            current = {}
        elif line.startswith(":"):
            comments.append(line)
        else:
            name, _, value = line.partition(":")
            current[name] = value.removeprefix(" ")
