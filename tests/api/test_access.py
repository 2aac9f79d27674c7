"""The adversarial suite: who may do what to which job, from where, and how much.

The matrix tries every route with every kind of caller, on the embedded default and on the
scaled set-up. A caller who may not see a job gets exactly what an unknown job gets, and
nothing changes behind the refusal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from jobs_ui.access.api_keys import create_key
from jobs_ui.access.signing import signing_keys
from jobs_ui.access.tokens import JobTokens
from jobs_ui.access.visitor import COOKIE_NAME
from jobs_ui.datasets import registry
from jobs_ui.engines.change_log import ImportChange
from jobs_ui.engines.rejected_rows import write_rejected_rows
from jobs_ui.engines.row_errors import Problem
from jobs_ui.engines.staging import ImportStaging
from jobs_ui.jobs.store import Quota, QuotaExceededError
from jobs_ui.models import Job, JobKind, JobStatus
from jobs_ui.services import Services
from jobs_ui.settings import Settings
from tests.conftest import OWNER, TEST_UPLOAD_LIMIT, ScaledStack, ServerThread
from tests.support.services import REDIS_TEST_URL, require_redis
from tests.support.sse import events

JOBS = "/api/import-export/jobs"
STREAM = f"{JOBS}/ws"
NOT_FOUND = {"error": "Job not found", "status": 404}
NOT_FOUND_EVENT = b'data: {"type":"error","message":"Job not found"}\n\n'
ANOTHER_JOB = "This access token is for another job."
NOT_VALID = "The access token is not valid."
EXPIRED = "The access token has expired; ask for a new one."
# A token on a route that takes none: the caller has no credentials there (a token never
# acts, not even as a brand-new visitor).
SIGN_IN = {"error": "Sign in, or send an API key as Authorization: Bearer <key>.", "status": 401}
SMALL_CSV = b"name,email\nAda,ada@example.com\n"
EVIL = "https://evil.example"


def error_event(message: str) -> bytes:
    data = json.dumps({"type": "error", "message": message}, separators=(",", ":"))
    return f"data: {data}\n\n".encode()


def embedded(tmp_path: Path, **values: Any) -> Settings:
    return Settings(
        JOBS_UI_DATA_DIR=tmp_path / "data", JOBS_UI_MAX_UPLOAD_BYTES=TEST_UPLOAD_LIMIT, **values
    )


@contextlib.contextmanager
def serving(settings: Settings) -> Iterator[tuple[Services, ServerThread]]:
    services = Services.from_settings(settings)
    services.start()
    try:
        with ServerThread(services) as server:
            yield services, server
    finally:
        services.stop()


@pytest.fixture
def serve() -> Iterator[Callable[[Settings], tuple[Services, ServerThread]]]:
    """Start services and a server for settings a test builds itself (stopped after it)."""
    with contextlib.ExitStack() as stack:
        yield lambda settings: stack.enter_context(serving(settings))


def fresh(server: ServerThread, **kwargs: Any) -> httpx.Client:
    """A caller with nothing: no cookie jar carried over, no key. (Plain http on loopback:
    no TLS context, which would cost ~25 ms a client.)"""
    return httpx.Client(base_url=server.url, timeout=10, verify=False, **kwargs)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# --- jobs made in the store, so they stay where a test puts them --------------------------


def pending_export(services: Services, owner: str = OWNER, **extra: Any) -> Job:
    return services.store.create(
        kind=JobKind.EXPORT, dataset="contacts", owner=owner, params={"format": "csv"}, **extra
    )


def failed_export(services: Services, owner: str = OWNER) -> Job:
    job = pending_export(services, owner)
    return services.store.fail_unstarted(job.id, error="it broke")  # type: ignore[return-value]


def completed_export(services: Services, owner: str = OWNER) -> Job:
    job = pending_export(services, owner)
    services.store.start(job.id)
    path = services.files.export_path(job.id, "contacts.csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(SMALL_CSV)
    done = services.store.complete(job.id, result={"fileName": path.name}, message="done")
    assert done is not None
    return done


def completed_import(services: Services, owner: str = OWNER) -> Job:
    job = services.store.create(
        kind=JobKind.IMPORT,
        dataset="contacts",
        owner=owner,
        params={"fileName": "people.csv", "format": "csv"},
    )
    services.store.start(job.id)
    path = services.files.error_report_path(job.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"row,reason\n2,bad email\n")
    result = {"skippedCount": 1}  # what links to the report (its URL is not stored)
    done = services.store.complete(job.id, result=result, message="done")
    assert done is not None
    return done


FIX_MAPPING = {"name": "name", "email": "email"}
FIXED_EMAIL = {"rows": [{"row": 2, "values": {"email": "ada@example.com"}}]}


def completed_import_to_fix(services: Services, owner: str = OWNER) -> Job:
    """An import that skipped one contact (a bad email), its row kept for fixing."""
    job = services.store.create(
        kind=JobKind.IMPORT,
        dataset="contacts",
        owner=owner,
        params={"fileName": "people.csv", "format": "csv", "mode": "insert"},
    )
    services.store.start(job.id)
    bad = Problem("email", "email: not a valid email address", "ada-at-example")
    write_rejected_rows(
        services.files.rejected_rows_path(job.id),
        ["name", "email"],
        [(2, {"name": "Ada", "email": "ada-at-example"})],
        [(2, bad)],
    )
    result = {"skippedCount": 1, "importedCount": 0, "mapping": FIX_MAPPING}
    done = services.store.complete(job.id, result=result, message="done")
    assert done is not None
    return done


def completed_dry_run(services: Services, owner: str = OWNER) -> Job:
    """A dry run of one new contact, with its upload and checked rows kept for a commit."""
    contacts = registry.get("contacts")
    email = f"{uuid.uuid4().hex[:12]}@example.com"
    job_id = uuid.uuid4()
    upload = services.files.upload_path(job_id, "people.csv")
    upload.parent.mkdir(parents=True, exist_ok=True)
    upload.write_bytes(f"name,email\nAda,{email}\n".encode())
    mapping = {"name": "name", "email": "email", "company": None, "phone": None}
    scratch = services.files.scratch_path(job_id)
    staging = ImportStaging(scratch, contacts.sql_table, contacts.columns, contacts.key)
    with contextlib.closing(staging):
        staging.stage_many([(2, "Ada", email, None, None)])
        staging.keep_copy(services.files.checked_rows_path(job_id))
    params = {"upload": services.files.relative(upload), "format": "csv", "dryRun": True}
    job = services.store.create(
        kind=JobKind.IMPORT,
        dataset="contacts",
        owner=owner,
        job_id=job_id,
        params={**params, "fileName": "people.csv", "mode": "insert", "mapping": mapping},
    )
    services.store.start(job.id)
    result = {"dryRun": True, "totalRows": 1, "mapping": mapping, "wouldCreate": 1}
    done = services.store.complete(job.id, result=result, message="done")
    assert done is not None
    return done


def completed_upsert(services: Services, owner: str = OWNER) -> Job:
    """An import that created one contact, with its record of changes (for an undo)."""
    job = services.store.create(
        kind=JobKind.IMPORT, dataset="contacts", owner=owner, params={"fileName": "people.csv"}
    )
    services.store.start(job.id)
    with Session(services.engine) as session:
        email = f"{uuid.uuid4().hex[:12]}@example.com"
        after = json.dumps({"name": "Ada", "email": email, "company": None, "phone": None})
        session.add(ImportChange(job_id=job.id, row_key=email, after=after))
        session.commit()
    result = {"createdCount": 1, "updatedCount": 0, "importedCount": 1, "skippedCount": 0}
    done = services.store.complete(job.id, result=result, message="done")
    assert done is not None
    return done


def tamper(token: str) -> str:
    """The token with one character of its signature changed (the first: it carries six
    whole bits, where a changed last character may only touch padding bits)."""
    payload, _, signature = token.rpartition(".")
    flipped = "B" if signature[0] != "B" else "C"
    return f"{payload}.{flipped}{signature[1:]}"


def all_jobs(services: Services) -> list[Job]:
    return list(services.store.list_jobs(owner=None, limit=10_000))


# =========================================================================================
# 1. The matrix: every route x every principal
# =========================================================================================

READ_ROUTES = ("get", "download", "error_report", "stream", "rejected")
ACT_ROUTES = ("cancel", "retry", "commit", "undo", "token", "fix_check", "fix_import")
FIX_ROUTES = {"fix_check": "rejected/validate", "fix_import": "rejected/import"}
CREATE_ROUTES = ("create_import", "create_export")
ROUTES = (*READ_ROUTES, "list", *ACT_ROUTES, *CREATE_ROUTES)
TOKENS = ("own_token", "other_job_token", "tampered_token", "expired_token")
PRINCIPALS = (
    "owner",
    "other_visitor",
    "no_credentials",
    "forged_owner_header",
    "other_owner_key",
    "admin_key",
    *TOKENS,
)
TOKEN_ERRORS = {
    "other_job_token": ANOTHER_JOB,
    "tampered_token": NOT_VALID,
    "expired_token": EXPIRED,
}

MATRIX_COUNTS: Counter[str] = Counter()


@dataclass
class World:
    """One running deployment for the whole matrix; every case makes its own jobs and keys
    (the scaled set-up's tables may be emptied by other tests in between)."""

    services: Services
    server: ServerThread
    visitor: httpx.Client  # another visitor, keeping its cookie
    expired_tokens: JobTokens
    visitor_subject: str = ""


@pytest.fixture(scope="module")
def matrix_counts(request: pytest.FixtureRequest) -> Iterator[Counter[str]]:
    yield MATRIX_COUNTS
    if not MATRIX_COUNTS:
        return
    lines = ["", "access matrix: cases per route (principals x backends)"]
    lines += [f"  {route:<14} {MATRIX_COUNTS[route]:>4}" for route in ROUTES]
    lines.append(f"  {'total':<14} {sum(MATRIX_COUNTS.values()):>4}")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n".join(lines))


@pytest.fixture(scope="module", params=["embedded", "scaled"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    # Many jobs of one owner stay PENDING here; the quota is tried on its own further down.
    if request.param == "embedded":
        settings = embedded(tmp_path_factory.mktemp("matrix"), JOBS_UI_MAX_ACTIVE_JOBS=100_000)
    else:
        stack: ScaledStack = request.getfixturevalue("scaled_stack")
        stack.reset()
        settings = stack.settings().model_copy(update={"max_active_jobs": 100_000})
    with serving(settings) as (services, server), fresh(server) as visitor:
        expired = JobTokens(signing_keys(settings), lifetime_seconds=-1)
        world = World(services, server, visitor, expired)
        assert visitor.get(JOBS).status_code == 200
        cookie = visitor.cookies[COOKIE_NAME]
        found = services.visitors.principal(cookie)
        assert found is not None
        world.visitor_subject = found.subject
        yield world


@dataclass
class Case:
    world: World
    route: str
    principal: str
    target: Job
    keys: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def services(self) -> Services:
        return self.world.services

    def request(self, job_id: uuid.UUID) -> httpx.Response:
        """The route, about `job_id`, as this case's principal."""
        headers: dict[str, str] = {}
        params: dict[str, str] = {}
        if self.principal == "owner":
            headers = bearer(self.keys["t"])
        elif self.principal == "other_owner_key":
            headers = bearer(self.keys["u"])
        elif self.principal == "admin_key":
            headers = bearer(self.keys["root"])
        elif self.principal == "forged_owner_header":
            headers = {"X-Owner-Id": OWNER}
        elif self.principal in TOKENS:
            params = {"token": self.tokens[self.principal]}
        if self.principal == "other_visitor":
            return self._send(self.world.visitor, job_id, headers, params)
        with fresh(self.world.server) as http:
            return self._send(http, job_id, headers, params)

    def _send(
        self,
        http: httpx.Client,
        job_id: uuid.UUID,
        headers: dict[str, str],
        params: dict[str, str],
    ) -> httpx.Response:
        route, at = self.route, f"{JOBS}/{job_id}"
        if route == "get":
            return http.get(at, headers=headers, params=params)
        if route == "list":
            return http.get(JOBS, headers=headers, params=params)
        if route in FIX_ROUTES:
            at = f"{at}/{FIX_ROUTES[route]}"
            return http.post(at, headers=headers, params=params, json=FIXED_EMAIL)
        if route in ACT_ROUTES:
            return http.post(f"{at}/{route}", headers=headers, params=params)
        if route == "rejected":
            return http.get(f"{at}/rejected", headers=headers, params=params)
        if route == "download":
            return http.get(f"{at}/download", headers=headers, params=params)
        if route == "error_report":
            return http.get(f"{at}/error-report", headers=headers, params=params)
        if route == "stream":
            return http.get(STREAM, headers=headers, params={**params, "jobId": str(job_id)})
        if route == "create_import":
            return http.post(
                f"{JOBS}/import",
                headers=headers,
                params=params,
                data={"dataset": "contacts"},
                files={"file": ("people.csv", SMALL_CSV)},
            )
        assert route == "create_export"
        body = {"dataset": "products", "format": "csv"}
        return http.post(f"{JOBS}/export", headers=headers, params=params, json=body)


def make_case(world: World, route: str, principal: str) -> Case:
    services = world.services
    if route == "cancel":
        target = pending_export(services)
    elif route == "retry":
        target = failed_export(services)
    elif route == "commit":
        target = completed_dry_run(services)
    elif route == "undo":
        target = completed_upsert(services)
    elif route == "error_report":
        target = completed_import(services)
    elif route in ("rejected", *FIX_ROUTES):
        target = completed_import_to_fix(services)
    else:
        target = completed_export(services)
    decoy = completed_export(services)  # another job of the same owner
    case = Case(world, route, principal, target)
    for owner, scopes in (("t", []), ("u", []), ("root", ["jobs:admin"])):
        case.keys[owner] = create_key(services.engine, owner=owner, scopes=scopes)[1]
    own = services.commands.tokens.mint(job_id=target.id).token
    case.tokens = {
        "own_token": own,
        "other_job_token": services.commands.tokens.mint(job_id=decoy.id).token,
        "tampered_token": tamper(own),
        "expired_token": world.expired_tokens.mint(job_id=target.id).token,
    }
    return case


def sees(route: str, principal: str) -> bool:
    """Whether this principal gets the job's own answer on this route."""
    if principal in ("owner", "admin_key"):
        return True
    return principal == "own_token" and route in READ_ROUTES


def expected_creator(case: Case) -> str | None:
    """Whose job a create makes (None: a brand-new visitor's)."""
    return {
        "owner": OWNER,
        "other_owner_key": "u",
        "admin_key": "root",
        "other_visitor": case.world.visitor_subject,
    }.get(case.principal)


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("route", ROUTES)
def test_matrix(world: World, matrix_counts: Counter[str], route: str, principal: str) -> None:
    case = make_case(world, route, principal)
    services, target = case.services, case.target
    jobs_before = {job.id for job in all_jobs(services)}
    response = case.request(target.id)
    matrix_counts[route] += 1

    if principal in TOKENS and route not in READ_ROUTES:
        check_token_acts_not(case, response, jobs_before)
    elif route in CREATE_ROUTES:
        check_create(case, response, jobs_before)
    elif route == "list":
        check_list(case, response)
    elif sees(route, principal):
        check_sees(case, response, jobs_before)
    else:
        check_refused(case, response, jobs_before)


def check_token_acts_not(case: Case, response: httpx.Response, jobs_before: set[uuid.UUID]) -> None:
    """A token, good or bad, on a route that does not read its job: 401 as for no
    credentials at all, no visitor cookie made for it, and nothing changed or created."""
    assert (response.status_code, response.json()) == (401, SIGN_IN), response.text
    assert COOKIE_NAME not in response.cookies
    after = case.services.store.get(case.target.id)
    assert after is not None
    assert (after.status, after.version) == (case.target.status, case.target.version)
    assert {job.id for job in all_jobs(case.services)} == jobs_before


def check_refused(case: Case, response: httpx.Response, jobs_before: set[uuid.UUID]) -> None:
    """Refused exactly as an unknown job is, and nothing changed."""
    services, target, route = case.services, case.target, case.route
    unknown = case.request(uuid.uuid4())
    token_error = TOKEN_ERRORS.get(case.principal) if route in READ_ROUTES else None
    if route == "stream":
        assert response.status_code == 200
        expected = error_event(token_error) if token_error else NOT_FOUND_EVENT
        assert response.content == expected
        assert unknown.content == expected
    else:
        status, body = (
            (401, {"error": token_error, "status": 401})
            if token_error
            else (
                404,
                NOT_FOUND,
            )
        )
        assert (response.status_code, response.json()) == (status, body), response.text
        assert (unknown.status_code, unknown.json()) == (status, body)
        assert response.headers["content-type"] == unknown.headers["content-type"]
        if token_error:  # a 401 says how to authenticate (RFC 9110, 15.5.2)
            assert response.headers.get("www-authenticate") == "Bearer"
    # Nothing changed: the job is as it was, and no job was made (no retry, nothing).
    after = services.store.get(target.id)
    assert after is not None
    assert (after.status, after.version) == (target.status, target.version)
    assert {job.id for job in all_jobs(services)} == jobs_before


def check_sees(case: Case, response: httpx.Response, jobs_before: set[uuid.UUID]) -> None:
    services, target, route = case.services, case.target, case.route
    if route == "get":
        assert response.status_code == 200, response.text
        assert response.json()["jobId"] == str(target.id)
        assert response.json()["status"] == target.status.value
    elif route == "download":
        assert response.status_code == 200, response.text
        assert response.content == SMALL_CSV
        assert response.headers["cache-control"] == "private, no-store"
        assert 'filename="contacts.csv"' in response.headers["content-disposition"]
    elif route == "error_report":
        assert response.status_code == 200, response.text
        assert response.content == b"row,reason\n2,bad email\n"
        assert 'filename="people-errors.csv"' in response.headers["content-disposition"]
    elif route == "rejected":
        assert response.status_code == 200, response.text
        (row,) = response.json()["rows"]
        assert row["values"] == {"name": "Ada", "email": "ada-at-example"}
    elif route == "fix_check":
        assert response.status_code == 200, response.text
        assert response.json() == {"rows": [{"row": 2, "errors": []}]}
    elif route == "fix_import":
        assert response.status_code == 201, response.text
        made = services.store.get(uuid.UUID(response.json()["jobId"]))
        assert made is not None and made.owner == OWNER and made.fix_of == target.id
        assert {job.id for job in all_jobs(services)} == jobs_before | {made.id}
    elif route == "stream":
        assert response.status_code == 200
        received = [event.data for event in events(response)]
        assert received[0] == {"type": "connected", "jobId": str(target.id)}
        assert [(e["type"], e["status"]) for e in received[1:]] == [("status_update", "COMPLETED")]
    elif route == "cancel":
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "CANCELLED"
        after = services.store.get(target.id)
        assert after is not None and after.status is JobStatus.CANCELLED
    elif route == "retry":
        assert response.status_code == 201, response.text
        retry = services.store.get(uuid.UUID(response.json()["jobId"]))
        assert retry is not None and retry.retry_of == target.id
        assert retry.owner == OWNER  # a retry stays the job owner's, whoever asked
        assert response.json()["accessToken"]
    elif route in ("commit", "undo"):
        assert response.status_code == 201, response.text
        made = services.store.get(uuid.UUID(response.json()["jobId"]))
        assert made is not None and made.owner == OWNER  # the import's owner's, whoever asked
        lineage = made.commit_of if route == "commit" else made.undo_of
        assert lineage == target.id and made.kind is JobKind.IMPORT
        assert {job.id for job in all_jobs(services)} == jobs_before | {made.id}
    elif route == "token":
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["jobId"] == str(target.id) and body["accessTokenExpiresAt"].endswith("Z")
        with fresh(case.world.server) as stranger:
            read = stranger.get(f"{JOBS}/{target.id}", params={"token": body["accessToken"]})
            assert read.status_code == 200 and read.json()["jobId"] == str(target.id)
            # The fresh token reads; it does not act.
            cancel = stranger.post(
                f"{JOBS}/{target.id}/cancel", params={"token": body["accessToken"]}
            )
            assert (cancel.status_code, cancel.json()) == (401, SIGN_IN)
    if route in (*READ_ROUTES, "token", "fix_check"):
        after = services.store.get(target.id)
        assert after is not None and after.version == target.version
        assert {job.id for job in all_jobs(services)} == jobs_before


def check_list(case: Case, response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    listed = [job["jobId"] for job in response.json()["jobs"]]
    if case.principal in ("owner", "admin_key"):
        assert str(case.target.id) in listed
        if case.principal == "owner":
            owners = {case.services.store.get(uuid.UUID(job_id)).owner for job_id in listed}  # type: ignore[union-attr]
            assert owners == {OWNER}
        return
    assert str(case.target.id) not in listed
    if case.principal in ("other_visitor", "other_owner_key"):
        subject = case.world.visitor_subject if case.principal == "other_visitor" else "u"
        owners = {case.services.store.get(uuid.UUID(job_id)).owner for job_id in listed}  # type: ignore[union-attr]
        assert owners <= {subject}
    else:  # nobody's jobs: a caller without credentials (tokens do not count here) is new
        assert response.json() == {"jobs": [], "nextCursor": None}


def check_create(case: Case, response: httpx.Response, jobs_before: set[uuid.UUID]) -> None:
    services = case.services
    assert response.status_code == 201, response.text
    body = response.json()
    made = services.store.get(uuid.UUID(body["jobId"]))
    assert made is not None and made.id not in jobs_before
    assert {job.id for job in all_jobs(services)} == jobs_before | {made.id}
    creator = expected_creator(case)
    if creator is None:
        # A token, or a header the caller wrote, never makes a job the owner's: it is a
        # brand-new visitor's.
        assert made.owner.startswith("visitor:")
        assert made.owner != case.world.visitor_subject
    else:
        assert made.owner == creator
    assert body["accessToken"] and body["kind"] == (
        "IMPORT" if "import" in case.route else "EXPORT"
    )
    with fresh(case.world.server, headers=bearer(case.keys["t"])) as owner:
        owner_view = owner.get(f"{JOBS}/{made.id}")
    if made.owner == OWNER:
        assert owner_view.status_code == 200
    else:
        assert (owner_view.status_code, owner_view.json()) == (404, NOT_FOUND)


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)
def test_the_list_never_pages_or_filters_into_another_owners_jobs(services, server):
    keys = {owner: create_key(services.engine, owner=owner, scopes=[])[1] for owner in "tu"}
    admin = create_key(services.engine, owner="root", scopes=["jobs:admin"])[1]
    theirs = [completed_export(services, "t") for _ in range(3)]
    mine = [pending_export(services, "u") for _ in range(2)]
    with fresh(server, headers=bearer(keys["t"])) as t_client:
        page = t_client.get(JOBS, params={"limit": 1}).json()
    assert page["nextCursor"]
    with fresh(server, headers=bearer(keys["u"])) as u_client:
        # Another owner's cursor only says where to start; the jobs are still the caller's.
        for params in (
            {"cursor": page["nextCursor"]},
            {"status": "COMPLETED"},
            {"kind": "EXPORT", "limit": 200},
            {"cursor": page["nextCursor"], "status": "COMPLETED", "kind": "EXPORT"},
        ):
            listed = u_client.get(JOBS, params=params).json()["jobs"]
            assert {job["jobId"] for job in listed} <= {str(job.id) for job in mine}, params
        bad = u_client.get(JOBS, params={"cursor": "not-a-cursor"})
        assert bad.status_code == 400 and "cursor is not valid" in bad.json()["error"]
    with fresh(server, headers=bearer(admin)) as admin_client:
        seen, cursor = [], None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = admin_client.get(JOBS, params=params).json()
            seen += [job["jobId"] for job in page["jobs"]]
            if not (cursor := page["nextCursor"]):
                break
    assert sorted(seen) == sorted(str(job.id) for job in [*theirs, *mine])


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)
def test_credentials_together_the_stronger_one_decides_and_none_adds_up(services, server, visitor):
    job = completed_export(services)
    token = services.commands.tokens.mint(job_id=job.id).token
    other_key = create_key(services.engine, owner="u", scopes=[])[1]
    revoked_row, revoked = create_key(services.engine, owner=OWNER, scopes=[])
    from jobs_ui.access.api_keys import revoke_key

    revoke_key(services.engine, key_id=revoked_row.id)
    at = f"{JOBS}/{job.id}"
    with fresh(server) as http:
        # An API key decides before a token: another owner's key with the owner's token
        # reads nothing.
        both = http.get(at, params={"token": token}, headers=bearer(other_key))
        assert (both.status_code, both.json()) == (404, NOT_FOUND)
        # A revoked key is refused outright, not taken for a visitor.
        gone = http.get(at, headers=bearer(revoked))
        assert gone.status_code == 401 and "revoked" in gone.json()["error"]
        assert "set-cookie" not in gone.headers
        # A malformed key is refused too, whatever cookie comes with it.
        junk = http.get(JOBS, headers=bearer("jui_" + "0" * 12 + "_" + "x" * 43))
        assert junk.status_code == 401
    # A visitor's own cookie and the owner's token: the token reads its job, and the
    # cookie still cannot act on it.
    assert visitor.get(JOBS).status_code == 200  # the visitor gets its cookie first
    assert visitor.get(at, params={"token": token}).status_code == 200
    assert visitor.post(f"{at}/token", params={"token": token}).json() == NOT_FOUND
    assert visitor.post(f"{at}/retry", params={"token": token}).json() == NOT_FOUND


# =========================================================================================
# 2. The visitor cookie
# =========================================================================================

EMBEDDED = pytest.mark.parametrize("settings", ["embedded"], indirect=True)


def visitor_cookie(response: httpx.Response) -> tuple[str, set[str]]:
    """The value and the (lower-cased) attributes of the one visitor cookie a response sets."""
    (header,) = [h for h in response.headers.get_list("set-cookie") if h.startswith(COOKIE_NAME)]
    name_value, *attributes = [part.strip() for part in header.split(";")]
    return name_value.partition("=")[2], {attribute.lower() for attribute in attributes}


def subject_of(services: Services, cookie: str) -> str:
    principal = services.visitors.principal(cookie)
    assert principal is not None
    return principal.subject


@EMBEDDED
@pytest.mark.parametrize("first", ["list", "stream", "create"])
def test_the_first_response_sets_an_httponly_lax_cookie(server, services, first):
    with fresh(server) as http:
        if first == "list":
            response = http.get(JOBS)
        elif first == "stream":
            response = http.get(STREAM, params={"jobId": str(uuid.uuid4())})
        else:
            response = http.post(f"{JOBS}/export", json={"dataset": "contacts"})
        assert response.status_code in (200, 201), response.text
        value, attributes = visitor_cookie(response)
        assert {"httponly", "samesite=lax", "path=/"} <= attributes
        assert "secure" not in attributes  # plain http on loopback: a Secure cookie would vanish
        assert f"max-age={400 * 24 * 3600}" in attributes
        subject = subject_of(services, value)
        assert subject.startswith("visitor:")
        # The next request carries it, and is not given another.
        again = http.get(JOBS)
        assert "set-cookie" not in again.headers
        if first == "create":
            # The first request and the next agree on who it is: the job is this visitor's.
            job_id = response.json()["jobId"]
            assert services.store.get(uuid.UUID(job_id)).owner == subject
            assert [job["jobId"] for job in again.json()["jobs"]] == [job_id]
            assert http.get(f"{JOBS}/{job_id}").status_code == 200


@EMBEDDED
def test_a_visitor_keeps_its_jobs_and_sees_no_one_elses(server, services, client):
    theirs = client.post(f"{JOBS}/export", json={"dataset": "contacts"}).json()["jobId"]
    with fresh(server) as http:
        mine = [
            http.post(f"{JOBS}/export", json={"dataset": d}).json()["jobId"]
            for d in ("contacts", "products")
        ]
        listed = [job["jobId"] for job in http.get(JOBS).json()["jobs"]]
        assert listed == mine[::-1]
        for job_id in mine:
            assert http.get(f"{JOBS}/{job_id}").status_code == 200
        assert http.get(f"{JOBS}/{theirs}").json() == NOT_FOUND
        owners = {services.store.get(uuid.UUID(job_id)).owner for job_id in mine}
        assert owners == {subject_of(services, http.cookies[COOKIE_NAME])}


FORGERIES: dict[str, Callable[[str], str]] = {
    "unsigned-junk": lambda value: "abc",
    "id-without-signature": lambda value: value.rpartition(".")[0],
    "id-with-forged-signature": lambda value: value.rpartition(".")[0] + "." + "A" * 27,
    "signature-extended": lambda value: value + "x",
    "oversized": lambda value: "x" * 300,
}


@EMBEDDED
def test_a_forged_visitor_cookie_is_replaced_by_a_new_visitor(server, services):
    with fresh(server) as owner:
        job = pending_export(services, subject_of(services, owner.get(JOBS).cookies[COOKIE_NAME]))
        real = owner.cookies[COOKIE_NAME]
        assert [j["jobId"] for j in owner.get(JOBS).json()["jobs"]] == [str(job.id)]
    for name, forge in FORGERIES.items():
        forged = forge(real)
        with fresh(server, cookies={COOKIE_NAME: forged}) as http:
            response = http.get(JOBS)
            assert response.json() == {"jobs": [], "nextCursor": None}, name
            value, _ = visitor_cookie(response)
            assert value not in (forged, real), name
            assert subject_of(services, value) != subject_of(services, real), name
            assert http.get(f"{JOBS}/{job.id}").json() == NOT_FOUND, name
            assert http.post(f"{JOBS}/{job.id}/cancel").json() == NOT_FOUND, name
    assert services.store.get(job.id).status is JobStatus.PENDING


@EMBEDDED
def test_a_cookie_signed_by_another_deployment_is_not_accepted(server, services, tmp_path):
    other = Services.from_settings(embedded(tmp_path / "other"))
    foreign = other.visitors.mint()
    with fresh(server, cookies={COOKIE_NAME: foreign}) as http:
        value, _ = visitor_cookie(http.get(JOBS))
        assert value != foreign
    assert services.visitors.principal(foreign) is None


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)
def test_auth_required_refuses_callers_without_credentials(serve, settings, tmp_path):
    services, server = serve(settings.model_copy(update={"auth": "required"}))
    sign_in = "Sign in, or send an API key as Authorization: Bearer <key>."
    job = pending_export(services)
    with fresh(server) as http:
        for response in (
            http.get(JOBS),
            http.get(f"{JOBS}/{job.id}"),
            http.post(f"{JOBS}/export", json={"dataset": "contacts"}),
            http.post(f"{JOBS}/{job.id}/cancel"),
        ):
            assert (response.status_code, response.json()) == (
                401, {"error": sign_in, "status": 401},
            )  # fmt: skip
            assert "set-cookie" not in response.headers
            assert response.headers.get("www-authenticate") == "Bearer"
        stream = http.get(STREAM, params={"jobId": str(job.id)})
        assert stream.content == error_event(sign_in)
        assert "set-cookie" not in stream.headers
        # A visitor cookie the same keys signed (from before the switch) is no way in either.
        http.cookies.set(COOKIE_NAME, services.visitors.mint())
        assert http.get(JOBS).status_code == 401
    assert [j.id for j in all_jobs(services)] == [job.id]
    assert services.store.get(job.id).status is JobStatus.PENDING
    key = create_key(services.engine, owner=OWNER, scopes=[])[1]
    with fresh(server, headers=bearer(key)) as http:
        assert http.get(f"{JOBS}/{job.id}").status_code == 200
        created = http.post(f"{JOBS}/export", json={"dataset": "contacts"})
        assert created.status_code == 201 and "set-cookie" not in created.headers
        # The job's access token still reads it, without credentials.
        token = created.json()["accessToken"]
    with fresh(server) as http:
        read = http.get(f"{JOBS}/{created.json()['jobId']}", params={"token": token})
        assert read.status_code == 200 and "set-cookie" not in read.headers


# =========================================================================================
# 3. Other sites: CORS, cross-site requests, hosts, headers, docs
# =========================================================================================

PREFLIGHT = {"Origin": EVIL, "Access-Control-Request-Method": "POST"}


@EMBEDDED
def test_a_foreign_origin_gets_no_cors_grant_preflight_or_not(server, client):
    paths = (f"{JOBS}/export", f"{JOBS}/import", JOBS, STREAM, f"{JOBS}/{uuid.uuid4()}/cancel")
    with fresh(server) as http:
        for path in paths:
            response = http.options(
                path, headers={**PREFLIGHT, "Access-Control-Request-Headers": "content-type"}
            )
            assert response.status_code >= 400, path
            assert "access-control-allow-origin" not in response.headers, path
            assert "access-control-allow-credentials" not in response.headers, path
    # Nor may it read what a request of its own gets back.
    response = client.get(JOBS, headers={"Origin": EVIL})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)
def test_an_allowed_origin_is_answered_and_may_act(serve, settings):
    app = "https://app.example"
    services, server = serve(settings.model_copy(update={"allowed_origins": f"{app}/"}))
    with fresh(server) as http:
        preflight = http.options(f"{JOBS}/export", headers={**PREFLIGHT, "Origin": app})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == app
        assert preflight.headers["access-control-allow-credentials"] == "true"
        created = http.post(f"{JOBS}/export", json={"dataset": "contacts"}, headers={"Origin": app})
        assert created.status_code == 201, created.text
        assert created.headers["access-control-allow-origin"] == app
        # An origin that merely starts like the allowed one is foreign.
        for lookalike in (f"{app}.evil.example", "http://app.example", f"{app}:8443"):
            refused = http.post(
                f"{JOBS}/export", json={"dataset": "contacts"}, headers={"Origin": lookalike}
            )
            assert refused.status_code == 403, lookalike
            assert "access-control-allow-origin" not in refused.headers
    assert len(all_jobs(services)) == 1


CROSS_SITE = {
    "foreign-origin": {"Origin": EVIL},
    "sec-fetch-site": {"Sec-Fetch-Site": "cross-site"},
    "null-origin": {"Origin": "null"},
    "sibling-port": {"Origin": "http://127.0.0.1:1"},
    # A site behind HTTP basic auth: the browser adds this header to every request to it,
    # cross-site form posts included, so it proves nothing about who sent the request.
    "basic-auth-header": {"Origin": EVIL, "Authorization": "Basic dXNlcjpwYXNz"},
}
REFUSED_CROSS_SITE = {
    "error": "Requests from other sites may not act for this visitor.",
    "status": 403,
}


CROSS_SITE_ROUTES = (
    "create_export",
    "create_import",
    "inspect",
    "cancel",
    "retry",
    "commit",
    "undo",
    "token",
    "rejected/validate",
    "rejected/import",
)


@EMBEDDED
@pytest.mark.parametrize("headers", CROSS_SITE.values(), ids=CROSS_SITE.keys())
def test_a_cross_site_post_with_the_visitors_cookie_changes_nothing(visitor, services, headers):
    assert visitor.get(JOBS).status_code == 200
    subject = subject_of(services, visitor.cookies[COOKIE_NAME])
    pending, failed = pending_export(services, subject), failed_export(services, subject)
    dry, upsert = completed_dry_run(services, subject), completed_upsert(services, subject)
    to_fix = completed_import_to_fix(services, subject)
    targets = {"retry": failed, "commit": dry, "undo": upsert}
    targets |= {"rejected/validate": to_fix, "rejected/import": to_fix}
    before = {job.id: (job.status, job.version) for job in all_jobs(services)}
    for route in CROSS_SITE_ROUTES:
        if route == "create_export":
            response = visitor.post(f"{JOBS}/export", json={"dataset": "contacts"}, headers=headers)
        elif route in ("create_import", "inspect"):
            response = visitor.post(
                f"{JOBS}/{'import' if route == 'create_import' else 'inspect'}",
                data={"dataset": "contacts"},
                files={"file": ("a.csv", SMALL_CSV)},
                headers=headers,
            )
        else:
            job = targets.get(route, pending)
            body = FIXED_EMAIL if route.startswith("rejected/") else None
            response = visitor.post(f"{JOBS}/{job.id}/{route}", headers=headers, json=body)
        if "Authorization" in headers:
            # Credentials nobody recognises are refused as such; never the cookie instead.
            assert response.status_code in (401, 403), (route, response.text)
        else:
            assert (response.status_code, response.json()) == (403, REFUSED_CROSS_SITE), route
        assert response.headers["x-content-type-options"] == "nosniff"
        assert {job.id: (job.status, job.version) for job in all_jobs(services)} == before, route
        # No file was taken in: only the dry run's own upload is there.
        uploads = [p.name for p in (services.settings.data_dir / "uploads").iterdir()]
        assert uploads == [str(dry.id)], route
        assert list((services.settings.data_dir / "inspected").iterdir()) == [], route
    # The same visitor, from its own pages, may.
    same_origin = {"Origin": str(visitor.base_url).rstrip("/"), "Sec-Fetch-Site": "same-origin"}
    assert visitor.post(f"{JOBS}/{pending.id}/cancel", headers=same_origin).status_code == 200


@EMBEDDED
def test_same_origin_and_api_key_posts_are_allowed(server, services, client, visitor):
    own = f"http://127.0.0.1:{server.port}"
    created = visitor.post(f"{JOBS}/export", json={"dataset": "contacts"}, headers={"Origin": own})
    assert created.status_code == 201, created.text
    # TLS ended at a proxy in front: the page is https, the server sees http.
    behind_proxy = visitor.post(
        f"{JOBS}/export",
        json={"dataset": "contacts"},
        headers={"Origin": f"https://127.0.0.1:{server.port}"},
    )
    assert behind_proxy.status_code == 201
    # No Origin at all (curl, scripts): not a browser's cross-site request.
    assert visitor.post(f"{JOBS}/export", json={"dataset": "contacts"}).status_code == 201
    # A key is not carried by the browser by itself, so a foreign Origin proves nothing.
    keyed = client.post(
        f"{JOBS}/export",
        json={"dataset": "contacts"},
        headers={"Origin": EVIL, "Sec-Fetch-Site": "cross-site"},
    )
    assert keyed.status_code == 201, keyed.text
    assert services.store.get(uuid.UUID(keyed.json()["jobId"])).owner == OWNER


HOST_REFUSED = {"error": "This server does not answer for that host name.", "status": 400}


UNKNOWN_HOSTS = (
    "evil.example",
    "127.0.0.1.evil.example",
    "localhost.evil.example:80",
    "",
    "127.0.0.2",
)


@EMBEDDED
def test_unknown_host_headers_are_refused(server, client):
    for host in UNKNOWN_HOSTS:
        for response in (
            client.get(JOBS, headers={"Host": host}),
            client.post(f"{JOBS}/export", json={"dataset": "contacts"}, headers={"Host": host}),
            client.get(STREAM, params={"jobId": str(uuid.uuid4())}, headers={"Host": host}),
        ):
            assert (response.status_code, response.json()) == (400, HOST_REFUSED), host
            assert "set-cookie" not in response.headers
    assert client.get(JOBS).json() == {"jobs": [], "nextCursor": None}


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)
def test_a_preflight_for_an_unknown_host_is_refused_like_any_request(serve, settings):
    app = "https://app.example"
    _services, server = serve(settings.model_copy(update={"allowed_origins": app}))
    headers = {**PREFLIGHT, "Origin": app, "Host": "evil.example"}
    with fresh(server) as http:
        response = http.options(f"{JOBS}/export", headers=headers)
    assert response.status_code == 400, response.headers
    assert response.json() == HOST_REFUSED
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)
def test_allowed_hosts_admit_the_configured_ones(serve, settings):
    _services, server = serve(
        settings.model_copy(update={"allowed_hosts": "jobs.example, .corp.example"})
    )
    with fresh(server) as http:
        for host in ("jobs.example", "JOBS.example:8443", "corp.example", "a.b.corp.example"):
            assert http.get(JOBS, headers={"Host": host}).status_code == 200, host
        for host in (
            "127.0.0.1",
            "localhost",
            "evil-jobs.example",
            "notcorp.example",
            "corp.example.evil",
        ):
            assert http.get(JOBS, headers={"Host": host}).json() == HOST_REFUSED, host
        # The page's own origin is the configured host's.
        same = {"Host": "jobs.example", "Origin": "https://jobs.example"}
        assert (
            http.post(f"{JOBS}/export", json={"dataset": "contacts"}, headers=same).status_code
            == 201
        )


def assert_security_headers(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in policy


@EMBEDDED
def test_every_kind_of_api_response_carries_the_security_headers(server, services, client):
    done = completed_export(services)
    with fresh(server) as http:
        responses = [
            client.get(JOBS),
            client.get(f"{JOBS}/{uuid.uuid4()}"),
            client.get(f"{JOBS}/{done.id}/download"),
            client.get(STREAM, params={"jobId": str(done.id)}),
            client.get(f"{JOBS}/nothing/here"),
            http.get(JOBS, headers={"Host": "evil.example"}),
            http.post(f"{JOBS}/export", json={"dataset": "contacts"}, headers={"Origin": EVIL}),
            client.post(
                f"{JOBS}/export",
                content=b"x" * (64 * 1024 + 1),
                headers={"content-type": "application/json"},
            ),
            http.get(JOBS, params={"token": "x"}),
            http.options(f"{JOBS}/export", headers=PREFLIGHT),
        ]
    for response in responses:
        assert_security_headers(response)


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)
@pytest.mark.parametrize("docs", [True, False])
def test_api_docs_can_be_turned_off(serve, settings, docs):
    _services, server = serve(settings.model_copy(update={"api_docs": docs}))
    with fresh(server) as http:
        for path in ("/api/import-export/docs", "/api/import-export/openapi.json"):
            assert http.get(path).status_code == (200 if docs else 404), path
        assert http.get("/openapi.json").status_code == 404
        assert http.get("/docs").status_code == 404
        if not docs:
            assert (
                http.get("/api/import-export/openapi.json").headers["content-type"]
                == "application/json"
            )


# =========================================================================================
# 4. Limits
# =========================================================================================


def stored_files(services: Services) -> list[str]:
    """Every job file in the data dir (uploads, exports, reports, scratch)."""
    root = services.settings.data_dir
    folders = ("uploads", "exports", "reports", "scratch")
    return sorted(str(p.relative_to(root)) for name in folders for p in (root / name).rglob("*"))


def test_the_sixth_active_job_is_refused_with_retry_after(services, client, server, tmp_path):
    active = [pending_export(services) for _ in range(4)]
    running = pending_export(services)
    services.store.start(running.id)  # PROCESSING counts as active too
    failed = failed_export(services)  # ended jobs do not count
    before = {job.id for job in all_jobs(services)}
    csv = tmp_path / "a.csv"
    csv.write_bytes(SMALL_CSV)
    with csv.open("rb") as handle:
        responses = [
            client.post(f"{JOBS}/export", json={"dataset": "contacts"}),
            client.post(
                f"{JOBS}/import", data={"dataset": "contacts"}, files={"file": ("a.csv", handle)}
            ),
            client.post(f"{JOBS}/{failed.id}/retry"),
        ]
    for response in responses:
        assert response.status_code == 429, response.text
        assert response.headers["retry-after"] == "5"
        assert "5 jobs waiting or running" in response.json()["error"]
    assert {job.id for job in all_jobs(services)} == before
    assert stored_files(services) == []
    # Another principal is not held back by this one's jobs.
    with fresh(server) as stranger:
        assert stranger.post(f"{JOBS}/export", json={"dataset": "contacts"}).status_code == 201
    # One ending makes room for one more.
    client.post(f"{JOBS}/{active[0].id}/cancel")
    assert client.post(f"{JOBS}/export", json={"dataset": "contacts"}).status_code == 201


def test_racing_creates_cannot_pass_the_active_job_limit_together(services):
    quota = Quota(max_active_jobs=5, max_stored_bytes=10**12)
    outcomes: list[str] = []
    start = threading.Barrier(12)

    def create() -> None:
        start.wait()
        try:
            pending_export(services, "racer", quota=quota)
            outcomes.append("created")
        except QuotaExceededError as error:
            outcomes.append(str(error.status))

    threads = [threading.Thread(target=create) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["429"] * 7 + ["created"] * 5
    assert services.store.usage("racer").active_jobs == 5


SMALL_CONTACTS = b"name,email\n" + b"A" * 974 + b",a@example.com\n"  # 1,000 bytes


def test_stored_bytes_over_the_limit_are_refused_with_413(serve, settings, tmp_path):
    services, server = serve(settings.model_copy(update={"max_stored_bytes": 1000}))
    key = create_key(services.engine, owner=OWNER, scopes=[])[1]
    big = tmp_path / "big.csv"
    big.write_bytes(b"name,email\n" + b"Ada,ada@example.com\n" * 60)  # 1,211 bytes
    with fresh(server, headers=bearer(key)) as http:
        with big.open("rb") as handle:
            response = http.post(
                f"{JOBS}/import", data={"dataset": "contacts"}, files={"file": ("big.csv", handle)}
            )
        assert response.status_code == 413, response.text
        assert "this would pass it" in response.json()["error"]
        assert all_jobs(services) == [] and stored_files(services) == []
        # Within the limit it goes in; then the owner's stored files are at the limit.
        small = http.post(
            f"{JOBS}/import",
            data={"dataset": "contacts"},
            files={"file": ("a.csv", SMALL_CONTACTS)},
        )
        assert small.status_code == 201, small.text
    used = pending_export(services, "full", stored_bytes=1001)
    other = create_key(services.engine, owner="full", scopes=[])[1]
    with fresh(server, headers=bearer(other)) as http:
        response = http.post(f"{JOBS}/export", json={"dataset": "contacts"})
        assert response.status_code == 413 and "this would pass it" in response.json()["error"]
    assert [job.id for job in all_jobs(services) if job.owner == "full"] == [used.id]


STREAM_LIMIT = 3


def open_stream(
    http: httpx.Client, held: contextlib.ExitStack, job_id: uuid.UUID, token: str | None = None
) -> httpx.Response:
    params = {"jobId": str(job_id), **({"token": token} if token else {})}
    response = held.enter_context(http.stream("GET", STREAM, params=params))
    if response.status_code == 200:
        lines = response.iter_lines()
        assert next(lines).startswith("retry:")  # the server is streaming
        # Kept until the stack closes: dropping the line iterator would close the response.
        held.callback(lines.close)
    else:
        response.read()
    return response


def assert_too_many_streams(response: httpx.Response) -> None:
    assert response.status_code == 429
    assert response.headers["retry-after"] == "10"
    assert f"You have {STREAM_LIMIT} status streams open" in response.json()["error"]


def wait_until_accepted(http: httpx.Client, job_id: uuid.UUID, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with http.stream("GET", STREAM, params={"jobId": str(job_id)}) as response:
            if response.status_code == 200:
                return
        assert time.monotonic() < deadline, "a closed stream did not give its slot back"
        time.sleep(0.05)


def limited_streams(settings: Settings) -> Settings:
    """At most STREAM_LIMIT streams, in a Redis namespace of this test's own (slots a
    stopped server left behind lapse only after a minute)."""
    update: dict[str, Any] = {"max_open_streams": STREAM_LIMIT}
    if settings.redis_url:
        update["namespace"] = f"{settings.namespace}-{uuid.uuid4().hex[:8]}"
    return settings.model_copy(update=update)


def test_the_stream_after_the_limit_is_refused_until_one_closes(serve, settings):
    services, server = serve(limited_streams(settings))
    key = create_key(services.engine, owner=OWNER, scopes=[])[1]
    jobs = [pending_export(services) for _ in range(STREAM_LIMIT + 1)]
    with fresh(server, headers=bearer(key)) as http, contextlib.ExitStack() as held:
        first = contextlib.ExitStack()
        held.enter_context(first)
        assert open_stream(http, first, jobs[0].id).status_code == 200
        for job in jobs[1:STREAM_LIMIT]:
            assert open_stream(http, held, job.id).status_code == 200
        assert_too_many_streams(open_stream(http, held, jobs[-1].id))
        # Readers of a job's token count apart: the owner at its limit does not stop them,
        # and their streams (as many per job as one principal's) never take the owner's.
        token = services.commands.tokens.mint(job_id=jobs[-1].id).token
        with fresh(server) as stranger, contextlib.ExitStack() as readers:
            for _ in range(STREAM_LIMIT):
                assert open_stream(stranger, readers, jobs[-1].id, token).status_code == 200
            assert_too_many_streams(open_stream(stranger, readers, jobs[-1].id, token))
            # Someone else's streams are theirs.
            other = pending_export(services, "u")
            stranger.headers.update(bearer(create_key(services.engine, owner="u", scopes=[])[1]))
            with contextlib.ExitStack() as theirs:
                assert open_stream(stranger, theirs, other.id).status_code == 200
        first.close()  # the client leaves: its slot comes back
        wait_until_accepted(http, jobs[-1].id)


def test_streams_opened_and_closed_in_turn_do_not_use_up_the_limit(serve, settings):
    """As a visitor moving between pages does: each page's stream closes as the next opens."""
    services, server = serve(limited_streams(settings))
    key = create_key(services.engine, owner=OWNER, scopes=[])[1]
    job = pending_export(services)
    with fresh(server, headers=bearer(key)) as http:
        for _ in range(2 * STREAM_LIMIT):
            with contextlib.ExitStack() as page:
                assert open_stream(http, page, job.id).status_code == 200
            time.sleep(0.1)  # the server hears the client leave
        wait_until_accepted(http, job.id, timeout=3)


@pytest.mark.parametrize("settings", ["scaled"], indirect=True)
def test_the_stream_limit_is_shared_by_every_backend(serve, settings):
    limited = limited_streams(settings)
    services, one = serve(limited)
    _, two = serve(limited)  # a second backend process would share Redis the same way
    key = create_key(services.engine, owner=OWNER, scopes=[])[1]
    jobs = [pending_export(services) for _ in range(STREAM_LIMIT + 1)]
    with (
        fresh(one, headers=bearer(key)) as on_one,
        fresh(two, headers=bearer(key)) as on_two,
        contextlib.ExitStack() as held,
    ):
        closing = contextlib.ExitStack()
        held.enter_context(closing)
        assert open_stream(on_one, closing, jobs[0].id).status_code == 200
        assert open_stream(on_one, held, jobs[1].id).status_code == 200
        assert open_stream(on_two, held, jobs[2].id).status_code == 200
        assert_too_many_streams(open_stream(on_two, held, jobs[3].id))
        assert_too_many_streams(open_stream(on_one, held, jobs[3].id))
        closing.close()  # closed on backend one: backend two may open one again
        wait_until_accepted(on_two, jobs[3].id)


async def test_redis_stream_slots_are_shared_lapse_and_free(monkeypatch):
    import redis.asyncio as aioredis

    from jobs_ui.access import stream_slots
    from jobs_ui.access.stream_slots import RedisStreamSlots, TooManyStreamsError

    require_redis()
    namespace = f"test-{uuid.uuid4().hex[:10]}"
    one = RedisStreamSlots(REDIS_TEST_URL, namespace, 2)
    two = RedisStreamSlots(REDIS_TEST_URL, namespace, 2)
    raw = aioredis.Redis.from_url(REDIS_TEST_URL)
    key = f"{namespace}:stream-slots:{OWNER}"
    try:
        async with contextlib.AsyncExitStack() as held:
            await held.enter_async_context(one.hold(OWNER))
            await held.enter_async_context(two.hold(OWNER))
            for slots in (one, two):
                with pytest.raises(TooManyStreamsError):
                    await held.enter_async_context(slots.hold(OWNER))
            assert await raw.zcard(key) == 2  # a refusal takes nothing
            async with one.hold("u"):  # another owner's slots are its own
                pass
        assert await raw.zcard(key) == 0  # closed streams give their slots back
        # A stream that ends with an error gives its slot back too.
        with pytest.raises(RuntimeError):
            async with one.hold(OWNER):
                raise RuntimeError("the client went away")
        assert await raw.zcard(key) == 0
        # Slots of a backend that died (never refreshed) lapse by themselves.
        await raw.zadd(key, {"dead-1": time.time() - 1, "dead-2": time.time() - 1})
        async with one.hold(OWNER), two.hold(OWNER):
            assert await raw.zcard(key) == 2
        # A live backend keeps its slots from lapsing while they are open.
        monkeypatch.setattr(stream_slots, "REFRESH_SECONDS", 0.05)
        async with one.hold(OWNER):
            ((_, first_score),) = await raw.zrange(key, 0, -1, withscores=True)
            upkeep = asyncio.ensure_future(one.run())
            try:
                await asyncio.sleep(0.3)
            finally:
                upkeep.cancel()
            ((_, refreshed),) = await raw.zrange(key, 0, -1, withscores=True)
            assert refreshed > first_score
    finally:
        await raw.delete(key, f"{namespace}:stream-slots:u")
        await raw.aclose()


async def test_redis_stream_slots_let_streams_through_while_redis_is_down(caplog):
    from jobs_ui.access.stream_slots import RedisStreamSlots

    slots = RedisStreamSlots("redis://127.0.0.1:1/0", "down", 1)
    async with slots.hold(OWNER), slots.hold(OWNER):
        pass
    assert "stream limit not checked" in caplog.text


JSON_LIMIT = 64 * 1024
JSON_REFUSED = {"error": "The request body is larger than the 64 KB limit.", "status": 413}


def padded_json(size: int) -> bytes:
    """A valid export request of exactly `size` bytes."""
    head, tail = b'{"dataset":"contacts"', b"}"
    return head + b" " * (size - len(head) - len(tail)) + tail


def chunks(body: bytes, size: int = 8 * 1024) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@EMBEDDED
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_json_body_over_64_kb_is_refused_with_413(client, services, chunked):
    job = pending_export(services)
    json_type = {"content-type": "application/json"}

    def post(url: str, body: bytes) -> httpx.Response:
        return client.post(url, content=chunks(body) if chunked else body, headers=json_type)

    # A declared length is refused on every route, a chunked body as a route reads it (the
    # routes that take no body never read one, so none of it is spooled either).
    urls = [f"{JOBS}/export"]
    if not chunked:
        urls += [f"{JOBS}/{job.id}/cancel", f"{JOBS}/{job.id}/token", f"{JOBS}/{job.id}/retry"]
    for url in urls:
        response = post(url, padded_json(JSON_LIMIT + 1))
        assert (response.status_code, response.json()) == (413, JSON_REFUSED), url
        assert response.headers["connection"] == "close"
    assert [j.id for j in all_jobs(services)] == [job.id]
    assert services.store.get(job.id).status is JobStatus.PENDING
    # Exactly at the limit is still a request.
    assert post(f"{JOBS}/export", padded_json(JSON_LIMIT)).status_code == 201


UPLOAD_LIMIT = 100 * 1024
BOUNDARY = "adversarial-boundary"


def multipart(file_bytes: bytes, *, name: str = "big.csv") -> bytes:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="dataset"\r\n\r\ncontacts\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    return head + file_bytes + f"\r\n--{BOUNDARY}--\r\n".encode()


def csv_of(size: int) -> bytes:
    header = b"name,email\n"
    row = b"Ada,ada@example.com\n"
    body = header + row * ((size - len(header)) // len(row) + 1)
    return body[:size]


FAR_OVER = "The file is larger than the 100 KB limit."


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)
@pytest.mark.parametrize(
    ("path", "file_size", "message", "chunked"),
    [
        pytest.param(f"{JOBS}/import", 3 * UPLOAD_LIMIT, FAR_OVER, False, id="import-declared"),
        pytest.param(f"{JOBS}/import", 3 * UPLOAD_LIMIT, FAR_OVER, True, id="import-chunked"),
        pytest.param(f"{JOBS}/import", UPLOAD_LIMIT + 1, None, False, id="just-over-declared"),
        pytest.param(f"{JOBS}/import", UPLOAD_LIMIT + 1, None, True, id="just-over-chunked"),
        # Reflex's own upload route is not mounted here: the guard in front answers first.
        # (A chunked body is cut off as a route reads it: tests/access/test_guard.py.)
        pytest.param("/_upload", 3 * UPLOAD_LIMIT, FAR_OVER, False, id="reflex-upload-declared"),
    ],
)
def test_an_upload_over_the_limit_is_refused_and_leaves_nothing(
    serve, settings, path, file_size, message, chunked
):
    services, server = serve(settings.model_copy(update={"max_upload_bytes": UPLOAD_LIMIT}))
    key = create_key(services.engine, owner=OWNER, scopes=[])[1]
    body = multipart(csv_of(file_size))
    headers = {**bearer(key), "content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    with fresh(server) as http:
        response = http.post(path, content=chunks(body) if chunked else body, headers=headers)
        assert response.status_code == 413, response.text
        error = response.json()["error"]
        assert error == message if message else "larger than" in error
        assert all_jobs(services) == [] and stored_files(services) == []
        # Within the limit the same upload goes in.
        within = http.post(
            f"{JOBS}/import", content=multipart(csv_of(UPLOAD_LIMIT)), headers=headers
        )
        assert within.status_code == 201, within.text


# =========================================================================================
# 7. Tokens never reach a log
# =========================================================================================


@EMBEDDED
def test_access_tokens_never_appear_in_logs(server, services, client, caplog, monkeypatch):
    from uvicorn.logging import AccessFormatter

    done = completed_export(services)
    running = pending_export(services)
    token = client.post(f"{JOBS}/{done.id}/token").json()["accessToken"]
    other = services.commands.tokens.mint(job_id=running.id).token
    expired = JobTokens(signing_keys(services.settings), lifetime_seconds=-1)
    stale = expired.mint(job_id=done.id).token

    # The server's access log as uvicorn formats it, with every logger at DEBUG.
    formatted: list[str] = []
    failures: list[BaseException] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:  # as logging.StreamHandler does: a record it cannot format is an error
                formatted.append(self.format(record))
            except Exception:
                self.handleError(record)

        def handleError(self, record: logging.LogRecord) -> None:
            failures.append(sys.exc_info()[1])  # type: ignore[arg-type]

    keep = Keep()
    keep.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s'))
    access = logging.getLogger("uvicorn.access")
    monkeypatch.setattr(access, "handlers", [keep])
    monkeypatch.setattr(access, "propagate", True)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="uvicorn.access")

    with fresh(server) as http:
        assert http.get(f"{JOBS}/{done.id}", params={"token": token}).status_code == 200
        assert http.get(f"{JOBS}/{done.id}/download", params={"token": token}).status_code == 200
        assert http.get(STREAM, params={"jobId": str(done.id), "token": token}).status_code == 200
        assert http.get(f"{JOBS}/{done.id}", params={"token": other}).status_code == 401
        assert http.get(f"{JOBS}/{done.id}", params={"token": stale}).status_code == 401
        assert http.get(f"{JOBS}/{done.id}", params={"token": tamper(token)}).status_code == 401
        assert (
            http.post(f"{JOBS}/{done.id}/cancel", params={"token": token}).status_code == 401
        )  # a token never acts
    deadline = time.monotonic() + 2
    while len(formatted) < 7 and time.monotonic() < deadline:
        time.sleep(0.02)

    assert not failures, f"the access log could not format a redacted record: {failures!r}"
    assert len(formatted) >= 7 and any(f"/jobs/{done.id}" in line for line in formatted)
    texts = [record.getMessage() for record in caplog.records] + formatted
    assert any("token=" in text for text in texts)  # the requests were logged, redacted
    for secret in (token, other, stale, tamper(token)):
        leaking = [text for text in texts if secret in text or secret[:40] in text]
        assert not leaking, leaking
