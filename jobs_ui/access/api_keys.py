"""API keys for programs and scripts: `Authorization: Bearer jui_<id>_<secret>`.

Only a hash of each secret is stored. The public id in the key text finds the row in one
primary-key lookup, so verifying costs one read and one hash, however many keys exist.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import JSON, Column, Engine, String, or_, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Field, Session, SQLModel, col, select

from jobs_ui.access.principal import Principal, Via
from jobs_ui.models import as_utc, timestamp_field, utc_now

log = logging.getLogger(__name__)

KEY_PREFIX = "jui"
PUBLIC_ID_BYTES = 6  # 12 hex characters: enough to find a row, not a secret
SECRET_BYTES = 32  # 256 bits of randomness, 43 URL-safe characters

# fullmatch and re.ASCII throughout: `$` would let a trailing newline through, and without
# re.ASCII classes such as \w accept letters of every script.
OWNER_PATTERN = re.compile(r"[A-Za-z0-9._:@-]{1,128}", re.ASCII)
SCOPE_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}", re.ASCII)
# The secret may itself contain "_", so the whole shape is matched, not split.
KEY_PATTERN = re.compile(
    rf"{KEY_PREFIX}_(?P<id>[0-9a-f]{{{PUBLIC_ID_BYTES * 2}}})_(?P<secret>[A-Za-z0-9_-]{{43}})",
    re.ASCII,
)
KEY_LENGTH = len(KEY_PREFIX) + 1 + PUBLIC_ID_BYTES * 2 + 1 + 43

# A busy script is authenticated on every request; recording each use would make every
# read a write. Once a minute is precise enough to tell a live key from a forgotten one.
LAST_USED_RESOLUTION = timedelta(minutes=1)

# Compared against when the id is unknown, so an unknown id costs the same as a wrong secret.
_NO_SUCH_KEY_HASH = hashlib.sha256(b"no such key").hexdigest()

# A fresh random id clashing with a stored one is rare (48 bits); retrying a few times is
# enough, and failing loudly after that points at a broken random source.
_ID_ATTEMPTS = 5


class ApiKey(SQLModel, table=True):
    """One API key. The row holds who it speaks for and what it may do, never the secret."""

    __tablename__ = "api_key"

    id: str = Field(primary_key=True, max_length=PUBLIC_ID_BYTES * 2)
    owner: str = Field(max_length=128)
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # SHA-256, not a slow KDF: slow hashing exists to make guessing low-entropy passwords
    # expensive, but this secret is 256 random bits, which no amount of guessing reaches.
    # A fast hash keeps verification cheap on every request.
    secret_hash: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = timestamp_field(required=True)
    revoked_at: datetime | None = timestamp_field(required=False)
    last_used_at: datetime | None = timestamp_field(required=False)

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def validate_owner(owner: str) -> str:
    if not isinstance(owner, str) or OWNER_PATTERN.fullmatch(owner) is None:
        raise ValueError(
            f"Owner {owner!r} is not valid: use 1 to 128 characters from "
            "letters, digits and . _ : @ -"
        )
    return owner


def validate_scopes(scopes: Sequence[str]) -> list[str]:
    """The scopes, checked and without repeats (first occurrence wins, order kept)."""
    # A bare string is a Sequence[str] too; taken as one it would become one scope per letter.
    if isinstance(scopes, str | bytes):
        raise ValueError("Scopes must be a list of scope names, not a single string.")
    for scope in scopes:
        if not isinstance(scope, str) or SCOPE_PATTERN.fullmatch(scope) is None:
            raise ValueError(
                f"Scope {scope!r} is not valid: use 1 to 64 characters from "
                "letters, digits and . _ : -"
            )
    return list(dict.fromkeys(scopes))


def create_key(engine: Engine, *, owner: str, scopes: Sequence[str]) -> tuple[ApiKey, str]:
    """A new key for `owner`: the stored row and the key text, which exists only here."""
    owner = validate_owner(owner)
    checked_scopes = validate_scopes(scopes)
    for _attempt in range(_ID_ATTEMPTS):
        public_id = secrets.token_hex(PUBLIC_ID_BYTES)
        secret = secrets.token_urlsafe(SECRET_BYTES)
        key = ApiKey(
            id=public_id, owner=owner, scopes=checked_scopes, secret_hash=_hash_secret(secret)
        )
        try:
            with Session(engine, expire_on_commit=False) as session:
                session.add(key)
                session.commit()
        except IntegrityError:
            continue
        return key, f"{KEY_PREFIX}_{public_id}_{secret}"
    raise RuntimeError("Could not find a free API key id; is the random source broken?")


def parse_key(presented: object) -> tuple[str, str] | None:
    """(public id, secret) of well-formed key text, else None."""
    # The length check first keeps a megabyte of junk from reaching the regex at all.
    if not isinstance(presented, str) or len(presented) != KEY_LENGTH:
        return None
    match = KEY_PATTERN.fullmatch(presented)
    if match is None:
        return None
    return match["id"], match["secret"]


def principal_for_key(engine: Engine, presented: str) -> Principal | None:
    """The principal of a valid, unrevoked key; None for anything else."""
    parsed = parse_key(presented)
    if parsed is None:
        return None
    public_id, secret = parsed
    with Session(engine) as session:
        key = session.get(ApiKey, public_id)
        if key is not None:
            session.expunge(key)
    # The hash is computed and compared whether or not the id exists, so the time taken
    # does not tell a caller which ids are real.
    stored_hash = key.secret_hash if key is not None else _NO_SUCH_KEY_HASH
    matches = hmac.compare_digest(_hash_secret(secret), stored_hash)
    if key is None or not matches or key.revoked:
        return None
    _note_use(engine, key)
    return Principal(subject=key.owner, scopes=frozenset(key.scopes), via=Via.API_KEY)


def _note_use(engine: Engine, key: ApiKey) -> None:
    """Record that the key was used, at most once per LAST_USED_RESOLUTION."""
    now = utc_now()
    cutoff = now - LAST_USED_RESOLUTION
    if key.last_used_at is not None and as_utc(key.last_used_at) > cutoff:
        return  # the common case of a busy script: no write at all
    # The WHERE repeats the check, so processes racing on one key write it once.
    query = (
        update(ApiKey)
        .where(col(ApiKey.id) == key.id)
        .where(or_(col(ApiKey.last_used_at).is_(None), col(ApiKey.last_used_at) <= cutoff))
        .values(last_used_at=now)
    )
    try:
        with engine.begin() as connection:
            connection.execute(query)
    except SQLAlchemyError:
        # A usage timestamp is bookkeeping: a busy or read-only database must not turn a
        # valid key into a refused request.
        log.warning("could not record the use of API key %s", key.id, exc_info=True)


def list_keys(engine: Engine) -> list[ApiKey]:
    """Every key, oldest first, revoked ones included (they show when they were revoked)."""
    with Session(engine, expire_on_commit=False) as session:
        query = select(ApiKey).order_by(col(ApiKey.created_at), col(ApiKey.id))
        return list(session.exec(query).all())


def revoke_key(engine: Engine, *, key_id: str) -> ApiKey | None:
    """Revoke a key for good; None if there is no such key. A second revoke keeps the
    first time, which is when the key stopped working."""
    # Conditional, so two admins revoking at once cannot move the first time.
    query = (
        update(ApiKey)
        .where(col(ApiKey.id) == key_id, col(ApiKey.revoked_at).is_(None))
        .values(revoked_at=utc_now())
    )
    with engine.begin() as connection:
        connection.execute(query)
    with Session(engine, expire_on_commit=False) as session:
        return session.get(ApiKey, key_id)
