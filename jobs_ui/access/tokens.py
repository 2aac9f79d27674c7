"""Job access tokens: signed, short-lived, for reading one job (stream, job, files).

As public access tokens elsewhere: a page on another origin, or a link in an e-mail, can
follow one job with `?token=`, and can never create, cancel or retry anything.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from itsdangerous import BadSignature, URLSafeSerializer

from jobs_ui.access.principal import Principal, Via

_SALT = "jobs_ui.job-access-token"
READERS_PREFIX = "token-readers:"


class TokenError(Exception):
    """A token that cannot be used; the message says why, for the caller."""


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    job_id: uuid.UUID
    expires_at: datetime


class JobTokens:
    """Mints and checks job access tokens with the app's signing keys."""

    def __init__(self, keys: tuple[str, ...], *, lifetime_seconds: float) -> None:
        # itsdangerous signs with the last key of the list and verifies with all of them.
        self._serializer = URLSafeSerializer(list(reversed(keys)), salt=_SALT)
        self.lifetime_seconds = lifetime_seconds

    def mint(self, *, job_id: uuid.UUID) -> AccessToken:
        # The payload is signed, not encrypted: it names the job and the expiry, nothing
        # about the owner, so a shared link tells its readers no more than the job.
        expires = int(time.time() + self.lifetime_seconds)
        token = self._serializer.dumps({"j": job_id.hex, "e": expires})
        return AccessToken(token, job_id, datetime.fromtimestamp(expires, UTC))

    def principal(self, token: str) -> Principal:
        """The principal a token stands for; TokenError if tampered or expired. Its subject
        is the job's readers (not its owner: their streams count apart from the owner's)."""
        try:
            payload = self._serializer.loads(token[:2048])
            job_id = uuid.UUID(hex=payload["j"])
            expires = int(payload["e"])
        except (BadSignature, KeyError, TypeError, ValueError, AttributeError):
            raise TokenError("The access token is not valid.") from None
        if expires <= time.time():
            raise TokenError("The access token has expired; ask for a new one.")
        return Principal(subject=f"{READERS_PREFIX}{job_id}", via=Via.JOB_TOKEN, job_id=job_id)
