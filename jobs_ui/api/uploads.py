"""Receiving an uploaded file onto disk, within the size limit."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import BinaryIO

from starlette.requests import Request
from starlette.types import Message

from jobs_ui.api.errors import ApiError

COPY_CHUNK = 1024 * 1024


def too_large_message(limit: int) -> str:
    return f"The file is larger than the {limit / 1024 / 1024:.0f} MB limit."


def with_body_limit(request: Request, limit: int, *, overhead: int) -> Request:
    """The same request, but its body fails with 413 once more than `limit + overhead` bytes
    have arrived. For an upload that does not declare its length (chunked), which cannot be
    refused up front: without this the form parser would spool all of it to disk first."""
    receive = request.receive
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit + overhead:
                raise ApiError(413, too_large_message(limit))
        return message

    return Request(request.scope, counted)


def save_upload(source: BinaryIO, destination: Path, *, limit: int) -> int:
    """Copy an upload to `destination`; too large or empty leaves nothing behind."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    try:
        with destination.open("wb") as target:
            while chunk := source.read(COPY_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise ApiError(413, too_large_message(limit))
                target.write(chunk)
        if size == 0:
            raise ApiError(400, "The file is empty.")
    except BaseException:
        shutil.rmtree(destination.parent, ignore_errors=True)
        raise
    return size
