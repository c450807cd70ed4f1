"""A lease: one holder at a time of a named piece of work, across replicas, lapsing when the
holder stops renewing it (its process died).

A lease is a versioned document written through `DocumentStore`, so taking one over is a
compare-and-set on every MongoDB-wire store. A filtered `update_one` is not enough: FerretDB 1.x
checks the filter outside the write (see `runtime/cas.py`), so two replicas taking over the same
lapsed lease would both be told they won, and both would do the work.

Each change of holder moves the lease's `epoch`. A holder that kept state in memory compares the
epoch it gets with the one it had: a different one means somebody held the lease in between,
and what it kept may be out of date.

Leases run on the wall clock, never a service's movable clock: moving a demonstration's clock a
month forward must not make every live holder look dead.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from runtime.documents import Change, DocumentStore, Versioned


def wall_clock() -> datetime:
    return datetime.now(UTC)


class Lease(BaseModel):
    name: str
    holder: str
    until: datetime
    epoch: int = 1

    def lapsed(self, now: datetime) -> bool:
        until = self.until if self.until.tzinfo else self.until.replace(tzinfo=UTC)
        return until <= now


class Leases:
    def __init__(
        self,
        documents: DocumentStore[Lease],
        seconds: float,
        clock: Callable[[], datetime] = wall_clock,
    ) -> None:
        self._documents = documents
        self._term = timedelta(seconds=seconds)
        self._clock = clock

    async def take(self, name: str, holder: str) -> int | None:
        """Take, renew or overtake (once lapsed) the lease; its epoch, or None when another
        holder has it or won it at the same moment."""
        now = self._clock()
        loaded = await self._load(name)
        if loaded is None:
            taken = Lease(name=name, holder=holder, until=now + self._term)
            return None if await self._documents.write([Change(taken)]) else taken.epoch
        held = loaded.aggregate
        if held.holder != holder and not held.lapsed(now):
            return None
        epoch = held.epoch if held.holder == holder else held.epoch + 1
        renewed = Lease(name=name, holder=holder, until=now + self._term, epoch=epoch)
        return None if await self._documents.write([Change(renewed, loaded=loaded)]) else epoch

    async def holder(self, name: str) -> str | None:
        """Who holds the lease now (None if nobody, or it lapsed)."""
        loaded = await self._load(name)
        if loaded is None or loaded.aggregate.lapsed(self._clock()):
            return None
        return loaded.aggregate.holder

    async def release(self, name: str, holder: str) -> None:
        """Let the lease lapse now, if this holder still has it (anyone may take it next)."""
        loaded = await self._load(name)
        if loaded is None or loaded.aggregate.holder != holder:
            return
        lapsed = loaded.aggregate.model_copy(update={"until": self._clock()})
        await self._documents.write([Change(lapsed, loaded=loaded)])

    async def _load(self, name: str) -> Versioned[Lease] | None:
        return (await self._documents.get_many([name])).get(name)
