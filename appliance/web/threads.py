"""Running blocking route work (database, hashing) off the event loop."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

import anyio.to_thread

P = ParamSpec("P")
T = TypeVar("T")


def in_thread(fn: Callable[P, T]) -> Callable[P, Awaitable[T]]:
    """Make a blocking handler async by running it in a worker thread.

    Litestar's own `sync_to_thread=True` wraps a handler again each time it is registered, and
    handlers sharing a path are registered more than once (litestar issue 4738), which turns
    their responses into un-awaited coroutines. An already-async handler is never wrapped.
    """

    @functools.wraps(fn)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))

    return run
