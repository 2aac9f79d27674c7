"""Job access tokens and the signing keys behind them: minted, checked, expired, tampered
with, rotated; and the key the app keeps for itself when none is configured."""

from __future__ import annotations

import stat
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from itsdangerous import URLSafeSerializer

from jobs_ui.access import signing, tokens
from jobs_ui.access.principal import Principal, Via
from jobs_ui.access.signing import KEY_FILE_NAME, kept_key, signing_keys
from jobs_ui.access.tokens import JobTokens, TokenError
from jobs_ui.access.visitor import VisitorCookies
from jobs_ui.settings import Settings

OLD, NEW, GONE = "old-" + "o" * 40, "new-" + "n" * 40, "gone-" + "g" * 40
NOT_VALID = "The access token is not valid."
EXPIRED = "The access token has expired; ask for a new one."


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(tokens.time, "time", clock)
    return clock


def test_a_minted_token_reads_back_as_its_job_and_says_nothing_of_the_owner():
    job_id = uuid.uuid4()
    minted = JobTokens((NEW,), lifetime_seconds=900).mint(job_id=job_id)
    principal = JobTokens((NEW,), lifetime_seconds=1).principal(minted.token)
    subject = f"token-readers:{job_id}"  # its streams count apart from the owner's
    assert principal == Principal(subject=subject, via=Via.JOB_TOKEN, job_id=job_id)
    payload = URLSafeSerializer([NEW], salt="jobs_ui.job-access-token").loads(minted.token)
    assert set(payload) == {"j", "e"}  # signed, not secret: so it holds no owner
    assert principal.read_only and not principal.is_admin and not principal.scopes
    assert minted.job_id == job_id
    assert minted.expires_at.tzinfo is UTC
    assert abs((minted.expires_at - datetime.now(UTC)).total_seconds() - 900) < 2
    # URL-safe as it is: it travels in ?token= untouched.
    assert all(ch.isalnum() or ch in "-_." for ch in minted.token)


def test_a_token_expires_after_its_lifetime(clock):
    job_tokens = JobTokens((NEW,), lifetime_seconds=60)
    job_id = uuid.uuid4()
    token = job_tokens.mint(job_id=job_id).token
    clock.now += 59
    assert job_tokens.principal(token).job_id == job_id
    clock.now += 1.5
    with pytest.raises(TokenError, match="expired"):
        job_tokens.principal(token)
    with pytest.raises(TokenError) as raised:
        job_tokens.principal(token)
    assert str(raised.value) == EXPIRED


def test_a_token_minted_with_no_lifetime_left_is_already_expired():
    expired = JobTokens((NEW,), lifetime_seconds=-1).mint(job_id=uuid.uuid4())
    with pytest.raises(TokenError, match="expired"):
        JobTokens((NEW,), lifetime_seconds=900).principal(expired.token)


def test_no_single_changed_character_makes_another_valid_token():
    job_id = uuid.uuid4()
    job_tokens = JobTokens((NEW,), lifetime_seconds=900)
    token = job_tokens.mint(job_id=job_id).token
    original = job_tokens.principal(token)
    for index, char in enumerate(token):
        for replacement in {"A", "z", "0", "-", "."} - {char}:
            changed = token[:index] + replacement + token[index + 1 :]
            try:
                principal = job_tokens.principal(changed)
            except TokenError as error:
                assert str(error) == NOT_VALID
            else:
                # Base64's unused padding bits may change without changing a byte: then
                # it is the very same token, never another job's or owner's.
                assert principal == original, (index, replacement)


@pytest.mark.parametrize(
    "token",
    ["", ".", "a.b", "not a token", "x" * 5000, "é" * 10, "eyJqIjoiMSJ9.", "\x00" * 10],
)
def test_junk_is_not_valid(token):
    with pytest.raises(TokenError) as raised:
        JobTokens((NEW,), lifetime_seconds=900).principal(token)
    assert str(raised.value) == NOT_VALID


def test_a_token_made_with_another_key_or_for_another_purpose_is_not_valid():
    job_tokens = JobTokens((NEW,), lifetime_seconds=900)
    payload = {"j": uuid.uuid4().hex, "o": "t", "e": int(time.time()) + 900}
    foreign = URLSafeSerializer(GONE, salt="jobs_ui.job-access-token").dumps(payload)
    with pytest.raises(TokenError):
        job_tokens.principal(foreign)
    # The same key with another salt: a visitor cookie is no token, a token no cookie.
    visitors = VisitorCookies((NEW,))
    with pytest.raises(TokenError):
        job_tokens.principal(visitors.mint())
    assert visitors.principal(job_tokens.mint(job_id=uuid.uuid4()).token) is None
    unsalted = URLSafeSerializer(NEW).dumps(payload)
    with pytest.raises(TokenError):
        job_tokens.principal(unsalted)


def test_a_validly_signed_payload_of_the_wrong_shape_is_not_valid():
    serializer = URLSafeSerializer(NEW, salt="jobs_ui.job-access-token")
    later = int(time.time()) + 900
    job_tokens = JobTokens((NEW,), lifetime_seconds=900)
    for payload in (
        [1, 2, 3],
        {"o": "t", "e": later},
        {"j": "not-hex", "o": "t", "e": later},
        {"j": uuid.uuid4().hex, "o": "t", "e": "soon"},
        {"j": uuid.uuid4().hex, "o": "t", "e": None},
    ):
        with pytest.raises(TokenError):
            job_tokens.principal(serializer.dumps(payload))


# --- keys: rotation, and the kept key ---------------------------------------------------


def test_rotation_new_key_signs_and_the_old_one_still_verifies(tmp_path):
    job_id = uuid.uuid4()
    before = JobTokens(
        signing_keys(Settings(JOBS_UI_DATA_DIR=tmp_path, JOBS_UI_SECRET_KEY=OLD)),
        lifetime_seconds=900,
    )
    old_token = before.mint(job_id=job_id).token
    rotated_keys = signing_keys(
        Settings(JOBS_UI_DATA_DIR=tmp_path, JOBS_UI_SECRET_KEY=f"{NEW}, {OLD}")
    )
    assert rotated_keys == (NEW, OLD)
    rotated = JobTokens(rotated_keys, lifetime_seconds=900)
    assert rotated.principal(old_token).job_id == job_id
    new_token = rotated.mint(job_id=job_id).token
    # The first key signs: only it is needed to verify what is minted now.
    assert JobTokens((NEW,), lifetime_seconds=1).principal(new_token).job_id == job_id
    with pytest.raises(TokenError):
        before.principal(new_token)
    # Once the old key is removed, what it signed stops working.
    with pytest.raises(TokenError):
        JobTokens((NEW,), lifetime_seconds=1).principal(old_token)
    gone = JobTokens((GONE,), lifetime_seconds=900).mint(job_id=job_id).token
    with pytest.raises(TokenError):
        rotated.principal(gone)
    assert not (tmp_path / KEY_FILE_NAME).exists()  # a configured key makes no file


def test_rotation_keeps_visitors_too():
    cookie = VisitorCookies((OLD,)).mint()
    rotated = VisitorCookies((NEW, OLD))
    assert rotated.principal(cookie) == VisitorCookies((OLD,)).principal(cookie)
    assert VisitorCookies((NEW,)).principal(rotated.mint()) is not None
    assert VisitorCookies((NEW,)).principal(cookie) is None


def test_without_a_configured_key_one_is_made_and_kept_0600(tmp_path):
    data_dir = tmp_path / "not-yet" / "data"
    settings = Settings(JOBS_UI_DATA_DIR=data_dir)
    (key,) = signing_keys(settings)
    path = data_dir / KEY_FILE_NAME
    assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) >= 32 and path.read_text().strip() == key
    # The next start, and every backend sharing the data dir, signs with the same key.
    assert signing_keys(settings) == (key,)
    assert signing_keys(Settings(JOBS_UI_DATA_DIR=data_dir)) == (key,)
    job_id = uuid.uuid4()
    token = JobTokens((key,), lifetime_seconds=60).mint(job_id=job_id).token
    assert JobTokens(signing_keys(settings), lifetime_seconds=60).principal(token).job_id == job_id
    # Another data dir, another key.
    assert signing_keys(Settings(JOBS_UI_DATA_DIR=tmp_path / "other")) != (key,)


def test_a_kept_key_too_short_to_be_safe_is_refused(tmp_path):
    (tmp_path / KEY_FILE_NAME).write_text("short\n")
    with pytest.raises(RuntimeError, match="too short"):
        kept_key(tmp_path)


def test_backends_starting_at_once_agree_on_the_kept_key(tmp_path, monkeypatch):
    """Two processes start together on an empty data dir: one creates the file, the other
    must get the key it writes, not the empty file it finds a moment before."""
    made = signing.secrets.token_urlsafe

    def slow_to_write(count: int) -> str:
        time.sleep(0.2)  # the first process, between creating the file and writing it
        return made(count)

    monkeypatch.setattr(signing.secrets, "token_urlsafe", slow_to_write)
    keys: list[str] = []
    errors: list[Exception] = []

    def start() -> None:
        try:
            keys.append(kept_key(tmp_path))
        except Exception as error:
            errors.append(error)

    first = threading.Thread(target=start)
    first.start()
    time.sleep(0.05)  # the file now exists, still empty
    second = threading.Thread(target=start)
    second.start()
    first.join()
    second.join()
    assert not errors, errors
    assert len(keys) == 2 and keys[0] == keys[1]


def test_a_kept_key_file_is_never_readable_by_others_even_with_a_lax_umask(tmp_path):
    import os

    previous = os.umask(0)
    try:
        kept_key(tmp_path / "lax")
    finally:
        os.umask(previous)
    mode = stat.S_IMODE((tmp_path / "lax" / KEY_FILE_NAME).stat().st_mode)
    assert mode == 0o600


def test_the_settings_never_show_the_secret():
    settings = Settings(JOBS_UI_DATA_DIR=Path("/tmp/x"), JOBS_UI_SECRET_KEY=NEW)
    assert NEW not in repr(settings) and NEW not in str(settings)


def test_a_signed_payload_of_the_wrong_shape_is_not_valid():
    """Only we can sign one, but a malformed payload is still a 401, never a crash."""
    signer = URLSafeSerializer([NEW], salt="jobs_ui.job-access-token")
    for payload in ({"j": [1], "e": 2**40}, {"j": "zz", "e": 2**40}, {"j": uuid.uuid4().hex}, [1]):
        with pytest.raises(TokenError, match="not valid"):
            JobTokens((NEW,), lifetime_seconds=60).principal(signer.dumps(payload))
