"""An upload of undeclared length is cut off as soon as it passes the limit."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from jobs_ui.api.errors import ApiError
from jobs_ui.api.uploads import with_body_limit

MB = 1024 * 1024


async def test_the_body_stops_at_the_first_chunk_past_the_limit():
    pulled = 0

    async def receive():
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"x" * MB, "more_body": pulled < 64}

    scope = {"type": "http", "method": "POST", "headers": [], "path": "/", "query_string": b""}
    request = with_body_limit(Request(scope, receive), 8 * MB, overhead=64 * 1024)
    with pytest.raises(ApiError) as refused:
        async for _chunk in request.stream():
            pass
    assert refused.value.status_code == 413
    assert pulled == 9  # 9 MB is the first amount past 8 MB and 64 KB; nothing more was read


async def test_a_body_within_the_limit_is_passed_through_unchanged():
    chunks = iter([b"a" * MB, b"b" * MB, b""])

    async def receive():
        body = next(chunks)
        return {"type": "http.request", "body": body, "more_body": bool(body)}

    scope = {"type": "http", "method": "POST", "headers": [], "path": "/", "query_string": b""}
    request = with_body_limit(Request(scope, receive), 8 * MB, overhead=0)
    assert await request.body() == b"a" * MB + b"b" * MB
