"""A webhook receiver on a loopback port for tests: it records each request and answers as
told, and `verify` checks a delivery's signature from the Standard Webhooks specification
alone (the standard library, none of the app's code), as a receiver would."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HANG = "hang"  # hold the request unanswered until the receiver closes (or is released)


@dataclass(frozen=True)
class Redirect:
    location: str
    status: int = 302


@dataclass(frozen=True)
class Body:
    """An answer with a body: `size` bytes of `fill`, written in chunks."""

    status: int
    size: int
    fill: bytes = b"x"


Answer = int | str | Redirect | Body


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # names in lowercase
    body: bytes
    at: float  # time.monotonic() when it arrived

    @property
    def message_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    """Answers with `answers` in turn, then `then` for every request after them."""

    answers: deque[Answer] = field(default_factory=deque)
    then: Answer = 200
    tls: ssl.SSLContext | None = None  # serve https with this server context
    received: list[Received] = field(default_factory=list)
    body_bytes_written: int = 0

    def __post_init__(self) -> None:
        self._changed = threading.Condition()
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the name http.server calls
                receiver._answer(self)

            def log_message(self, *_args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if self.tls is not None:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}/hooks/jobs"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 20) -> list[Received]:
        """The first `count` requests, once that many arrived."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.received)} of {count} requests arrived")
                self._changed.wait(left)
            return list(self.received[:count])

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length)
        headers = {name.lower(): value for name, value in handler.headers.items()}
        with self._changed:
            self.received.append(Received(handler.path, headers, body, time.monotonic()))
            answer = self.answers.popleft() if self.answers else self.then
            self._changed.notify_all()
        if answer == HANG:
            self.released.wait(120)
            handler.close_connection = True
            return
        if isinstance(answer, Redirect):
            handler.send_response(answer.status)
            handler.send_header("Location", answer.location)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        if isinstance(answer, Body):
            self._write_body(handler, answer)
            return
        assert isinstance(answer, int)
        handler.send_response(answer)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def _write_body(self, handler: BaseHTTPRequestHandler, answer: Body) -> None:
        handler.send_response(answer.status)
        handler.send_header("Content-Length", str(answer.size))
        handler.end_headers()
        chunk = answer.fill * 65536
        sent = 0
        try:
            while sent < answer.size:
                handler.wfile.write(chunk[: answer.size - sent])
                sent += min(len(chunk), answer.size - sent)
                self.body_bytes_written = sent
        except OSError:  # the client stopped reading and closed: what this measures
            pass


def verify(secret: str, headers: dict[str, str], body: bytes, *, tolerance: int = 300) -> bool:
    """A receiver's check, from the specification: HMAC-SHA256, keyed with the base64 part
    of the secret, over "{id}.{timestamp}.{body}"; any `v1,` signature of the header may
    match; the timestamp must be recent (a replayed old request is refused)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    message_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    signed = f"{message_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(expected, given.removeprefix("v1,"))
        for given in headers["webhook-signature"].split()
        if given.startswith("v1,")
    )
