"""Which events this service has already handled, so a redelivery has no second effect.

Kafka delivers at least once: a consumer that dies after storing an effect but before committing
its offset sees the record again. Handlers of effects that are not keyed by an aggregate record
each handled event id here, a batch at a time, after the batch's effects are stored. Handlers
are also written to be idempotent on their own (derived ids, conditional updates), which covers
the gap between storing an effect and recording its id. Aggregate handlers need no inbox: the
ids of the events applied to a document are kept in the document (`runtime.documents`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from runtime.bulk import find_by_ids
from runtime.cas import duplicate_indexes
from runtime.store_profile import StoreProfile


class Inbox:
    def __init__(self, db: AsyncDatabase, profile: StoreProfile) -> None:
        self._collection = db["inbox"]
        self._profile = profile

    async def seen(self, event_ids: Iterable[str]) -> set[str]:
        found = await find_by_ids(self._collection, event_ids, self._profile, {"_id": 1})
        return set(found)

    async def record(self, events: Sequence[tuple[str, str]]) -> None:
        """Record `(event id, event type)` pairs; one already recorded is fine."""
        if not events:
            return
        now = datetime.now(UTC)
        docs = [{"_id": i, "type": t, "handled_at": now} for i, t in dict(events).items()]
        try:
            await self._collection.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            duplicate_indexes(exc)  # handled twice (e.g. across a rebalance): once is enough
