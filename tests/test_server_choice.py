"""Which server the app runs on, however it is started (rxconfig calls choose_server)."""

from __future__ import annotations

from jobs_ui.server import KEEP_ALIVE_SECONDS, WORKER, StreamingWorker, choose_server


def test_uvicorn_with_the_apps_worker_unless_the_deployment_chose():
    environ: dict[str, str] = {}
    choose_server(environ)
    assert environ == {
        "REFLEX_USE_GRANIAN": "false",
        "GUNICORN_CMD_ARGS": "--worker-class jobs_ui.server.StreamingWorker",
    }
    own = {"REFLEX_USE_GRANIAN": "true", "GUNICORN_CMD_ARGS": "--workers 4"}
    choose_server(own)
    assert own == {
        "REFLEX_USE_GRANIAN": "true",
        "GUNICORN_CMD_ARGS": f"--workers 4 --worker-class {WORKER}",
    }
    for chosen in ("--worker-class my.Worker", "-k my.Worker --workers 2"):
        theirs = {"GUNICORN_CMD_ARGS": chosen}
        choose_server(theirs)
        assert theirs["GUNICORN_CMD_ARGS"] == chosen


def test_the_worker_bounds_its_shutdown_and_outlasts_a_poll():
    kwargs = StreamingWorker.CONFIG_KWARGS
    assert kwargs["http"] == "h11" and kwargs["timeout_graceful_shutdown"] > 0
    assert kwargs["timeout_keep_alive"] == KEEP_ALIVE_SECONDS > 2 * 2  # polls are 2 s apart
