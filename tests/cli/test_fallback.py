"""A network in between that refuses the stream (some proxies do): the command follows the
job by polling, says so, and ends as it would have."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.cli.runner import Cli
from tests.support.jobs import write_csv

EMBEDDED = pytest.mark.parametrize("settings", ["embedded"], indirect=True)
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def stream_refusing_proxy(upstream: str, refused: list[str]) -> http.server.ThreadingHTTPServer:
    """Passes every request to `upstream` but the event stream, which gets a 503 (each one
    refused is added to `refused`)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def _pass(self) -> None:
            if self.path.split("?")[0].endswith("/jobs/ws"):
                refused.append(self.path)
                self.send_error(503, "Streams are not allowed here")
                return
            length = int(self.headers.get("content-length") or 0)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            answer = httpx.request(
                self.command,
                upstream + self.path,
                headers=headers,
                content=self.rfile.read(length) if length else None,
            )
            self.send_response(answer.status_code)
            for name, value in answer.headers.multi_items():
                if name.lower() not in HOP_BY_HOP | {"content-encoding"}:
                    self.send_header(name, value)
            self.send_header("content-length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_POST = _pass

        def log_message(self, *_args: object) -> None:
            return None

    return http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)


REFUSED: list[str] = []


@pytest.fixture
def proxied_cli(server, tmp_path) -> Iterator[Cli]:
    REFUSED.clear()
    proxy = stream_refusing_proxy(server.url, REFUSED)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield Cli(f"http://127.0.0.1:{proxy.server_address[1]}", tmp_path)
    finally:
        proxy.shutdown()
        proxy.server_close()


@EMBEDDED
def test_a_refused_stream_falls_back_to_polling(proxied_cli, tmp_path):
    write_csv(tmp_path / "people.csv", ["name,email", "Ada,ada@example.com"])
    done = proxied_cli("import", "people.csv", "-d", "contacts")
    assert done.returncode == 0, done.stderr
    assert "(polling)" in done.stderr
    assert "completed: Created 1 row" in done.stdout
    assert REFUSED and all("jobId=" in path for path in REFUSED)  # it asked for the stream
