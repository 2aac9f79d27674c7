"""The SSE status stream, over a real server on a loopback port."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid

import httpx
import pytest

from jobs_ui.models import JobKind
from jobs_ui.services import Services
from tests.support.jobs import start_export, wait_for_end
from tests.support.sse import events

STREAM = "/api/import-export/jobs/ws"


def idle_job(services: Services) -> uuid.UUID:
    """A job the runner will not pick up, so the test moves it by hand."""
    job = services.store.create(kind=JobKind.EXPORT, dataset="contacts", owner="t", params={})
    return job.id


def finished_export(client: httpx.Client) -> dict:
    job = start_export(client)
    return wait_for_end(client, job["jobId"])


def test_finished_job_stream_is_exact(client):
    job = finished_export(client)
    response = client.get(STREAM, params={"jobId": job["jobId"]})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    update = {
        "type": "status_update",
        "jobId": job["jobId"],
        "status": "COMPLETED",
        "progress": 100,
        "error": None,
        "result": job["result"],
        "updatedAt": job["updatedAt"],
        "message": job["message"],
        "rowsPerSecond": None,  # an ended job has no pace
        "etaSeconds": None,
        "kind": "EXPORT",
        "dataset": "contacts",
        "version": job["version"],
        "attempt": 1,
        # Since one model serves both: every other field of the job JSON too, after these.
        "retryOf": None,
        "commitOf": None,
        "undoOf": None,
        "undoneBy": None,
        "fixOf": None,
        "createdAt": job["createdAt"],
        "startedAt": job["startedAt"],
        "finishedAt": job["finishedAt"],
    }
    assert update == {"type": "status_update", **job}  # the REST JSON plus type, no more
    compact = {"separators": (",", ":"), "ensure_ascii": False}
    expected = (
        "retry: 2000\n"
        "id: 0\n"
        f'data: {{"type":"connected","jobId":"{job["jobId"]}"}}\n\n'
        f"id: {job['version']}\n"
        f"data: {json.dumps(update, **compact)}\n\n"
    ).encode()
    assert response.content == expected
    assert job["updatedAt"].endswith("Z") and len(job["updatedAt"]) == 24


def test_unknown_job_gets_error_then_end(client):
    response = client.get(STREAM, params={"jobId": str(uuid.uuid4())})
    assert response.status_code == 200
    assert response.content == b'data: {"type":"error","message":"Job not found"}\n\n'


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"jobId": "not-a-uuid"}, "Invalid jobId: expected a UUID"),
        ({}, "jobId is required"),
        ({"jobId": "'; DROP TABLE job; --"}, "Invalid jobId: expected a UUID"),
    ],
)
def test_malformed_id_gets_error_then_end(client, query, message):
    response = client.get(STREAM, params=query)
    assert response.status_code == 200
    payload = json.dumps({"type": "error", "message": message}, separators=(",", ":"))
    assert response.content == f"data: {payload}\n\n".encode()


def test_live_job_streams_every_change_in_order(client, services):
    job_id = idle_job(services)

    def drive() -> None:
        services.store.start(job_id)
        for percent in (10, 40, 70):
            time.sleep(0.05)
            services.store.report_progress(job_id, progress=percent, message=f"at {percent}")
        time.sleep(0.05)
        services.store.complete(job_id, result={"rowCount": 0}, message="done")

    with client.stream("GET", STREAM, params={"jobId": str(job_id)}) as response:
        stream = events(response)
        # The job moves only once the stream has said where it stands (on a busy machine a
        # fixed head start could let the job start first).
        received = [next(stream), next(stream)]
        threading.Thread(target=drive).start()
        received += list(stream)
    assert received[0].data == {"type": "connected", "jobId": str(job_id)}
    updates = received[1:]
    assert [u.data["status"] for u in updates] == ["PENDING", "PROCESSING"] + ["PROCESSING"] * 3 + [
        "COMPLETED"
    ]
    assert [u.data["progress"] for u in updates] == [0, 0, 10, 40, 70, 100]
    assert [int(u.id) for u in updates] == [1, 2, 3, 4, 5, 6]
    # The stored result, and the link to the export's file the public model adds.
    download = f"/api/import-export/jobs/{job_id}/download"
    assert updates[-1].data["result"] == {"fileUrl": download, "rowCount": 0}


def test_resume_with_last_event_id_skips_what_the_client_has(client, services):
    job_id = idle_job(services)
    services.store.start(job_id)  # version 2
    headers = {"Last-Event-ID": "2"}

    def finish() -> None:
        time.sleep(0.2)
        services.store.complete(job_id, result={}, message="done")

    threading.Thread(target=finish).start()
    with client.stream("GET", STREAM, params={"jobId": str(job_id)}, headers=headers) as response:
        received = list(events(response))
    assert received[0].data["type"] == "connected" and received[0].id == "2"
    assert [(e.id, e.data["status"]) for e in received[1:]] == [("3", "COMPLETED")]


def test_resume_behind_gets_the_current_state_at_once(client, services):
    job_id = idle_job(services)
    services.store.start(job_id)
    services.store.complete(job_id, result={}, message="done")  # version 3
    response = client.get(STREAM, params={"jobId": str(job_id)}, headers={"Last-Event-ID": "1"})
    statuses = [(e.id, e.data.get("status")) for e in events(response)]
    assert statuses == [("1", None), ("3", "COMPLETED")]


def test_reconnect_after_the_end_gets_204(client, services):
    job_id = idle_job(services)
    services.store.start(job_id)
    services.store.complete(job_id, result={}, message="done")  # version 3
    response = client.get(STREAM, params={"jobId": str(job_id)}, headers={"Last-Event-ID": "3"})
    assert response.status_code == 204
    assert response.content == b""


def test_heartbeat_comment_while_nothing_changes(client, services, monkeypatch):
    monkeypatch.setattr(services.hub, "heartbeat_interval", 0.1)
    job_id = idle_job(services)
    with client.stream("GET", STREAM, params={"jobId": str(job_id)}) as response:
        lines = response.iter_lines()
        seen = [next(lines) for _ in range(8)]
    assert ": keep-alive" in seen


def test_stream_work_stops_when_the_client_leaves(server, services, api_key):
    job_id = idle_job(services)
    with (
        httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {api_key}"}) as http,
        http.stream("GET", STREAM, params={"jobId": str(job_id)}) as response,
    ):
        lines = response.iter_lines()  # held: dropping it would close the response
        assert next(lines).startswith("retry:")
        assert services.hub.watched_jobs == 1
    deadline = time.monotonic() + 5
    while services.hub.watched_jobs and time.monotonic() < deadline:
        time.sleep(0.02)
    assert services.hub.watched_jobs == 0


def test_update_reaches_a_connected_client_within_milliseconds(client, services):
    job_id = idle_job(services)
    services.store.start(job_id)
    arrivals: list[float] = []
    with client.stream("GET", STREAM, params={"jobId": str(job_id)}) as response:
        stream = events(response)
        next(stream), next(stream)  # connected, current state
        for percent in range(1, 21):
            sent = time.perf_counter()
            services.store.report_progress(job_id, progress=percent, message="x")
            event = next(stream)
            assert event.data["progress"] == percent
            arrivals.append(time.perf_counter() - sent)
    arrivals.sort()
    # Pushed, not polled: a poll or re-read cycle would take a second or more.
    assert arrivals[len(arrivals) // 2] < 0.5, arrivals


@pytest.mark.parametrize("last_event_id", ["²", "9" * 5000, "-3", "abc"])
def test_odd_last_event_ids_count_as_none(client, services, last_event_id):
    job_id = idle_job(services)
    services.store.start(job_id)
    services.store.complete(job_id, result={}, message="done")
    response = client.get(
        STREAM,
        params={"jobId": str(job_id)},
        headers={"Last-Event-ID": last_event_id.encode("utf-8")},
    )
    assert response.status_code == 200
    assert [e.data.get("status") for e in events(response)] == [None, "COMPLETED"]


def test_a_last_event_id_beyond_the_job_starts_over(client, services):
    job_id = idle_job(services)
    services.store.start(job_id)  # version 2, still running
    headers = {"Last-Event-ID": "1000"}
    with client.stream("GET", STREAM, params={"jobId": str(job_id)}, headers=headers) as response:
        stream = events(response)
        assert next(stream).id == "0"
        assert next(stream).data["version"] == 2


async def test_a_client_gone_before_the_first_byte_leaves_nothing_subscribed(services, api_key):
    from jobs_ui.api.app import create_api

    job_id = idle_job(services)
    sent: list[dict] = []

    async def receive():
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        raise OSError("the client is gone")

    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
        "method": "GET", "scheme": "http", "path": STREAM, "raw_path": STREAM.encode(),
        "query_string": f"jobId={job_id}".encode(), "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {api_key}".encode())],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }  # fmt: skip
    with contextlib.suppress(Exception):
        await create_api(services)(scope, receive, send)
    # It got as far as answering with the stream (not a refusal), and then let go.
    assert sent and sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    assert services.hub.watched_jobs == 0
