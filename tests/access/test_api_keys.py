"""API keys: made, verified, refused, revoked and listed; on SQLite and on Postgres."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from jobs_ui.access import api_keys
from jobs_ui.access.api_keys import (
    ApiKey,
    create_key,
    list_keys,
    principal_for_key,
    revoke_key,
)
from jobs_ui.access.principal import Principal, Via
from jobs_ui.db import make_engine, migrate
from jobs_ui.models import as_utc, utc_now
from tests.support.services import migrated_database, require_postgres

KEY_SHAPE = re.compile(r"jui_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'keys.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


class Clock:
    """Stands in for the module's clock, so the once-a-minute rule can be walked through."""

    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(api_keys, "utc_now", clock)
    return clock


def stored(engine: Engine, key_id: str) -> ApiKey:
    (key,) = [key for key in list_keys(engine) if key.id == key_id]
    return key


# --- creating and verifying ---------------------------------------------------------------


def test_a_new_key_verifies_as_its_owner_with_its_scopes(engine):
    row, key = create_key(engine, owner="ci-bot", scopes=["jobs:admin", "contacts:export"])
    assert KEY_SHAPE.fullmatch(key)
    assert key.startswith(f"jui_{row.id}_")
    assert principal_for_key(engine, key) == Principal(
        subject="ci-bot",
        scopes=frozenset({"jobs:admin", "contacts:export"}),
        via=Via.API_KEY,
    )
    principal = principal_for_key(engine, key)
    assert principal is not None and principal.is_admin and not principal.read_only


def test_only_a_hash_of_the_secret_is_stored(engine):
    row, key = create_key(engine, owner="ann", scopes=[])
    secret = key.split("_", 2)[2]
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    with engine.connect() as connection:
        values = connection.execute(text("SELECT * FROM api_key")).one()
    assert all(secret not in str(value) for value in values)


def test_scopes_round_trip_in_order_without_repeats(engine):
    row, key = create_key(
        engine, owner="ann", scopes=["contacts:export", "jobs:admin", "contacts:export"]
    )
    assert row.scopes == ["contacts:export", "jobs:admin"]
    assert stored(engine, row.id).scopes == ["contacts:export", "jobs:admin"]
    principal = principal_for_key(engine, key)
    assert principal is not None
    assert principal.scopes == frozenset({"contacts:export", "jobs:admin"})


def test_a_key_without_scopes_is_a_plain_caller(engine):
    row, key = create_key(engine, owner="ann", scopes=())
    principal = principal_for_key(engine, key)
    assert principal is not None
    assert (principal.subject, principal.scopes, principal.is_admin) == ("ann", frozenset(), False)
    assert stored(engine, row.id).scopes == []


def test_every_key_has_its_own_id_and_secret(engine):
    made = [create_key(engine, owner="ann", scopes=[]) for _ in range(20)]
    assert len({row.id for row, _key in made}) == 20
    assert len({key.split("_", 2)[2] for _row, key in made}) == 20


# --- refusing -----------------------------------------------------------------------------


def test_a_wrong_secret_with_a_right_id_is_refused(engine):
    first, first_key = create_key(engine, owner="ann", scopes=["jobs:admin"])
    _second, second_key = create_key(engine, owner="bob", scopes=[])
    borrowed = f"jui_{first.id}_{second_key.split('_', 2)[2]}"  # real id, another real secret
    assert principal_for_key(engine, borrowed) is None
    assert principal_for_key(engine, first_key) is not None


@pytest.mark.parametrize("position", [4, 10, 15, 17, 40, 59])
def test_a_key_changed_in_one_character_is_refused(engine, position):
    _row, key = create_key(engine, owner="ann", scopes=[])
    original = key[position]
    replacement = "0" if original != "0" else "1"
    tampered = key[:position] + replacement + key[position + 1 :]
    assert tampered != key and len(tampered) == len(key)
    assert principal_for_key(engine, tampered) is None


def test_an_unknown_id_is_refused(engine):
    _row, key = create_key(engine, owner="ann", scopes=[])
    assert principal_for_key(engine, "jui_000000000000_" + key.split("_", 2)[2]) is None


def malformed_variants(key: str) -> list[object]:
    public_id, secret = key[4:16], key[17:]
    return [
        "",
        "jui_",
        "jui__",
        key[:-1],
        key + "A",
        key + "\n",
        key + " ",
        " " + key,
        "Bearer " + key,
        key.upper(),
        "JUI_" + key[4:],
        "jux_" + key[4:],
        f"jui-{public_id}-{secret}",
        f"jui_{public_id.upper()}_{secret}",
        f"jui_{public_id[:-1]}g_{secret}",  # not hex
        f"jui_{public_id}_{secret[:-1]}=",  # not URL-safe base64
        f"jui_{public_id}_{secret[:-1]}\x00",
        f"jui_{public_id}_{secret[:-1]}é",  # same length, not ASCII
        f"jui_{public_id[:-1]}٣_{secret}",  # an Arabic-Indic digit in the id
        f"jui_{public_id}_{secret[:-1]}\u0301",  # a combining accent
        "jui_" + "é" * (len(key) - 4),
        key * 2,
        key + "x" * 1_000_000,
        "x" * 10_000_000,
        None,
        key.encode(),
        12345,
    ]


def test_malformed_key_text_of_many_shapes_is_refused(engine):
    _row, key = create_key(engine, owner="ann", scopes=["jobs:admin"])
    for variant in malformed_variants(key):
        assert principal_for_key(engine, variant) is None, repr(variant)[:80]  # type: ignore[arg-type]
    assert principal_for_key(engine, key) is not None  # the real one still works


def test_an_unknown_id_costs_the_same_hash_and_compare_as_a_wrong_secret(engine, monkeypatch):
    row, _key = create_key(engine, owner="ann", scopes=[])
    compared: list[tuple[str, str]] = []
    real_compare = api_keys.hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return real_compare(a, b)

    monkeypatch.setattr(api_keys.hmac, "compare_digest", spy)
    wrong_secret = f"jui_{row.id}_{'A' * 43}"
    unknown_id = f"jui_ffffffffffff_{'A' * 43}"
    assert principal_for_key(engine, wrong_secret) is None
    assert principal_for_key(engine, unknown_id) is None
    assert principal_for_key(engine, "not a key") is None  # refused before any lookup
    assert len(compared) == 2
    assert all(len(a) == len(b) == 64 for a, b in compared)
    assert compared[0][1] == row.secret_hash


# --- revoking and listing -----------------------------------------------------------------


def test_a_revoked_key_is_refused_and_others_keep_working(engine):
    row, key = create_key(engine, owner="ann", scopes=[])
    _other, other_key = create_key(engine, owner="bob", scopes=[])
    assert principal_for_key(engine, key) is not None
    revoked = revoke_key(engine, key_id=row.id)
    assert revoked is not None and revoked.id == row.id and revoked.revoked_at is not None
    assert principal_for_key(engine, key) is None
    assert principal_for_key(engine, other_key) is not None


def test_revoking_twice_keeps_the_first_time(engine, clock):
    row, _key = create_key(engine, owner="ann", scopes=[])
    first = revoke_key(engine, key_id=row.id)
    clock.advance(3600)
    second = revoke_key(engine, key_id=row.id)
    assert first is not None and second is not None and first.revoked_at is not None
    assert as_utc(second.revoked_at) == as_utc(first.revoked_at)


@pytest.mark.parametrize("key_id", ["", "000000000000", "x" * 10_000, "é", "' OR 1=1 --"])
def test_revoking_an_unknown_id_answers_none_and_changes_nothing(engine, key_id):
    row, key = create_key(engine, owner="ann", scopes=[])
    assert revoke_key(engine, key_id=key_id) is None
    assert stored(engine, row.id).revoked_at is None
    assert principal_for_key(engine, key) is not None


def test_list_keys_shows_every_key_oldest_first_with_its_state(engine, clock):
    first, _ = create_key(engine, owner="ann", scopes=["jobs:admin"])
    clock.advance(1)
    second, _ = create_key(engine, owner="bob", scopes=[])
    revoke_key(engine, key_id=first.id)
    keys = list_keys(engine)
    assert [(key.id, key.owner) for key in keys] == [(first.id, "ann"), (second.id, "bob")]
    assert keys[0].revoked_at is not None and keys[0].scopes == ["jobs:admin"]
    assert keys[1].revoked_at is None


def test_list_keys_of_an_empty_database_is_empty(engine):
    assert list_keys(engine) == []


# --- last use -----------------------------------------------------------------------------


def test_last_use_is_written_at_most_once_a_minute(engine, clock):
    row, key = create_key(engine, owner="ann", scopes=[])
    assert stored(engine, row.id).last_used_at is None
    start = clock.now

    principal_for_key(engine, key)
    assert as_utc(stored(engine, row.id).last_used_at) == start

    clock.advance(30)
    principal_for_key(engine, key)
    clock.advance(29)
    principal_for_key(engine, key)
    assert as_utc(stored(engine, row.id).last_used_at) == start  # within the minute: no write

    clock.advance(2)  # 61 s after the first use
    principal_for_key(engine, key)
    assert as_utc(stored(engine, row.id).last_used_at) == start + timedelta(seconds=61)


def test_refused_attempts_do_not_count_as_use(engine):
    row, key = create_key(engine, owner="ann", scopes=[])
    principal_for_key(engine, f"jui_{row.id}_{'A' * 43}")
    assert stored(engine, row.id).last_used_at is None
    revoke_key(engine, key_id=row.id)
    principal_for_key(engine, key)
    assert stored(engine, row.id).last_used_at is None


def test_a_database_refusing_the_last_use_write_still_lets_the_key_in(engine, caplog):
    row, key = create_key(engine, owner="ann", scopes=[])
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TRIGGER no_writes BEFORE UPDATE ON api_key "
                "BEGIN SELECT RAISE(ABORT, 'read-only for this test'); END"
            )
        )
    with caplog.at_level(logging.WARNING, logger=api_keys.__name__):
        principal = principal_for_key(engine, key)
    assert principal is not None and principal.subject == "ann"
    assert stored(engine, row.id).last_used_at is None
    assert any(row.id in record.getMessage() for record in caplog.records)


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "owner",
    ["", "a b", "x" * 129, "ann\n", "ann/bob", "ännä", "ann;drop", "\x00", None, 7],
)
def test_a_bad_owner_is_refused_with_a_sentence(engine, owner):
    with pytest.raises(ValueError, match=r"^Owner .* is not valid: "):
        create_key(engine, owner=owner, scopes=[])
    assert list_keys(engine) == []


@pytest.mark.parametrize(
    "scope", ["", "a b", "x" * 65, "jobs:admin\n", "jobs/admin", "jobs:admin@x", "é", None, 1]
)
def test_a_bad_scope_is_refused_with_a_sentence(engine, scope):
    with pytest.raises(ValueError, match=r"^Scope .* is not valid: "):
        create_key(engine, owner="ann", scopes=["jobs:admin", scope])
    assert list_keys(engine) == []


def test_scopes_given_as_one_string_are_refused_not_split_into_letters(engine):
    with pytest.raises(ValueError, match="list of scope names"):
        create_key(engine, owner="ann", scopes="jobs:admin")
    assert list_keys(engine) == []


def test_owner_and_scope_at_their_longest_are_accepted(engine):
    owner = "a.b_c:d@e-" + "x" * 118
    scope = "a.b_c:d-" + "y" * 56
    row, key = create_key(engine, owner=owner, scopes=[scope])
    principal = principal_for_key(engine, key)
    assert principal is not None
    assert (principal.subject, principal.scopes) == (owner, frozenset({scope}))
    assert stored(engine, row.id).owner == owner


# --- Postgres -----------------------------------------------------------------------------


def test_the_key_functions_on_postgres():
    require_postgres()
    with migrated_database() as url:
        engine = make_engine(url)
        try:
            row, key = create_key(engine, owner="ci", scopes=["jobs:admin", "contacts:export"])
            principal = principal_for_key(engine, key)
            assert principal is not None
            assert principal.scopes == frozenset({"jobs:admin", "contacts:export"})
            assert principal_for_key(engine, f"jui_{row.id}_{'A' * 43}") is None
            (listed,) = list_keys(engine)
            assert listed.scopes == ["jobs:admin", "contacts:export"]
            assert listed.last_used_at is not None and listed.last_used_at.tzinfo is not None
            first_use = listed.last_used_at
            principal_for_key(engine, key)
            assert list_keys(engine)[0].last_used_at == first_use  # throttled here too
            assert revoke_key(engine, key_id=row.id) is not None
            assert principal_for_key(engine, key) is None
            assert revoke_key(engine, key_id="000000000000") is None
        finally:
            engine.dispose()
