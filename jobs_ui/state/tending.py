"""What every background follower of a page shares (the job page's and the jobs list's):
it runs while its tab is open and no newer follower of the same state has started, and it
wakes at least once a second to check both, news or not."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from jobs_ui.state.backend import tab_is_open

# How often a follower checks that its tab is still open and its job still wanted.
WATCHDOG_SECONDS = 1.0

T = TypeVar("T")


class FollowedState(Protocol):
    """A Reflex state with a follower: `_generation` is bumped by each new follower (and
    by whatever wants the current one to stop)."""

    _generation: int
    router: Any  # Reflex's RouterData: the tab's session and headers


@dataclass(frozen=True)
class Tending:
    """One follower's claim on its state."""

    generation: int
    client_token: str

    @classmethod
    def begin(cls, state: FollowedState) -> Tending:
        """Claim the state for a new follower; an older one then stops (a restart, or the
        same event sent again by a tab: a tab runs one). Call inside `async with state`."""
        state._generation += 1
        return cls(state._generation, str(state.router.session.client_token))

    def wanted(self, state: FollowedState) -> bool:
        """Whether this follower should go on. Call inside `async with state`."""
        return state._generation == self.generation and tab_is_open(self.client_token)


async def news(queue: asyncio.Queue[T], wait: float = WATCHDOG_SECONDS) -> list[T]:
    """Whatever has arrived within `wait` seconds: the first item and all that came with
    it, or nothing once the wait is over (time to check that the follower is wanted)."""
    items: list[T] = []
    with contextlib.suppress(TimeoutError):
        items.append(await asyncio.wait_for(queue.get(), wait))
    while not queue.empty():
        items.append(queue.get_nowait())
    return items
