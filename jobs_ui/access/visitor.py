"""The visitor: a random id in a signed, HttpOnly cookie, for callers without credentials.

A browser tab, its pages and a plain `EventSource` on the same origin send the same cookie,
so they are one visitor; `curl -c jar -b jar` keeps its jobs the same way.
"""

from __future__ import annotations

import secrets

from itsdangerous import BadSignature, Signer
from starlette.requests import cookie_parser

from jobs_ui.access.principal import Principal, Via

# The name the app itself reads; over HTTPS the browser holds the cookie as
# SECURE_COOKIE_NAME, which browsers let only this host set (no Domain, Secure, Path=/), so
# a sibling subdomain cannot plant a visitor of its own choosing. The guard hands the app
# the one it trusts under COOKIE_NAME.
COOKIE_NAME = "jobs_ui_visitor"
SECURE_COOKIE_NAME = "__Host-jobs_ui_visitor"
SUBJECT_PREFIX = "visitor:"
# 400 days, the longest lifetime browsers keep a cookie for.
COOKIE_MAX_AGE = 400 * 24 * 3600
_SALT = "jobs_ui.visitor"


class VisitorCookies:
    def __init__(self, keys: tuple[str, ...]) -> None:
        self._signer = Signer(list(reversed(keys)), salt=_SALT)

    def mint(self) -> str:
        """A new visitor's cookie value."""
        return self._signer.sign(secrets.token_hex(16)).decode()

    def principal(self, value: str | None) -> Principal | None:
        """The visitor a cookie value names; None if absent or not signed by us."""
        if not value or len(value) > 256:
            return None
        try:
            visitor_id = self._signer.unsign(value).decode()
        except (BadSignature, UnicodeDecodeError):
            return None
        return Principal(subject=SUBJECT_PREFIX + visitor_id, via=Via.VISITOR)

    @staticmethod
    def set_cookie_header(value: str, *, secure: bool) -> str:
        attributes = f"; Max-Age={COOKIE_MAX_AGE}; Path=/; HttpOnly; SameSite=Lax"
        if secure:
            attributes += "; Secure"
        return f"{browser_cookie_name(secure=secure)}={value}{attributes}"


def browser_cookie_name(*, secure: bool) -> str:
    """The name the browser keeps the visitor cookie under, over HTTPS or plain HTTP."""
    return SECURE_COOKIE_NAME if secure else COOKIE_NAME


def cookie_values(header: str, name: str) -> list[str]:
    """Every value a `Cookie:` header gives `name` (a planted cookie arrives as a second
    one of the same name); Starlette's parsing, as browsers send it, otherwise."""
    values = []
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key.strip() == name:
            values.append(cookie_parser(f"{name}={value}").get(name, ""))
    return values
