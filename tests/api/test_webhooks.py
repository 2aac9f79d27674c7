"""Webhooks through the API, on the embedded default (the in-process runner delivers) and
on the scaled set-up (a Celery worker delivers): registered, listed and deleted by their
owner alone; each job end POSTed as the job JSON, signed as Standard Webhooks says (a
receiver on a loopback port checks it); failures retried on the schedule, a silent receiver
given up on at the deadline and tried again; private targets refused; bad input a clear
4xx on every route."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobs_ui.access.api_keys import create_key
from jobs_ui.services import Services
from jobs_ui.settings import Settings
from jobs_ui.webhooks.models import WebhookEvent
from jobs_ui.webhooks.targets import TargetPolicy
from tests.conftest import (
    OWNER,
    TEST_UPLOAD_LIMIT,
    ScaledStack,
    ServerThread,
    running_scaled_stack,
)
from tests.support.files import contacts_csv
from tests.support.jobs import start_export, start_import, wait_for_end
from tests.support.receiver import HANG, Receiver, verify

HOOKS = "/api/import-export/webhooks"
JOBS = "/api/import-export/jobs"
NOT_FOUND = {"error": "Webhook not found", "status": 404}
SIGN_IN = {"error": "Sign in, or send an API key as Authorization: Bearer <key>.", "status": 401}
# Small waits and a short deadline, so retries and timeouts take a test a second, not hours.
FAST = {
    "JOBS_UI_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver is on loopback
    "JOBS_UI_WEBHOOK_RETRY_SECONDS": "0.1",
    "JOBS_UI_WEBHOOK_RETRY_MAX_SECONDS": "0.4",
    "JOBS_UI_WEBHOOK_GIVE_UP_SECONDS": "60",
    "JOBS_UI_WEBHOOK_TIMEOUT_SECONDS": "0.5",
    "JOBS_UI_WEBHOOK_POLL_SECONDS": "0.05",
}
STRICT = {key: value for key, value in FAST.items() if key != "JOBS_UI_WEBHOOK_ALLOW_PRIVATE"}
SETTINGS_KEYS = (
    "DATABASE_URL",
    "REDIS_URL",
    "JOBS_UI_DATA_DIR",
    "JOBS_UI_NAMESPACE",
    "JOBS_UI_HEARTBEAT_SECONDS",
    "JOBS_UI_STALE_AFTER_SECONDS",
)


@pytest.fixture(scope="module")
def webhook_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledStack]:
    """The scaled set-up whose worker delivers to loopback, fast (its own environment)."""
    with running_scaled_stack(tmp_path_factory.mktemp("webhooks-scaled"), FAST) as stack:
        yield stack


@pytest.fixture(params=["embedded", "scaled"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """`embedded` and `scaled` deliver to loopback; `strict` is the default rule (public
    addresses only); `limited` allows 2 webhooks a principal."""
    if request.param == "scaled":
        stack: ScaledStack = request.getfixturevalue("webhook_stack")
        stack.reset()
        values = {key: stack.environment[key] for key in SETTINGS_KEYS}
        return Settings(**values, **FAST, JOBS_UI_MAX_UPLOAD_BYTES=TEST_UPLOAD_LIMIT)
    extra: dict[str, Any] = {
        "embedded": FAST,
        "strict": STRICT,
        "limited": {**FAST, "JOBS_UI_MAX_WEBHOOKS": "2"},
    }[request.param]
    return Settings(
        JOBS_UI_DATA_DIR=tmp_path / "data", JOBS_UI_MAX_UPLOAD_BYTES=TEST_UPLOAD_LIMIT, **extra
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def other(server: ServerThread, services: Services) -> Iterator[httpx.Client]:
    """Another principal, with an API key of its own."""
    key = create_key(services.engine, owner="someone-else", scopes=[])[1]
    with httpx.Client(
        base_url=server.url, timeout=10, headers={"Authorization": f"Bearer {key}"}
    ) as http:
        yield http


def register(client: httpx.Client, url: str, *events: str, **extra: Any) -> dict[str, Any]:
    body = {"url": url, "events": list(events or ["job.completed"]), **extra}
    response = client.post(HOOKS, json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def deliveries(client: httpx.Client, webhook_id: str) -> list[dict[str, Any]]:
    response = client.get(f"{HOOKS}/{webhook_id}/deliveries")
    assert response.status_code == 200, response.text
    return response.json()["deliveries"]  # type: ignore[no-any-return]


def settled(
    client: httpx.Client,
    webhook_id: str,
    done: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 20,
) -> list[dict[str, Any]]:
    """The webhook's deliveries once `done` holds of them."""
    deadline = time.monotonic() + timeout
    while True:
        listed = deliveries(client, webhook_id)
        if done(listed):
            return listed
        assert time.monotonic() < deadline, listed
        time.sleep(0.05)


def all_delivered(count: int) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda listed: len(listed) == count and all(d["status"] == "DELIVERED" for d in listed)


def test_register_list_delete_and_the_secret_is_shown_once(client, receiver):
    created = register(client, receiver.url, "job.failed", "job.completed", "job.failed")
    assert set(created) == {"id", "url", "events", "datasets", "secret", "createdAt"}
    assert created["url"] == receiver.url and created["datasets"] is None
    assert created["events"] == ["job.failed", "job.completed"], "each once, as given"
    assert created["secret"].startswith("whsec_")
    filtered = register(
        client, receiver.url + "?as=filtered", "job.progress", datasets=["products", "products"]
    )
    assert filtered["datasets"] == ["products"]
    listed = client.get(HOOKS)
    assert listed.status_code == 200
    assert [hook["id"] for hook in listed.json()["webhooks"]] == [created["id"], filtered["id"]]
    assert "secret" not in listed.text and created["secret"] not in listed.text
    gone = client.delete(f"{HOOKS}/{created['id']}")
    assert (gone.status_code, gone.content) == (204, b"")
    assert [hook["id"] for hook in client.get(HOOKS).json()["webhooks"]] == [filtered["id"]]
    again = client.delete(f"{HOOKS}/{created['id']}")
    assert (again.status_code, again.json()) == (404, NOT_FOUND)


def test_a_delivery_is_the_job_json_signed_and_the_receiver_verifies_it(client, receiver):
    hook = register(client, receiver.url, "job.completed")
    job = wait_for_end(client, start_export(client)["jobId"])
    (got,) = receiver.wait_for(1)
    assert verify(hook["secret"], got.headers, got.body), "the signature holds"
    assert got.body == client.get(f"{JOBS}/{job['jobId']}").content, "the job JSON, as GET has it"
    assert json.loads(got.body)["status"] == "COMPLETED"
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    assert got.headers["content-type"] == "application/json"
    (delivery,) = settled(client, hook["id"], all_delivered(1))
    assert delivery["id"] == got.headers["webhook-id"]
    assert (delivery["event"], delivery["jobId"]) == ("job.completed", job["jobId"])
    assert [a["statusCode"] for a in delivery["attempts"]] == [200]
    assert delivery["attempts"][0]["error"] is None and delivery["nextAttemptAt"] is None
    assert delivery["deliveredAt"] is not None
    time.sleep(0.3)
    assert len(receiver.received) == 1, "delivered once"


def test_a_receiver_that_fails_twice_gets_three_attempts_the_last_delivered(client, receiver):
    receiver.answers.extend([500, 503])
    hook = register(client, receiver.url, "job.completed")
    wait_for_end(client, start_export(client)["jobId"])
    first, second, third = receiver.wait_for(3)
    assert first.message_id == second.message_id == third.message_id
    assert all(verify(hook["secret"], got.headers, got.body) for got in (first, second, third))
    assert first.body == second.body == third.body
    # The waits grow: 0.1 s, then 0.4 s (4 times longer), here.
    assert second.at - first.at >= 0.09 and third.at - second.at >= 0.35
    (delivery,) = settled(client, hook["id"], all_delivered(1))
    attempts = delivery["attempts"]
    assert [a["statusCode"] for a in attempts] == [500, 503, 200]
    assert [a["error"] for a in attempts] == ["Answered 500.", "Answered 503.", None]
    time.sleep(0.5)
    assert len(receiver.received) == 3, "nothing after the delivery"


def test_a_receiver_that_hangs_is_given_up_on_at_the_deadline_and_tried_again(client, receiver):
    receiver.answers.append(HANG)
    hook = register(client, receiver.url, "job.completed")
    wait_for_end(client, start_export(client)["jobId"])
    first, second = receiver.wait_for(2)
    assert first.message_id == second.message_id
    assert second.at - first.at >= 0.5, "the first was waited for until the deadline"
    (delivery,) = settled(client, hook["id"], all_delivered(1))
    timed_out, answered = delivery["attempts"]
    assert (timed_out["statusCode"], timed_out["error"]) == (None, "No answer within 0.5 s.")
    assert 400 <= timed_out["durationMs"] < 3000
    assert answered["statusCode"] == 200


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)
def test_each_webhook_gets_the_events_and_datasets_it_asked_for(client, receiver, tmp_path):
    register(client, receiver.url + "?as=completed", "job.completed")
    register(client, receiver.url + "?as=products", "job.completed", datasets=["products"])
    register(client, receiver.url + "?as=failed", "job.failed")
    progress = register(client, receiver.url + "?as=progress", "job.progress")
    job = start_import(client, contacts_csv(tmp_path / "contacts.csv", 120_000))
    assert wait_for_end(client, job["jobId"], timeout=120)["status"] == "COMPLETED"
    completed = next(got for got in receiver.wait_for(2) if got.path.endswith("completed"))
    assert json.loads(completed.body)["status"] == "COMPLETED"
    time.sleep(0.5)
    paths = sorted(got.path.rsplit("=", 1)[1] for got in receiver.received)
    assert paths == ["completed", "progress"], "no products, no failed; progress once in 10 s"
    (delivery,) = deliveries(client, progress["id"])
    assert delivery["event"] == "job.progress"
    body = next(got.body for got in receiver.received if got.path.endswith("progress"))
    assert json.loads(body)["status"] == "PROCESSING"


def test_a_webhook_is_its_owners_alone_on_every_route(client, other, receiver, services):
    hook = register(client, receiver.url, "job.completed")
    wait_for_end(client, start_export(client)["jobId"])
    settled(client, hook["id"], all_delivered(1))
    assert other.get(HOOKS).json() == {"webhooks": []}
    unknown = str(uuid.uuid4())
    for method, path in (
        ("DELETE", f"{HOOKS}/{hook['id']}"),
        ("GET", f"{HOOKS}/{hook['id']}/deliveries"),
    ):
        theirs = other.request(method, path)
        nobodys = other.request(method, path.replace(hook["id"], unknown))
        assert (theirs.status_code, theirs.json()) == (404, NOT_FOUND), (method, path)
        assert nobodys.json() == theirs.json(), "the same as a webhook that does not exist"
    admin_key = create_key(services.engine, owner="the-admin", scopes=["jobs:admin"])[1]
    admin = {"Authorization": f"Bearer {admin_key}"}
    assert client.get(f"{HOOKS}/{hook['id']}/deliveries", headers=admin).json() == NOT_FOUND
    # A job's access token reads that job and nothing else: here it is no credential at all.
    token = start_export(other)["accessToken"]
    with httpx.Client(base_url=str(client.base_url), timeout=10) as anonymous:
        for method, path in (
            ("GET", HOOKS),
            ("POST", HOOKS),
            ("DELETE", f"{HOOKS}/{hook['id']}"),
            ("GET", f"{HOOKS}/{hook['id']}/deliveries"),
        ):
            body = {"url": receiver.url, "events": ["job.completed"]}
            answer = anonymous.request(
                method, path, params={"token": token}, json=body if method == "POST" else None
            )
            assert answer.json() == SIGN_IN, (method, path)
    # Another principal's jobs never reach this owner's webhook; the owner's is intact.
    wait_for_end(other, start_export(other)["jobId"])
    time.sleep(0.5)
    assert len(deliveries(client, hook["id"])) == 1 and len(receiver.received) == 1
    assert [h["id"] for h in client.get(HOOKS).json()["webhooks"]] == [hook["id"]]


BAD_REGISTRATIONS: list[tuple[Any, int, str]] = [
    ({"events": ["job.completed"]}, 422, "url: Field required"),
    ({"url": "http://x.example/"}, 422, "events: Field required"),
    ({"url": "http://x.example/", "events": []}, 422, "events: List should have at least 1"),
    ({"url": "http://x.example/", "events": ["job.started"]}, 422, "events: Input should be"),
    ({"url": "http://x.example/", "events": "job.completed"}, 422, "events: Input should be"),
    ({"url": 42, "events": ["job.completed"]}, 422, "url: Input should be a valid string"),
    ({"url": "", "events": ["job.completed"]}, 422, "url: String should have at least 1"),
    ({"url": "https://x.example/" + "a" * 2100, "events": ["job.failed"]}, 422, "at most 2048"),
    ({"url": "ftp://x.example/", "events": ["job.failed"]}, 422, "http:// or https://"),
    ({"url": "https://u:p@x.example/", "events": ["job.failed"]}, 422, "user name or password"),
    ({"url": "https://no-such-host.invalid/", "events": ["job.failed"]}, 422, "not be resolved"),
    (
        {"url": "http://127.0.0.1:9/", "events": ["job.failed"], "datasets": []},
        422,
        "datasets: List should have at least 1",
    ),
    (
        {"url": "http://127.0.0.1:9/", "events": ["job.failed"], "datasets": ["nope"]},
        422,
        "there is no dataset named 'nope'",
    ),
    (
        {"url": "http://127.0.0.1:9/", "events": ["job.failed"], "dataset": "contacts"},
        422,
        "dataset: Extra inputs are not permitted",
    ),
    (["https://x.example/"], 422, "Send a JSON object"),
]


def declared_too_long(client: httpx.Client) -> bytes:
    """The answer to a POST declaring a body past the 64 KB cap, none of it sent: it is
    refused on the declaration (a raw socket, so no unsent body can race the answer)."""
    url = client.base_url
    head = (
        f"POST {HOOKS} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
        f"Authorization: {client.headers['authorization']}\r\n"
        "Content-Type: application/json\r\nContent-Length: 70000\r\n\r\n"
    )
    with socket.create_connection((url.host, url.port), timeout=10) as connection:
        connection.sendall(head.encode())
        answer = b""
        while b"\r\n\r\n" not in answer and (part := connection.recv(65536)):
            answer += part
    return answer


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)
def test_bad_input_gets_a_clear_4xx_on_every_route(client):
    for body, status, says in BAD_REGISTRATIONS:
        answer = client.post(HOOKS, json=body)
        assert answer.status_code == status, (body, answer.text)
        assert answer.json()["status"] == status and says in answer.json()["error"], answer.text
    broken = client.post(HOOKS, content=b"{not json", headers={"content-type": "application/json"})
    assert broken.json() == {"error": "The request body is not valid JSON.", "status": 400}
    assert declared_too_long(client).startswith(b"HTTP/1.1 413")
    for method, path in (("DELETE", f"{HOOKS}/nope"), ("GET", f"{HOOKS}/nope/deliveries")):
        answer = client.request(method, path)
        assert answer.json() == {
            "error": "webhookId 'nope' is not a valid webhook id (a UUID).",
            "status": 400,
        }, (method, path)
    hook = register(client, "http://127.0.0.1:9/", "job.failed")
    for limit, says in (("0", "greater than or equal to 1"), ("201", "less than or equal to 200")):
        answer = client.get(f"{HOOKS}/{hook['id']}/deliveries", params={"limit": limit})
        assert answer.status_code == 422 and says in answer.json()["error"], answer.text
    answer = client.get(f"{HOOKS}/{hook['id']}/deliveries", params={"limit": "many"})
    assert answer.status_code == 422 and "limit" in answer.json()["error"]
    for method, path, allowed in (
        ("PUT", HOOKS, "GET, POST"),
        ("PATCH", f"{HOOKS}/{hook['id']}", "DELETE"),
        ("POST", f"{HOOKS}/{hook['id']}/deliveries", "GET"),
    ):
        answer = client.request(method, path)
        assert (answer.status_code, answer.headers.get("allow")) == (405, allowed), path
        assert answer.json()["status"] == 405
    assert [h["id"] for h in client.get(HOOKS).json()["webhooks"]] == [hook["id"]]


@pytest.mark.parametrize("settings", ["limited"], indirect=True)
def test_a_principal_may_register_only_so_many_webhooks(client, other, receiver):
    first = register(client, receiver.url)
    register(client, receiver.url + "?n=2")  # one url each (a second of one is refused)
    refused = client.post(HOOKS, json={"url": receiver.url + "?n=3", "events": ["job.completed"]})
    assert refused.json() == {
        "error": "You have 2 webhooks, the most allowed; delete one to add another.",
        "status": 409,
    }
    register(other, receiver.url)  # the limit is each principal's own
    assert client.delete(f"{HOOKS}/{first['id']}").status_code == 204
    register(client, receiver.url)


@pytest.mark.parametrize("settings", ["strict"], indirect=True)
@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1:{port}", "is a loopback address"),
        ("localhost:{port}", "resolves to 127.0.0.1, a loopback address"),
        ("[::1]:{port}", "is a loopback address"),
        ("2130706433:{port}", "resolves to 127.0.0.1, a loopback address"),
        ("10.0.0.7", "is a private address"),
        ("192.168.0.1", "is a private address"),
        ("169.254.169.254", "is a link-local address"),
        ("[::ffff:10.0.0.1]", "is a private address"),
        ("0.0.0.0:{port}", "which is this machine"),
    ],
)
def test_a_private_target_is_refused_at_registration(client, receiver, host, reason):
    url = f"http://{host.format(port=receiver.port)}/hooks"
    refused = client.post(HOOKS, json={"url": url, "events": ["job.completed"]})
    assert refused.status_code == 422, refused.text
    assert reason in refused.json()["error"] and "public addresses only" in refused.json()["error"]
    assert client.get(HOOKS).json() == {"webhooks": []}


@pytest.mark.parametrize("settings", ["strict"], indirect=True)
def test_a_private_target_is_refused_again_at_delivery(client, services, receiver):
    """Registered while private targets were allowed, then no longer: nothing is sent."""
    webhook = services.webhooks.endpoints.create(
        owner=OWNER, url=receiver.url, events=[WebhookEvent.JOB_COMPLETED], datasets=None, most=5
    )
    wait_for_end(client, start_export(client)["jobId"])
    (delivery,) = settled(
        client, str(webhook.id), lambda listed: len(listed) == 1 and len(listed[0]["attempts"]) > 1
    )
    first = delivery["attempts"][0]
    assert first["statusCode"] is None and "a loopback address" in first["error"]
    assert delivery["status"] == "PENDING" and receiver.received == []


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)
def test_a_url_is_registered_once_per_owner(client, other, receiver):
    first = register(client, receiver.url)
    for same in (receiver.url, receiver.url.replace("http://", "HTTP://")):
        refused = client.post(HOOKS, json={"url": same, "events": ["job.failed"]})
        assert refused.json() == {
            "error": f"You have a webhook for this url already ({first['id']}); "
            "delete it to register the url again.",
            "status": 409,
        }
    register(other, receiver.url)  # another owner's is another's
    assert client.delete(f"{HOOKS}/{first['id']}").status_code == 204
    register(client, receiver.url)


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)
def test_one_host_gets_at_most_so_many_webhooks_of_one_owner(client, other, receiver):
    for n in range(5):  # JOBS_UI_MAX_WEBHOOKS_PER_HOST
        register(client, f"{receiver.url}?n={n}")
    refused = client.post(HOOKS, json={"url": f"{receiver.url}?n=5", "events": ["job.failed"]})
    assert refused.json() == {
        "error": "You have 5 webhooks for the host 127.0.0.1, the most allowed for one host; "
        "delete one to add another.",
        "status": 409,
    }
    register(client, f"http://localhost:{receiver.port}/hooks")  # another host
    register(other, f"{receiver.url}?n=5")  # another owner


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)
def test_a_visitor_has_no_webhooks(visitor, receiver, server):
    assert visitor.get(JOBS).status_code == 200  # now a visitor, with its cookie
    assert visitor.cookies
    same_origin = {"Origin": server.url}
    refused = {
        "error": "Webhooks need an API key (Authorization: Bearer <key>) or a signed-in "
        "account; a visitor cannot have any.",
        "status": 403,
    }
    body = {"url": receiver.url, "events": ["job.completed"]}
    answer = visitor.post(HOOKS, json=body, headers=same_origin)
    assert (answer.status_code, answer.json()) == (403, refused)
    listed = visitor.get(HOOKS)
    assert (listed.status_code, listed.json()) == (403, refused)
    unknown = f"{HOOKS}/{uuid.uuid4()}"
    assert visitor.get(f"{unknown}/deliveries").json() == refused
    assert visitor.delete(unknown, headers=same_origin).json() == refused


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)
def test_cloud_metadata_is_refused_at_registration_even_allowing_private(client):
    for url in ("http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/"):
        refused = client.post(HOOKS, json={"url": url, "events": ["job.completed"]})
        assert refused.status_code == 422, refused.text
        assert (
            "a cloud metadata address: webhooks are never delivered there"
            in (refused.json()["error"])
        )
    assert client.get(HOOKS).json() == {"webhooks": []}


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)
def test_a_lookup_that_hangs_is_a_clear_422_at_registration_in_time(client, services):
    answer = threading.Event()

    def hanging(_host: str, _port: int) -> list[str]:
        answer.wait(30)  # a name server that never answers
        return ["127.0.0.1"]

    services.webhooks.policy = TargetPolicy(
        allow_private=True, resolve=hanging, resolve_timeout=0.3
    )
    try:
        started = time.monotonic()
        refused = client.post(
            HOOKS, json={"url": "https://slow.example/hook", "events": ["job.completed"]}
        )
        assert time.monotonic() - started < 3
    finally:
        answer.set()
    assert refused.json() == {
        "error": "The host slow.example could not be resolved within 0.3 s.",
        "status": 422,
    }
