"""A real terminal for the command: tmux runs it in a pane, send-keys types, capture-pane
reads the screen as a person would see it."""

from __future__ import annotations

import re
import shlex
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path


class Terminal:
    """One tmux server of its own (its own socket), one window of `width` by `height`."""

    def __init__(self, width: int = 160, height: int = 40) -> None:
        self.socket = f"jobs-ui-test-{uuid.uuid4().hex[:8]}"
        self.width, self.height = width, height

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return done.stdout

    def run(self, command: list[str], *, env: dict[str, str], cwd: Path) -> None:
        """Start `command` in the pane; when it ends the pane shows `exit=<code>` and stays."""
        exports = " ".join(f"{name}={shlex.quote(value)}" for name, value in env.items())
        line = f"cd {shlex.quote(str(cwd))} && env {exports} {shlex.join(command)}"
        self._tmux(
            "new-session", "-d", "-x", str(self.width), "-y", str(self.height),
            f"{line}; echo exit=$?; sleep 600",
        )  # fmt: skip

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-J")

    def press(self, *keys: str) -> None:
        self._tmux("send-keys", *keys)

    def wait_for(
        self, seen: Callable[[str], bool], *, timeout: float = 60, every: float = 0.05
    ) -> list[str]:
        """Read the screen until `seen` holds; returns every distinct screen read meanwhile."""
        screens: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.screen()
            if not screens or screens[-1] != now:
                screens.append(now)
            if seen(now):
                return screens
            time.sleep(every)
        raise AssertionError(f"not seen in {timeout} s; the screen:\n{screens[-1]}")

    def exit_code(self, timeout: float = 60) -> int:
        screens = self.wait_for(lambda screen: EXIT.search(screen) is not None, timeout=timeout)
        match = EXIT.search(screens[-1])
        assert match is not None
        return int(match.group(1))

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, check=False)


EXIT = re.compile(r"^exit=(\d+)$", re.MULTILINE)
