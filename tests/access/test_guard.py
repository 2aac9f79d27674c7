"""The request guard on its own, driven with a tiny ASGI app: what it lets through, what it
cuts off, and what the app and the client each see."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.requests import cookie_parser

from jobs_ui.access.guard import BodyLimits, ReflexUploads, RequestGuard
from jobs_ui.access.identity import Identity
from jobs_ui.access.origins import OriginPolicy
from jobs_ui.access.tokens import JobTokens
from jobs_ui.access.uploads import UploadCallers
from jobs_ui.access.visitor import COOKIE_NAME, SECURE_COOKIE_NAME, VisitorCookies

KEYS = ("guard-test-key-" + "k" * 32,)
HOST = "jobs.example"
LIMIT = 100
UPLOAD = 1000
UPLOAD_OVERHEAD = 10
CHUNK = 30


@dataclass
class App:
    """Reads the whole body (as a form parser would), then answers 200, recording all."""

    read_body: bool = True
    start_early: bool = False  # answer before reading (a streaming echo)
    scopes: list[dict[str, Any]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    calls: int = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.calls += 1
        self.scopes.append(scope)
        if scope["type"] == "websocket":
            await send({"type": "websocket.accept"})
            return
        if self.start_early:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        while self.read_body:
            message = await receive()
            self.received.append(message)
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                break
        if self.received and self.received[-1]["type"] == "http.disconnect":
            # A real app keeps going a little: it reads again, then answers anyway.
            self.received.append(await receive())
        if not self.start_early:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"app answer"})


class Client:
    """The server side of one request: hands out body chunks and records what is sent."""

    def __init__(self, chunks: Iterable[bytes] = ()) -> None:
        self.chunks = list(chunks)
        self.pulled = 0
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if self.pulled >= len(self.chunks):
            return {"type": "http.disconnect"}
        body = self.chunks[self.pulled]
        self.pulled += 1
        return {"type": "http.request", "body": body, "more_body": self.pulled < len(self.chunks)}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    @property
    def starts(self) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["type"] == "http.response.start"]

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")

    def header(self, name: bytes) -> list[bytes]:
        (start,) = self.starts
        return [value for key, value in start["headers"] if key.lower() == name]


UPLOAD_HANDLER = "state.form.submit_file"
CALLERS = UploadCallers()


def reflex_uploads() -> ReflexUploads:
    visitors = VisitorCookies(KEYS)
    identity = Identity(
        engine=None,  # type: ignore[arg-type]  # no API keys in these tests
        tokens=JobTokens(KEYS, lifetime_seconds=60),
        visitors=visitors,
        auth_required=False,
    )
    return ReflexUploads(
        path="/_upload",
        takes_files=lambda name: name == UPLOAD_HANDLER,
        identity=identity,
        callers=CALLERS,
    )


def guard(app: App, *, make_visitors: bool = True, origins: tuple[str, ...] = ()) -> RequestGuard:
    return RequestGuard(
        app,  # type: ignore[arg-type]
        origins=OriginPolicy(allowed_hosts=(HOST,), origins=origins),
        limits=BodyLimits(
            upload_paths=frozenset({"/upload", "/_upload"}),
            upload_file=UPLOAD,
            upload_overhead=UPLOAD_OVERHEAD,
            other=LIMIT,
        ),
        visitors=VisitorCookies(KEYS),
        make_visitors=make_visitors,
        uploads=reflex_uploads(),
        api_prefix="/api/",
    )


def scope(
    *,
    kind: str = "http",
    method: str = "POST",
    path: str = "/api/thing",
    headers: Iterable[tuple[str, str]] = (),
) -> dict[str, Any]:
    raw = [(b"host", HOST.encode())] + [(k.lower().encode(), v.encode()) for k, v in headers]
    base: dict[str, Any] = {
        "type": kind,
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "http" if kind == "http" else "ws",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw,
        "client": ("127.0.0.1", 1),
        "server": (HOST, 80),
    }
    if kind == "http":
        base["method"] = method
    return base


async def run(app: App, client: Client, request: dict[str, Any], **options: Any) -> None:
    await guard(app, **options)(request, client.receive, client.send)


KEYED = [("authorization", "Bearer jui_whatever")]


# --- body caps -----------------------------------------------------------------------------


async def test_a_chunked_body_is_cut_off_at_the_first_chunk_past_the_cap():
    app, client = App(), Client([b"x" * CHUNK] * 10)  # 300 bytes, the cap is 100
    await run(app, client, scope(headers=KEYED))
    # 30, 60, 90, 120: the fourth chunk passes the cap, and nothing more is pulled.
    assert client.pulled == 4
    assert [m["type"] for m in app.received] == ["http.request"] * 3 + ["http.disconnect"] * 2
    # One answer: the guard's 413, as JSON; the app's own answer after it is dropped.
    assert [m["status"] for m in client.starts] == [413]
    answer = json.loads(client.body)
    assert answer["status"] == 413 and "request body is larger than" in answer["error"]
    assert client.header(b"content-type") == [b"application/json"]
    assert client.header(b"connection") == [b"close"]
    assert b"app answer" not in client.body


async def test_a_body_within_the_cap_passes_unchanged():
    chunks = [b"a" * CHUNK, b"b" * CHUNK, b"c" * CHUNK, b"d" * (LIMIT - 3 * CHUNK)]
    app, client = App(), Client(chunks)
    await run(app, client, scope(headers=KEYED))
    assert [m.get("body") for m in app.received] == chunks
    assert [m["more_body"] for m in app.received] == [True, True, True, False]
    assert [m["status"] for m in client.starts] == [200]
    assert client.body == b"app answer"
    assert client.header(b"x-content-type-options") == [b"nosniff"]
    assert client.header(b"referrer-policy") == [b"no-referrer"]
    assert b"frame-ancestors" in client.header(b"content-security-policy")[0]


async def test_a_declared_length_over_the_cap_is_refused_before_any_of_it_is_read():
    app, client = App(), Client([b"x" * (LIMIT + 1)])
    await run(app, client, scope(headers=[*KEYED, ("content-length", str(LIMIT + 1))]))
    assert client.pulled == 0 and app.calls == 0
    assert [m["status"] for m in client.starts] == [413]


@pytest.mark.parametrize("path", ["/upload", "/upload/"])
async def test_upload_paths_get_the_upload_cap(path):
    within = Client([b"x" * 100] * ((UPLOAD + UPLOAD_OVERHEAD) // 100))
    await run(App(), within, scope(path=path, headers=KEYED))
    assert [m["status"] for m in within.starts] == [200]
    over = Client([b"x" * 100] * 20)
    await run(App(), over, scope(path=path, headers=KEYED))
    assert [m["status"] for m in over.starts] == [413]
    assert over.pulled == (UPLOAD + UPLOAD_OVERHEAD) // 100 + 1
    assert json.loads(over.body)["error"] == "The file is larger than the 1 KB limit."


async def test_a_cut_off_after_the_app_began_answering_sends_no_second_answer():
    app, client = App(start_early=True), Client([b"x" * CHUNK] * 10)
    await run(app, client, scope(headers=KEYED))
    assert client.pulled == 4
    assert app.received[-1]["type"] == "http.disconnect"
    # One response start, ever (a second would break the ASGI server), and the app's body
    # after the cut-off is dropped.
    assert [m["status"] for m in client.starts] == [200]
    assert b"app answer" not in client.body


# --- other sites ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        [("origin", "https://evil.example")],
        [("origin", "null")],
        [("origin", f"http://{HOST}.evil.example")],
        [("origin", f"http://{HOST}"), ("sec-fetch-site", "cross-site")],
    ],
)
async def test_a_websocket_from_another_site_is_closed_before_accept(headers):
    app, client = App(), Client()
    await run(app, client, scope(kind="websocket", headers=headers))
    assert app.calls == 0
    assert [m["type"] for m in client.sent] == ["websocket.close"]
    assert client.sent[0]["code"] == 1008


@pytest.mark.parametrize(
    "headers", [[("origin", f"http://{HOST}")], [("origin", "https://app.example")], []]
)
async def test_a_websocket_from_the_apps_own_pages_is_let_in(headers):
    app, client = App(), Client()
    await run(
        app, client, scope(kind="websocket", headers=headers), origins=("https://app.example",)
    )
    assert app.calls == 1
    assert client.sent[0]["type"] == "websocket.accept"


async def test_a_cross_site_post_never_reaches_the_app():
    app, client = App(), Client([b"{}"])
    await run(app, client, scope(headers=[("origin", "https://evil.example")]))
    assert app.calls == 0 and client.pulled == 0
    assert [m["status"] for m in client.starts] == [403]
    assert client.header(b"set-cookie") == []  # a refused request makes no visitor


@pytest.mark.parametrize("host", ["evil.example", "", f"{HOST}.evil.example", "jobs.example:1:2"])
async def test_an_unknown_host_is_refused_for_requests_and_websockets(host):
    request = scope(method="GET")
    request["headers"] = [(b"host", host.encode())]
    app, client = App(), Client()
    await run(app, client, request)
    assert app.calls == 0
    assert [m["status"] for m in client.starts] == [400]
    assert json.loads(client.body)["status"] == 400
    socket = scope(kind="websocket")
    socket["headers"] = [(b"host", host.encode())]
    await run(app, ws := Client(), socket)
    assert app.calls == 0 and [m["type"] for m in ws.sent] == ["websocket.close"]


# --- the visitor cookie --------------------------------------------------------------------


def set_cookie_value(client: Client) -> str:
    (header,) = client.header(b"set-cookie")
    text = header.decode()
    assert text.startswith(f"{COOKIE_NAME}=")
    return text.split(";", 1)[0].partition("=")[2]


def request_cookies(app: App) -> dict[str, str]:
    (request,) = app.scopes
    values = [value.decode() for key, value in request["headers"] if key == b"cookie"]
    assert len(values) == 1, values  # one Cookie header, as servers pass it
    return cookie_parser(values[0])


async def test_the_cookie_minted_on_the_first_request_is_already_in_that_request():
    app, client = App(read_body=False), Client()
    await run(app, client, scope(method="GET", headers=[("cookie", "theme=dark")]))
    minted = set_cookie_value(client)
    assert VisitorCookies(KEYS).principal(minted) is not None
    cookies = request_cookies(app)
    assert cookies == {COOKIE_NAME: minted, "theme": "dark"}
    # The next request, carrying it, is the same visitor and gets no new cookie.
    app2, client2 = App(read_body=False), Client()
    await run(app2, client2, scope(method="GET", headers=[("cookie", f"{COOKIE_NAME}={minted}")]))
    assert client2.header(b"set-cookie") == []
    assert request_cookies(app2) == {COOKIE_NAME: minted}


async def test_a_forged_cookie_is_replaced_in_the_request_not_added_beside_it():
    app, client = App(read_body=False), Client()
    forged = f"{COOKIE_NAME}=forged.value; other=1"
    await run(app, client, scope(method="GET", headers=[("cookie", forged)]))
    minted = set_cookie_value(client)
    assert minted != "forged.value"
    assert request_cookies(app) == {COOKIE_NAME: minted, "other": "1"}


async def test_a_websocket_without_a_cookie_gets_one_on_accept():
    app, client = App(), Client()
    await run(app, client, scope(kind="websocket", headers=[("origin", f"http://{HOST}")]))
    (accept,) = client.sent
    cookies = [v for k, v in accept.get("headers", []) if k == b"set-cookie"]
    assert len(cookies) == 1 and cookies[0].startswith(COOKIE_NAME.encode())
    assert request_cookies(app)[COOKIE_NAME] == cookies[0].decode().split(";")[0].partition("=")[2]


@pytest.mark.parametrize(
    ("headers", "make_visitors"),
    [(KEYED, True), ([], False)],
    ids=["api-key", "auth-required"],
)
async def test_no_cookie_is_made_for_keyed_callers_or_when_auth_is_required(headers, make_visitors):
    app, client = App(read_body=False), Client()
    await run(app, client, scope(method="GET", headers=headers), make_visitors=make_visitors)
    assert client.header(b"set-cookie") == []
    assert all(key != b"cookie" for key, _ in app.scopes[0]["headers"])


async def test_lifespan_passes_through_untouched():
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    await RequestGuard(
        app,  # type: ignore[arg-type]
        origins=OriginPolicy(allowed_hosts=(HOST,), origins=()),
        limits=BodyLimits(frozenset(), 1, 1, 1),
        visitors=VisitorCookies(KEYS),
        make_visitors=True,
        uploads=reflex_uploads(),
        api_prefix="/api/",
    )({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan"]


# --- Reflex's upload route -------------------------------------------------------------------


def upload_scope(cookie: str | None, handler: str = UPLOAD_HANDLER) -> dict[str, Any]:
    headers = [("reflex-client-token", "tab-1"), ("reflex-event-handler", handler)]
    if cookie:
        headers.append(("cookie", f"{COOKIE_NAME}={cookie}"))
    return scope(path="/_upload", headers=headers)


async def test_an_upload_without_credentials_is_refused_before_its_body_is_read():
    app, client = App(), Client([b"x" * CHUNK] * 3)
    await run(app, client, upload_scope(None))
    assert client.starts[0]["status"] == 401 and app.calls == 0 and client.pulled == 0
    assert client.header(b"set-cookie") == []  # nobody is made up for an upload


async def test_an_upload_to_a_handler_that_takes_no_files_is_refused():
    app, client = App(), Client([b"x"])
    await run(app, client, upload_scope(VisitorCookies(KEYS).mint(), "state.form.other"))
    assert client.starts[0]["status"] == 400 and app.calls == 0 and client.pulled == 0
    assert json.loads(client.body)["error"]


async def test_an_upload_is_noted_as_its_senders_while_it_is_in_flight():
    cookie = VisitorCookies(KEYS).mint()
    sender = VisitorCookies(KEYS).principal(cookie)
    assert sender is not None
    seen: list[bool] = []

    class Handler(App):
        async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
            seen.append(CALLERS.only_from("tab-1", sender.subject))
            seen.append(CALLERS.only_from("tab-1", "visitor:someone-else"))
            await super().__call__(scope, receive, send)

    client = Client([b"x" * CHUNK])
    await run(Handler(), client, upload_scope(cookie))
    assert client.starts[0]["status"] == 200
    assert seen == [True, False]
    assert not CALLERS.only_from("tab-1", sender.subject)  # gone once the request ended


# --- planted visitor cookies -----------------------------------------------------------------


def app_cookie(app: App) -> str | None:
    """The visitor cookie value the app was handed (under the app's own name)."""
    header = dict(app.scopes[-1]["headers"]).get(b"cookie", b"").decode()
    values = [
        v for k, _, v in (p.strip().partition("=") for p in header.split(";")) if k == COOKIE_NAME
    ]
    assert len(values) <= 1, header
    return values[0] if values else None


async def test_two_different_visitor_cookies_count_as_none():
    """A cookie planted beside the visitor's own (a sibling origin can set one) decides
    nothing: the request is a new visitor's, not the planter's."""
    mine, planted = VisitorCookies(KEYS).mint(), VisitorCookies(KEYS).mint()
    app, client = App(), Client()
    cookies = f"{COOKIE_NAME}={mine}; other=1; {COOKIE_NAME}={planted}"
    await run(app, client, scope(method="GET", headers=[("cookie", cookies)]))
    handed = app_cookie(app)
    assert handed not in (mine, planted) and VisitorCookies(KEYS).principal(handed)
    assert "other=1" in dict(app.scopes[-1]["headers"])[b"cookie"].decode()
    (set_cookie,) = client.header(b"set-cookie")
    assert set_cookie.decode().startswith(f"{COOKIE_NAME}={handed};")


async def test_the_same_cookie_twice_is_still_that_visitor():
    mine = VisitorCookies(KEYS).mint()
    app, client = App(), Client()
    cookies = f"{COOKIE_NAME}={mine}; {COOKIE_NAME}={mine}"
    await run(app, client, scope(method="GET", headers=[("cookie", cookies)]))
    assert app_cookie(app) == mine and client.header(b"set-cookie") == []


async def test_over_https_only_the_host_only_cookie_counts():
    """Browsers let only this host set a `__Host-` cookie; a plain one may be planted."""
    mine, planted = VisitorCookies(KEYS).mint(), VisitorCookies(KEYS).mint()
    request = scope(
        method="GET", headers=[("cookie", f"{COOKIE_NAME}={planted}; {SECURE_COOKIE_NAME}={mine}")]
    )
    request["scheme"] = "https"
    app, client = App(), Client()
    await run(app, client, request)
    assert app_cookie(app) == mine and client.header(b"set-cookie") == []
    # Only the plain one: a new visitor, kept as a __Host- cookie (Secure, no Domain).
    request = scope(method="GET", headers=[("cookie", f"{COOKIE_NAME}={planted}")])
    request["scheme"] = "https"
    app, client = App(), Client()
    await run(app, client, request)
    assert app_cookie(app) not in (None, planted)
    (set_cookie,) = client.header(b"set-cookie")
    text = set_cookie.decode()
    assert text.startswith(f"{SECURE_COOKIE_NAME}={app_cookie(app)};")
    assert "; Secure" in text and "; Path=/" in text and "Domain" not in text


async def test_a_plain_text_refusal_from_below_leaves_as_json():
    """Starlette's CORS refusal, Reflex's own routes: every 4xx reads like the API's."""

    async def plain(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"vary", b"Origin")]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": b"Disallowed ", "more_body": True})
        await send({"type": "http.response.body", "body": b"CORS origin"})

    client = Client()
    await guard(plain)(scope(method="OPTIONS"), client.receive, client.send)  # type: ignore[arg-type]
    assert client.starts[0]["status"] == 400
    assert json.loads(client.body) == {"error": "Disallowed CORS origin", "status": 400}
    assert client.header(b"content-type") == [b"application/json"]
    assert client.header(b"vary") == [b"Origin"]  # the layer's other headers stay
    assert client.header(b"x-content-type-options") == [b"nosniff"]


async def test_vary_names_each_header_once():
    """The API's CORS layer and Reflex's each add `Vary: Origin`; the answer says it once."""

    async def twice(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = [(b"vary", b"Origin"), (b"vary", b"origin, Accept-Encoding")]
        headers.append((b"vary", b"Origin"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}"})

    client = Client()
    await guard(twice)(scope(method="GET"), client.receive, client.send)  # type: ignore[arg-type]
    assert client.header(b"vary") == [b"Origin, Accept-Encoding"]


@pytest.mark.parametrize(
    "host", [f"{HOST}:80@evil.example", f"{HOST}:x", f"{HOST}:80:81", "[::1]evil", f"{HOST}/x"]
)
async def test_a_malformed_host_header_is_refused(host):
    app, client = App(), Client()
    request = scope(method="GET")
    request["headers"] = [(b"host", host.encode())]
    await run(app, client, request)
    assert client.starts[0]["status"] == 400 and app.calls == 0


async def test_a_well_formed_host_with_a_port_is_served():
    app, client = App(), Client()
    request = scope(method="GET")
    request["headers"] = [(b"host", f"{HOST.upper()}:8443".encode())]
    await run(app, client, request)
    assert client.starts[0]["status"] == 200 and app.calls == 1
