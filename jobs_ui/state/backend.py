"""How the Reflex backend reaches the jobs API, and whether a browser tab is still there."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import reflex as rx

from jobs_ui.client import JobsClient

if TYPE_CHECKING:
    from reflex.app import App

_app: App | None = None


def api_base_url() -> str:
    """The app's own backend URL from its Reflex config (set `api_url` to use another)."""
    return rx.config.get_config().api_url.rstrip("/")


def browser_url(path: str | None) -> str:
    """An API path as the browser must fetch it (the backend may be on another origin)."""
    if not path:
        return ""
    return path if path.startswith("http") else f"{api_base_url()}{path}"


def download_in_browser(path: str) -> rx.event.EventSpec:
    """Start downloading an API file in the browser, staying on the page.

    (`rx.download` only takes paths of the front end, and the API may be on another origin.)
    """
    url = json.dumps(browser_url(path))
    return rx.call_script(
        f"(() => {{ const a = document.createElement('a'); a.href = {url}; a.download = '';"
        " document.body.appendChild(a); a.click(); a.remove(); })()"
    )


def jobs_client(owner: str) -> JobsClient:
    return JobsClient(api_base_url(), owner=owner or None)


def register_app(app: App) -> None:
    """Let states ask whether a tab is still connected (see `tab_is_open`)."""
    global _app
    _app = app


def tab_is_open(client_token: str) -> bool:
    """Whether the tab behind `client_token` still has its websocket to this backend."""
    namespace = _app.event_namespace if _app is not None else None
    if namespace is None:  # not running inside the app (e.g. unit tests): assume open
        return True
    return client_token in namespace.token_to_sid
