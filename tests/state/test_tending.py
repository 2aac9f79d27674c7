"""The loop page followers share: one follower per state, and news in batches."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from jobs_ui.state import tending
from jobs_ui.state.tending import Tending, news


def a_state() -> SimpleNamespace:
    return SimpleNamespace(
        _generation=0, router=SimpleNamespace(session=SimpleNamespace(client_token="tab"))
    )


def test_a_newer_follower_or_a_closed_tab_makes_a_follower_unwanted(monkeypatch):
    open_tabs = {"tab"}
    monkeypatch.setattr(tending, "tab_is_open", lambda token: token in open_tabs)
    state = a_state()
    first = Tending.begin(state)
    assert first.wanted(state)
    second = Tending.begin(state)
    assert not first.wanted(state) and second.wanted(state)
    open_tabs.clear()  # the tab's websocket is gone
    assert not second.wanted(state)
    open_tabs.add("tab")
    state._generation += 1  # what stop_following does
    assert not second.wanted(state)


async def test_news_comes_in_batches_or_not_at_all():
    queue: asyncio.Queue[int] = asyncio.Queue()
    assert await news(queue, wait=0.01) == []
    for number in (1, 2, 3):
        queue.put_nowait(number)
    assert await news(queue, wait=0.01) == [1, 2, 3]
    assert queue.empty()
