"""Request-scoped helpers shared by the routes."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import Depends, Request

from jobs_ui.api.errors import ApiError
from jobs_ui.services import Services

OWNER_HEADER = "X-Owner-Id"
ANONYMOUS = "anonymous"
_OWNER_PATTERN = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")


def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


def get_owner(request: Request) -> str:
    """Who is asking. The caller says it (identity is hardened later); absent -> anonymous."""
    owner = request.headers.get(OWNER_HEADER, "").strip()
    if not owner:
        return ANONYMOUS
    if not _OWNER_PATTERN.match(owner):
        raise ApiError(
            400, f"{OWNER_HEADER} must be 1-128 letters, digits or . _ : @ - characters."
        )
    return owner


def parse_job_id(raw: str | None) -> uuid.UUID:
    """A job id from the URL; a malformed one is the caller's mistake, not a missing job."""
    if not raw:
        raise ApiError(400, "jobId is required.")
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ApiError(400, f"jobId {raw[:64]!r} is not a valid job id (a UUID).") from None


ServicesDep = Annotated[Services, Depends(get_services)]
OwnerDep = Annotated[str, Depends(get_owner)]
