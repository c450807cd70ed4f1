"""Transactional outbox without transactions: an aggregate's pending events live in its document.

The database (FerretDB here, MongoDB in production) guarantees atomicity for one document only.
So a state change and the events it emits are written in the same `update_one`: the new state,
and the events appended to the document's `outbox` array. The relay then publishes each pending
event (in order, per document, which is per Kafka key) and removes it from the array.

If the process dies between the write and the publish, the events are still in the document
and the next relay run publishes them. If it dies between publishing and removing, the event is
published again with the same `id`, which consumers treat as a no-op. So a change and its events
cannot diverge: at least once, never lost, never with different content.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

import structlog
from pymongo.asynchronous.collection import AsyncCollection

from runtime.kafka import EventPublisher
from runtime.locks import document_lock
from schemas.envelope import CloudEvent

log = structlog.get_logger(__name__)

OUTBOX_FIELD = "outbox"
PENDING = {f"{OUTBOX_FIELD}.0": {"$exists": True}}


def outbox_entries(events: Iterable[CloudEvent]) -> list[dict[str, Any]]:
    """The form events take inside a document until the relay publishes them."""
    return [e.model_dump(mode="json", exclude_none=True) for e in events]


class OutboxRelay:
    """Publishes the pending events of documents in the given collections.

    Two ways in. A *hint*: every save names the document it just gave events to, and the relay
    publishes that document's outbox at once, in the order the saves happened (a lookup by
    `_id`). A *sweep*: at start and then every `sweep_seconds`, a query for every document with
    a non-empty outbox catches what a crash left behind. The sweep is the guarantee; hints are
    the speed (on FerretDB a query on anything but `_id` scans the whole collection).
    """

    def __init__(
        self,
        publisher: EventPublisher,
        collections: Iterable[AsyncCollection],
        *,
        sweep_seconds: float = 10.0,
        batch_size: int = 100,
    ) -> None:
        self._publisher = publisher
        self._collections = {c.full_name: c for c in collections}
        self._sweep_seconds = sweep_seconds
        self._batch_size = batch_size
        self._hints: dict[tuple[str, Any], None] = {}  # an ordered set
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.healthy = False

    def wake(self, collection: AsyncCollection, document_id: Any) -> None:
        """Publish this document's pending events soon: called right after a save."""
        self._hints[(collection.full_name, document_id)] = None
        self._wake.set()

    def start(self) -> None:
        # Healthy until a publish fails: readiness must not wait for a start-up backlog.
        self.healthy = True
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        failures = 0
        next_sweep = 0.0  # sweep at once on start: a previous process may have died mid-way
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            try:
                await self.relay_hinted()
                # One batch per turn, so fresh hints never wait behind a long backlog; sweep
                # again straight away while the last batch found anything.
                if loop.time() >= next_sweep and not await self.sweep():
                    next_sweep = loop.time() + self._sweep_seconds
                self.healthy, failures = True, 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                self.healthy = False
                delay = min(0.5 * 2**failures, 30.0)
                log.warning(
                    "outbox.relay_failed", error=f"{type(exc).__name__}: {exc}", retry_in_s=delay
                )
                await asyncio.sleep(delay)
                continue
            if self._hints or loop.time() >= next_sweep:
                continue
            timeout = max(0.0, next_sweep - loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)

    async def relay_hinted(self) -> int:
        """Publish the outboxes of the documents saves have named, oldest hint first."""
        count = 0
        while self._hints:
            name, document_id = next(iter(self._hints))
            collection = self._collections.get(name)
            if collection is not None:
                doc = await collection.find_one({"_id": document_id}, {OUTBOX_FIELD: 1})
                if doc:
                    count += await self._publish(collection, doc)
            # Forget the hint only once handled: after a failure the next run retries it.
            self._hints.pop((name, document_id), None)
        return count

    async def sweep(self) -> int:
        """Publish whatever is pending in every collection; returns how many events."""
        count = 0
        for collection in self._collections.values():
            cursor = collection.find(PENDING, {OUTBOX_FIELD: 1}).limit(self._batch_size)
            async for doc in cursor:
                count += await self._publish(collection, doc)
        return count

    async def relay_once(self) -> int:
        """Hinted documents, then a sweep: everything pending now (used by tests and tools)."""
        return await self.relay_hinted() + await self.sweep()

    async def _publish(self, collection: AsyncCollection, doc: dict[str, Any]) -> int:
        entries = doc.get(OUTBOX_FIELD) or []
        if not entries:
            return 0
        for entry in entries:
            await self._publisher.publish(CloudEvent.model_validate(entry))
        # Remove exactly the entries published, as read: events appended meanwhile stay.
        # `$pullAll` of whole elements, because FerretDB ignores a `$pull` with a condition
        # (`{"id": {"$in": ...}}`) without an error.
        async with document_lock(collection.full_name, doc["_id"]):
            await collection.update_one({"_id": doc["_id"]}, {"$pullAll": {OUTBOX_FIELD: entries}})
        log.debug("outbox.published", count=len(entries))
        return len(entries)
