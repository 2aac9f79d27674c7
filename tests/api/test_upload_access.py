"""An inspected upload is its sender's alone: every principal but the sender, on every route
that takes an uploadId, gets exactly what an unknown upload id gets, and nothing changes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from jobs_ui.access.api_keys import create_key
from jobs_ui.access.signing import signing_keys
from jobs_ui.access.tokens import JobTokens
from jobs_ui.access.visitor import COOKIE_NAME
from jobs_ui.services import Services
from tests.api.test_access import (
    JOBS,
    SIGN_IN,
    bearer,
    completed_export,
    embedded,
    fresh,
    serving,
    tamper,
)
from tests.conftest import OWNER, ServerThread

CRM = b"Full Name,E-mail\nAda Lovelace,ada@example.com\n"
UPLOAD_NOT_FOUND_START = "Upload not found"
ROUTES = ("inspect_again", "import")
PRINCIPALS = (
    "owner",
    "other_visitor",
    "no_credentials",
    "forged_owner_header",
    "other_owner_key",
    "admin_key",
    "job_token",
    "tampered_token",
    "expired_token",
)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Services, ServerThread]]:
    settings = embedded(tmp_path_factory.mktemp("uploads"))
    with serving(settings) as running:
        yield running


def send(http: httpx.Client, route: str, upload_id: str, **kwargs: object) -> httpx.Response:
    data = {"dataset": "contacts", "uploadId": upload_id}
    if route == "inspect_again":
        return http.post(f"{JOBS}/inspect", data=data, files={"none": ("", b"")}, **kwargs)  # type: ignore[arg-type]
    return http.post(f"{JOBS}/import", data=data, files={"none": ("", b"")}, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("route", ROUTES)
def test_upload_matrix(deployment, route: str, principal: str) -> None:
    services, server = deployment
    keys = {
        owner: create_key(services.engine, owner=owner, scopes=scopes)[1]
        for owner, scopes in ((OWNER, []), ("u", []), ("root", ["jobs:admin"]))
    }
    with fresh(server, headers=bearer(keys[OWNER])) as owner:
        inspected = owner.post(
            f"{JOBS}/inspect", data={"dataset": "contacts"}, files={"file": ("crm.csv", CRM)}
        )
        assert inspected.status_code == 200, inspected.text
    upload_id = inspected.json()["uploadId"]
    job = completed_export(services)  # a job of the owner's, for the tokens
    tokens = JobTokens(signing_keys(services.settings), lifetime_seconds=-1)
    own_token = services.commands.tokens.mint(job_id=job.id).token
    params = {
        "job_token": {"token": own_token},
        "tampered_token": {"token": tamper(own_token)},
        "expired_token": {"token": tokens.mint(job_id=job.id).token},
    }.get(principal, {})
    headers = {
        "owner": bearer(keys[OWNER]),
        "other_owner_key": bearer(keys["u"]),
        "admin_key": bearer(keys["root"]),
        "forged_owner_header": {"X-Owner-Id": OWNER},
    }.get(principal, {})
    jobs_before = len(services.store.list_jobs(owner=None, limit=10_000))

    with fresh(server) as http:
        response = send(http, route, upload_id, headers=headers, params=params)
        unknown = send(http, route, str(uuid.uuid4()), headers=headers, params=params)

    if principal == "owner":
        assert response.status_code == (200 if route == "inspect_again" else 201), response.text
        return
    if principal in ("job_token", "tampered_token", "expired_token"):
        # A token reads its one job and does nothing else: as no credentials, no cookie.
        assert (response.status_code, response.json()) == (401, SIGN_IN)
        assert COOKIE_NAME not in response.cookies
    else:
        assert response.status_code == unknown.status_code == 404, response.text
        assert response.json() == unknown.json()
        assert response.json()["error"].startswith(UPLOAD_NOT_FOUND_START)
    # Nothing changed: no job, and the upload still waits for its owner.
    assert len(services.store.list_jobs(owner=None, limit=10_000)) == jobs_before
    assert services.commands.inputs.uploads.get(uuid.UUID(upload_id), owner=OWNER) is not None
