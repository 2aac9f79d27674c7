"""The app's signing keys: from JOBS_UI_SECRET_KEY, or made on first start and kept.

A key kept in the data dir (mode 0600) lets `make run` work with no set-up; every backend
sharing that data dir signs alike. Backends on separate disks must share JOBS_UI_SECRET_KEY.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from jobs_ui.settings import Settings

KEY_FILE_NAME = "secret_key"


def signing_keys(settings: Settings) -> tuple[str, ...]:
    """The keys, the one that signs first; all of them verify."""
    return settings.secret_keys or (kept_key(settings.data_dir),)


def kept_key(data_dir: Path) -> str:
    """The data dir's own key, made the first time it is asked for."""
    path = data_dir / KEY_FILE_NAME
    with contextlib.suppress(FileNotFoundError):
        return _read(path)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # the app's own files only
    # Written whole under a name of its own, then linked into place: of processes starting
    # at once, the first link wins and every other one reads that key, never a part of it.
    draft = data_dir / f".{KEY_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)
    return _read(path)


def _read(path: Path) -> str:
    key = path.read_text().strip()
    if len(key) < 32:
        raise RuntimeError(
            f"The signing key in {path} is too short; delete the file to make a new one "
            "(visitors and access tokens signed with the old one stop working)."
        )
    return key
