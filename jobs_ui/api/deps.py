"""Request-scoped helpers shared by the routes: the services, and who is asking."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from jobs_ui.access.principal import Principal
from jobs_ui.api.errors import ApiError
from jobs_ui.services import Services


def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(get_services)]


async def reading_principal(request: Request, services: ServicesDep) -> Principal:
    """Who is asking, on a read-only route: a job access token (`?token=`) counts too."""
    return await services.identity.resolve(request, accept_token=True)


async def acting_principal(request: Request, services: ServicesDep) -> Principal:
    """Who is asking, on a route that creates or changes something: tokens do not count."""
    return await services.identity.resolve(request, accept_token=False)


def parse_job_id(raw: str | None) -> uuid.UUID:
    """A job id from the URL; a malformed one is the caller's mistake, not a missing job."""
    if not raw:
        raise ApiError(400, "jobId is required.")
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ApiError(400, f"jobId {raw[:64]!r} is not a valid job id (a UUID).") from None


ReaderDep = Annotated[Principal, Depends(reading_principal)]
ActorDep = Annotated[Principal, Depends(acting_principal)]
