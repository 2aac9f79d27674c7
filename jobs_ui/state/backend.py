"""What the Reflex states use of the backend: the jobs commands in-process, who the tab's
visitor is, how to follow a job over the app's own SSE route, and whether a tab is open."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import reflex as rx
from reflex.event import EventSpec
from reflex_base.event import resolve_upload_handler_param
from reflex_base.utils.exceptions import UploadTypeError, UploadValueError
from reflex_base.utils.format import format_event_handler
from sqlalchemy.exc import SQLAlchemyError

from jobs_ui.access.identity import CredentialError
from jobs_ui.access.principal import Principal
from jobs_ui.client import JobsClient
from jobs_ui.jobs.commands import JOB_NOT_FOUND, CommandError, JobCommands

if TYPE_CHECKING:
    from reflex.app import App

    from jobs_ui.services import Services

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

SIGN_IN_FIRST = "Sign in to start and see jobs."
SERVER_BUSY = "The server cannot reach its database right now. Try again in a moment."

_app: App | None = None
_services: Services | None = None


def register_app(app: App, services: Services) -> None:
    """Give the states the app (to see open tabs) and its jobs services."""
    global _app, _services
    _app, _services = app, services


def services() -> Services:
    if _services is None:
        raise RuntimeError("jobs_ui.state.backend.register_app was not called")
    return _services


async def principal_of(state: rx.State) -> Principal:
    """Who the tab's visitor is, from the credentials its websocket came with (the visitor
    cookie, or whatever the deployment's identify hook reads), as an API request would.
    CommandError 401 if there are none."""
    headers = state.router.headers.raw_headers
    try:
        return await services().identity.resolve_headers(headers)
    except CredentialError:
        raise CommandError(401, SIGN_IN_FIRST) from None


def check_own_upload(state: rx.State, principal: Principal) -> None:
    """Refuse a file that reached this tab's upload handler from anyone but the tab's own
    visitor (see jobs_ui.access.uploads)."""
    client_token = state.router.session.client_token
    if not services().upload_callers.only_from(client_token, principal.subject):
        raise CommandError(403, "This upload did not come from this page; reload it and try again.")


async def run_command(command: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """Run a jobs command (it blocks on the database and disk) off the event loop. A
    database that cannot be reached reads as a CommandError 503, as the API answers it,
    so a page says so and tries again instead of its handler failing."""
    try:
        return await asyncio.to_thread(command, *args, **kwargs)
    except SQLAlchemyError:
        log.warning("a jobs command failed on the database", exc_info=True)
        raise CommandError(503, SERVER_BUSY) from None


def commands() -> JobCommands:
    return services().commands


async def access_token(principal: Principal, job_id: str) -> str:
    """A fresh token to follow one job over the SSE route; CommandError 404 if the job is
    not this principal's (or not a job at all)."""
    try:
        parsed = uuid.UUID(job_id)
    except ValueError:
        raise CommandError(404, JOB_NOT_FOUND) from None
    token = await run_command(commands().access_token, principal, parsed)
    return token.token


def api_base_url() -> str:
    """The app's own backend URL from its Reflex config (set `api_url` to use another)."""
    return rx.config.get_config().api_url.rstrip("/")


def browser_url(path: str | None) -> str:
    """An API path as the browser must fetch it (the backend may be on another origin)."""
    if not path:
        return ""
    return path if path.startswith("http") else f"{api_base_url()}{path}"


def download_in_browser(path: str) -> EventSpec:
    """Start downloading an API file in the browser, staying on the page.

    (`rx.download` only takes paths of the front end, and the API may be on another origin.)
    """
    url = json.dumps(browser_url(path))
    return rx.call_script(
        f"(() => {{ const a = document.createElement('a'); a.href = {url}; a.download = '';"
        " document.body.appendChild(a); a.click(); a.remove(); })()"
    )


def following_client(token: str) -> JobsClient:
    """A client of the app's own API that reads one job with its access token."""
    return JobsClient(api_base_url(), token=token)


@functools.cache
def _upload_handler_names() -> frozenset[str]:
    """The names (as the browser sends them) of every state's handlers that take files.
    Asked first when an upload comes, after every page's states are defined."""
    names: set[str] = set()
    states: list[Any] = [rx.State]  # state classes: rx.State and every substate below it
    while states:
        state = states.pop()
        states.extend(state.get_substates())
        for handler in state.event_handlers.values():
            try:
                resolve_upload_handler_param(handler)
            except (UploadValueError, UploadTypeError):
                continue
            names.add(format_event_handler(handler))
    return frozenset(names)


def takes_files(handler_name: str) -> bool:
    """Whether Reflex's upload route may hand files to the handler of this name."""
    return handler_name in _upload_handler_names()


def tab_is_open(client_token: str) -> bool:
    """Whether the tab behind `client_token` still has its websocket to this backend."""
    namespace = _app.event_namespace if _app is not None else None
    if namespace is None:  # not running inside the app (e.g. unit tests): assume open
        return True
    return client_token in namespace.token_to_sid
