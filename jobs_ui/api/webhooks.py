"""REST routes for webhooks: register, list, delete, and each one's deliveries.

Who may do what is decided in `jobs_ui.jobs.commands.webhooks`: a webhook is its owner's
alone, and anyone else is told it does not exist (404), as jobs do.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from jobs_ui.api.deps import ActorDep, ServicesDep
from jobs_ui.api.errors import GUARDED_POST, error_responses
from jobs_ui.schemas import CreatedWebhookPublic, DeliveryList, WebhookIn, WebhookList
from jobs_ui.urls import WEBHOOKS_API
from jobs_ui.webhooks.models import delivery_public, webhook_public

router = APIRouter(prefix=WEBHOOKS_API, tags=["webhooks"])

WebhookIdPath = Annotated[uuid.UUID, Path(description="The webhook's id, as registering it gave.")]
REASONS = {
    403: "A visitor (a caller with neither an API key nor a sign-in) has no webhooks; on a "
    "POST or DELETE, also a cross-site request.",
    404: "No such webhook (or not the caller's: it reads exactly the same).",
    409: "The caller has as many webhooks as allowed (JOBS_UI_MAX_WEBHOOKS), one for this url "
    "already, or as many for its host as allowed (JOBS_UI_MAX_WEBHOOKS_PER_HOST).",
    422: "The request does not validate (the sentence says which field and why): a url that "
    "is not http(s), does not resolve (in time), or resolves to a loopback, private, "
    "link-local or cloud metadata address; an event or dataset that does not exist.",
}


@router.post(
    "",
    status_code=201,
    response_model=CreatedWebhookPublic,
    responses=error_responses(*GUARDED_POST, 409, 422, reasons=REASONS),
)
def register_webhook(
    body: WebhookIn, services: ServicesDep, principal: ActorDep
) -> CreatedWebhookPublic:
    """JSON `{url, events, datasets?}` -> the webhook, with its signing secret: shown this
    once. Each of the caller's jobs that ends (or progresses) as `events` asks, in one of
    `datasets` (all if left out), is POSTed to `url` as the job JSON, signed."""
    webhook = services.webhooks.register(
        principal, url=body.url, events=body.events, datasets=body.datasets
    )
    return CreatedWebhookPublic(**dict(webhook_public(webhook)), secret=webhook.secret)


@router.get("", response_model=WebhookList, responses=error_responses(403, reasons=REASONS))
@router.get("/", response_model=WebhookList, include_in_schema=False)
def list_webhooks(services: ServicesDep, principal: ActorDep) -> WebhookList:
    """The caller's webhooks, oldest first, without their secrets."""
    webhooks = services.webhooks.list_webhooks(principal)
    return WebhookList(webhooks=[webhook_public(webhook) for webhook in webhooks])


@router.delete(
    "/{webhook_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(*GUARDED_POST, 404, reasons=REASONS),
)
def delete_webhook(
    webhook_id: WebhookIdPath, services: ServicesDep, principal: ActorDep
) -> Response:
    """The webhook goes, and with it its deliveries (any not yet sent never will be)."""
    services.webhooks.delete(principal, webhook_id)
    return Response(status_code=204)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=DeliveryList,
    responses=error_responses(403, 404, 422, reasons=REASONS),
)
def list_deliveries(
    webhook_id: WebhookIdPath,
    services: ServicesDep,
    principal: ActorDep,
    limit: int = Query(default=50, ge=1, le=200),
) -> DeliveryList:
    """The webhook's latest deliveries, newest first, each with its attempts."""
    records = services.webhooks.deliveries(principal, webhook_id, limit=limit)
    return DeliveryList(deliveries=[delivery_public(record) for record in records])
