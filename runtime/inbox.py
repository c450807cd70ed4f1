"""Which events this service has already handled, so a redelivery has no second effect.

Kafka delivers at least once: a consumer that dies after storing an effect but before committing
its offset sees the record again. The inbox records each handled event id after the handler's
effect is stored. Handlers are also written to be idempotent on their own (derived ids,
conditional updates), which covers the gap between storing the effect and recording the id.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


class Inbox:
    def __init__(self, db: AsyncDatabase) -> None:
        self._collection = db["inbox"]

    async def seen(self, event_id: str) -> bool:
        return await self._collection.find_one({"_id": event_id}, {"_id": 1}) is not None

    async def record(self, event_id: str, event_type: str) -> None:
        # Handled twice concurrently (e.g. across a rebalance): one record is enough.
        with contextlib.suppress(DuplicateKeyError):
            await self._collection.insert_one(
                {"_id": event_id, "type": event_type, "handled_at": datetime.now(UTC)}
            )
