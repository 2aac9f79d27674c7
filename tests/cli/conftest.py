from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.runner import Cli


@pytest.fixture
def cli(server, tmp_path: Path) -> Cli:
    """The command as one user of the test server, run from `tmp_path`."""
    return Cli(server.url, tmp_path)
