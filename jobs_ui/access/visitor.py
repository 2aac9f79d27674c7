"""The visitor: a random id in a signed, HttpOnly cookie, for callers without credentials.

A browser tab, its pages and a plain `EventSource` on the same origin send the same cookie,
so they are one visitor; `curl -c jar -b jar` keeps its jobs the same way.
"""

from __future__ import annotations

import secrets

from itsdangerous import BadSignature, Signer
from starlette.requests import cookie_parser

from jobs_ui.access.principal import Principal, Via

COOKIE_NAME = "jobs_ui_visitor"
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
        return f"{COOKIE_NAME}={value}{attributes}{'; Secure' if secure else ''}"


def cookie_from_header(header: str) -> str | None:
    """Our cookie's value in a `Cookie:` header, if there is one."""
    # Starlette's parser, as browsers do it: one malformed cookie does not hide the others.
    return cookie_parser(header).get(COOKIE_NAME)
