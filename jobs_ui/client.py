"""One async client of the jobs API: calls, and following a job live.

`follow` opens the SSE stream and falls back to polling `GET /jobs/{id}` by itself when the
stream is unavailable (refused, non-200, not `text/event-stream`, dropped). It resumes with
`Last-Event-ID`, so a reconnect repeats nothing. The Reflex state and any command-line tool
use this one implementation.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, unquote

import httpx
from httpx_sse import SSEError, aconnect_sse

from jobs_ui.schemas import FINAL_STATUSES, JobPublic, iso_utc
from jobs_ui.urls import DATASETS_API, JOBS_API, dataset_template_url

log = logging.getLogger(__name__)

# After the stream fails, poll this long before trying the stream again.
SSE_RETRY_AFTER_SECONDS = 10.0
# A stream silent this long (three missed heartbeats' worth) is taken as dead.
STREAM_SILENCE_SECONDS = 45.0
# Reconnects in a row after a stream that worked, before falling back to polling.
MAX_QUICK_RECONNECTS = 5


class Transport(StrEnum):
    """How a follower currently hears about the job."""

    LIVE = "live"  # the SSE stream
    POLLING = "polling"
    OFFLINE = "offline"  # neither answers; still trying


@dataclass(frozen=True)
class JobUpdate:
    """A job's state at one version, from the stream or from the polling endpoint.

    The wire shape is `jobs_ui.schemas.JobPublic` (`from_json` parses with it, so a message
    that does not fit is refused); this is the client's plain view of it.
    """

    job_id: str
    status: str
    progress: int
    version: int
    error: str | None = None
    result: dict[str, Any] | None = None
    message: str = ""
    kind: str = ""
    dataset: str = ""
    updated_at: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    retry_of: str | None = None
    commit_of: str | None = None
    undo_of: str | None = None
    undone_by: str | None = None
    fix_of: str | None = None
    rows_per_second: float | None = None
    eta_seconds: int | None = None
    attempt: int = 1

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobUpdate:
        """From a `status_update` message or the job JSON of the REST API."""
        return cls.from_public(JobPublic.model_validate(data))

    @classmethod
    def from_public(cls, job: JobPublic) -> JobUpdate:
        return cls(
            job_id=str(job.job_id),
            status=job.status.value,
            progress=job.progress,
            version=job.version,
            error=job.error,
            result=job.result,
            message=job.message,
            kind=job.kind.value,
            dataset=job.dataset,
            updated_at=iso_utc(job.updated_at),
            created_at=iso_utc(job.created_at),
            started_at=_iso_or_none(job.started_at),
            finished_at=_iso_or_none(job.finished_at),
            retry_of=_text_or_none(job.retry_of),
            commit_of=_text_or_none(job.commit_of),
            undo_of=_text_or_none(job.undo_of),
            undone_by=_text_or_none(job.undone_by),
            fix_of=_text_or_none(job.fix_of),
            rows_per_second=job.rows_per_second,
            eta_seconds=job.eta_seconds,
            attempt=job.attempt,
        )


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else iso_utc(moment)


class JobsApiError(Exception):
    """The API answered with an error; `message` is its sentence for a person."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


class JobNotFoundError(JobsApiError):
    def __init__(self, message: str = "Job not found") -> None:
        super().__init__(404, message)


class NotAuthorizedError(JobsApiError):
    """The credentials do not hold (e.g. an expired access token): get fresh ones."""

    def __init__(self, message: str) -> None:
        super().__init__(401, message)


class StreamUnavailableError(Exception):
    """The SSE stream cannot be used right now; polling takes over."""


@dataclass
class FollowOptions:
    use_sse: bool = True
    poll_interval: float = 2.0
    sse_retry_after: float = SSE_RETRY_AFTER_SECONDS


@dataclass
class _Cursor:
    """What one follower has seen so far."""

    version: int = 0
    transport: Transport | None = None
    sse_paused_until: float = 0.0
    ended: bool = False


class JobsClient:
    """Talks to one jobs API. Use as `async with JobsClient(base_url) as client:`."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        cookies: dict[str, str] | None = None,
    ) -> None:
        """`api_key` acts for its owner; `token` (a job access token) only reads its job:
        `get_job` and `follow` of that job. Without either, the server makes the caller a
        visitor: pass the `cookies` an earlier client kept (see `cookies()`) to stay one."""
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._token_params = {"token": token} if token else {}
        # Streams wait on the server between events; only connecting is bounded tightly.
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=5.0),
            transport=transport,
            cookies=cookies,
        )

    async def __aenter__(self) -> JobsClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- calls ---------------------------------------------------------------------------

    def cookies(self) -> dict[str, str]:
        """The cookies the server set (a visitor's), to keep for the next client."""
        return {cookie.name: str(cookie.value) for cookie in self._http.cookies.jar}

    async def get_job(self, job_id: str) -> JobUpdate:
        return JobUpdate.from_json(await self.get_job_json(job_id))

    async def get_job_json(self, job_id: str) -> dict[str, Any]:
        """The job JSON as the API sends it."""
        return await self._call("GET", f"{JOBS_API}/{_path_id(job_id)}", params=self._token_params)

    async def list_jobs(
        self, limit: int = 50, *, status: str | None = None, kind: str | None = None
    ) -> list[JobUpdate]:
        data = await self.list_jobs_json(limit=limit, status=status, kind=kind)
        return [JobUpdate.from_json(job) for job in data["jobs"]]

    async def list_jobs_json(
        self, *, limit: int = 50, status: str | None = None, kind: str | None = None
    ) -> dict[str, Any]:
        """One page of the caller's jobs, newest first: `{jobs, nextCursor}`."""
        params: dict[str, Any] = {"limit": limit}
        params |= {"status": status} if status else {}
        params |= {"kind": kind} if kind else {}
        return await self._call("GET", JOBS_API, params=params)

    async def datasets(self) -> list[dict[str, Any]]:
        """The datasets the caller may import into or export, with their fields."""
        data = await self._call("GET", DATASETS_API)
        return list(data["datasets"])

    async def download_template(
        self, dataset: str, file_format: str = "csv", target: Path | None = None
    ) -> Path:
        """A dataset's template (its header row and a row of examples), saved as `download`."""
        return await self.download(
            dataset_template_url(quote(dataset, safe=""), file_format), target
        )

    async def download(self, url: str, target: Path | None = None) -> Path:
        """Save a file the API serves (an export, a template, an error report) to `target`,
        or to the server's file name in the current folder (`name-1.csv` and on if that one
        exists, as a browser does: a file not named is never overwritten); returns where it
        went."""
        if not _same_origin(httpx.URL(url), self._http.base_url):
            # Credentials go to this client's server alone, whatever an answer links to.
            raise JobsApiError(0, f"The download's address is not on {self._http.base_url}.")
        async with self._http.stream("GET", url, params=self._token_params) as response:
            if response.status_code >= 400:
                await response.aread()
                raise _api_error(response)
            path = target or _unused(
                Path(_attachment_name(response) or Path(url.split("?")[0]).name)
            )
            partial = path.with_name(path.name + ".partial")
            try:
                with partial.open("wb") as out:
                    async for chunk in response.aiter_bytes():
                        out.write(chunk)
                partial.replace(path)
            finally:
                partial.unlink(missing_ok=True)
        return path

    async def create_export(
        self, *, dataset: str, file_format: str, search: str | None = None
    ) -> JobUpdate:
        body = {"dataset": dataset, "format": file_format, "filter": search or None}
        return JobUpdate.from_json(await self._call("POST", f"{JOBS_API}/export", json=body))

    async def create_import(
        self,
        *,
        dataset: str,
        filename: str,
        content: IO[bytes],
        mode: str | None = None,
        mapping: dict[str, str | None] | None = None,
        sheet: str | None = None,
        dry_run: bool = False,
    ) -> JobUpdate:
        """Upload a file into `dataset`: by `mode` (insert, upsert, update), through
        `mapping` (field -> column; None: the one the server suggests), `dry_run` to check
        and compare only (then `commit` it)."""
        form: dict[str, str] = {"dataset": dataset}
        form |= {"mode": mode} if mode else {}
        form |= {"mapping": json.dumps(mapping)} if mapping is not None else {}
        form |= {"sheet": sheet} if sheet else {}
        form |= {"dryRun": "true"} if dry_run else {}
        data = await self._call(
            "POST", f"{JOBS_API}/import", data=form, files={"file": (filename, content)}
        )
        return JobUpdate.from_json(data)

    async def cancel(self, job_id: str) -> JobUpdate:
        return await self._act(job_id, "cancel")

    async def retry(self, job_id: str) -> JobUpdate:
        return await self._act(job_id, "retry")

    async def commit(self, job_id: str) -> JobUpdate:
        """Import what a completed dry run checked, as a new job (returned)."""
        return await self._act(job_id, "commit")

    async def undo(self, job_id: str) -> JobUpdate:
        """Undo a completed import, as a new job (returned)."""
        return await self._act(job_id, "undo")

    async def _act(self, job_id: str, action: str) -> JobUpdate:
        url = f"{JOBS_API}/{_path_id(job_id)}/{action}"
        return JobUpdate.from_json(await self._call("POST", url))

    async def _call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        response = await self._http.request(method, url, **kwargs)
        if response.status_code >= 400:
            raise _api_error(response)
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):  # e.g. a proxy's login page, or a wrong api_url
            raise JobsApiError(502, f"{url} did not answer with the jobs API's JSON.")
        return data

    # --- following -----------------------------------------------------------------------

    async def follow(
        self, job_id: str, options: FollowOptions | None = None
    ) -> AsyncIterator[JobUpdate | Transport]:
        """Yield each newer state of the job until it ends, and each change of transport.

        Raises JobNotFoundError if the stream or the job says no: the job does not exist or
        is not the caller's, its id is malformed, or the access token does not hold (the
        stream says which in words only); NotAuthorizedError when polling is refused for
        the credentials. A caller holding a token may mint a fresh one and follow again.
        """
        options = options or FollowOptions()
        cursor = _Cursor()
        loop = asyncio.get_running_loop()
        reconnects = 0
        while True:
            if options.use_sse and loop.time() >= cursor.sse_paused_until:
                delivered_before = cursor.version
                try:
                    async for item in self._follow_stream(job_id, cursor):
                        yield item
                    if cursor.ended:
                        return
                    # The server closed a live stream (e.g. restarting): reconnect, unhurried.
                    reconnects += 1
                    await asyncio.sleep(_reconnect_delay(reconnects))
                    continue
                except StreamUnavailableError as reason:
                    if cursor.version > delivered_before and reconnects < MAX_QUICK_RECONNECTS:
                        # It worked, then dropped: reconnect from Last-Event-ID.
                        reconnects += 1
                        await asyncio.sleep(_reconnect_delay(reconnects))
                        continue
                    log.info("stream for job %s unavailable (%s); polling", job_id, reason)
                    reconnects = 0
                    cursor.sse_paused_until = loop.time() + options.sse_retry_after
            async for item in self._poll_once(job_id, cursor):
                yield item
            if cursor.ended:
                return
            await asyncio.sleep(options.poll_interval)

    async def _follow_stream(
        self, job_id: str, cursor: _Cursor
    ) -> AsyncIterator[JobUpdate | Transport]:
        headers = {"Last-Event-ID": str(cursor.version)} if cursor.version else {}
        try:
            async with aconnect_sse(
                self._http,
                "GET",
                f"{JOBS_API}/ws",
                params={"jobId": job_id, **self._token_params},
                headers=headers,
                # Heartbeats come every 15 s: silence for longer means a dead connection.
                timeout=httpx.Timeout(STREAM_SILENCE_SECONDS, connect=5.0),
            ) as source:
                response = source.response
                if response.status_code == 204:  # we already hold the final state
                    cursor.ended = True
                    return
                if response.status_code != 200:
                    raise StreamUnavailableError(f"HTTP {response.status_code}")
                async for event in source.aiter_sse():
                    message = json.loads(event.data)
                    if not isinstance(message, dict):
                        raise StreamUnavailableError("an event that is not a JSON object")
                    kind = message.get("type")
                    if kind == "error":  # the job is unknown, or not ours, or the token bad
                        raise JobNotFoundError(str(message.get("message") or "Job not found"))
                    if cursor.transport is not Transport.LIVE:
                        cursor.transport = Transport.LIVE
                        yield Transport.LIVE
                    if kind != "status_update":
                        continue
                    update = JobUpdate.from_json(message)
                    if update.version > cursor.version:
                        cursor.version = update.version
                        yield update
                    if update.is_final:
                        cursor.ended = True
                        return
        except (httpx.TransportError, SSEError, ValueError, KeyError, TypeError) as error:
            raise StreamUnavailableError(type(error).__name__) from error

    async def _poll_once(
        self, job_id: str, cursor: _Cursor
    ) -> AsyncIterator[JobUpdate | Transport]:
        try:
            update = await self.get_job(job_id)
        except httpx.TransportError:
            if cursor.transport is not Transport.OFFLINE:
                cursor.transport = Transport.OFFLINE
                yield Transport.OFFLINE
            return
        except NotAuthorizedError:
            raise
        except ValueError:  # an answer that is not a job (another version of the server?)
            log.warning("job %s: the polling answer is not a job; trying again", job_id)
            if cursor.transport is not Transport.OFFLINE:
                cursor.transport = Transport.OFFLINE
                yield Transport.OFFLINE
            return
        except JobsApiError as error:
            if error.status_code in (400, 404):
                raise JobNotFoundError(error.message) from error
            if cursor.transport is not Transport.OFFLINE:  # 5xx: the backend is struggling
                cursor.transport = Transport.OFFLINE
                yield Transport.OFFLINE
            return
        if cursor.transport is not Transport.POLLING:
            cursor.transport = Transport.POLLING
            yield Transport.POLLING
        if update.version > cursor.version:
            cursor.version = update.version
            yield update
        if update.is_final:
            cursor.ended = True


def _reconnect_delay(attempt: int) -> float:
    """0.25 s, 0.5 s, 1 s, ... up to 5 s: a restarting server is not hammered."""
    return min(0.25 * 2.0 ** (attempt - 1), 5.0)


def _error_text(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"])
    except (ValueError, KeyError, TypeError):
        return f"The server answered {response.status_code}."


def _api_error(response: httpx.Response) -> JobsApiError:
    message = _error_text(response)
    if response.status_code == 404:
        return JobNotFoundError(message)
    if response.status_code == 401:
        return NotAuthorizedError(message)
    return JobsApiError(response.status_code, message)


def _path_id(job_id: str) -> str:
    """A job id as a path segment: whatever was typed, it stays one segment."""
    return quote(job_id.strip(), safe="")


def _attachment_name(response: httpx.Response) -> str | None:
    """The file name a Content-Disposition gives, made safe to write here (no folders)."""
    header = response.headers.get("content-disposition", "")
    match = re.search(r"filename\*=UTF-8''([^;]+)", header) or re.search(
        r'filename="?([^";]+)"?', header
    )
    if not match:
        return None
    name = Path(unquote(match.group(1)).replace("\\", "/")).name
    name = _NOT_IN_NAMES.sub("", name)
    if len(name) > MAX_NAME_CHARACTERS:  # shortened, its extension kept
        suffix = Path(name).suffix[:16]
        name = Path(name).stem[: MAX_NAME_CHARACTERS - len(suffix)] + suffix
    return name if name not in ("", ".", "..") else None


_NOT_IN_NAMES = re.compile(r"[\x00-\x1f\x7f]")
MAX_NAME_CHARACTERS = 120  # within every file system's 255 bytes, in any script


def _same_origin(url: httpx.URL, base: httpx.URL) -> bool:
    """A relative address, or one on `base`'s scheme, host and port."""
    if not url.is_absolute_url:
        return True
    return (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)


def _unused(path: Path) -> Path:
    """`path`, or the first of `stem-1.ext`, `stem-2.ext`, ... that does not exist yet."""
    found, number = path, 0
    while found.exists():
        number += 1
        found = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return found
