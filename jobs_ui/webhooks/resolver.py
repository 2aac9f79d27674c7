"""DNS lookups of webhook hosts: bounded in time, on a few threads of their own.

The system resolver blocks, and a name whose servers never answer can hold a thread for
tens of seconds. A registration (a request thread of the app) or a delivery (the delivery
loop's event loop) must neither wait that long nor let such lookups take the threads the
app's requests and the loop's database calls run on: each lookup runs on this module's
pool and is waited for at most its `within` seconds. A lookup that runs out is abandoned (its thread
finishes it later and the answer is dropped); when every thread is stuck, new lookups wait
in the pool's queue and run out the same way, so nothing grows without bound but the queue
of lookups already given up on, each of which then returns at once.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

Lookup = Callable[[str, int], Sequence[str]]

THREADS = 8  # lookups at once per process; more wait (within their own timeout)
THREAD_PREFIX = "webhook-dns"

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


class LookupTimeoutError(Exception):
    """The lookup gave no answer within its timeout."""


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix=THREAD_PREFIX)
        return _pool


def _forget_pool() -> None:
    # A forked child (a Celery worker's) has none of the parent's threads: start afresh.
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def _submit(resolve: Lookup, host: str, port: int) -> Future[Sequence[str]]:
    return _executor().submit(resolve, host, port)


def lookup(resolve: Lookup, host: str, port: int, *, within: float) -> Sequence[str]:
    """`resolve(host, port)` on the pool, waited for from a thread; LookupTimeoutError once
    `within` seconds pass. Its own errors are raised as they are."""
    future = _submit(resolve, host, port)
    try:
        return future.result(within)
    except TimeoutError:
        future.cancel()  # not started yet: it never will be
        raise LookupTimeoutError from None


async def lookup_async(resolve: Lookup, host: str, port: int, *, within: float) -> Sequence[str]:
    """`lookup`, awaited from an event loop without blocking it or its default executor."""
    future = _submit(resolve, host, port)
    try:
        async with asyncio.timeout(within):  # cancels the wait and, if not started, it
            return await asyncio.wrap_future(future)
    except TimeoutError:
        raise LookupTimeoutError from None
