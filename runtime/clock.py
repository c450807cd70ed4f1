"""The time a service acts on: the real clock, or one that demonstrations can move forward.

A service started with `ALLOW_CLOCK_CONTROL=true` answers `POST /admin/clock` (operations role,
see the contract's "Time and working days"): from then on it behaves as if its clock read the
given moment plus the real time elapsed since. The clock is the real time plus an *offset*,
kept in one document (`_id: "clock"`) so that every replica of the service agrees once it has
refreshed (each does every `timer_poll_seconds`), and it never runs backwards: a moment earlier
than the clock's answers 409.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog
from fastapi import APIRouter, Depends
from pydantic import AwareDatetime, BaseModel, ConfigDict
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from runtime.auth import allow
from runtime.errors import Conflict

log = structlog.get_logger(__name__)

CLOCK_ID = "clock"
_ATTEMPTS = 10


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, as an aware UTC datetime."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ControlledClock:
    """Real time plus an offset (seconds) shared through `collection`; only moves forward."""

    def __init__(self, collection: AsyncCollection) -> None:
        self._collection = collection
        self._offset = 0.0

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self._offset)

    async def refresh(self) -> None:
        """Adopt the offset another replica (or this one) stored."""
        doc = await self._collection.find_one({"_id": CLOCK_ID})
        self._adopt(doc)

    def _adopt(self, doc: dict[str, Any] | None) -> None:
        # Never adopt a smaller offset: this process's clock must not run backwards, even for
        # the moment a slower concurrent `set` takes to be overwritten again (see `set`).
        if doc is not None:
            self._offset = max(self._offset, float(doc["offset"]))

    async def set(self, now: datetime) -> datetime:
        """Move the clock to `now` (aware); `Conflict` if that is earlier than the clock."""
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("the clock's new moment needs a timezone")
        now = now.astimezone(UTC)
        for _ in range(_ATTEMPTS):
            await self.refresh()
            if now < self.now():
                raise Conflict("the clock never runs backwards")
            offset = (now - datetime.now(UTC)).total_seconds()
            try:
                # The filter refuses a smaller offset; no document yet (or a larger offset)
                # makes the upsert insert `_id: "clock"`, which fails on the larger one.
                await self._collection.update_one(
                    {"_id": CLOCK_ID, "offset": {"$lte": offset}},
                    {"$set": {"offset": offset, "set_at": datetime.now(UTC)}},
                    upsert=True,
                )
            except DuplicateKeyError:
                continue  # someone stored a larger offset meanwhile: check against it
            # FerretDB applies an update as read, check, write back without isolation, so a
            # concurrent smaller offset may have been written over ours: read it back, and
            # write ours again if so (the largest offset always wins in the end).
            doc = await self._collection.find_one({"_id": CLOCK_ID})
            if doc is None or float(doc["offset"]) < offset:
                continue
            self._adopt(doc)
            log.info("clock.set", offset_seconds=round(offset))
            return now
        raise Conflict("the clock is being moved concurrently; try again")


class ClockBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    now: AwareDatetime


def clock_router(clock: ControlledClock) -> APIRouter:
    """`POST /admin/clock`: mounted only when the service allows clock control."""
    router = APIRouter(tags=["operations"])

    @router.post("/admin/clock", dependencies=[Depends(allow("operations"))])
    async def set_clock(body: ClockBody) -> dict[str, str]:
        """Move this service's clock forward (demonstrations and acceptance tests only)."""
        moved = await clock.set(body.now)
        return {"now": moved.isoformat()}

    return router
