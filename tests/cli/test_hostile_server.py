"""A server that answers what it likes (a wrong address, a hostile one): the command keeps
its credentials and the user's files to itself, and prints no control codes."""

from __future__ import annotations

import http.server
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.runner import Cli

JOB_ID = str(uuid.uuid4())
TITLE_AND_CLEAR = "\x1b]0;pwned\x07\x1b[2J"


def job_json(result: dict[str, Any], message: str = "Exported 1 row") -> dict[str, Any]:
    return {
        "jobId": JOB_ID, "kind": "EXPORT", "dataset": "contacts", "status": "COMPLETED",
        "progress": 100, "error": None, "result": result, "message": message,
        "updatedAt": "2026-12-03T07:00:00.000Z", "createdAt": "2026-12-03T07:00:00.000Z",
        "startedAt": None, "finishedAt": None, "rowsPerSecond": None, "etaSeconds": None,
        "version": 3, "retryOf": None, "commitOf": None, "undoOf": None, "undoneBy": None,
        "fixOf": None,
    }  # fmt: skip


class Recorder(http.server.ThreadingHTTPServer):
    def __init__(self, answer: Callable[[str], tuple[int, dict[str, str], bytes]]) -> None:
        self.answer, self.seen = answer, []

        class Handler(http.server.BaseHTTPRequestHandler):
            def _any(self) -> None:
                server: Recorder = self.server  # type: ignore[assignment]
                server.seen.append((self.path, self.headers.get("authorization")))
                self.rfile.read(int(self.headers.get("content-length") or 0))
                status, headers, body = server.answer(self.path)
                self.send_response(status)
                for name, value in {**headers, "content-length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _any

            def log_message(self, *_args: object) -> None:
                return None

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def servers() -> Iterator[list[Recorder]]:
    made: list[Recorder] = []
    yield made
    for server in made:
        server.shutdown()
        server.server_close()


def as_json(body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return 201, {"content-type": "application/json"}, json.dumps(body).encode()


def test_a_download_elsewhere_is_refused_and_gets_no_key(servers, tmp_path: Path):
    elsewhere = Recorder(lambda _path: (200, {}, b"stolen"))
    servers.append(elsewhere)
    result = {"fileUrl": f"{elsewhere.url}/x.csv", "fileName": "x.csv", "rowCount": 1}
    server = Recorder(lambda _path: as_json(job_json(result)))
    servers.append(server)
    done = Cli(server.url, tmp_path)("export", "contacts", api_key="jui_secret_key")
    assert done.returncode == 4 and "is not on" in done.stderr, done.stderr
    assert elsewhere.seen == []  # the key never left for another address
    assert not list(tmp_path.glob("*.csv"))


def test_a_file_name_with_folders_stays_here_and_control_codes_are_escaped(servers, tmp_path: Path):
    (tmp_path / "work").mkdir()
    (tmp_path / "escaped.csv").write_text("mine")
    result = {"fileUrl": "/api/import-export/jobs/x/download", "fileName": "../escaped.csv"}

    def answer(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.endswith("/download"):
            name = 'attachment; filename="../escaped.csv"'
            return 200, {"content-disposition": name}, b"name,email\n"
        return as_json(job_json(result, message=f"Exported{TITLE_AND_CLEAR}"))

    server = Recorder(answer)
    servers.append(server)
    done = Cli(server.url, tmp_path / "work")("export", "contacts")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "work" / "escaped.csv").read_bytes() == b"name,email\n"
    assert (tmp_path / "escaped.csv").read_text() == "mine"
    assert "\x1b" not in done.stdout + done.stderr and "\x07" not in done.stdout
    assert "\\x1b]0;pwned\\x07" in done.stdout


def test_an_answer_of_another_shape_says_so(servers, tmp_path: Path):
    server = Recorder(lambda _path: as_json({"jobs": [{"id": 1}]}))
    servers.append(server)
    done = Cli(server.url, tmp_path)("jobs")
    assert done.returncode == 4 and "is --url the address of a jobs_ui app" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--url", "http://[::1", "jobs"], "not a server address"),
        (["--url", "ftp://example.com", "jobs"], "not a server address"),
        (["--api-key", "clé", "jobs"], "characters an API key never has"),
        (["watch", "abc/../def"], "not a valid UUID"),
        (["export", "contacts", "-o", "no/such/folder/out.csv"], "is not a folder"),
    ],
)
def test_bad_input_is_a_usage_error_without_a_traceback(tmp_path: Path, args, says):
    done = Cli("http://127.0.0.1:9", tmp_path)(*args)
    assert done.returncode == 2 and says in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "clé" not in done.stderr


def test_an_unreadable_cookie_file_is_set_aside_not_overwritten(servers, tmp_path: Path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "visitor-cookies.json").write_text("{bad json")
    listed = {"jobs": [], "nextCursor": None}
    server = Recorder(
        lambda _path: (
            200,
            {"set-cookie": "jobs_ui_visitor=abc; Path=/"},
            json.dumps(listed).encode(),
        )
    )
    servers.append(server)
    done = Cli(server.url, tmp_path)("jobs")
    assert done.returncode == 0, done.stderr
    assert "was unreadable; moved it to" in done.stderr
    (aside,) = config.glob("visitor-cookies.json.unreadable-*")
    assert aside.read_text() == "{bad json"
    assert json.loads((config / "visitor-cookies.json").read_text()) == {
        server.url: {"jobs_ui_visitor": "abc"}
    }
