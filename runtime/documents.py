"""Store an aggregate as one document, with its pending events, guarded by a version number.

A save names the version it loaded; if someone else saved the document since, the save changes
nothing and the aggregate is *stale*: the caller reloads and retries. On stores whose updates
are not atomic (FerretDB) `runtime.cas` makes that check a real compare-and-set, so any number
of replicas may write. Writes go in batches (`write`): one marker, one `insert_many` of new
documents, concurrent version-checked updates of the others; single `add` and `save` are a
batch of one.

Each document also records what was applied to it, in the same write as the effect: for each
partition it was fed from, the offset of the last record applied (`consumed`; exact, since a
partition is read in order), and the ids of the last events applied (`applied`, for events that
did not come with a position). A redelivered event finds itself there and has no second effect.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from runtime.bulk import find_by_ids
from runtime.cas import VersionGuard, duplicate_indexes
from runtime.errors import Conflict, NotFound
from runtime.outbox import MARKER, OUTBOX_FIELD, Outbox, outbox_entries
from runtime.store_profile import StoreProfile
from schemas.base import EventData
from schemas.envelope import CloudEvent

A = TypeVar("A", bound=BaseModel)

APPLIED_FIELD = "applied"
APPLIED_KEPT = 64
CONSUMED_FIELD = "consumed"  # [{"partition": "<topic>/<n>", "offset": n}]: no dots in keys
_STORAGE_FIELDS = ("_id", "version", OUTBOX_FIELD, APPLIED_FIELD, CONSUMED_FIELD)
_CONCURRENT_WRITES = 32


class StaleAggregate(Exception):
    """Someone else saved this aggregate after it was loaded."""


class AlreadyExists(Exception):
    pass


class Versioned(Generic[A]):
    """An aggregate as loaded, with the version its save must match."""

    def __init__(
        self,
        aggregate: A,
        version: int,
        applied: Sequence[str] = (),
        outbox: Sequence[dict[str, Any]] = (),
        consumed: Mapping[str, int] | None = None,
    ) -> None:
        self.aggregate = aggregate
        self.version = version
        self.applied = list(applied)
        self.outbox = list(outbox)
        self.consumed = dict(consumed or {})

    def has_applied(self, event_id: str, position: tuple[str, int] | None) -> bool:
        """Whether this event (from this partition and offset, if it came from Kafka) is in."""
        if position is not None and position[1] <= self.consumed.get(position[0], -1):
            return True
        return event_id in self.applied


@dataclass
class Change(Generic[A]):
    """One document to write: a new aggregate (`loaded` is None) or a new state of one loaded."""

    aggregate: A
    events: list[CloudEvent] = field(default_factory=list)
    loaded: Versioned[A] | None = None
    applied: list[str] = field(default_factory=list)
    consumed: dict[str, int] = field(default_factory=dict)

    def apply(self, event_id: str, position: tuple[str, int] | None) -> None:
        """Record that this event's effect is part of the change."""
        self.applied.append(event_id)
        if position is not None:
            self.consumed[position[0]] = max(position[1], self.consumed.get(position[0], -1))

    def has_applied(self, event_id: str, position: tuple[str, int] | None) -> bool:
        if position is not None and position[1] <= self.consumed.get(position[0], -1):
            return True
        return event_id in self.applied


class DocumentStore(Generic[A]):
    def __init__(
        self,
        collection: AsyncCollection,
        model: type[A],
        *,
        id_field: str,
        outbox: Outbox,
        guard: VersionGuard,
        profile: StoreProfile,
    ) -> None:
        self.collection = collection
        self._model = model
        self._id_field = id_field
        self._outbox = outbox
        self._guard = guard
        self._profile = profile

    # --- reading ---------------------------------------------------------------------------

    def _versioned(self, doc: Mapping[str, Any]) -> Versioned[A]:
        aggregate = self._model.model_validate(
            {k: v for k, v in doc.items() if k not in _STORAGE_FIELDS}
        )
        consumed = {c["partition"]: c["offset"] for c in doc.get(CONSUMED_FIELD) or ()}
        return Versioned(
            aggregate,
            doc["version"],
            doc.get(APPLIED_FIELD) or (),
            doc.get(OUTBOX_FIELD) or (),
            consumed,
        )

    async def get(self, aggregate_id: str) -> Versioned[A] | None:
        return await self.get_by({"_id": aggregate_id})

    async def get_by(self, query: Mapping[str, Any]) -> Versioned[A] | None:
        doc = await self.collection.find_one(dict(query))
        return self._versioned(doc) if doc else None

    async def get_many(self, ids: Iterable[str]) -> dict[str, Versioned[A]]:
        docs = await find_by_ids(self.collection, ids, self._profile)
        return {doc_id: self._versioned(doc) for doc_id, doc in docs.items()}

    async def find(
        self,
        query: Mapping[str, Any],
        *,
        sort: list[tuple[str, int]] | None = None,
        limit: int = 0,
    ) -> list[A]:
        cursor = self.collection.find(
            dict(query), {OUTBOX_FIELD: 0, APPLIED_FIELD: 0, CONSUMED_FIELD: 0}
        )
        if sort:
            cursor = cursor.sort(sort)
        if limit:
            cursor = cursor.limit(limit)
        return [self._model.model_validate(_body(doc)) async for doc in cursor]

    # --- writing ---------------------------------------------------------------------------

    async def write(self, changes: Sequence[Change[A]]) -> set[str]:
        """Write every change; the ids of those that were stale (nothing of theirs written).

        New documents that already exist count as stale too: someone created them first.
        """
        if not changes:
            return set()
        ids = [str(c.aggregate.model_dump()[self._id_field]) for c in changes]
        versions = [(c.loaded.version + 1) if c.loaded else 1 for c in changes]
        marker = ""
        if any(c.events for c in changes):
            marker = await self._outbox.open(
                self.collection,
                [(i, v) for i, v, c in zip(ids, versions, changes, strict=True) if c.events],
            )
        live = await self._outbox.live(
            {e[MARKER] for c in changes if c.loaded for e in c.loaded.outbox if MARKER in e}
        )
        docs = []
        for doc_id, version, change in zip(ids, versions, changes, strict=True):
            before = change.loaded
            kept = [e for e in (before.outbox if before else ()) if e.get(MARKER) in live]
            applied = [*(before.applied if before else ()), *change.applied][-APPLIED_KEPT:]
            consumed = dict(before.consumed if before else {})
            for partition, offset in change.consumed.items():
                consumed[partition] = max(offset, consumed.get(partition, -1))
            docs.append(
                {
                    "_id": doc_id,
                    **change.aggregate.model_dump(mode="json"),
                    "version": version,
                    APPLIED_FIELD: applied,
                    CONSUMED_FIELD: [{"partition": p, "offset": o} for p, o in consumed.items()],
                    OUTBOX_FIELD: kept + outbox_entries(marker, change.events),
                }
            )
        stale = await self._insert([d for d, c in zip(docs, changes, strict=True) if not c.loaded])
        stale |= await self._update(
            [(d, c.loaded.version) for d, c in zip(docs, changes, strict=True) if c.loaded]
        )
        written = [(d, c) for d, c in zip(docs, changes, strict=True) if d["_id"] not in stale]
        if marker and not any(c.events for _, c in written):
            await self._outbox.abandon(marker)
        for doc, change in written:
            if change.loaded:
                change.loaded.version = doc["version"]
                change.loaded.applied = doc[APPLIED_FIELD]
                change.loaded.consumed = {c["partition"]: c["offset"] for c in doc[CONSUMED_FIELD]}
                change.loaded.outbox = doc[OUTBOX_FIELD]
        # Hint the relay with every entry still pending in the written documents, oldest
        # first: an earlier write's unpublished events go out before this write's.
        self._outbox.written(marker, [e for d, _ in written for e in d[OUTBOX_FIELD]])
        return stale

    async def _insert(self, docs: list[dict[str, Any]]) -> set[str]:
        if not docs:
            return set()
        try:
            await self.collection.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            return {docs[i]["_id"] for i in duplicate_indexes(exc)}
        return set()

    async def _update(self, targets: list[tuple[dict[str, Any], int]]) -> set[str]:
        if not targets:
            return set()
        claims = await self._guard.claim(
            self.collection.name, [(d["_id"], d["version"]) for d, _ in targets]
        )
        stale: set[str] = set()
        gate = asyncio.Semaphore(_CONCURRENT_WRITES)

        async def update(n: int, doc: dict[str, Any], version: int) -> None:
            body = {k: v for k, v in doc.items() if k != "_id"}
            async with gate:
                if claims is None:  # an atomic store: the filter is the compare-and-set
                    result = await self.collection.update_one(
                        {"_id": doc["_id"], "version": version}, {"$set": body}
                    )
                    if result.matched_count != 1:
                        stale.add(doc["_id"])
                    return
                if not claims[n]:
                    stale.add(doc["_id"])
                    return
                # We hold the claim on version + 1, so only we can move the document off the
                # version we read now. Filter by `_id` alone: FerretDB answers only that filter
                # from an index (with the version in it, it scans the collection).
                current = await self.collection.find_one({"_id": doc["_id"]}, {"version": 1})
                if current is None or current["version"] != version:
                    stale.add(doc["_id"])
                    return
                await self.collection.update_one({"_id": doc["_id"]}, {"$set": body})

        try:
            await asyncio.gather(*(update(n, d, v) for n, (d, v) in enumerate(targets)))
        finally:
            if claims is not None:
                await self._guard.release(claims)
        return stale

    async def add(self, aggregate: A, events: Iterable[CloudEvent] = ()) -> None:
        if await self.write([Change(aggregate, list(events))]):
            raise AlreadyExists(str(aggregate.model_dump()[self._id_field]))

    async def save(self, loaded: Versioned[A], events: Iterable[CloudEvent] = ()) -> None:
        if await self.write([Change(loaded.aggregate, list(events), loaded)]):
            raise StaleAggregate(str(loaded.aggregate.model_dump()[self._id_field]))

    async def mutate(
        self,
        query: Mapping[str, Any],
        change: Callable[[A], Sequence[EventData]],
        wrap: Callable[[Sequence[EventData]], list[CloudEvent]],
        *,
        attempts: int = 5,
    ) -> A:
        """Load, apply a domain rule, and save the new state with the events it returned.

        On a concurrent save the rule is re-applied to the fresh state, so it must be a pure
        function of the aggregate (domain rules are). Raises `NotFound` if nothing matches.
        """
        for attempt in range(attempts):
            loaded = await self.get_by(query)
            if loaded is None:
                raise NotFound("no such " + self._model.__name__.lower())
            events = change(loaded.aggregate)
            try:
                await self.save(loaded, wrap(events))
            except StaleAggregate:
                # Capped and jittered, so writers contending for one hot document (a provider's
                # places) spread out instead of colliding again in step.
                await asyncio.sleep(min(0.01 * 2**attempt, 0.2) * (0.5 + random.random()))
                continue
            return loaded.aggregate
        raise Conflict(f"gave up after {attempts} concurrent updates; try again")


def _body(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in _STORAGE_FIELDS}
