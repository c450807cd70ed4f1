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
    """Publishes the pending events of every document in the given collections."""

    def __init__(
        self,
        publisher: EventPublisher,
        collections: Iterable[AsyncCollection],
        *,
        poll_seconds: float = 0.5,
        batch_size: int = 100,
    ) -> None:
        self._publisher = publisher
        self._collections = tuple(collections)
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.healthy = False

    def wake(self) -> None:
        """Publish soon: called after a write so events leave in milliseconds, not a poll later."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        failures = 0
        while True:
            self._wake.clear()
            try:
                published = await self.relay_once()
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
            if published:
                continue  # there may be more: drain before sleeping
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_seconds)

    async def relay_once(self) -> int:
        """Publish what is pending now; returns how many events were published."""
        count = 0
        for collection in self._collections:
            cursor = collection.find(PENDING, {OUTBOX_FIELD: 1}).limit(self._batch_size)
            async for doc in cursor:
                entries = doc.get(OUTBOX_FIELD) or []
                for entry in entries:
                    await self._publisher.publish(CloudEvent.model_validate(entry))
                # Remove exactly the entries published, as read: events appended meanwhile
                # stay. `$pullAll` of whole elements, because FerretDB ignores a `$pull` with
                # a condition (`{"id": {"$in": ...}}`) without an error.
                async with document_lock(collection.full_name, doc["_id"]):
                    await collection.update_one(
                        {"_id": doc["_id"]}, {"$pullAll": {OUTBOX_FIELD: entries}}
                    )
                count += len(entries)
        if count:
            log.debug("outbox.published", count=count)
        return count
