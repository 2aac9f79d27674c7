"""The request guard: one ASGI middleware in front of the API, the pages and Reflex's own
routes (`/_event`, `/_upload`).

- Unknown `Host` headers are refused (400), so a rebinding or spoofed host gets nothing.
- A state-changing request without a bearer token (so carried by what a browser sends by
  itself: the visitor's cookie, a host app's session, a proxy's Basic credentials) whose
  `Origin` is not allowed, or whose `Sec-Fetch-Site` is `cross-site`, is refused (403)
  before anything runs; so is a websocket from a foreign origin (Reflex's events ride on it).
- Every request body is capped as it arrives: `Content-Length` over the cap is refused at
  once, a chunked body is cut off with 413 when it passes the cap. Nothing is spooled whole.
- Reflex's upload route is refused before its body is read unless it names an upload
  handler and comes with credentials; who sent it is noted for the page to check.
- A caller with no credentials (no bearer token, no `?token=`) gets a visitor cookie on its
  first response, and the request itself carries it from here on, so the first request and
  the next agree on who it is.
- Responses say `nosniff`, send no referrer (URLs may hold access tokens), and may be framed
  by the app's own pages only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobs_ui.access.identity import CredentialError, Identity, bearer_token
from jobs_ui.access.origins import OriginPolicy
from jobs_ui.access.uploads import UploadCallers
from jobs_ui.access.visitor import (
    COOKIE_NAME,
    SECURE_COOKIE_NAME,
    VisitorCookies,
    browser_cookie_name,
    cookie_values,
)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"frame-ancestors 'self'"),
    (b"x-frame-options", b"SAMEORIGIN"),
)


@dataclass(frozen=True)
class ReflexUploads:
    """What the guard needs to check Reflex's upload route: its path, which handlers take
    files, who the caller is, and where to note it (see jobs_ui.access.uploads)."""

    path: str
    takes_files: Callable[[str], bool]
    identity: Identity
    callers: UploadCallers


@dataclass(frozen=True)
class BodyLimits:
    """The cap of a request body: uploads get the file limit (plus room for the multipart
    framing around the file), a path ending in one of `rows_suffixes` (JSON of many rows)
    `rows`,
    everything else `other`."""

    upload_paths: frozenset[str]
    upload_file: int
    upload_overhead: int
    other: int
    rows_suffixes: tuple[str, ...] = ()
    rows: int = 0

    def for_path(self, path: str) -> tuple[int, str]:
        """The cap for a path, and the sentence a body over it gets."""
        if path.rstrip("/") in self.upload_paths:
            limit = self.upload_file
            return (
                limit + self.upload_overhead,
                f"The file is larger than the {_size(limit)} limit.",
            )
        if self.rows_suffixes and path.rstrip("/").endswith(self.rows_suffixes):
            return self.rows, f"The rows sent are larger than the {_size(self.rows)} limit."
        return self.other, f"The request body is larger than the {_size(self.other)} limit."


def _size(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / 1024 / 1024:.0f} MB"
    return f"{count / 1024:.0f} KB"


class RequestGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        origins: OriginPolicy,
        limits: BodyLimits,
        visitors: VisitorCookies,
        make_visitors: bool,
        uploads: ReflexUploads,
        api_prefix: str,
    ) -> None:
        self.app = app
        self.api_prefix = api_prefix
        self.origins = origins
        self.limits = limits
        self.visitors = visitors
        self.make_visitors = make_visitors
        self.uploads = uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if not self.origins.host_allowed(host):
            await _refuse(scope, send, 400, "This server does not answer for that host name.")
            return
        if self._foreign(scope, headers, host):
            await _refuse(
                scope, send, 403, "Requests from other sites may not act for this visitor."
            )
            return
        send = _with_security_headers(_json_refusals(send))
        if self.make_visitors:
            # No visitor is made up for Reflex's upload route (its sender must already be
            # one) nor for a request that names its caller itself.
            path = scope["path"].rstrip("/")
            uploading = scope["type"] == "http" and path == self.uploads.path
            own = _own_credentials(scope, headers, self.api_prefix)
            scope, send = self._visitor(scope, headers, send, mint=not (uploading or own))
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            limit, message = self.limits.for_path(scope["path"])
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                await _refuse(scope, send, 413, message)
                return
            capped = _CappedBody(scope, receive, send, limit, message)
            if scope["path"].rstrip("/") == self.uploads.path:
                await self._reflex_upload(scope, headers, capped)
                return
            await capped.run(self.app)
            return
        await self.app(scope, receive, send)

    async def _reflex_upload(self, scope: Scope, headers: Headers, capped: _CappedBody) -> None:
        """Reflex's upload route: refused before its body is read unless it names a handler
        that takes files and comes with credentials; its sender noted for the handler."""
        handler = headers.get("reflex-event-handler", "")
        client_token = headers.get("reflex-client-token", "")
        if not client_token or not self.uploads.takes_files(handler):
            await _refuse(scope, capped.send, 400, "This is not an upload the app expects.")
            return
        try:
            caller = await self.uploads.identity.resolve(Request(scope), accept_token=False)
        except CredentialError as error:
            await _refuse(scope, capped.send, 401, error.message)
            return
        with self.uploads.callers.sending(client_token, caller.subject):
            await capped.run(self.app)

    def _foreign(self, scope: Scope, headers: Headers, host: str) -> bool:
        """A browser request from another site that would ride on the visitor's cookie."""
        if scope["type"] == "http" and (
            scope["method"] in SAFE_METHODS or bearer_token(headers.get("authorization", ""))
        ):
            return False
        if headers.get("sec-fetch-site", "").lower() == "cross-site":
            return True
        origin = headers.get("origin")
        if origin is None:  # not a browser's cross-origin request (curl, scripts)
            return False
        scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
        return not self.origins.origin_allowed(origin, scheme=scheme, host_header=host)

    def _visitor(
        self, scope: Scope, headers: Headers, send: Send, *, mint: bool
    ) -> tuple[Scope, Send]:
        """The request goes on carrying, as COOKIE_NAME, the one visitor cookie it can be
        trusted with, or none: over HTTPS only the `__Host-` one counts; two different
        values (one planted beside the other) count as none. With `mint`, a caller
        without one becomes a new visitor, on this request already and in its answer."""
        secure = scope.get("scheme") in ("https", "wss")
        header = "; ".join(headers.getlist("cookie"))
        sent = set(cookie_values(header, browser_cookie_name(secure=secure)))
        value = next(iter(sent)) if len(sent) == 1 else None
        if value is not None and self.visitors.principal(value) is None:
            value = None
        if value is None and mint:
            value = self.visitors.mint()
            send = _setting_cookie(send, self.visitors.set_cookie_header(value, secure=secure))
        if value is None and not sent and COOKIE_NAME not in header:
            return scope, send  # nothing of ours to take away or to put in
        kept = [
            part.strip()
            for part in header.split(";")
            if part.strip()
            and part.strip().partition("=")[0].strip() not in (COOKIE_NAME, SECURE_COOKIE_NAME)
        ]
        cookie = "; ".join([*([f"{COOKIE_NAME}={value}"] if value else []), *kept])
        raw = [(name, val) for name, val in scope["headers"] if name != b"cookie"]
        if cookie:
            raw.append((b"cookie", cookie.encode("latin-1")))
        return {**scope, "headers": raw}, send


def _setting_cookie(send: Send, set_cookie: str) -> Send:
    header = (b"set-cookie", set_cookie.encode("latin-1"))

    async def send_with_cookie(message: Message) -> None:
        if message["type"] in ("http.response.start", "websocket.accept"):
            message = {**message, "headers": [*message.get("headers", []), header]}
        await send(message)

    return send_with_cookie


def _own_credentials(scope: Scope, headers: Headers, api_prefix: str) -> bool:
    """Whether the request names its caller itself: a bearer token, or a job access token
    (`?token=` on an API route), which alone decides who reads (and on other routes is no
    one: a token never acts, so it must not act as a brand-new visitor either). Reflex's
    websocket has a `token` of its own in its URL (the tab's id, not a credential)."""
    if bearer_token(headers.get("authorization", "")):
        return True
    if scope["type"] != "http" or not scope["path"].startswith(api_prefix):
        return False
    query = scope.get("query_string", b"")
    return b"token=" in query and any(
        name == "token" for name, _ in parse_qsl(query.decode("latin-1"))
    )


def _json_refusals(send: Send) -> Send:
    """A 4xx in plain text from a layer below (a CORS refusal, Reflex's own routes, an
    unknown method) leaves as JSON `{"error", "status"}`, like every answer of the API."""
    status = 0
    held: list[bytes] = []
    kept: list[tuple[bytes, bytes]] = []

    async def send_json(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            headers = message.get("headers", [])
            plain = dict(headers).get(b"content-type", b"").startswith(b"text/plain")
            if 400 <= message["status"] < 500 and plain:
                status = message["status"]
                kept.extend(
                    (name, value)
                    for name, value in headers
                    if name.lower() not in (b"content-type", b"content-length")
                )
                return  # sent with the body, once it is known
        elif message["type"] == "http.response.body" and status:
            held.append(message.get("body", b""))
            if message.get("more_body"):
                return
            text = b"".join(held).decode("utf-8", "replace").strip()[:300] or "Request refused."
            body = json.dumps({"error": text, "status": status}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        *kept,
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            message = {"type": "http.response.body", "body": body}
        await send(message)

    return send_json


def _with_security_headers(send: Send) -> Send:
    async def send_secured(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            present = {name.lower() for name, _ in headers}
            if b"access-control-allow-origin" not in present:
                # CORS middlewares say "credentials allowed" to every origin, granted or
                # not; an answer that grants no origin says nothing about credentials.
                headers = [
                    h for h in headers if h[0].lower() != b"access-control-allow-credentials"
                ]
            extra = [(name, value) for name, value in SECURITY_HEADERS if name not in present]
            message = {**message, "headers": [*_one_vary(headers), *extra]}
        await send(message)

    return send_secured


def _one_vary(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Each CORS layer (the API's, Reflex's) adds its own `Vary: Origin`: say each name once."""
    varies = [value for name, value in headers if name.lower() == b"vary"]
    if len(varies) < 2 and b"," not in b"".join(varies):
        return headers
    names: dict[bytes, bytes] = {}
    for value in varies:
        for part in value.split(b","):
            if part.strip():
                names.setdefault(part.strip().lower(), part.strip())
    kept = [(name, value) for name, value in headers if name.lower() != b"vary"]
    return [*kept, (b"vary", b", ".join(names.values()))]


class _CappedBody:
    """Passes a body on until it passes `limit`; then answers 413 itself and tells the app
    the client left, so whatever the app was reading (a form, a spool file) stops there.
    The app's own answer after that is dropped: the client already has the 413."""

    def __init__(
        self, scope: Scope, receive: Receive, send: Send, limit: int, message: str
    ) -> None:
        self.scope, self._receive, self._send = scope, receive, send
        self.limit, self.message = limit, message
        self.received = 0
        self.started = False  # the app's response has begun
        self.cut_off = False

    async def run(self, app: ASGIApp) -> None:
        await app(self.scope, self.receive, self.send)

    async def receive(self) -> Message:
        if self.cut_off:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                self.cut_off = True
                if not self.started:
                    await _refuse(self.scope, self._send, 413, self.message)
                return {"type": "http.disconnect"}
        return message

    async def send(self, message: Message) -> None:
        if self.cut_off:
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


async def _refuse(scope: Scope, send: Send, status: int, message: str) -> None:
    if scope["type"] == "websocket":
        # Closing before accepting makes the server answer the handshake with 403.
        await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
        return
    body = json.dumps({"error": message, "status": status}).encode()
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *SECURITY_HEADERS,
    ]
    if status == 413:
        headers.append((b"connection", b"close"))  # the rest of the body is not read
    start: dict[str, Any] = {"type": "http.response.start", "status": status, "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": body})
