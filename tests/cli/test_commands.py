"""The jobs-ui command against a real backend: every command, every exit code."""

from __future__ import annotations

import json
import socket
import uuid
from typing import Any

import httpx
import pytest

from jobs_ui.access.api_keys import create_key
from jobs_ui.models import JobKind
from tests.cli.runner import Cli
from tests.conftest import TEST_UPLOAD_LIMIT
from tests.support.jobs import write_csv

EMBEDDED = pytest.mark.parametrize("settings", ["embedded"], indirect=True)
PEOPLE = ["name,email", "Ada,ada@example.com", "Bob,not-an-email"]


@EMBEDDED
def test_import_follows_to_the_end_and_sums_up(cli, tmp_path):
    write_csv(tmp_path / "people.csv", PEOPLE)
    done = cli("import", "people.csv", "--dataset", "contacts")
    assert done.returncode == 0, done.stderr
    assert "completed: Created 1 row, skipped 1" in done.stdout
    assert "1 row: email: not a valid email address" in done.stdout
    assert '"not-an-email"' in done.stdout
    assert "/error-report" in done.stdout
    # Not a terminal: plain lines, one per step, no control codes.
    assert "\x1b" not in done.stderr and "COMPLETED 100%" in done.stderr


@EMBEDDED
def test_json_strict_and_the_kept_cookie(cli, tmp_path):
    write_csv(tmp_path / "people.csv", PEOPLE)
    strict = cli("import", "people.csv", "-d", "contacts", "--strict", "--json")
    assert strict.returncode == 5
    job = json.loads(strict.stdout)  # stdout is the job JSON alone
    assert job["status"] == "COMPLETED" and job["result"]["skippedCount"] == 1
    listed = cli.json("jobs")  # a second run, the same visitor
    assert [each["jobId"] for each in listed["jobs"]] == [job["jobId"]]
    assert cli("watch", job["jobId"]).returncode == 0
    other = Cli(cli.url, tmp_path / "elsewhere")  # another user: another visitor
    (tmp_path / "elsewhere").mkdir()
    assert other.json("jobs")["jobs"] == []
    refused = other("watch", job["jobId"])
    assert refused.returncode == 4 and "Job not found" in refused.stderr


@EMBEDDED
def test_an_api_key_acts_for_its_owner(cli, services, tmp_path):
    key = create_key(services.engine, owner="script", scopes=[])[1]
    write_csv(tmp_path / "people.csv", PEOPLE[:2])
    job = cli.json("import", "people.csv", "-d", "contacts", api_key=key)
    assert services.store.get(_id(job)).owner == "script"
    assert cli.json("jobs", api_key=key)["jobs"][0]["jobId"] == job["jobId"]
    assert cli.json("jobs")["jobs"] == []  # the visitor is someone else
    bad = cli("jobs", api_key="jui_nope_nope")
    assert bad.returncode == 4 and bad.stderr.strip()


@EMBEDDED
def test_a_failed_job_exits_1_and_a_cancelled_one_3(cli, services, tmp_path):
    write_csv(tmp_path / "empty.csv", ["name,email"])
    failed = cli("import", "empty.csv", "-d", "contacts")
    assert failed.returncode == 1 and "header but no data rows" in failed.stdout
    # A job no runner has picked up yet (made in the store): cancelled at once.
    key = create_key(services.engine, owner="script", scopes=[])[1]
    waiting = services.store.create(
        kind=JobKind.EXPORT, dataset="contacts", owner="script", params={"format": "csv"}
    )
    cancelled = cli.json("cancel", str(waiting.id), api_key=key)
    assert cancelled["status"] == "CANCELLED"
    watched = cli("watch", str(waiting.id), api_key=key)
    assert watched.returncode == 3 and "was cancelled" in watched.stdout


@EMBEDDED
def test_usage_errors_exit_2(cli, tmp_path):
    write_csv(tmp_path / "people.csv", PEOPLE)
    bad_map = cli("import", "people.csv", "-d", "contacts", "--map", "nonsense")
    assert bad_map.returncode == 2 and "field=column" in bad_map.stderr
    assert cli("import", "missing.csv", "-d", "contacts").returncode == 2
    unknown_field = cli("import", "people.csv", "-d", "contacts", "--map", "colour=name")
    assert unknown_field.returncode == 2 and unknown_field.stderr.startswith("jobs-ui: ")
    assert cli("export", "contacts", "--format", "pdf").returncode == 2


@EMBEDDED
def test_a_file_over_the_upload_limit_says_so(cli, tmp_path):
    (tmp_path / "big.csv").write_bytes(b"name,email\n" + b"x" * (TEST_UPLOAD_LIMIT + 1))
    refused = cli("import", "big.csv", "-d", "contacts")
    # The server's 413 when it is read (exit 2), or, when the server cut the upload off
    # before the answer could be read, the command's own sentence (exit 4).
    assert refused.returncode in (2, 4) and "limit" in refused.stderr, refused.stderr


def test_a_server_that_cannot_be_reached_exits_4(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gone = Cli(f"http://127.0.0.1:{port}", tmp_path)("jobs")
    assert gone.returncode == 4 and "cannot reach the server" in gone.stderr


@EMBEDDED
def test_export_downloads_the_file_byte_for_byte(cli, server, tmp_path):
    write_csv(tmp_path / "people.csv", PEOPLE[:2])
    assert cli("import", "people.csv", "-d", "contacts").returncode == 0
    done = cli("export", "contacts", "-o", "out.csv", "--json")
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    cookies = json.loads((tmp_path / "config" / "visitor-cookies.json").read_text())[cli.url]
    with httpx.Client(base_url=server.url, cookies=cookies) as http:
        served = http.get(job["result"]["fileUrl"]).content
    assert (tmp_path / "out.csv").read_bytes() == served and b"ada@example.com" in served
    started = cli.json("export", "contacts", "--no-wait")  # the whole job JSON, at once
    assert started["kind"] == "EXPORT" and {"status", "progress", "createdAt"} <= set(started)
    watched = cli("watch", started["jobId"])
    assert watched.returncode == 0 and f"jobs-ui download {started['jobId']}" in watched.stdout
    fetched = cli("download", started["jobId"], "-o", "again.csv")
    assert fetched.returncode == 0 and (tmp_path / "again.csv").read_bytes() == served
    named = cli("export", "contacts", "--format", "jsonl")
    assert named.returncode == 0 and "Saved to contacts" in named.stdout
    assert list(tmp_path.glob("contacts*.jsonl"))


@EMBEDDED
def test_dry_run_commit_undo_and_polling(cli, services, tmp_path):
    write_csv(tmp_path / "people.csv", PEOPLE[:2])
    dry = cli.json("import", "people.csv", "-d", "contacts", "--dry-run", "--polling")
    assert dry["result"]["dryRun"] is True and dry["result"]["wouldCreate"] == 1
    write_csv(tmp_path / "renamed.csv", ["name,email", "Ada L.,ada@example.com"])
    plain = cli("import", "renamed.csv", "-d", "contacts", "--mode", "upsert", "--dry-run")
    assert plain.returncode == 0, plain.stderr
    assert "Dry run: would create 1" in plain.stdout  # the table is still empty
    assert "Nothing was written. Import it with: jobs-ui commit " in plain.stdout
    commit = cli.json("commit", dry["jobId"])
    assert commit["commitOf"] == dry["jobId"] and commit["status"] == "COMPLETED"
    changed = cli("import", "renamed.csv", "-d", "contacts", "--mode", "upsert", "--dry-run")
    assert "ada@example.com name: 'Ada' -> 'Ada L.'" in changed.stdout, changed.stdout
    undo = cli.json("undo", commit["jobId"])
    assert undo["undoOf"] == commit["jobId"] and undo["result"]["deletedCount"] == 1
    again = cli("undo", commit["jobId"])
    assert again.returncode == 4 and "undone already" in again.stderr
    retry = cli("retry", commit["jobId"])
    assert retry.returncode == 4 and "Only failed or cancelled" in retry.stderr


@EMBEDDED
def test_datasets_and_template(cli, tmp_path):
    found = cli.json("datasets")
    assert {dataset["name"] for dataset in found["datasets"]} >= {"contacts", "products"}
    plain = cli("datasets")
    assert plain.returncode == 0 and "contacts" in plain.stdout and "email*" in plain.stdout
    saved = cli("template", "products")
    assert saved.returncode == 0
    (template,) = tmp_path.glob("products*.csv")
    assert template.read_text().startswith("sku,")
    again = cli("template", "products")  # a file not named is never overwritten
    assert again.returncode == 0 and f"{template.stem}-1.csv" in again.stdout
    assert (tmp_path / f"{template.stem}-1.csv").read_bytes() == template.read_bytes()
    assert cli("template", "nothing-like-it").returncode == 2  # as an unknown export dataset


def _id(job: dict[str, Any]) -> uuid.UUID:
    return uuid.UUID(job["jobId"])
