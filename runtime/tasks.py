"""The one way a background task is stopped: cancelled, and cancelled again until it has ended.

`task.cancel(); await task` waits forever if the task swallows the cancellation and goes on,
and in Python 3.11 that needs no bug of ours: `asyncio.wait_for` returns the inner result and
drops the cancellation when both arrive in the same loop iteration (CPython bpo-42130, now
gh-86296; fixed in 3.12), and a library may turn a cancellation into an error that a retry
loop then catches. A service that cannot stop holds its replica's partitions and connections
until it is killed, and a test that stops it never ends. So the request is repeated until the
task is done.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog

log = structlog.get_logger(__name__)


async def stop_task(task: asyncio.Task[Any] | None, *, every: float = 5.0) -> None:
    """Cancel `task` and wait until it has ended, repeating the cancellation `every` seconds.

    The task's own exception, if it failed, is neither raised nor lost: it is logged by type."""
    if task is None:
        return
    attempts = 0
    while not task.done():
        attempts += 1
        task.cancel()
        # `wait` neither raises the task's outcome nor cancels it when the caller is cancelled.
        await asyncio.wait({task}, timeout=every)
    if attempts > 1:
        log.warning("task.stop_repeated", task=task.get_name(), cancellations=attempts)
    with contextlib.suppress(asyncio.CancelledError):
        error = task.exception()
        if error is not None:
            log.error("task.failed_before_stop", task=task.get_name(), error=type(error).__name__)
