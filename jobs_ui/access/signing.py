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
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of two processes starting at once, one writes and the other reads its key.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_urlsafe(48))
    return _read(path)


def _read(path: Path) -> str:
    key = path.read_text().strip()
    if len(key) < 32:
        raise RuntimeError(
            f"The signing key in {path} is too short; delete the file to make a new one "
            "(visitors and access tokens signed with the old one stop working)."
        )
    return key
