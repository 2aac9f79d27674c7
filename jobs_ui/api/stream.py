"""GET /api/import-export/jobs/ws?jobId=...: a job's status as Server-Sent Events."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from jobs_ui.access.identity import CredentialError
from jobs_ui.access.stream_slots import TooManyStreamsError
from jobs_ui.api.deps import ServicesDep
from jobs_ui.api.errors import error_response, error_responses
from jobs_ui.jobs.commands import CommandError, check_visible
from jobs_ui.live.messages import connected_message, error_message
from jobs_ui.live.sse import HEARTBEAT, format_event
from jobs_ui.urls import JOBS_API

log = logging.getLogger(__name__)

router = APIRouter(prefix=JOBS_API, tags=["stream"])

RETRY_MS = 2_000
# A caller at its stream limit is told to come back this much later (or to poll meanwhile).
STREAM_RETRY_AFTER = 10
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

# Read by the route itself (a bad one is told as an `error` event, the contract's way).
STREAM_DOCS = {
    "parameters": [
        {
            "name": "jobId",
            "in": "query",
            "required": True,
            "schema": {"type": "string", "format": "uuid"},
            "description": "The job to follow.",
        },
        {
            "name": "token",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "A job access token for this job.",
        },
        {
            "name": "Last-Event-ID",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "The version the client already has (the last event's id).",
        },
    ]
}
STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "Server-Sent Events, each `data:` one JSON message: `connected`, then "
            "`status_update` (the job JSON plus type, id: its version) at once and on every "
            "change until the job ends; or one `error` (unknown job, bad id or credentials)."
        ),
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    204: {"description": "The client already has the job's final state: stop reconnecting."},
    # Credentials and unknown jobs are `error` events; only the guard's 400 (host) and the
    # open-stream limit are statuses.
    **error_responses(400, 429, always=()),
}


def _event_stream(*events: bytes) -> StreamingResponse:
    async def emit() -> AsyncIterator[bytes]:
        for event in events:
            yield event

    return StreamingResponse(emit(), media_type="text/event-stream", headers=SSE_HEADERS)


def _last_event_id(request: Request) -> int:
    """The version the client already has; anything that is not a plain number means none."""
    raw = request.headers.get("last-event-id", "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else 0


@router.get(
    "/ws",
    response_class=StreamingResponse,
    responses=STREAM_RESPONSES,
    openapi_extra=STREAM_DOCS,
)
async def job_status_stream(request: Request, services: ServicesDep) -> Response:
    """`connected`, the current state at once, then every change until the job ends.

    Credentials and unknown jobs are answered as `error` events (the contract's way), so a
    browser's EventSource hears why; a caller at its open-stream limit gets 429.
    """
    raw_id = request.query_params.get("jobId", "")
    try:
        job_id = uuid.UUID(raw_id)
    except ValueError:
        text = "jobId is required" if not raw_id else "Invalid jobId: expected a UUID"
        return _event_stream(format_event(error_message(text)))

    try:
        principal = await services.identity.resolve(request, accept_token=True)
    except CredentialError as error:
        return _event_stream(format_event(error_message(error.message)))

    known_version = _last_event_id(request)
    held = AsyncExitStack()  # the slot and the subscription, released when the response ends
    try:
        await held.enter_async_context(services.stream_slots.hold(principal.subject))
    except TooManyStreamsError as error:
        return error_response(429, str(error), {"Retry-After": str(STREAM_RETRY_AFTER)})
    try:
        subscription = await held.enter_async_context(services.hub.subscribe(job_id))
    except BaseException:
        await held.aclose()
        raise
    current = subscription.current
    try:
        check_visible(principal, job_id, owner=current.owner if current else None)
    except CommandError as error:  # another's job reads exactly as an unknown one
        await held.aclose()
        return _event_stream(format_event(error_message(error.message)))
    assert current is not None
    if known_version > current.version and not current.final:
        known_version = 0  # an id from somewhere else (another job, a reset database)
    if current.final and known_version >= current.version:
        await held.aclose()
        return Response(status_code=204)  # the client has the final state: stop reconnecting

    async def events() -> AsyncIterator[bytes]:
        # One generator, no helpers: this runs once per stream for every change, and a
        # change may wake ten thousand streams.
        after = known_version
        try:
            yield format_event(connected_message(job_id), event_id=after, retry_ms=RETRY_MS)
            while True:
                snapshot = await subscription.next_after(after)
                if snapshot is None:  # the hub's heartbeat tick: say the stream is alive
                    yield HEARTBEAT
                    continue
                yield snapshot.event
                after = snapshot.version
                if snapshot.final:
                    return
        finally:
            await held.aclose()

    return _HoldingStreamingResponse(events(), held)


class _HoldingStreamingResponse(StreamingResponse):
    """A stream that releases what it holds however the response ends: also when the client
    is gone before the first byte, when the body never starts and so never cleans up."""

    def __init__(self, content: AsyncIterator[bytes], held: AsyncExitStack) -> None:
        super().__init__(content, media_type="text/event-stream", headers=SSE_HEADERS)
        self._held = held

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._held.aclose()  # a second aclose does nothing
