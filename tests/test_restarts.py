"""A job running when the backend stops (killed, or asked to stop) runs again by itself
when it starts, from the beginning and once only in effect: the import is all or nothing,
so the cut-short run left nothing behind. The backend is the real one, as `make backend`
starts it, with its in-process runner and SQLite."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.support.files import contacts_csv
from tests.support.jobs import start_import, wait_for_end
from tests.test_reflex_backend import start_backend, stop, wait_until_serving

ROWS = 600_000


def serving(data_dir: Path, extra: dict[str, str] | None = None) -> tuple[object, str]:
    port = free_port()
    process = start_backend("prod", port, data_dir, extra)
    url = f"http://127.0.0.1:{port}"
    wait_until_serving(process, url)
    return process, url


def wait_until_running(client: httpx.Client, job_id: str, at_least: int = 5) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(f"/api/import-export/jobs/{job_id}").json()
        if job["status"] == "PROCESSING" and job["progress"] >= at_least:
            return
        assert job["status"] in ("PENDING", "PROCESSING"), job
        time.sleep(0.02)
    raise AssertionError("the import did not get going")


@contextlib.contextmanager
def watching(url: str, cookies: httpx.Cookies, job_id: str) -> Iterator[None]:
    """An SSE stream of the job held open (read on a thread) while the block runs."""
    opened = threading.Event()

    def follow() -> None:
        with (
            contextlib.suppress(httpx.HTTPError),
            httpx.stream(
                "GET", f"{url}/api/import-export/jobs/ws", params={"jobId": job_id},
                cookies=cookies, timeout=None,
            ) as response,
        ):  # fmt: skip
            for _line in response.iter_lines():
                opened.set()

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    assert opened.wait(10), "the stream did not open"
    yield
    reader.join(timeout=30)
    assert not reader.is_alive(), "the stream outlived the server"


def contact_count(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "jobs_ui.db") as connection:
        return int(connection.execute("SELECT count(*) FROM contacts").fetchone()[0])


def stored_run(data_dir: Path, job_id: str) -> tuple[str, int]:
    with sqlite3.connect(data_dir / "jobs_ui.db") as connection:
        query = "SELECT status, attempt FROM job WHERE id = ?"
        status, attempt = connection.execute(query, (job_id.replace("-", ""),)).fetchone()
    return status, int(attempt)


def stop_with(process, sent: signal.Signals) -> None:  # type: ignore[no-untyped-def]
    """Signal the backend's whole process group, as a service manager stops it, and wait
    until every process of it is gone (Reflex's own may exit before the server's)."""
    os.killpg(process.pid, sent)
    process.wait(timeout=60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError("the backend's processes did not all exit")


# As each stop leaves the job: killed, it is still PROCESSING (the next start queues it
# again); asked to stop, the backend queued it again itself before it exited.
LEFT = {signal.SIGKILL: ("PROCESSING", 1), signal.SIGTERM: ("PENDING", 2)}


@pytest.mark.parametrize("sent", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_an_import_cut_short_by_a_restart_completes_by_itself(tmp_path, sent):
    data_dir = tmp_path / "data"
    process, url = serving(data_dir)
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            job = start_import(client, contacts_csv(tmp_path / "contacts.csv", ROWS))
            wait_until_running(client, job["jobId"])
            # A page's stream stays open through the stop: it must not hold the stop up
            # until the server is killed (then the job would not be queued again at once).
            with watching(url, client.cookies, job["jobId"]):
                stop_with(process, sent)
            cookies = client.cookies  # the visitor's: the signing key is kept in the data dir
        assert contact_count(data_dir) == 0, "the cut-short run kept nothing"
        assert stored_run(data_dir, job["jobId"]) == LEFT[sent]

        process, url = serving(data_dir)
        with httpx.Client(base_url=url, timeout=30, cookies=cookies) as client:
            done = wait_for_end(client, job["jobId"], timeout=120)
        assert (done["status"], done["attempt"]) == ("COMPLETED", 2), done
        assert done["result"]["createdCount"] == ROWS and done["error"] is None
        assert contact_count(data_dir) == ROWS
    finally:
        stop(process)


def test_a_job_cut_short_more_often_than_allowed_ends_failed_saying_why(tmp_path):
    data_dir = tmp_path / "data"
    one_run = {"JOBS_UI_MAX_ATTEMPTS": "1"}
    process, url = serving(data_dir, one_run)
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            job = start_import(client, contacts_csv(tmp_path / "contacts.csv", ROWS))
            wait_until_running(client, job["jobId"])
            stop_with(process, signal.SIGKILL)
            cookies = client.cookies
        process, url = serving(data_dir, one_run)
        with httpx.Client(base_url=url, timeout=30, cookies=cookies) as client:
            ended = wait_for_end(client, job["jobId"], timeout=30)
            assert (ended["status"], ended["attempt"]) == ("FAILED", 1), ended
            assert ended["error"].startswith("The server stopped while this job was running")
            retry = client.post(f"/api/import-export/jobs/{job['jobId']}/retry")
            assert retry.status_code == 201, retry.text
            done = wait_for_end(client, retry.json()["jobId"], timeout=120)
        assert done["status"] == "COMPLETED" and done["attempt"] == 1
        assert contact_count(data_dir) == ROWS
    finally:
        stop(process)
