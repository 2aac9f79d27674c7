"""The principal: who is asking, as every access decision sees it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

# Sees and acts on every job, whoever owns it.
ADMIN_SCOPE = "jobs:admin"


class Via(StrEnum):
    """Which credential made the principal (for logs and for the read-only rule)."""

    API_KEY = "api_key"
    JOB_TOKEN = "job_token"
    IDENTIFY = "identify"  # the deployment's own hook
    VISITOR = "visitor"  # the signed visitor cookie


@dataclass(frozen=True, slots=True)
class Principal:
    """A caller. `subject` owns the jobs it creates; a job token's principal carries the one
    job it may read (`job_id`) and never creates, cancels or retries."""

    subject: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    via: Via = Via.IDENTIFY
    job_id: uuid.UUID | None = None

    @property
    def is_admin(self) -> bool:
        return ADMIN_SCOPE in self.scopes

    @property
    def read_only(self) -> bool:
        return self.via is Via.JOB_TOKEN

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
