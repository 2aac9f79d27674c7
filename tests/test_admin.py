"""The admin CLI, run as an operator would: a real process on a fresh data dir."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from jobs_ui.access.api_keys import list_keys, principal_for_key
from jobs_ui.db import make_engine

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "fresh-clone" / "data"  # does not exist yet, as on a fresh clone


def clean_environment(data_dir: Path) -> dict[str, str]:
    kept = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("JOBS_UI_") and name not in {"DATABASE_URL", "REDIS_URL"}
    }
    return {**kept, "JOBS_UI_DATA_DIR": str(data_dir)}


def admin(
    data_dir: Path, *args: str, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobs_ui.admin", *args],
        cwd=PROJECT_ROOT,
        env={**clean_environment(data_dir), **(extra or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def engine(data_dir: Path) -> Iterator[Engine]:
    """The database the CLI writes (opened only after the CLI has made it)."""
    engine = make_engine(f"sqlite:///{data_dir / 'jobs_ui.db'}")
    yield engine
    engine.dispose()


def create(data_dir: Path, *args: str) -> tuple[list[str], str]:
    done = admin(data_dir, "create-key", *args)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    return lines[:-1], lines[-1]


def test_create_key_prints_the_key_alone_on_the_last_line(data_dir, engine):
    assert not data_dir.exists()
    human, key = create(data_dir, "--owner", "ci", "--scope", "jobs:admin", "--scope", "x.y")
    assert data_dir.is_dir()
    principal = principal_for_key(engine, key)
    assert principal is not None
    assert (principal.subject, principal.scopes) == ("ci", frozenset({"jobs:admin", "x.y"}))
    (row,) = list_keys(engine)
    said = "\n".join(human)
    assert "ci" in said and "jobs:admin" in said and row.id in said and "shown once" in said
    assert key not in said and key.split("_", 2)[2] not in said  # the secret only once


def test_list_keys_shows_keys_but_never_secrets_or_hashes(data_dir, engine):
    _, first = create(data_dir, "--owner", "ci", "--scope", "contacts:export")
    _, second = create(data_dir, "--owner", "nightly@reports")
    done = admin(data_dir, "list-keys")
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["ID", "OWNER", "SCOPES", "CREATED", "LAST", "USED", "REVOKED"]
    assert len(rows) == 2
    assert rows[0].split()[:3] == [first[4:16], "ci", "contacts:export"]
    assert rows[1].split()[:3] == [second[4:16], "nightly@reports", "-"]
    for key in (first, second):
        assert key.split("_", 2)[2] not in done.stdout
    for row in list_keys(engine):
        assert row.secret_hash not in done.stdout


def test_revoke_key_makes_the_key_refused(data_dir, engine):
    _, key = create(data_dir, "--owner", "ci")
    key_id = key[4:16]
    done = admin(data_dir, "revoke-key", key_id)
    assert done.returncode == 0, done.stderr
    assert key_id in done.stdout and "revoked" in done.stdout
    assert principal_for_key(engine, key) is None
    listed = admin(data_dir, "list-keys").stdout.splitlines()[1]
    assert listed.split()[-2:] != ["-", "-"] and listed.rstrip().endswith("Z")
    again = admin(data_dir, "revoke-key", key_id)
    assert again.returncode == 0, again.stderr


def test_revoking_an_unknown_id_exits_1_with_a_message(data_dir):
    done = admin(data_dir, "revoke-key", "000000000000")
    assert done.returncode == 1
    assert "000000000000" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["create-key", "--owner", "not ok"],
        ["create-key", "--owner", "x" * 129],
        ["create-key", "--owner", "ännä"],
        ["create-key", "--owner", "ci", "--scope", "jobs admin"],
        ["create-key", "--owner", "ci", "--scope", ""],
        ["create-key"],
        ["create-key", "--owner"],
        [],
        ["no-such-command"],
        ["revoke-key"],
    ],
)
def test_bad_input_exits_2_with_the_usage_and_no_traceback(data_dir, args):
    done = admin(data_dir, *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "usage:" in done.stderr and "Traceback" not in done.stderr
    assert "jui_" not in done.stdout
    assert not data_dir.exists()  # refused before anything was written


def test_an_unreachable_database_is_one_line_not_a_traceback(data_dir):
    unreachable = {"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    done = admin(data_dir, "list-keys", extra=unreachable)
    assert done.returncode == 1
    assert "database error" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
