"""Who is asking: one resolver for API requests and Reflex events alike.

In this order: an API key (`Authorization: Bearer jui_...`), a job access token
(`?token=`, where the route accepts one), the deployment's `identify` hook, the visitor
cookie. `X-Owner-Id` and any other header a caller writes itself decide nothing.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from jobs_ui.access.api_keys import KEY_PREFIX, principal_for_key
from jobs_ui.access.hooks import identify_hook
from jobs_ui.access.principal import Principal
from jobs_ui.access.tokens import JobTokens, TokenError
from jobs_ui.access.visitor import COOKIE_NAME, VisitorCookies

SIGN_IN = "Sign in, or send an API key as Authorization: Bearer <key>."


class CredentialError(Exception):
    """The caller's credentials do not hold (401); the message says which and why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Identity:
    def __init__(
        self,
        *,
        engine: Engine,
        tokens: JobTokens,
        visitors: VisitorCookies,
        auth_required: bool,
    ) -> None:
        self.engine = engine
        self.tokens = tokens
        self.visitors = visitors
        self.auth_required = auth_required

    async def resolve(self, request: Request, *, accept_token: bool) -> Principal:
        """The principal behind a request; CredentialError when there is none."""
        bearer = bearer_token(request.headers.get("authorization", ""))
        if bearer.startswith(f"{KEY_PREFIX}_"):
            principal = await run_in_threadpool(principal_for_key, self.engine, bearer)
            if principal is None:
                raise CredentialError("The API key is not valid, or it was revoked.")
            return principal
        token = request.query_params.get("token") if accept_token else None
        if token is not None:
            try:
                return self.tokens.principal(token)
            except TokenError as error:
                raise CredentialError(str(error)) from None
        found = identify_hook()(request)
        if inspect.isawaitable(found):
            found = await found
        if found is not None:
            return found
        if bearer:
            # A bearer token nobody recognised. Never the visitor instead: a request with
            # a bearer token is not checked as cookie-borne (see guard.py). Other schemes
            # (a proxy's Basic auth) are ambient like cookies, and checked like them.
            raise CredentialError("The bearer token is not valid here. " + SIGN_IN)
        if not self.auth_required:
            visitor = self.visitors.principal(request.cookies.get(COOKIE_NAME))
            if visitor is not None:
                return visitor
        raise CredentialError(SIGN_IN)

    async def resolve_headers(self, headers: Mapping[str, str]) -> Principal:
        """The principal of a Reflex event, from its tab's websocket headers (cookies
        included), exactly as an API request carrying them would resolve."""
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/_event",
            "query_string": b"",
            "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        }
        return await self.resolve(Request(scope), accept_token=False)


def bearer_token(authorization: str) -> str:
    """The token of an `Authorization: Bearer <token>` header, else "". A browser never
    adds one by itself (unlike cookies or Basic credentials), so it is not ambient."""
    scheme, _, value = authorization.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""
