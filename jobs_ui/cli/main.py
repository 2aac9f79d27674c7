"""The `jobs-ui` command: start imports and exports, follow jobs, act on them.

Every command talks to the server through `jobs_ui.client` (the server from `--url` or
JOBS_UI_URL, as the owner of `--api-key` or JOBS_UI_API_KEY, else as this user's kept
visitor). Human output goes to stderr while following and to stdout at the end; with
`--json` stdout holds the final JSON alone. Exit codes: see `jobs_ui.cli.outcome`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, TypeVar

import click
import httpx
import pydantic

from jobs_ui.cli.display import display_for
from jobs_ui.cli.outcome import ExitCode, exit_code, printable, summary_lines
from jobs_ui.cli.session import DEFAULT_URL, Session, SessionError
from jobs_ui.client import (
    FollowOptions,
    JobNotFoundError,
    JobsApiError,
    JobsClient,
    JobUpdate,
    Transport,
)

T = TypeVar("T")
# A step once a followed job has ended, in the same client: the lines it adds to the summary.
AfterEnd = Callable[[JobsClient, JobUpdate], Awaitable[list[str]]]
USAGE_STATUSES = frozenset({400, 413, 415, 422})  # the request itself was wrong: exit 2


def _fail(message: str, code: ExitCode) -> NoReturn:
    click.echo(f"jobs-ui: {message}", err=True)
    sys.exit(int(code))


def run(work: Coroutine[Any, Any, T]) -> T:
    """Run one command's calls; a server that cannot be reached, or says no, ends it with
    its own sentence and exit 4 (2 when the request itself was at fault)."""
    try:
        return asyncio.run(work)
    except JobsApiError as error:
        code = ExitCode.USAGE if error.status_code in USAGE_STATUSES else ExitCode.UNREACHABLE
        _fail(error.message, code)
    except httpx.HTTPError as error:
        _fail(f"cannot reach the server: {error or type(error).__name__}", ExitCode.UNREACHABLE)
    except (pydantic.ValidationError, KeyError, TypeError) as error:
        # An answer of another shape: the address is not a jobs_ui server (or not its API).
        _fail(
            f"the server's answer is not one jobs-ui knows ({type(error).__name__}); is --url "
            "the address of a jobs_ui app?",
            ExitCode.UNREACHABLE,
        )
    except OSError as error:  # saving a file here
        _fail(f"cannot save the file: {error.strerror or error}", ExitCode.USAGE)


def following_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options of every command that follows a job to its end."""
    options = [
        click.option("--json", "as_json", is_flag=True, help="Print the final job JSON alone."),
        click.option(
            "--strict", is_flag=True, help="Exit 5 when the job completed but skipped rows."
        ),
        click.option(
            "--cancel-on-interrupt",
            is_flag=True,
            help="On Ctrl-C, ask the server to cancel the job (else it goes on).",
        ),
        click.option("--polling", is_flag=True, help="Follow by polling only (no stream)."),
    ]
    return functools.reduce(lambda made, option: option(made), options, command)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--url",
    envvar="JOBS_UI_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="The server (or JOBS_UI_URL).",
)
@click.option("--api-key", envvar="JOBS_UI_API_KEY", help="Act as this key's owner.")
@click.version_option(package_name="jobs-ui")
@click.pass_context
def cli(ctx: click.Context, url: str, api_key: str | None) -> None:
    """Imports and exports as background jobs, followed live.

    Exit codes: 0 completed, 1 the job failed, 2 usage error, 3 cancelled, 4 cannot reach
    the server or not allowed, 5 completed with skipped rows (with --strict), 130 stopped
    following with Ctrl-C.
    """
    try:
        ctx.obj = Session.of(url, api_key)
    except SessionError as error:
        raise click.UsageError(str(error)) from None


def _session() -> Session:
    session = click.get_current_context().find_object(Session)
    assert session is not None  # the group makes it before any command runs
    return session


# --- following -----------------------------------------------------------------------


async def _follow_to_end(client: JobsClient, job: JobUpdate, *, polling: bool) -> JobUpdate:
    display = display_for()
    try:
        display.show(job)
        if job.is_final:
            return job
        last = job
        async for item in client.follow(job.job_id, FollowOptions(use_sse=not polling)):
            if isinstance(item, Transport):
                display.transport(item)
            else:
                last = item
                display.show(item)
        return last
    finally:
        display.close()


def _finish(
    job_id: str,
    *,
    as_json: bool,
    strict: bool,
    cancel_on_interrupt: bool,
    polling: bool,
    start: JobUpdate | None = None,
    download_hint: bool = False,
    then: AfterEnd | None = None,
) -> None:
    """Follow `job_id` to its end, run `then` (its lines join the summary), say how it
    ended, and exit with its code."""
    session = _session()

    async def follow() -> tuple[JobUpdate, dict[str, Any], list[str]]:
        async with session.client() as client:
            first = start or await client.get_job(job_id)
            done = await _follow_to_end(client, first, polling=polling)
            data = await client.get_job_json(job_id)
            return done, data, (await then(client, done) if then else [])

    try:
        done, data, more = run(follow())
    except KeyboardInterrupt:
        _interrupted(session, job_id, cancel=cancel_on_interrupt)
    if as_json:
        click.echo(json.dumps(data))
    else:
        for line in [*summary_lines(done, session.url, download_hint=download_hint), *more]:
            click.echo(line)
    sys.exit(int(exit_code(done, strict=strict)))


def _interrupted(session: Session, job_id: str, *, cancel: bool) -> NoReturn:
    """Ctrl-C while following: the job goes on unless `cancel` (--cancel-on-interrupt)."""

    async def ask_to_cancel() -> JobUpdate:
        async with session.client() as client:
            return await client.cancel(job_id)

    if cancel:
        job = run(ask_to_cancel())
        click.echo(f"Asked the server to cancel job {job_id}: {job.status}.", err=True)
    else:
        click.echo(
            f"Stopped following; the job goes on. Pick up again with: jobs-ui watch {job_id}",
            err=True,
        )
    sys.exit(int(ExitCode.INTERRUPTED))


def _started(job: JobUpdate, *, as_json: bool) -> None:
    """A job started with --no-wait: its id (or its JSON), and how to follow it."""
    if as_json:

        async def fetch() -> dict[str, Any]:
            async with _session().client() as client:
                return await client.get_job_json(job.job_id)

        click.echo(json.dumps(run(fetch())))
    else:
        click.echo(job.job_id)
        click.echo(f"Started; follow it with: jobs-ui watch {job.job_id}", err=True)


# --- commands ------------------------------------------------------------------------


def _mapping(pairs: tuple[str, ...]) -> dict[str, str | None] | None:
    if not pairs:
        return None
    mapping: dict[str, str | None] = {}
    for pair in pairs:
        field, equals, column = pair.partition("=")
        if not equals or not field.strip():
            raise click.BadParameter(f"{pair!r}: write it as field=column", param_hint="--map")
        mapping[field.strip()] = column or None
    return mapping


async def _uploading(upload: Awaitable[T], name: str, size: int) -> T:
    """An upload the server cut off: it refuses a file over its size limit before reading
    it, and closes the connection while the file is still being sent, so no answer can be
    read (the client only sees the connection end)."""
    try:
        return await upload
    except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
        _fail(
            f"the server closed the connection while {name} ({size / 1e6:,.1f} MB) was being "
            "sent; it does so when a file is over its upload limit (JOBS_UI_MAX_UPLOAD_BYTES).",
            ExitCode.UNREACHABLE,
        )


@cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dataset", "-d", required=True, help="The dataset to import into.")
@click.option(
    "--mode",
    type=click.Choice(["insert", "upsert", "update"]),
    default=None,
    help="What to do with rows whose key exists (default: insert).",
)
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="FIELD=COLUMN",
    help="Which column feeds a field (repeat; FIELD= leaves it out).",
)
@click.option("--sheet", help="The sheet of a workbook.")
@click.option("--dry-run", is_flag=True, help="Check and compare; write nothing.")
@click.option("--no-wait", is_flag=True, help="Start the job and print its id.")
@following_options
def import_file(
    file: Path,
    dataset: str,
    mode: str | None,
    maps: tuple[str, ...],
    sheet: str | None,
    dry_run: bool,
    no_wait: bool,
    **follow: Any,
) -> None:
    """Upload FILE into a dataset, then follow the import to its end."""
    mapping = _mapping(maps)

    async def start(content: BinaryIO) -> JobUpdate:
        async with _session().client() as client:
            return await client.create_import(
                dataset=dataset,
                filename=file.name,
                content=content,
                mode=mode,
                mapping=mapping,
                sheet=sheet,
                dry_run=dry_run,
            )

    try:
        with file.open("rb") as content:
            job = run(_uploading(start(content), file.name, file.stat().st_size))
    except KeyboardInterrupt:
        _fail(
            "the upload was stopped; see `jobs-ui jobs` for any job it started.",
            ExitCode.INTERRUPTED,
        )
    if no_wait:
        _started(job, as_json=follow["as_json"])
        return
    _finish(job.job_id, start=job, **follow)


@cli.command("export")
@click.argument("dataset")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["csv", "jsonl", "xlsx"]),
    default="csv",
    show_default=True,
)
@click.option("--filter", "search", help="Only rows that contain this text.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to save the file (default: the server's file name, here).",
)
@click.option("--no-wait", is_flag=True, help="Start the job and print its id.")
@following_options
def export_dataset(
    dataset: str,
    file_format: str,
    search: str | None,
    output: Path | None,
    no_wait: bool,
    **follow: Any,
) -> None:
    """Export a dataset, follow the export, then download its file."""
    _check_target(output)

    async def start() -> JobUpdate:
        async with _session().client() as client:
            return await client.create_export(
                dataset=dataset, file_format=file_format, search=search
            )

    job = run(start())
    if no_wait:
        _started(job, as_json=follow["as_json"])
        return

    async def download(client: JobsClient, done: JobUpdate) -> list[str]:
        if done.status != "COMPLETED":
            return []
        # Without -o: the server's file name, made safe, never over an existing file.
        saved = await client.download(str((done.result or {})["fileUrl"]), output)
        return [f"Saved to {saved}"]

    _finish(job.job_id, start=job, then=download, **follow)


@cli.command()
@click.argument("job_id", type=click.UUID)
@following_options
def watch(job_id: uuid.UUID, **follow: Any) -> None:
    """Follow a job to its end (again)."""
    _finish(str(job_id), download_hint=True, **follow)


def _acting(
    name: str, call: Callable[[JobsClient, str], Awaitable[JobUpdate]], starts: bool, help_text: str
) -> None:
    @click.argument("job_id", type=click.UUID)
    @click.option("--no-wait", is_flag=True, help="Do not follow the job it starts.")
    @following_options
    def command(job_id: uuid.UUID, no_wait: bool = False, **follow: Any) -> None:
        async def act() -> tuple[JobUpdate, dict[str, Any]]:
            async with _session().client() as client:
                job = await call(client, str(job_id))
                return job, await client.get_job_json(job.job_id)

        job, data = run(act())
        if not starts or no_wait:
            if follow["as_json"]:
                click.echo(json.dumps(data))
            else:
                click.echo(f"Job {job.job_id[:8]}: {job.status}. {job.message}".rstrip())
            return
        _finish(job.job_id, start=job, **follow)

    command.__doc__ = help_text
    cli.command(name)(command)


_acting("cancel", JobsClient.cancel, False, "Cancel a job (a running one stops at its next chunk).")
_acting("retry", JobsClient.retry, True, "Run a failed or cancelled job again, and follow it.")
_acting("commit", JobsClient.commit, True, "Import what a dry run checked, and follow it.")
_acting("undo", JobsClient.undo, True, "Undo a completed import, and follow the undo.")


@cli.command("jobs")
@click.option(
    "--status",
    type=click.Choice(
        ["PENDING", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED"], case_sensitive=False
    ),
)
@click.option("--kind", type=click.Choice(["IMPORT", "EXPORT"], case_sensitive=False))
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def list_jobs(status: str | None, kind: str | None, limit: int, as_json: bool) -> None:
    """Your jobs, newest first."""

    async def fetch() -> tuple[dict[str, Any], list[JobUpdate]]:
        async with _session().client() as client:
            data = await client.list_jobs_json(
                limit=limit, status=status and status.upper(), kind=kind and kind.upper()
            )
            return data, [JobUpdate.from_json(job) for job in data["jobs"]]

    data, jobs = run(fetch())
    if as_json:
        click.echo(json.dumps(data))
        return
    for job in jobs:
        name = (job.result or {}).get("fileName") or ""
        click.echo(
            printable(
                f"{job.job_id}  {job.kind:<6} {job.dataset:<12} {job.status:<10} "
                f"{job.progress:>3}%  {job.created_at or ''}  {name}"
            ).rstrip()
        )
    if not jobs:
        click.echo("No jobs yet.", err=True)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the datasets as JSON.")
def datasets(as_json: bool) -> None:
    """The datasets you may import into or export, with their fields."""

    async def fetch() -> tuple[list[dict[str, Any]], list[str]]:
        async with _session().client() as client:
            found = await client.datasets()
        # Read here, so an answer of another shape is said as one (see `run`).
        lines = [
            f"{dataset['name']:<12} key {dataset['key']:<8} "
            + ", ".join(
                f"{field['name']}{'*' if field.get('required') else ''}"
                for field in dataset["fields"]
            )
            for dataset in found
        ]
        return found, lines

    found, lines = run(fetch())
    if as_json:
        click.echo(json.dumps({"datasets": found}))
        return
    for line in lines:
        click.echo(printable(line))
    click.echo("(* required)", err=True)


@cli.command()
@click.argument("dataset")
@click.option(
    "--format", "file_format", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to save it (default: the server's file name, here).",
)
def template(dataset: str, file_format: str, output: Path | None) -> None:
    """Download a dataset's template: its header row and a row of examples."""

    _check_target(output)

    async def fetch() -> Path:
        async with _session().client() as client:
            try:
                return await client.download_template(dataset, file_format, output)
            except JobNotFoundError as error:
                _fail(error.message, ExitCode.USAGE)  # no such dataset

    click.echo(f"Saved to {run(fetch())}")


@cli.command()
@click.argument("job_id", type=click.UUID)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to save it (default: the server's file name, here).",
)
def download(job_id: uuid.UUID, output: Path | None) -> None:
    """Download a completed export's file, or an import's report of its skipped rows."""
    _check_target(output)

    async def fetch() -> Path:
        async with _session().client() as client:
            job = await client.get_job(str(job_id))
            result = job.result or {}
            url = result.get("fileUrl") or result.get("errorReportUrl")
            if job.status != "COMPLETED" or not url:
                what = "file" if job.kind == "EXPORT" else "report of skipped rows"
                _fail(f"job {job.job_id} has no {what} to download ({job.status}).", ExitCode.USAGE)
            return await client.download(str(url), output)

    click.echo(f"Saved to {run(fetch())}")


def _check_target(output: Path | None) -> None:
    """-o in a folder that exists, said before any job is started."""
    if output is not None and not output.parent.is_dir():
        raise click.BadParameter(f"{output.parent} is not a folder", param_hint="-o")


def main() -> None:
    try:
        cli.main(prog_name="jobs-ui", standalone_mode=False)
    except click.exceptions.Exit as done:  # --help, --version
        sys.exit(done.exit_code)
    except click.ClickException as error:  # a usage error: Click's words, exit 2
        error.show()
        sys.exit(int(ExitCode.USAGE) if error.exit_code == 2 else error.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        # Ctrl-C outside following a job (which says more): 130, as shells count it.
        click.echo("\nStopped.", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))


if __name__ == "__main__":
    main()
