"""Who may do what with webhooks: each is its registering principal's alone.

Another principal's webhook answers exactly as an unknown one ("Webhook not found"), as
jobs do, so nobody learns that it exists; that holds for `jobs:admin` too, since a webhook
carries its owner's secret and receives its owner's jobs only. Commands block (database,
DNS): call them from a thread pool in async code.

Visitors have no webhooks. A visitor is whoever comes without credentials, and a new one is
had for the asking (drop the cookie), so no limit per principal binds it: each fresh visitor
could point `max_webhooks` more at one address. A webhook is also for a program, which
holds an API key (or a deployment's sign-in) it can keep and use to manage it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from jobs_ui.access.hooks import Action, authorize_hook
from jobs_ui.access.principal import Principal, Via
from jobs_ui.datasets import UnknownDatasetError, registry
from jobs_ui.jobs.commands.base import CommandError, check_writable
from jobs_ui.settings import Settings
from jobs_ui.webhooks.endpoints import (
    DuplicateWebhookError,
    TooManyForHostError,
    TooManyWebhooksError,
    WebhookEndpoints,
)
from jobs_ui.webhooks.models import DeliveryRecord, Webhook, WebhookEvent
from jobs_ui.webhooks.targets import TargetError, TargetPolicy

WEBHOOK_NOT_FOUND = "Webhook not found"
NOT_FOR_VISITORS = (
    "Webhooks need an API key (Authorization: Bearer <key>) or a signed-in account; "
    "a visitor cannot have any."
)


class WebhookCommands:
    def __init__(
        self, *, settings: Settings, endpoints: WebhookEndpoints, policy: TargetPolicy
    ) -> None:
        self.settings, self.endpoints, self.policy = settings, endpoints, policy

    def register(
        self,
        principal: Principal,
        *,
        url: str,
        events: Sequence[WebhookEvent],
        datasets: Sequence[str] | None = None,
    ) -> Webhook:
        """A new webhook of the principal's, its secret in it (shown once, by the caller)."""
        check_may_have_webhooks(principal)
        chosen = None if datasets is None else self._datasets(principal, datasets)
        try:
            self.policy.check(url)  # last: it may wait for DNS
        except TargetError as error:
            raise CommandError(422, str(error)) from None
        most, per_host = self.settings.max_webhooks, self.settings.max_webhooks_per_host
        try:
            return self.endpoints.create(
                owner=principal.subject,
                url=url,
                events=list(dict.fromkeys(events)),  # each once, in the order given
                datasets=chosen,
                most=most,
                most_per_host=per_host,
            )
        except TooManyWebhooksError:
            raise CommandError(
                409, f"You have {most} webhooks, the most allowed; delete one to add another."
            ) from None
        except DuplicateWebhookError as duplicate:
            raise CommandError(
                409,
                f"You have a webhook for this url already ({duplicate.webhook_id}); "
                "delete it to register the url again.",
            ) from None
        except TooManyForHostError as crowded:
            raise CommandError(
                409,
                f"You have {crowded.count} webhooks for the host {crowded.host}, the most "
                "allowed for one host; delete one to add another.",
            ) from None

    def list_webhooks(self, principal: Principal) -> Sequence[Webhook]:
        check_may_have_webhooks(principal)
        return self.endpoints.of_owner(principal.subject)

    def delete(self, principal: Principal, webhook_id: uuid.UUID) -> None:
        check_may_have_webhooks(principal)
        self.endpoints.delete(self._own(principal, webhook_id).id)

    def deliveries(
        self, principal: Principal, webhook_id: uuid.UUID, *, limit: int
    ) -> list[DeliveryRecord]:
        check_may_have_webhooks(principal)
        return self.endpoints.deliveries(self._own(principal, webhook_id).id, limit=limit)

    def _own(self, principal: Principal, webhook_id: uuid.UUID) -> Webhook:
        webhook = self.endpoints.get(webhook_id)
        if webhook is None or webhook.owner != principal.subject:
            raise CommandError(404, WEBHOOK_NOT_FOUND)
        return webhook

    @staticmethod
    def _datasets(principal: Principal, names: Sequence[str]) -> list[str]:
        """The datasets named, each once; one unknown, or one the principal may neither
        import into nor export, is refused alike (its jobs could never be the caller's)."""
        allowed = authorize_hook()
        chosen: list[str] = []
        for name in names:
            try:
                dataset = registry.get(name.strip())
            except UnknownDatasetError:
                dataset = None
            usable = dataset is not None and (
                allowed(principal, Action.IMPORT, dataset)
                or allowed(principal, Action.EXPORT, dataset)
            )
            if dataset is None or not usable:
                raise CommandError(
                    422, f"datasets: there is no dataset named {name[:64]!r} you can use."
                )
            if dataset.name not in chosen:
                chosen.append(dataset.name)
        return chosen


def check_may_have_webhooks(principal: Principal) -> None:
    """An API key's principal or a signed-in one (the deployment's identify hook); not a
    job's access token, nor a visitor (see the module's note)."""
    check_writable(principal)
    if principal.via is Via.VISITOR:
        raise CommandError(403, NOT_FOR_VISITORS)
