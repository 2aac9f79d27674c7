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
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from jobs_ui.client import JobsClient

DEFAULT_URL = "http://localhost:3000"
APP_NAME = "jobs-ui"


@dataclass(frozen=True)
class Session:
    url: str
    api_key: str | None
    cookie_file: Path

    @classmethod
    def of(cls, url: str | None, api_key: str | None) -> Session:
        config = Path(
            os.environ.get("JOBS_UI_CONFIG_DIR") or platformdirs.user_config_dir(APP_NAME)
        )
        return cls(
            url=(url or DEFAULT_URL).rstrip("/"),
            api_key=api_key or None,
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
            kept = json.loads(self.cookie_file.read_text())
        except (OSError, ValueError):
            return {}
        return kept if isinstance(kept, dict) else {}

    def _kept_cookies(self) -> dict[str, str]:
        found = self._all_kept().get(self.url)
        return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}

    def _keep_cookies(self, cookies: dict[str, str]) -> None:
        if not cookies or cookies == self._kept_cookies():
            return
        kept = self._all_kept()
        kept[self.url] = cookies
        self.cookie_file.parent.mkdir(parents=True, exist_ok=True)
        partial = self.cookie_file.with_suffix(".partial")
        # The cookie is who this user is to the server: readable by this user alone.
        partial.touch(mode=0o600)
        partial.write_text(json.dumps(kept, indent=2))
        partial.replace(self.cookie_file)
