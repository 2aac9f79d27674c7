"""A backend killed between a job's end and its delivery delivers it after it starts again,
once. The backend is the real one, as `make backend` starts it (in-process runner, SQLite).

To be killed exactly there, the delivery must be unable to go out before the kill: the
endpoint is kept busy (at most one delivery in flight per endpoint) by the delivery of an
earlier job, which the receiver holds unanswered. So at the kill the second job has ended
and its delivery is written, unsent; the first is in flight, its answer never recorded.
"""

from __future__ import annotations

import signal
import time
from typing import Any

import httpx

from jobs_ui.access.api_keys import create_key
from jobs_ui.db import make_engine
from tests.support.jobs import start_export, wait_for_end
from tests.support.receiver import HANG, Receiver, verify
from tests.test_reflex_backend import stop
from tests.test_restarts import serving, stop_with

HOOKS = "/api/import-export/webhooks"
BACKEND = {
    "JOBS_UI_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver is on loopback
    "JOBS_UI_WEBHOOK_TIMEOUT_SECONDS": "120",  # the held delivery stays in flight till the kill
    "JOBS_UI_WEBHOOK_RETRY_SECONDS": "0.1",
}


def delivered(client: httpx.Client, webhook_id: str) -> list[dict[str, Any]]:
    """The webhook's deliveries, once none is PENDING."""
    deadline = time.monotonic() + 20
    while True:
        listed = client.get(f"{HOOKS}/{webhook_id}/deliveries").json()["deliveries"]
        if all(d["status"] != "PENDING" for d in listed) or time.monotonic() > deadline:
            return listed  # type: ignore[no-any-return]
        time.sleep(0.05)


def test_a_delivery_owed_when_the_backend_was_killed_goes_out_after_restart_once(tmp_path):
    data_dir = tmp_path / "data"
    with Receiver() as receiver:
        receiver.answers.append(HANG)
        process, url = serving(data_dir, BACKEND)
        try:
            # A program's API key (visitors have no webhooks); kept in the database, it
            # holds after the restart.
            engine = make_engine(f"sqlite:///{data_dir / 'jobs_ui.db'}")
            key = create_key(engine, owner="program", scopes=[])[1]
            engine.dispose()
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=url, timeout=30, headers=headers) as client:
                body = {"url": receiver.url, "events": ["job.completed"]}
                hook = client.post(HOOKS, json=body).json()
                held = wait_for_end(client, start_export(client)["jobId"])
                (in_flight,) = receiver.wait_for(1)  # held unanswered from here on
                owed = wait_for_end(client, start_export(client)["jobId"])
                assert owed["status"] == "COMPLETED"
                listed = client.get(f"{HOOKS}/{hook['id']}/deliveries").json()["deliveries"]
                by_job = {d["jobId"]: d for d in listed}
                assert by_job[owed["jobId"]]["status"] == "PENDING"
                assert by_job[owed["jobId"]]["attempts"] == [], "written, never tried"
                assert len(receiver.received) == 1, "its endpoint is busy: not sent"
                stop_with(process, signal.SIGKILL)
            receiver.released.set()

            process, url = serving(data_dir, BACKEND)
            with httpx.Client(base_url=url, timeout=30, headers=headers) as client:
                again, sent = receiver.wait_for(3)[1:]
                listed = delivered(client, hook["id"])
                time.sleep(0.5)  # time for a second sending, if there were one
        finally:
            stop(process)
        received = list(receiver.received)
    by_job = {d["jobId"]: d for d in listed}
    owed_delivery, held_delivery = by_job[owed["jobId"]], by_job[held["jobId"]]
    # The one owed at the kill: sent once, after the restart, signed.
    assert sent.message_id == owed_delivery["id"]
    assert [got.message_id for got in received].count(owed_delivery["id"]) == 1
    assert verify(hook["secret"], sent.headers, sent.body)
    assert owed_delivery["status"] == "DELIVERED"
    assert [a["statusCode"] for a in owed_delivery["attempts"]] == [200]
    # The one in flight at the kill: its attempt recorded as cut short, then sent again
    # under the same Webhook-Id (a receiver that did get it can tell), and delivered.
    assert in_flight.message_id == again.message_id == held_delivery["id"]
    assert held_delivery["status"] == "DELIVERED"
    attempts = held_delivery["attempts"]
    assert [a["statusCode"] for a in attempts] == [None, 200]
    assert attempts[0]["error"] == "The process sending it stopped before an answer came."
    assert len(received) == 3, [got.message_id for got in received]
