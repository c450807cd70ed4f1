"""Stopping a background task: it ends even when it swallows a cancellation, and its failure
is reported rather than raised at the one stopping it."""

from __future__ import annotations

import asyncio

from runtime.tasks import stop_task


async def test_a_task_that_swallows_one_cancellation_is_cancelled_again_until_it_ends() -> None:
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1  # as a retry loop does with a cancellation turned into an error

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    # A bound for the test itself only: `task.cancel(); await task` would never return here.
    await asyncio.wait_for(stop_task(task, every=0.01), timeout=30)
    assert task.cancelled()
    assert swallowed == 1


async def test_a_task_that_failed_before_it_was_stopped_does_not_fail_the_stop() -> None:
    async def failing() -> None:
        raise ValueError("gone")

    task = asyncio.create_task(failing())
    await asyncio.sleep(0)
    await stop_task(task)
    assert isinstance(task.exception(), ValueError)


async def test_no_task_is_nothing_to_stop() -> None:
    await stop_task(None)
