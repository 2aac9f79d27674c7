"""The API and stream served by the real Reflex backend process, as `make backend` starts it.

Streaming through Reflex's own server (granian) is tested in both prod and dev modes: a
disconnect check that misfires in one of them would cut streams short.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.support.files import contacts_csv
from tests.support.jobs import start_export, start_import, wait_for_end
from tests.support.sse import events

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REFLEX = Path(sys.executable).with_name("reflex")


def start_backend(mode: str, port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    command = [str(REFLEX), "run", "--backend-only", "--backend-port", str(port)]
    if mode == "prod":
        command[2:2] = ["--env", "prod"]
    environment = {
        **os.environ,
        "JOBS_UI_DATA_DIR": str(data_dir),
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
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
