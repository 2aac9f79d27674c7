"""Who the visitor is: a random id kept in the browser, sent to the API as the job owner."""

from __future__ import annotations

import uuid

import reflex as rx


class VisitorState(rx.State):
    visitor_id: str = rx.LocalStorage("", name="jobs_ui_visitor", sync=True)

    def _owner_id(self) -> str:
        """The id to send as owner, made on first use and kept in the browser after that."""
        if not self.visitor_id:
            self.visitor_id = f"v-{uuid.uuid4().hex}"
        return self.visitor_id


async def owner_of(state: rx.State) -> str:
    """The visitor id for any state of the same tab (call inside `async with self` in
    background events)."""
    visitor = await state.get_state(VisitorState)
    return visitor._owner_id()
