"""Which server the command talks to, as whom, and the visitor cookie kept between runs.

Without an API key the server makes the caller a visitor (a cookie, as for a browser):
the cookie is kept in the user's config folder, one per server address, so `jobs-ui jobs`
lists what this user started from this machine. An API key acts for its owner instead,
and no cookie is kept.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import click
import httpx
import platformdirs

from jobs_ui.client import JobsClient

DEFAULT_URL = "http://localhost:3000"
APP_NAME = "jobs-ui"


def _warn(message: str) -> None:
    click.echo(f"jobs-ui: {message}", err=True)


class SessionError(ValueError):
    """The server address or the credentials cannot be used; the message says why."""


@dataclass(frozen=True)
class Session:
    url: str
    api_key: str | None
    cookie_file: Path
    warn: Callable[[str], None] = field(default=_warn, compare=False)

    @classmethod
    def of(cls, url: str | None, api_key: str | None) -> Session:
        config = Path(
            os.environ.get("JOBS_UI_CONFIG_DIR") or platformdirs.user_config_dir(APP_NAME)
        )
        return cls(
            url=_server_address(url or DEFAULT_URL),
            api_key=_checked_key(api_key),
            cookie_file=config / "visitor-cookies.json",
        )

    @contextlib.asynccontextmanager
    async def client(self) -> AsyncIterator[JobsClient]:
        """A client of the server with this session's credentials; a visitor's cookie is
        read before and kept after."""
        cookies = None if self.api_key else self._kept_cookies()
        async with JobsClient(self.url, api_key=self.api_key, cookies=cookies) as client:
            try:
                yield client
            finally:
                if not self.api_key:
                    self._keep_cookies(client.cookies())

    def _all_kept(self) -> dict[str, dict[str, str]]:
        try:
            text = self.cookie_file.read_text()
        except FileNotFoundError:
            return {}
        except OSError as error:
            self.warn(f"cannot read {self.cookie_file} ({error.strerror}); acting as a new visitor")
            return {}
        try:
            kept = json.loads(text)
            if not isinstance(kept, dict):
                raise ValueError("not an object")
        except ValueError:
            # Set aside, not overwritten: it may be the only key to this user's jobs.
            aside = self.cookie_file.with_name(
                f"{self.cookie_file.name}.unreadable-{time.time():.0f}"
            )
            with contextlib.suppress(OSError):
                self.cookie_file.replace(aside)
                self.warn(f"{self.cookie_file} was unreadable; moved it to {aside}")
            return {}
        return kept

    def _kept_cookies(self) -> dict[str, str]:
        found = self._all_kept().get(self.url)
        if not isinstance(found, dict):
            return {}
        return {str(k): str(v) for k, v in found.items() if _sendable(str(k), str(v))}

    def _keep_cookies(self, cookies: dict[str, str]) -> None:
        cookies = {name: value for name, value in cookies.items() if _sendable(name, value)}
        if not cookies or cookies == self._kept_cookies():
            return
        kept = self._all_kept()
        kept[self.url] = cookies
        partial = self.cookie_file.with_suffix(".partial")
        try:
            self.cookie_file.parent.mkdir(parents=True, exist_ok=True)
            partial.unlink(missing_ok=True)
            # The cookie is who this user is to the server: readable by this user alone.
            partial.touch(mode=0o600)
            partial.write_text(json.dumps(kept, indent=2))
            partial.replace(self.cookie_file)
        except OSError as error:
            self.warn(
                f"cannot keep the visitor cookie in {self.cookie_file} ({error.strerror}); "
                "the next run will be another visitor"
            )


def _sendable(name: str, value: str) -> bool:
    """A cookie a request can carry again (printable ASCII, as HTTP headers are)."""
    return all(" " < char < "\x7f" for char in name) and all(" " <= c < "\x7f" for c in value)


def _server_address(url: str) -> str:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        raise SessionError(f"{url!r} is not a server address ({error})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise SessionError(f"{url!r} is not a server address: use http://host:port")
    return url.rstrip("/")


def _checked_key(api_key: str | None) -> str | None:
    if not api_key:
        return None
    if not all(" " < char < "\x7f" for char in api_key):
        # Not echoed: it is a secret, and the wrong one is still close to the right one.
        raise SessionError("the API key has characters an API key never has (spaces, non-ASCII)")
    return api_key
