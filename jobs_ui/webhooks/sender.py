"""One delivery attempt: a signed POST to an address checked moments before, bounded in time.

The request goes to the checked address itself (the URL's host only in the Host header and,
for https, in the TLS server name the certificate is verified against), so what the name
resolves to after the check does not matter. No redirect is followed (it could point
anywhere), no proxy from the environment is used (it would connect instead of us), no
connection is kept for another endpoint, and at most `RESPONSE_CAP` bytes of an answer are
read. One deadline covers it all: resolving, connecting, sending and the answer's start.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

import httpx

from jobs_ui.webhooks.signing import signed_headers
from jobs_ui.webhooks.targets import TargetError, TargetPolicy, parse_target

log = logging.getLogger(__name__)

RESPONSE_CAP = 1024  # bytes of an answer read, to say why it failed
EXCERPT_CHARS = 200
USER_AGENT = "jobs_ui-webhooks/1"


@dataclass(frozen=True)
class Outcome:
    """How one attempt went: `error` is None exactly when it was delivered (a 2xx)."""

    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.error is None


class Sender:
    """Sends attempts; one per call, many at once from one event loop. Close it when done
    (`async with`, or `aclose`)."""

    def __init__(
        self,
        policy: TargetPolicy,
        *,
        timeout: float,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._policy = policy
        self._timeout = timeout
        self._clock = clock
        self._client = httpx.AsyncClient(
            verify=_certificates(),
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(timeout),
            # A connection is made for one address and TLS name: never reuse it for another.
            limits=httpx.Limits(max_keepalive_connections=0),
            transport=transport,
        )

    @property
    def timeout(self) -> float:
        """Seconds one attempt may take in all."""
        return self._timeout

    async def __aenter__(self) -> Sender:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, *, url: str, message_id: str, secret: str, body: bytes) -> Outcome:
        started = time.monotonic()
        status: int | None = None
        try:
            async with asyncio.timeout(self._timeout):
                status, error = await self._post(url, message_id, secret, body)
        except TimeoutError:
            error = f"No answer within {self._timeout:g} s."
        except TargetError as refused:
            error = str(refused)
        except httpx.TimeoutException:
            error = f"No answer within {self._timeout:g} s."
        except httpx.HTTPError as failed:
            error = _describe(failed)
        except OSError as failed:  # below httpx's own errors (e.g. a socket option refused)
            error = f"The request failed: {failed}."
        duration = round((time.monotonic() - started) * 1000)
        return Outcome(status_code=status, error=error, duration_ms=duration)

    async def _post(
        self, url: str, message_id: str, secret: str, body: bytes
    ) -> tuple[int, str | None]:
        target = parse_target(url)
        # On the lookups' own threads (not this loop's executor, which the database calls
        # need), bounded by the policy's timeout and this attempt's deadline both.
        addresses = await self._policy.addresses_async(target)
        headers = {
            "Host": target.host_header,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Accept-Encoding": "identity",  # the excerpt is read as sent, never inflated
            **signed_headers(secret, message_id, int(self._clock()), body),
        }
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        for index, address in enumerate(addresses):
            request = self._client.build_request(
                "POST",
                target.url_for(address),
                content=body,
                headers=headers,
                extensions=extensions,
            )
            try:
                response = await self._client.send(request, stream=True)
            except httpx.ConnectError:
                if index == len(addresses) - 1:
                    raise
                continue  # the next address the host has
            try:
                return response.status_code, await _judge(response)
            finally:
                await response.aclose()
        raise TargetError(f"The host {target.host} resolves to no address.")


@functools.cache
def _certificates() -> ssl.SSLContext:
    """The CAs https answers are checked against, loaded once per process (it takes a
    tenth of a second, and senders are made per delivery loop run)."""
    return httpx.create_ssl_context()


async def _judge(response: httpx.Response) -> str | None:
    """None for a 2xx answer, else why it does not count as delivered."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        where = response.headers.get("location", "")[:EXCERPT_CHARS]
        where = where or "nowhere"
        return f"Answered {status}, a redirect (to {where}); redirects are not followed."
    excerpt = await _excerpt(response)
    return f"Answered {status}" + (f": {excerpt}" if excerpt else ".")


async def _excerpt(response: httpx.Response) -> str:
    """The start of the answer's body, as one line."""
    read = b""
    async for chunk in response.aiter_raw():
        read += chunk
        if len(read) >= RESPONSE_CAP:
            break
    text = " ".join(read[:RESPONSE_CAP].decode("utf-8", "replace").split())
    return text[:EXCERPT_CHARS]


def _describe(error: httpx.HTTPError) -> str:
    if isinstance(error, httpx.ConnectError):
        return f"Could not connect: {error or 'the connection was refused'}."
    if isinstance(error, httpx.RemoteProtocolError):
        return f"The answer was not valid HTTP: {error or 'the connection closed early'}."
    return f"The request failed: {error or type(error).__name__}."
