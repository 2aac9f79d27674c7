"""Request-scoped helpers shared by the routes: the services, and who is asking."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path, Query, Request

from jobs_ui.access.principal import Principal
from jobs_ui.services import Services


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


async def reading_principal(
    request: Request,
    services: ServicesDep,
    _token: Annotated[
        str | None,
        Query(
            alias="token",
            description="A job access token: reads that one job (for links and pages).",
        ),
    ] = None,
) -> Principal:
    """Who is asking, on a read-only route: a job access token (`?token=`) counts too."""
    return await services.identity.resolve(request, accept_token=True)


async def acting_principal(request: Request, services: ServicesDep) -> Principal:
    """Who is asking, on a route that creates or changes something: tokens do not count."""
    return await services.identity.resolve(request, accept_token=False)


# Not a UUID: 400 with a sentence (see jobs_ui.api.errors), not a missing job.
JobIdPath = Annotated[uuid.UUID, Path(description="The job's id (jobId).")]

ReaderDep = Annotated[Principal, Depends(reading_principal)]
ActorDep = Annotated[Principal, Depends(acting_principal)]
