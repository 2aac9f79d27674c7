"""The API and stream served by the real Reflex backend process, as `make backend` starts it.

Streaming through Reflex's own server (granian) is tested in both prod and dev modes: a
disconnect check that misfires in one of them would cut streams short.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from jobs_ui.access.visitor import COOKIE_NAME
from tests.conftest import free_port
from tests.support.files import contacts_csv
from tests.support.jobs import start_export, start_import, wait_for_end
from tests.support.sse import events

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REFLEX = Path(sys.executable).with_name("reflex")


def start_backend(
    mode: str, port: int, data_dir: Path, extra: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    command = [str(REFLEX), "run", "--backend-only", "--backend-port", str(port)]
    if mode == "prod":
        command[2:2] = ["--env", "prod"]
    environment = {
        **os.environ,
        "JOBS_UI_DATA_DIR": str(data_dir),
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
        **(extra or {}),
    }
    environment.pop("DATABASE_URL", None)
    return subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_until_serving(process: subprocess.Popen[bytes], url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the backend exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/api/import-export/jobs", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the backend did not start in time")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


@pytest.fixture(params=["prod", "dev"])
def backend(request, tmp_path: Path) -> Iterator[httpx.Client]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_backend(request.param, port, tmp_path / "data")
    try:
        wait_until_serving(process, url)
        with httpx.Client(base_url=url, timeout=30) as client:
            yield client
    finally:
        stop(process)


def test_import_streams_to_completed_then_export_downloads(backend, tmp_path):
    # Large enough that the import reports progress several times (it takes about a second).
    path = contacts_csv(tmp_path / "contacts.csv", 300_000)
    job = start_import(backend, path)
    with backend.stream("GET", "/api/import-export/jobs/ws", params={"jobId": job["jobId"]}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        received = list(events(r))
    updates = [event.data for event in received[1:]]
    assert received[0].data == {"type": "connected", "jobId": job["jobId"]}
    assert updates[-1]["status"] == "COMPLETED", updates[-1]
    assert updates[-1]["result"]["importedCount"] == 300_000
    versions = [int(event.id) for event in received[1:]]
    assert versions == sorted(set(versions)), "versions must rise with no duplicate"
    progress = [update["progress"] for update in updates]
    assert progress == sorted(progress) and len(progress) > 3

    export = wait_for_end(backend, start_export(backend, search="person 3999")["jobId"])
    download = backend.get(export["result"]["fileUrl"])
    assert download.status_code == 200
    assert download.text.splitlines()[1:] == [
        f"Person {n},person{n}@example.com,Company {n % 50}," for n in [3999, *range(39990, 40000)]
    ]


def _send_until_answered(
    port: int, head: bytes, chunk: bytes, most: int, first: bytes = b""
) -> tuple[bytes, int]:
    """Send `head` (and `first`, a chunk of its own), then up to `most` chunks of a chunked
    body, stopping as soon as the server answers; the answer and how many chunks went out
    before it."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(head)
        if first:
            connection.sendall(b"%x\r\n%s\r\n" % (len(first), first))
        sent = 0
        framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        while sent < most:
            readable, _, _ = select.select([connection], [], [], 0)
            if readable:
                break
            try:
                connection.sendall(framed)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 1
        connection.settimeout(30)
        answer = b""
        while b"\r\n\r\n" not in answer:
            part = connection.recv(65536)
            if not part:
                break
            answer += part
        return answer, sent


# What the import page's upload sends before the file's bytes: Reflex's routing headers and
# a well-formed multipart start, so each route reads on until the cap stops it.
REFLEX_UPLOAD_HEADERS = (
    "reflex-client-token: 00000000-0000-4000-8000-000000000000\r\n"
    "reflex-event-handler: "
    "reflex___state____state.jobs_ui___pages___imports____import_form_state.submit_file\r\n"
)
MULTIPART_START = (
    b'--b\r\nContent-Disposition: form-data; name="dataset"\r\n\r\ncontacts\r\n'
    b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
    b"Content-Type: text/csv\r\n\r\n"
)


@pytest.mark.parametrize(
    ("path", "content_type", "extra_headers", "first"),
    [
        ("/_upload", "multipart/form-data; boundary=b", REFLEX_UPLOAD_HEADERS, MULTIPART_START),
        ("/api/import-export/jobs/import", "multipart/form-data; boundary=b", "", MULTIPART_START),
        ("/api/import-export/jobs/export", "application/json", "", b'{"dataset": "'),
    ],
)
def test_every_body_is_capped_as_it_arrives(tmp_path, path, content_type, extra_headers, first):
    """Reflex's own upload route included: a declared length over the cap is refused before
    the body is sent, and a chunked body is cut off soon after it passes the cap."""
    port = free_port()
    limit_mb = 4
    process = start_backend(
        "prod", port, tmp_path / "data", extra={"JOBS_UI_MAX_UPLOAD_BYTES": str(limit_mb << 20)}
    )
    try:
        wait_until_serving(process, f"http://127.0.0.1:{port}")
        # A visitor's cookie: Reflex's upload route takes nothing from callers without one.
        cookie = httpx.get(f"http://127.0.0.1:{port}/api/import-export/jobs").cookies
        host = (
            f"Host: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n{extra_headers}"
            f"Cookie: {COOKIE_NAME}={cookie[COOKIE_NAME]}\r\n"
        )
        declared = f"POST {path} HTTP/1.1\r\n{host}Content-Length: 1000000000\r\n\r\n"
        answer, _ = _send_until_answered(port, declared.encode(), b"", 0)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        chunked = f"POST {path} HTTP/1.1\r\n{host}Transfer-Encoding: chunked\r\n\r\n"
        answer, sent = _send_until_answered(port, chunked.encode(), b"x" * (1 << 20), 64, first)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        cap_mb = limit_mb + 1 if "json" not in content_type else 1
        # It stops reading at the cap; what is still in flight (socket buffers) is small.
        assert sent <= cap_mb + 8, f"{sent} MB went out before the 413"
    finally:
        stop(process)
    leftovers = list((tmp_path / "data" / "uploads").glob("*/*"))
    assert leftovers == []


def _tree_rss(process: psutil.Process) -> int:
    """Resident memory of the backend and its children (Reflex starts its server as one)."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += member.memory_info().rss
    return total


def test_one_huge_json_line_costs_the_backend_little_memory(tmp_path):
    """The report's file: one JSON Lines line of 2,000,000 keys (29 MB). It is refused with
    a sentence, and the backend's memory stays bounded while it reads it."""
    path = tmp_path / "wide.jsonl"
    with path.open("w") as handle:
        handle.write("{" + ",".join(f'"k{n}":{n}' for n in range(2_000_000)) + "}\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_backend("prod", port, tmp_path / "data")
    try:
        wait_until_serving(process, url)
        tree = psutil.Process(process.pid)
        before = _tree_rss(tree)
        peak = before
        with httpx.Client(base_url=url, timeout=60) as client:
            job = start_import(client, path)
            deadline = time.monotonic() + 60
            while (current := client.get(f"/api/import-export/jobs/{job['jobId']}").json())[
                "status"
            ] not in ("COMPLETED", "FAILED"):
                peak = max(peak, _tree_rss(tree))
                assert time.monotonic() < deadline, "the import did not end"
                time.sleep(0.02)
        peak = max(peak, _tree_rss(tree))
    finally:
        stop(process)
    grown_mb = (peak - before) / 1024 / 1024
    print(f"backend RSS {before / 1024 / 1024:.0f} MB -> peak {peak / 1024 / 1024:.0f} MB")
    text = current["error"] or str(current["result"]["errors"])
    assert "1 MB" in text, current
    assert current["result"] is None or current["result"]["importedCount"] == 0
    assert grown_mb < 64, f"reading the line grew the backend by {grown_mb:.0f} MB"
