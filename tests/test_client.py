"""The API client's follower: stream first, polling by itself when the stream fails."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import httpx
import pytest

from jobs_ui.client import (
    FollowOptions,
    JobNotFoundError,
    JobsClient,
    JobUpdate,
    NotAuthorizedError,
    Transport,
)
from jobs_ui.models import JobKind
from tests.conftest import free_port


def idle_job(services) -> str:
    job = services.store.create(kind=JobKind.EXPORT, dataset="contacts", owner="t", params={})
    return str(job.id)


def finish_later(services, job_id: str, delay: float = 0.3) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)
        services.store.start(uuid.UUID(job_id))
        time.sleep(0.05)  # apart, so the stream does not merge them into one update
        services.store.report_progress(uuid.UUID(job_id), progress=50, message="half")
        time.sleep(0.05)
        services.store.complete(uuid.UUID(job_id), result={"rowCount": 0}, message="done")

    thread = threading.Thread(target=run)
    thread.start()
    return thread


async def collect(client: JobsClient, job_id: str, options: FollowOptions) -> list:
    return [item async for item in client.follow(job_id, options)]


async def test_follow_over_sse_until_the_end(server, services, api_key):
    job_id = idle_job(services)
    finish_later(services, job_id)
    async with JobsClient(server.url, api_key=api_key) as client:
        items = await collect(client, job_id, FollowOptions())
    assert items[0] is Transport.LIVE
    updates = [item for item in items if isinstance(item, JobUpdate)]
    assert [u.status for u in updates] == ["PENDING", "PROCESSING", "PROCESSING", "COMPLETED"]
    download = f"/api/import-export/jobs/{job_id}/download"  # added by the public model
    assert updates[-1].result == {"fileUrl": download, "rowCount": 0} and updates[-1].is_final


async def test_polling_only_when_sse_is_off(server, services, api_key):
    job_id = idle_job(services)
    finish_later(services, job_id)
    async with JobsClient(server.url, api_key=api_key) as client:
        items = await collect(client, job_id, FollowOptions(use_sse=False, poll_interval=0.05))
    assert items[0] is Transport.POLLING
    assert Transport.LIVE not in items
    assert items[-1].status == "COMPLETED"
    assert services.hub.watched_jobs == 0


def failing_stream_transport(server_url: str, status: int = 503) -> httpx.AsyncHTTPTransport:
    """Passes requests to the real server, except the stream, which fails with `status`."""
    real = httpx.AsyncHTTPTransport()

    class Transport_(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/ws"):
                return httpx.Response(status, json={"error": "down"})
            return await real.handle_async_request(request)

    return Transport_()


@pytest.mark.parametrize("status", [503, 200])
async def test_falls_back_to_polling_when_the_stream_fails(server, services, status, api_key):
    job_id = idle_job(services)
    finish_later(services, job_id)
    transport = failing_stream_transport(server.url, status)  # 200 but JSON: not a stream
    async with JobsClient(server.url, api_key=api_key, transport=transport) as client:
        items = await collect(client, job_id, FollowOptions(poll_interval=0.05))
    assert Transport.POLLING in items and Transport.LIVE not in items
    assert items[-1].status == "COMPLETED"


async def test_unknown_and_malformed_jobs_raise_not_found(server, api_key):
    async with JobsClient(server.url, api_key=api_key) as client:
        for job_id in (str(uuid.uuid4()), "nope"):
            with pytest.raises(JobNotFoundError):
                await collect(client, job_id, FollowOptions())
            with pytest.raises(JobNotFoundError):
                await collect(client, job_id, FollowOptions(use_sse=False))


async def test_an_unreachable_backend_reads_as_offline_and_keeps_trying():
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    async with JobsClient(url) as client:
        follower = client.follow(str(uuid.uuid4()), FollowOptions(poll_interval=0.05))
        first = await asyncio.wait_for(anext(follower), 10)
        await follower.aclose()
    assert first is Transport.OFFLINE


async def test_reconnect_resumes_after_the_last_version(server, services, api_key):
    """A stream cut mid-job reconnects with Last-Event-ID: nothing repeats, nothing is lost."""
    job_id = idle_job(services)
    seen_headers: list[str | None] = []
    real = httpx.AsyncHTTPTransport()
    cuts = {"left": 1}

    class CuttingTransport(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/ws"):
                seen_headers.append(request.headers.get("last-event-id"))
                response = await real.handle_async_request(request)
                if cuts["left"]:
                    cuts["left"] -= 1
                    return _cut_after_events(response, events=2)
                return response
            return await real.handle_async_request(request)

    finish_later(services, job_id, delay=0.5)
    async with JobsClient(server.url, api_key=api_key, transport=CuttingTransport()) as client:
        items = await collect(client, job_id, FollowOptions(poll_interval=0.05))
    versions = [item.version for item in items if isinstance(item, JobUpdate)]
    assert versions == sorted(set(versions)) and versions[0] == 1 and items[-1].is_final
    assert Transport.POLLING not in items, "a stream that worked, then dropped, reconnects"
    assert seen_headers[0] is None and seen_headers[1] == "1"


def _cut_after_events(response: httpx.Response, events: int) -> httpx.Response:
    """The same response, but its body stops (as if the network dropped) after N events."""

    class Cut(httpx.AsyncByteStream):
        async def __aiter__(self):
            seen = 0
            async for chunk in response.stream:
                yield chunk
                seen += chunk.count(b"\n\n")
                if seen >= events:
                    raise httpx.ReadError("connection dropped")

        async def aclose(self) -> None:
            await response.aclose()

    return httpx.Response(response.status_code, headers=response.headers, stream=Cut())


async def test_an_answer_that_is_not_the_api_reads_as_offline_not_a_crash():
    """A proxy's login page or a wrong api_url: the follower says offline and keeps trying."""

    def login_page(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, html="<html>Please sign in</html>")

    transport = httpx.MockTransport(login_page)
    async with JobsClient("http://jobs.invalid", transport=transport) as client:
        follower = client.follow(str(uuid.uuid4()), FollowOptions(poll_interval=0.01))
        first = await asyncio.wait_for(anext(follower), 5)
        await follower.aclose()
    assert first is Transport.OFFLINE


async def test_follow_with_a_job_access_token_only(server, services):
    job_id = idle_job(services)
    token = services.commands.tokens.mint(job_id=uuid.UUID(job_id)).token
    finish_later(services, job_id)
    async with JobsClient(server.url, token=token) as client:
        seen = await collect(client, job_id, FollowOptions())
        assert [i.status for i in seen if isinstance(i, JobUpdate)][-1] == "COMPLETED"
        with pytest.raises(JobNotFoundError, match="another job"):
            await collect(client, idle_job(services), FollowOptions())
        with pytest.raises(NotAuthorizedError, match="another job"):  # polling: a 401
            await collect(client, idle_job(services), FollowOptions(use_sse=False))
