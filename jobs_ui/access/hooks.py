"""The two places a deployment plugs in its own rules, each set in a line or two.

- `set_identify(hook)`: `hook(request) -> Principal | None` (may be async) recognises the
  host app's callers: its session cookie, a JWT from an identity provider, a
  reflex-local-auth session. For Reflex events it gets a request carrying the headers of the
  tab's websocket (its cookies included). None lets the visitor cookie decide.
- `set_authorize(hook)`: `hook(principal, action, dataset) -> bool` decides who may import
  into or export which dataset. The default lets everyone use every dataset.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TYPE_CHECKING

from starlette.requests import Request

from jobs_ui.access.principal import Principal

if TYPE_CHECKING:
    from jobs_ui.datasets import Dataset


class Action(StrEnum):
    IMPORT = "import"
    EXPORT = "export"


Identify = Callable[[Request], "Principal | Awaitable[Principal | None] | None"]
Authorize = Callable[[Principal, Action, "Dataset"], bool]


def _nobody(_request: Request) -> Principal | None:
    return None


def _everyone(_principal: Principal, _action: Action, _dataset: Dataset) -> bool:
    return True


_identify: Identify = _nobody
_authorize: Authorize = _everyone


def set_identify(hook: Identify | None) -> None:
    global _identify
    _identify = hook or _nobody


def set_authorize(hook: Authorize | None) -> None:
    global _authorize
    _authorize = hook or _everyone


def identify_hook() -> Identify:
    return _identify


def authorize_hook() -> Authorize:
    return _authorize
