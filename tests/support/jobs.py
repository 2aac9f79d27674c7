"""Helpers to drive jobs through the HTTP API in tests."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

FINAL = {"COMPLETED", "FAILED", "CANCELLED"}


def upload(
    client: httpx.Client, path: Path, *, dataset: str = "contacts", name: str | None = None
) -> httpx.Response:
    with path.open("rb") as handle:
        return client.post(
            "/api/import-export/jobs/import",
            data={"dataset": dataset},
            files={"file": (name or path.name, handle)},
        )


def start_import(client: httpx.Client, path: Path, *, dataset: str = "contacts") -> dict[str, Any]:
    response = upload(client, path, dataset=dataset)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def start_export(
    client: httpx.Client, *, dataset: str = "contacts", fmt: str = "csv", search: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"dataset": dataset, "format": fmt}
    if search is not None:
        body["filter"] = search
    response = client.post("/api/import-export/jobs/export", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def wait_for_end(client: httpx.Client, job_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/import-export/jobs/{job_id}").json()
        if job["status"] in FINAL:
            return job  # type: ignore[no-any-return]
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not end within {timeout}s")


def write_csv(path: Path, lines: list[str], *, encoding: str = "utf-8") -> Path:
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path
