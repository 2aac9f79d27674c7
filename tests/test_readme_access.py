"""The README's access example, run as written: the host app's session cookie identifies its
users, and contacts exports need the contacts:export scope."""

from __future__ import annotations

import re
import types
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jobs_ui.access import hooks
from jobs_ui.access.api_keys import create_key
from jobs_ui.settings import Settings
from tests.conftest import TEST_UPLOAD_LIMIT

README = Path(__file__).resolve().parents[1] / "README.md"
EXPORT = "/api/import-export/jobs/export"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:  # the hooks do not depend on the deployment
    return Settings(JOBS_UI_DATA_DIR=tmp_path / "data", JOBS_UI_MAX_UPLOAD_BYTES=TEST_UPLOAD_LIMIT)


@pytest.fixture
def example() -> Iterator[types.ModuleType]:
    section = README.read_text().split("## Access: your own sign-in", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)  # type: ignore[union-attr]
    module = types.ModuleType("access_example")
    exec(compile(code, "README.md#access", "exec"), module.__dict__)
    try:
        yield module
    finally:
        hooks.set_identify(None)
        hooks.set_authorize(None)


def signed_in(server, example, user_id: int, scopes: list[str]) -> httpx.Client:
    session = example.host_sessions.dumps({"id": user_id, "scopes": scopes})
    return httpx.Client(base_url=server.url, cookies={"session": session}, timeout=10)


def test_the_host_apps_users_own_their_jobs(server, services, example):
    with signed_in(server, example, 42, []) as ada, httpx.Client(base_url=server.url) as visitor:
        created = ada.post(EXPORT, json={"dataset": "products"})
        assert created.status_code == 201
        assert services.store.get(uuid.UUID(created.json()["jobId"])).owner == "user:42"
        job_url = f"/api/import-export/jobs/{created.json()['jobId']}"
        assert ada.get(job_url).status_code == 200
        assert visitor.get(job_url).json() == {"error": "Job not found", "status": 404}
        # A forged session cookie is no session: that caller is a visitor, who sees nothing.
        forged = httpx.Client(base_url=server.url, cookies={"session": "eyJpZCI6NDJ9.forged"})
        with forged:
            assert forged.get(job_url).status_code == 404
        # An API key of the same owner sees the same jobs.
        key = create_key(services.engine, owner="user:42", scopes=[])[1]
        listed = visitor.get(
            "/api/import-export/jobs", headers={"Authorization": f"Bearer {key}"}
        ).json()
        assert [job["jobId"] for job in listed["jobs"]] == [created.json()["jobId"]]


def test_contacts_exports_need_their_scope(server, example):
    with (
        signed_in(server, example, 7, []) as plain,
        signed_in(server, example, 8, ["contacts:export"]) as trusted,
    ):
        refused = plain.post(EXPORT, json={"dataset": "contacts"})
        assert refused.json() == {"error": "You may not export contacts.", "status": 403}
        assert plain.get("/api/import-export/jobs").json()["jobs"] == []  # nothing was made
        assert plain.post(EXPORT, json={"dataset": "products"}).status_code == 201
        assert trusted.post(EXPORT, json={"dataset": "contacts"}).status_code == 201
