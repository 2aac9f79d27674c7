"""One attempt against a real receiver on a loopback port: the signed job JSON arrives as
sent, to the address that was checked (https verified for the URL's name, not the address);
a redirect is not followed, a silent receiver is given up on at the deadline, an answer's
body is not read past a small cap, and a name that resolves elsewhere since it was
registered (DNS rebinding) gets nothing."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections import deque
from pathlib import Path

import httpx
import pytest

from jobs_ui.webhooks.resolver import THREAD_PREFIX
from jobs_ui.webhooks.sender import RESPONSE_CAP, Sender
from jobs_ui.webhooks.signing import new_secret
from jobs_ui.webhooks.targets import TargetError, TargetPolicy
from tests.support.receiver import HANG, Body, Receiver, Redirect, verify

BODY = json.dumps({"jobId": "j-1", "status": "COMPLETED", "progress": 100}).encode()


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    with Receiver() as running:
        yield running


def loopback_allowed() -> TargetPolicy:
    return TargetPolicy(allow_private=True)


async def send(url: str, *, policy: TargetPolicy | None = None, deadline: float = 5, **kw):  # type: ignore[no-untyped-def]
    secret = kw.pop("secret", new_secret())
    async with Sender(policy or loopback_allowed(), timeout=deadline) as sender:
        return await sender.send(url=url, message_id="d-1", secret=secret, body=BODY)


async def test_the_body_arrives_as_sent_signed_and_the_answer_counts(receiver):
    secret = new_secret()
    outcome = await send(receiver.url + "?k=v", secret=secret)
    assert (outcome.delivered, outcome.status_code, outcome.error) == (True, 200, None)
    assert 0 <= outcome.duration_ms < 5000
    (got,) = receiver.wait_for(1)
    assert got.body == BODY and got.path == "/hooks/jobs?k=v"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["webhook-id"] == "d-1"
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 30
    assert verify(secret, got.headers, got.body)
    assert got.headers["host"] == f"127.0.0.1:{receiver.port}"


async def test_it_connects_to_the_address_checked_with_the_names_host_header(receiver):
    resolved: list[str] = []

    def resolve(host: str, _port: int) -> list[str]:
        resolved.append(host)
        return ["127.0.0.1"]  # what the name resolves to: no DNS knows this name

    policy = TargetPolicy(allow_private=True, resolve=resolve)
    outcome = await send(f"http://hooks.receiver.test:{receiver.port}/in", policy=policy)
    assert outcome.delivered, outcome.error
    (got,) = receiver.wait_for(1)
    assert got.headers["host"] == f"hooks.receiver.test:{receiver.port}"
    assert resolved == ["hooks.receiver.test"]


async def test_a_name_that_now_resolves_to_a_private_address_gets_nothing(receiver):
    """Public when registered, loopback at delivery: refused at delivery, nothing sent."""
    answers = deque([["93.184.216.34"], ["127.0.0.1"]])

    def rebinding(_host: str, _port: int) -> list[str]:
        return answers.popleft()

    policy = TargetPolicy(allow_private=False, resolve=rebinding)
    url = f"http://rebind.receiver.test:{receiver.port}/in"
    policy.check(url)  # registration: public
    outcome = await send(url, policy=policy)
    assert not outcome.delivered and outcome.status_code is None
    assert "resolves to 127.0.0.1, a loopback address" in (outcome.error or "")
    await asyncio.sleep(0.1)
    assert receiver.received == []


async def test_a_loopback_url_is_refused_at_delivery_without_allowing_private(receiver):
    outcome = await send(receiver.url, policy=TargetPolicy(allow_private=False))
    assert "loopback" in (outcome.error or "") and receiver.received == []


async def test_a_redirect_is_not_followed(receiver):
    receiver.answers.append(Redirect(f"http://127.0.0.1:{receiver.port}/elsewhere"))
    outcome = await send(receiver.url)
    assert not outcome.delivered and outcome.status_code == 302
    assert "redirects are not followed" in (outcome.error or "")
    await asyncio.sleep(0.2)
    assert [got.path for got in receiver.received] == ["/hooks/jobs"]


async def test_a_receiver_that_never_answers_is_given_up_on_at_the_deadline(receiver):
    receiver.answers.append(HANG)
    started = time.monotonic()
    outcome = await send(receiver.url, deadline=0.3)
    assert time.monotonic() - started < 2
    assert (outcome.delivered, outcome.status_code) == (False, None)
    assert outcome.error == "No answer within 0.3 s."
    assert 250 <= outcome.duration_ms < 2000


async def test_an_answers_body_is_not_read_past_a_small_cap(receiver):
    size = 64 * 1024 * 1024
    receiver.answers.append(Body(500, size, fill=b"down "))
    outcome = await send(receiver.url)
    assert outcome.status_code == 500 and (outcome.error or "").startswith("Answered 500: down")
    assert len(outcome.error or "") < 300
    await asyncio.sleep(0.5)  # the receiver writes until the closed connection stops it
    # What socket buffers took before the close; reading it all would have taken 64 MB.
    assert receiver.body_bytes_written < size // 2, receiver.body_bytes_written
    assert RESPONSE_CAP <= 4096


async def test_a_failed_answer_says_its_status_and_the_start_of_its_body(receiver):
    receiver.answers.append(Body(503, 40, fill=b"busy "))
    outcome = await send(receiver.url)
    assert outcome.status_code == 503 and outcome.error == "Answered 503: " + ("busy " * 8).strip()


async def test_nothing_listening_is_a_failed_attempt_saying_so():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    outcome = await send(f"http://127.0.0.1:{port}/")
    assert not outcome.delivered and "Could not connect" in (outcome.error or "")


def test_a_refused_target_is_a_value_error_for_callers():
    assert issubclass(TargetError, ValueError)


def certificate(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for `name` and its key (openssl, as installed)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.mark.parametrize(
    ("served_as", "delivered"), [("hooks.receiver.test", True), ("other.test", False)]
)
async def test_https_goes_to_the_checked_address_with_the_certificate_checked_for_the_name(
    tmp_path, served_as, delivered
):
    cert, key = certificate(tmp_path, served_as)
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))  # as if a public CA had signed it
    policy = TargetPolicy(allow_private=True, resolve=lambda _host, _port: ["127.0.0.1"])
    with Receiver(tls=server_side) as receiver:
        url = f"https://hooks.receiver.test:{receiver.port}/in"
        transport = httpx.AsyncHTTPTransport(verify=trusting)
        async with Sender(policy, timeout=5, transport=transport) as sender:
            outcome = await sender.send(url=url, message_id="d-1", secret=new_secret(), body=BODY)
        assert outcome.delivered is delivered, outcome.error
        if delivered:
            (got,) = receiver.wait_for(1)
            assert got.headers["host"] == f"hooks.receiver.test:{receiver.port}"
        else:
            assert "certificate" in (outcome.error or "").lower(), outcome.error
            assert receiver.received == []


async def test_a_lookup_that_hangs_fails_the_attempt_at_its_timeout_off_the_loops_executor(
    receiver,
):
    answer, threads = threading.Event(), []

    def hanging(_host: str, _port: int) -> list[str]:
        threads.append(threading.current_thread().name)
        answer.wait(30)  # a name server that never answers
        return ["127.0.0.1"]

    policy = TargetPolicy(allow_private=True, resolve=hanging, resolve_timeout=0.3)
    try:
        outcome = await send(f"http://slow.receiver.test:{receiver.port}/in", policy=policy)
    finally:
        answer.set()
    assert not outcome.delivered and outcome.status_code is None
    assert outcome.error == "The host slow.receiver.test could not be resolved within 0.3 s."
    assert outcome.duration_ms < 2000, "the lookup's own timeout, not the attempt's 5 s"
    # Not the event loop's default executor, which the delivery loop's database calls use.
    assert threads and threads[0].startswith(THREAD_PREFIX), threads
    assert receiver.received == []


async def test_a_name_resolving_to_the_metadata_service_gets_nothing_even_allowing_private(
    receiver,
):
    policy = TargetPolicy(allow_private=True, resolve=lambda _host, _port: ["169.254.169.254"])
    outcome = await send(f"http://meta.receiver.test:{receiver.port}/in", policy=policy)
    assert not outcome.delivered and "a cloud metadata address" in (outcome.error or "")
