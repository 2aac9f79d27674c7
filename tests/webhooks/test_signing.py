"""Deliveries are signed as the Standard Webhooks specification says: its published test
vector reproduces, and a receiver's check written from the specification alone accepts
what the app signs (and refuses a body, id or timestamp changed on the way)."""

from __future__ import annotations

import base64
import time
from pathlib import Path

from jobs_ui.webhooks.signing import new_secret, signature, signed_headers
from tests.support.receiver import verify

# The specification's own example (also in its reference libraries' tests).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_specifications_test_vector_reproduces():
    assert signature(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_a_secret_is_whsec_and_the_base64_of_32_random_bytes():
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"), validate=True)) == 32


def test_a_receiver_checking_by_the_specification_accepts_ours_and_nothing_altered():
    secret, body, now = new_secret(), b'{"jobId":"x","status":"COMPLETED"}', int(time.time())
    headers = {k.lower(): v for k, v in signed_headers(secret, "d-1", now, body).items()}
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-id"] == "d-1" and headers["webhook-timestamp"] == str(now)
    assert verify(secret, headers, body)
    assert not verify(secret, headers, body + b" ")
    assert not verify(new_secret(), headers, body)
    assert not verify(secret, {**headers, "webhook-id": "d-2"}, body)
    assert not verify(secret, {**headers, "webhook-timestamp": str(now + 1)}, body)
    old = {k.lower(): v for k, v in signed_headers(secret, "d-1", now - 3600, body).items()}
    assert not verify(secret, old, body), "an hour-old signature is a replay"


def readme_verify():
    """The README's receiver, its `verify` as printed (without the server it starts)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = next(
        part.split("```", 1)[0]
        for part in readme.split("```python")[1:]
        if "def verify(" in part.split("```", 1)[0]
    )
    namespace: dict = {}
    exec(block.split("class Receiver", 1)[0], namespace)  # the README's own code
    return namespace


def test_the_readmes_receiver_accepts_what_the_app_signs_and_nothing_else():
    readme = readme_verify()
    secret = new_secret()
    readme["SECRET"] = secret
    body = b'{"jobId": "1", "status": "COMPLETED"}'
    now = int(time.time())
    headers = signed_headers(secret, "msg_1", now, body)
    sent = (headers["Webhook-Id"], headers["Webhook-Timestamp"], headers["Webhook-Signature"])
    assert readme["verify"](*sent, body)
    assert not readme["verify"](*sent, body + b" ")
    assert not readme["verify"]("msg_2", *sent[1:], body)
    old = signed_headers(secret, "msg_1", now - 600, body)
    assert not readme["verify"]("msg_1", old["Webhook-Timestamp"], old["Webhook-Signature"], body)
    assert not readme["verify"](None, None, None, body)  # a request without the headers
    assert not readme["verify"]("msg_1", "soon", headers["Webhook-Signature"], body)
    readme["SECRET"] = new_secret()
    assert not readme["verify"](*sent, body)
