"""A test that hangs fails with where it hung, and the run carries on.

pytest-timeout (`timeout` in pyproject.toml) fails a test that runs too long and prints the
stack of every other thread. Our tests are coroutines on one event loop, so the stack that
matters is not a thread's: the main thread only shows the loop waiting in `select`. This
plugin adds, before pytest-timeout's own report, where each asyncio task waits, from its
outermost coroutine to the innermost await. Without it a hang in CI leaves nothing to read.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest


def _first(obj: Any, names: tuple[str, ...]) -> Any:
    return next((v for v in (getattr(obj, n, None) for n in names) if v is not None), None)


def await_chain(task: asyncio.Task[Any]) -> Iterator[FrameType]:
    """The frames a task is suspended in, outermost first (coroutines, generators,
    async generators; the chain ends at the future it waits for)."""
    awaitable: Any = task.get_coro()
    while awaitable is not None:
        frame = _first(awaitable, ("cr_frame", "gi_frame", "ag_frame"))
        if frame is not None:
            yield frame
        awaitable = _first(awaitable, ("cr_await", "gi_yieldfrom", "ag_await"))


def describe_tasks(loop: asyncio.AbstractEventLoop) -> str:
    lines = []
    for task in sorted(asyncio.all_tasks(loop), key=lambda t: t.get_name()):
        lines.append(f"task {task.get_name()}:")
        lines.extend(
            f'  File "{f.f_code.co_filename}", line {f.f_lineno}, in {f.f_code.co_name}'
            for f in await_chain(task)
        )
    return "\n".join(lines) + "\n"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Wrap the alarm pytest-timeout has just set for this test (its signal method)."""
    timed_out = signal.getsignal(signal.SIGALRM)
    if not callable(timed_out):
        return

    def report_tasks_then(signum: int, frame: FrameType | None) -> None:
        __tracebackhide__ = True
        try:
            loop = asyncio.get_running_loop()  # the alarm interrupts the loop's own thread
        except RuntimeError:
            loop = None
        if loop is not None:
            terminal = item.config.get_terminal_writer()
            terminal.sep("+", title="Where each asyncio task waits")
            terminal.write(describe_tasks(loop))
        timed_out(signum, frame)

    signal.signal(signal.SIGALRM, report_tasks_then)
