"""Who sent each Reflex upload in flight, so the page takes only its own visitor's file.

Reflex runs an upload's handler as an event of the tab whose client token the request
names, with that tab's websocket credentials. The client token is no secret (it is in the
websocket's URL, and so in proxy logs), so the guard notes who sent each `POST /_upload`
by the request's own credentials, and the handler refuses the file unless every upload in
flight for that tab came from the tab's own visitor.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator


class UploadCallers:
    def __init__(self) -> None:
        self._callers: dict[str, Counter[str]] = {}

    @contextlib.contextmanager
    def sending(self, client_token: str, subject: str) -> Iterator[None]:
        """While one upload request for the tab `client_token` is in flight, from `subject`."""
        callers = self._callers.setdefault(client_token, Counter())
        callers[subject] += 1
        try:
            yield
        finally:
            callers[subject] -= 1
            if callers[subject] <= 0:
                del callers[subject]
            if not callers:
                self._callers.pop(client_token, None)

    def only_from(self, client_token: str, subject: str) -> bool:
        """Whether uploads for this tab are in flight, all of them from `subject`."""
        callers = self._callers.get(client_token)
        if not callers:
            return False
        return set(callers) == {subject}
