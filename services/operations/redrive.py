"""Redrive tasks: dead letters back to their original topic, one task per DLQ topic at a time,
rate-limited, with progress, cancellable, and an audit record (who, when, what) as events
`operations.redrive.started` / `finished` on `operations.events.v1` and in `redrive_tasks`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import structlog
from pydantic import BaseModel, Field
from pymongo.errors import DuplicateKeyError

from runtime.clock import Clock
from runtime.documents import DocumentStore
from runtime.errors import Conflict
from runtime.events import enveloper
from runtime.ids import new_id
from runtime.kafka import EventProducer, OutRecord
from runtime.leases import Leases
from runtime.principal import Principal
from schemas.operations import RedriveFinished, RedriveStarted
from services.operations import dead_letters as dl
from services.operations.store import OperationsStore

log = structlog.get_logger(__name__)

SOURCE = "/services/operations"
_PROGRESS_EVERY = 25
_PROGRESS_SECONDS = 5.0


class RedriveTask(BaseModel):
    task_id: str
    dlq_topic: str
    by_org: str
    partnership: str
    requested_at: datetime
    status: Literal["running", "done", "failed"] = "running"
    moved: int = 0
    total: int = 0
    max_per_second: float = 100.0
    records: list[str] = Field(default_factory=list)  # "<partition>/<offset>" chosen at start
    cancelled: bool = False
    error: str | None = None
    finished_at: datetime | None = None

    def progress(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"records"})


class Redrives:
    def __init__(
        self,
        store: OperationsStore,
        tasks: DocumentStore[RedriveTask],
        locks: Leases,
        producer: EventProducer,
        clock: Clock,
        known_topics: set[str],
    ) -> None:
        self._store = store
        self.tasks = tasks
        self._locks = locks
        self._producer = producer
        self._clock = clock
        self._known = known_topics
        self._running: dict[str, asyncio.Task[None]] = {}

    async def _lock(self, dlq_topic: str, task_id: str) -> None:
        """One task per DLQ topic: the topic's lease, held by the task, renewed as it makes
        progress; a task whose process died lets it lapse, and the topic can be redriven again."""
        if await self._locks.take(_lock_name(dlq_topic), task_id) is None:
            running = await self._locks.holder(_lock_name(dlq_topic))
            raise Conflict(f"a redrive of {dlq_topic} is running: task {running or 'starting'}")

    async def start(
        self,
        principal: Principal,
        dlq_topic: str,
        chosen: Sequence[dl.DeadLetter],
        max_per_second: float,
    ) -> RedriveTask:
        task_id = new_id("RD")
        await self._lock(dlq_topic, task_id)
        task = RedriveTask(
            task_id=task_id,
            dlq_topic=dlq_topic,
            by_org=principal.org_id,
            partnership=principal.partnership,
            requested_at=self._clock.now(),
            total=len(chosen),
            max_per_second=max_per_second,
            records=[f"{x.partition}/{x.offset}" for x in chosen],
        )
        started = RedriveStarted(
            task_id=task_id,
            partnership=principal.partnership,
            dlq_topic=dlq_topic,
            by_org=principal.org_id,
            total=len(chosen),
            max_per_second=max_per_second,
        )
        await self.tasks.add(task, enveloper(SOURCE, cause_id=f"redrive:{task_id}")([started]))
        letters = {x.ref: x for x in chosen}
        self._running[task_id] = asyncio.create_task(self._run(task, letters))
        return task

    async def cancel(self, task_id: str) -> RedriveTask:
        def mark(t: RedriveTask) -> list:
            t.cancelled = True
            return []

        return await self.tasks.mutate({"_id": task_id}, mark, lambda e: [])

    async def _run(self, task: RedriveTask, letters: dict[str, dl.DeadLetter]) -> None:
        moved, error = 0, None
        interval = 1.0 / task.max_per_second
        loop = asyncio.get_running_loop()
        began = reported = loop.time()
        try:
            for n, letter in enumerate(letters.values()):
                # The rate: record n goes no earlier than n / max_per_second after the start.
                # Waited out in short steps: progress is reported (which renews the topic's
                # lease and notices a cancel) every so many records and every few seconds,
                # however slow the rate, so the lease never lapses while the task lives.
                due, report = began + n * interval, n % _PROGRESS_EVERY == 0
                while True:
                    if report or loop.time() - reported >= _PROGRESS_SECONDS:
                        if await self._cancelled(task.task_id):
                            error = "cancelled"
                            break
                        await self._progress(task, moved)
                        reported, report = loop.time(), False
                    if (wait := due - loop.time()) <= 0:
                        break
                    await asyncio.sleep(min(wait, _PROGRESS_SECONDS))
                if error:
                    break
                target = dl.destination(letter, self._known)
                if target is None:
                    error = "no original topic to redrive to"
                    break
                (failed,) = await self._producer.send_many(
                    [OutRecord(target, letter.value, letter.key, dl.redriven_headers(letter))]
                )
                if failed is not None:
                    error = type(failed).__name__
                    break
                with contextlib.suppress(DuplicateKeyError):
                    await self._store.redriven.insert_one(
                        {"_id": letter.ref, "task_id": task.task_id, "at": self._clock.now()}
                    )
                moved += 1
        except Exception as exc:  # the task fails; the service goes on
            error = type(exc).__name__
            log.error("redrive.failed", task_id=task.task_id, error=error)
        finally:
            await self._finish(task, moved, error)
            self._running.pop(task.task_id, None)

    async def _cancelled(self, task_id: str) -> bool:
        loaded = await self.tasks.get(task_id)
        return bool(loaded and loaded.aggregate.cancelled)

    async def _progress(self, task: RedriveTask, moved: int) -> None:
        def update(t: RedriveTask) -> list:
            t.moved = moved
            return []

        await self.tasks.mutate({"_id": task.task_id}, update, lambda e: [])
        if await self._locks.take(_lock_name(task.dlq_topic), task.task_id) is None:
            raise LockLost(task.dlq_topic)  # it lapsed and another task has the topic now

    async def _finish(self, task: RedriveTask, moved: int, error: str | None) -> None:
        status: Literal["done", "failed"] = "failed" if error else "done"

        def end(t: RedriveTask) -> list:
            t.moved, t.status, t.error = moved, status, error
            t.finished_at = self._clock.now()
            return [
                RedriveFinished(
                    task_id=t.task_id,
                    partnership=t.partnership,
                    dlq_topic=t.dlq_topic,
                    by_org=t.by_org,
                    status=status,
                    moved=moved,
                    total=t.total,
                    cancelled=t.cancelled,
                )
            ]

        wrap = enveloper(SOURCE, cause_id=f"redrive-finished:{task.task_id}")
        await self.tasks.mutate({"_id": task.task_id}, end, wrap)
        await self._locks.release(_lock_name(task.dlq_topic), task.task_id)
        log.info("redrive.finished", task_id=task.task_id, status=status, moved=moved)


class LockLost(Exception):
    """The task's hold on its DLQ topic lapsed and another task took it."""


def _lock_name(dlq_topic: str) -> str:
    return f"redrive|{dlq_topic}"
