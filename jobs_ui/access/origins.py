"""Which hosts the app answers for, and which other origins may act for a visitor."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, overload
from urllib.parse import urlsplit

from jobs_ui.settings import Settings


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL, lower-cased; "" if it has none."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()


def _no_app_origins() -> Iterable[str]:
    return ()


class OriginPolicy:
    """`allowed_hosts`: Host headers served ("*" any, ".example.com" it and subdomains).
    Trusted origins besides the request's own: `origins` (JOBS_UI_ALLOWED_ORIGINS) and the
    app's own pages when they are served from another port or host (`app_origins`, asked
    each time: Reflex settles its page URL only as it starts)."""

    def __init__(
        self,
        *,
        allowed_hosts: tuple[str, ...],
        origins: tuple[str, ...],
        app_origins: Callable[[], Iterable[str]] = _no_app_origins,
    ) -> None:
        self.allowed_hosts = tuple(host.lower() for host in allowed_hosts)
        self._origins = frozenset(origin_of(origin) for origin in origins if origin_of(origin))
        self.app_origins = app_origins

    @property
    def origins(self) -> frozenset[str]:
        """Every trusted origin other than a request's own."""
        return self._origins | {origin_of(url) for url in self.app_origins() if url}

    def host_allowed(self, host_header: str | None) -> bool:
        host = _hostname(host_header or "")
        if not host:
            return False
        for pattern in self.allowed_hosts:
            if pattern == "*" or host == pattern:
                return True
            if pattern.startswith(".") and (host == pattern[1:] or host.endswith(pattern)):
                return True
        return False

    def origin_allowed(self, origin: str, *, scheme: str, host_header: str) -> bool:
        """The request's own origin, or one of the trusted ones. "null" never is."""
        host = host_header.strip().lower()
        origin = origin.strip().lower()
        # https from the page while the server sees http: TLS ended at a proxy in front.
        own = {f"{scheme}://{host}", f"https://{host}"}
        return origin in own or origin in self.origins

    def websocket_origin_allowed(self, origin: str | None, environ: dict[str, Any]) -> bool:
        """The same rule, in the form the Socket.IO server asks it (Reflex's websocket)."""
        if not origin:
            return True
        scheme = "https" if environ.get("wsgi.url_scheme") in ("https", "wss") else "http"
        host = environ.get("HTTP_HOST", "")
        return self.origin_allowed(origin, scheme=scheme, host_header=host)


def origin_policy(
    settings: Settings, app_origins: Callable[[], Iterable[str]] = _no_app_origins
) -> OriginPolicy:
    """The deployment's policy, from JOBS_UI_ALLOWED_HOSTS and JOBS_UI_ALLOWED_ORIGINS."""
    return OriginPolicy(
        allowed_hosts=settings.host_patterns,
        origins=settings.extra_origins,
        app_origins=app_origins,
    )


class TrustedOrigins(Sequence[str]):
    """The trusted origins as the list a CORS middleware checks with `in`: always current,
    never "*" (credentials are allowed, so an origin must be named to be answered)."""

    def __init__(self, policy: OriginPolicy) -> None:
        self.policy = policy

    def __contains__(self, origin: object) -> bool:
        return isinstance(origin, str) and origin.lower() in self.policy.origins

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.policy.origins))

    def __len__(self) -> int:
        return len(self.policy.origins)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return sorted(self.policy.origins)[index]


_HOST_HEADER = re.compile(
    r"(?P<host>\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?"
    r"(?:\.[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?)*\.?)(?::\d{1,5})?"
)


def _hostname(host_header: str) -> str:
    """The host of a well-formed Host header, without its port ("[::1]" stays bracketed);
    "" for anything else (`a@b`, `[::1]x`, `host:port:port`), which is then refused."""
    match = _HOST_HEADER.fullmatch(host_header.strip().lower())
    return match.group("host").rstrip(".") if match else ""
