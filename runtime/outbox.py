"""Transactional outbox without transactions, at a cost per batch rather than per event.

The store guarantees atomicity for one document only, so a state change and the events it
emits are written in the same document write: the new state, and the events in the document's
`outbox` array. What remains is to know, cheaply and after any crash, which of those events may
not be on Kafka yet. That is a *marker*: before a batch of documents is written, one marker
naming them (and the version each is written at) is inserted into `outbox_markers`; every
event written carries the marker's id. Then:

- *Hint* (the fast path): after the write, the writer hands the relay the events it just
  wrote. The relay publishes many at once (in order, per key), awaits the acks together and
  deletes the marker: one insert and one delete per batch, however many events it holds.
- *Sweep* (the guarantee): at start and every `sweep_seconds`, the relay reads the markers
  (a small collection: only batches not yet published) older than `settle_seconds`, publishes
  the events of each from the documents it names, and deletes it. A marker whose documents hold
  none of its events after `orphan_seconds` belongs to a write that never happened.
- Published events stay in their document until its next write, which keeps only the entries
  whose marker still exists. The relay itself never writes an aggregate, so it needs no
  compare-and-set and cannot undo a concurrent save.
- An event that can never be published (larger than the broker accepts, refused as invalid)
  is *parked* in `outbox_parked` with its error and the relay goes on; nothing waits behind it.
  A broker that is unreachable is waited for, with backoff.

A crash anywhere republishes with the same event `id`, which consumers treat as a no-op: at
least once, never lost, never with different content. With several replicas each relays what
it wrote; sweeps may publish an event twice, never zero times.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from runtime import metrics
from runtime.backoff import Backoff
from runtime.bulk import find_by_ids
from runtime.kafka import UNPUBLISHABLE, EventProducer, OutRecord
from runtime.log_once import RepeatedErrors
from runtime.store_profile import StoreProfile
from runtime.tasks import stop_task
from schemas.envelope import CloudEvent

log = structlog.get_logger(__name__)

OUTBOX_FIELD = "outbox"
MARKER = "m"  # an outbox entry: {"m": marker id, "e": the CloudEvent as JSON}
EVENT = "e"


def outbox_entries(marker_id: str, events: Iterable[CloudEvent]) -> list[dict[str, Any]]:
    """The form events take inside a document until the relay has published them."""
    return [
        {MARKER: marker_id, EVENT: e.model_dump(mode="json", exclude_none=True)} for e in events
    ]


@dataclass(frozen=True)
class Hint:
    marker_id: str
    events: list[dict[str, Any]]  # CloudEvents as JSON, in the order they were written


class Outbox:
    """The writer's side: a marker before a batch is written, a hint to the relay after."""

    def __init__(self, db: AsyncDatabase, profile: StoreProfile) -> None:
        self.markers = db["outbox_markers"]
        self._profile = profile
        self.relay: OutboxRelay | None = None

    async def open(self, collection: AsyncCollection, docs: Sequence[tuple[Any, int]]) -> str:
        """Record that these documents are about to be written with events; the marker id."""
        marker_id = uuid.uuid4().hex
        await self.markers.insert_one(
            {
                "_id": marker_id,
                "collection": collection.name,
                # Objects, not pairs: FerretDB stores no nested arrays.
                "docs": [{"id": doc_id, "version": version} for doc_id, version in docs],
                "at": datetime.now(UTC),
            }
        )
        return marker_id

    async def live(self, marker_ids: Iterable[str]) -> set[str]:
        """Which of these markers still exist, i.e. whose events may not be published yet."""
        found = await find_by_ids(self.markers, marker_ids, self._profile, {"_id": 1})
        return set(found)

    async def abandon(self, marker_id: str) -> None:
        """None of the marker's documents was written (all lost a race): it marks nothing."""
        await self.markers.delete_one({"_id": marker_id})

    def written(self, marker_id: str, entries: Iterable[dict[str, Any]]) -> None:
        """The documents are stored: publish these entries now (in this order)."""
        events = [entry[EVENT] for entry in entries]
        if self.relay is not None and events:
            self.relay.hint(Hint(marker_id, events))


class OutboxRelay:
    def __init__(
        self,
        producer: EventProducer,
        db: AsyncDatabase,
        outbox: Outbox,
        collections: Iterable[AsyncCollection],
        profile: StoreProfile,
        *,
        sweep_seconds: float = 10.0,
        settle_seconds: float = 5.0,
        orphan_seconds: float = 60.0,
        max_batch_events: int = 2000,
        max_backlog_events: int = 20_000,
        backoff: Backoff | None = None,
    ) -> None:
        self._producer = producer
        self._outbox = outbox
        self._markers = outbox.markers
        self._parked = db["outbox_parked"]
        self._collections = {c.name: c for c in collections}
        self._profile = profile
        self._sweep_seconds = sweep_seconds
        self._settle = timedelta(seconds=settle_seconds)
        self._orphan = timedelta(seconds=orphan_seconds)
        self._max_batch = max_batch_events
        self._max_backlog = max_backlog_events
        self._backoff = backoff or Backoff()
        self._errors = RepeatedErrors()
        self._hints: deque[Hint] = deque()
        self._queued: set[str] = set()  # ids of the events in `_hints`
        self.sweep_pending = False
        self._backlog = 0
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._task: asyncio.Task[None] | None = None
        self.healthy = False
        outbox.relay = self

    # --- the writer's side ---------------------------------------------------------------

    def hint(self, hint: Hint) -> None:
        # An event still queued from an earlier write of its document goes out with that
        # write's hint, which is ahead in the queue: order kept, and not published twice.
        events = [e for e in hint.events if e["id"] not in self._queued]
        self._queued.update(e["id"] for e in events)
        hint = Hint(hint.marker_id, events)
        self._hints.append(hint)
        self._backlog += len(hint.events)
        metrics.OUTBOX_BACKLOG.set(self._backlog)
        if self._backlog > self._max_backlog:
            self._drained.clear()
        self._wake.set()

    async def capacity(self) -> None:
        """Wait while too many written events wait to be published (backpressure): a
        consumer calls this before each batch, so a burst cannot outrun the relay."""
        await self._drained.wait()

    # --- running ---------------------------------------------------------------------------

    def start(self) -> None:
        # Healthy until a publish fails: readiness must not wait for a start-up backlog.
        self.healthy = True
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        await stop_task(self._task)

    async def _run(self) -> None:
        failures = 0
        loop = asyncio.get_running_loop()
        next_sweep = 0.0  # sweep at once on start: a previous process may have died mid-way
        while True:
            self._wake.clear()
            try:
                await self.relay_hinted()
                if loop.time() >= next_sweep:
                    await self.sweep(limit=4)
                    if not self.sweep_pending:
                        next_sweep = loop.time() + self._sweep_seconds
                if failures:
                    self._errors.resolved("publish", "outbox.relay_recovered")
                self.healthy, failures = True, 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                self.healthy = False
                delay = self._backoff.delay(failures)
                self._errors.report(
                    "publish", "outbox.relay_failed", error=type(exc).__name__, retry_in_s=delay
                )
                await asyncio.sleep(delay)
                continue
            if self._hints:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wake.wait(), timeout=max(0.0, next_sweep - loop.time())
                )

    async def relay_hinted(self) -> int:
        """Publish what writers handed over, oldest first, a batch at a time."""
        count = 0
        while self._hints:
            batch: list[Hint] = []
            size = 0
            while self._hints and (
                not batch or size + len(self._hints[0].events) <= self._max_batch
            ):
                hint = self._hints.popleft()
                batch.append(hint)
                size += len(hint.events)
            try:
                await self._publish([e for h in batch for e in h.events])
                await self._close_markers([h.marker_id for h in batch])
            except BaseException:
                self._hints.extendleft(reversed(batch))  # retried first, in the same order
                raise
            self._backlog -= size
            metrics.OUTBOX_BACKLOG.set(self._backlog)
            self._queued.difference_update(e["id"] for h in batch for e in h.events)
            if self._backlog <= self._max_backlog:
                self._drained.set()
            count += size
        return count

    async def sweep(self, *, settled_only: bool = True, limit: int | None = None) -> int:
        """Publish the events of markers left behind (by a crash, or another replica).

        With `limit`, handle at most that many markers and leave `sweep_pending` set if more
        are waiting, so the caller can go back to fresh hints in between: a long backlog of
        leftovers never holds up what is being written now."""
        now = datetime.now(UTC)
        count = handled = 0
        self.sweep_pending = False
        # The markers collection holds only unpublished batches: scanning it is cheap, and a
        # filter on `at` would scan it on FerretDB anyway.
        async for marker in self._markers.find({}).limit(1000):
            age = now - marker["at"]
            if settled_only and age < self._settle:
                continue
            if limit is not None and handled >= limit:
                self.sweep_pending = True
                break
            handled += 1
            events = await self._pending_events(marker)
            if events:
                await self._publish(events)
            elif age < self._orphan:
                continue  # its write may still be under way
            await self._close_markers([marker["_id"]])
            count += len(events)
        if count:
            log.info("outbox.swept", events=count)
        return count

    async def relay_once(self) -> int:
        """Everything pending now, settled or not (used by tests and tools)."""
        return await self.relay_hinted() + await self.sweep(settled_only=False)

    async def _pending_events(self, marker: dict[str, Any]) -> list[dict[str, Any]]:
        collection = self._collections.get(marker["collection"])
        if collection is None:
            return []
        ids = [doc["id"] for doc in marker["docs"]]
        docs = await find_by_ids(collection, ids, self._profile, {OUTBOX_FIELD: 1})
        return [
            entry[EVENT]
            for doc_id in ids
            for entry in (docs.get(doc_id) or {}).get(OUTBOX_FIELD) or []
            if isinstance(entry, dict) and entry.get(MARKER) == marker["_id"]
        ]

    async def _publish(self, events: list[dict[str, Any]]) -> None:
        """Publish all, or raise: an unpublishable event is parked, a passing error raised."""
        records: list[OutRecord | None] = []
        errors: list[BaseException | None] = []
        for event in events:
            try:
                records.append(OutRecord.of_stored(event))
                errors.append(None)
            except (KeyError, TypeError, ValueError) as exc:  # not a CloudEvent, or no topic
                records.append(None)
                errors.append(exc)
        sendable = [r for r in records if r is not None]
        outcomes = iter(await self._producer.send_many(sendable))
        errors = [e if r is None else next(outcomes) for r, e in zip(records, errors, strict=True)]
        passing = [
            e
            for r, e in zip(records, errors, strict=True)
            if r is not None and e is not None and not isinstance(e, UNPUBLISHABLE)
        ]
        if passing:
            raise passing[0]
        parked = [
            (event, record, error)
            for event, record, error in zip(events, records, errors, strict=True)
            if error is not None
        ]
        if parked:
            await self._park(parked)

    async def _park(
        self, parked: list[tuple[dict[str, Any], OutRecord | None, BaseException]]
    ) -> None:
        now = datetime.now(UTC)
        docs = [
            {
                "_id": str(event.get("id") or uuid.uuid4()),
                "type": event.get("type"),
                "topic": record.topic if record else None,
                "subject": event.get("subject"),
                "bytes": len(record.value or b"") if record else None,
                "error": type(error).__name__,  # the type only: a message may quote input
                "parked_at": now,
                "event": event,
            }
            for event, record, error in parked
        ]
        metrics.OUTBOX_PARKED.inc(len(docs))
        for doc in docs:
            # Replace, not insert: a sweep after a crash may park the same event again.
            await self._parked.replace_one({"_id": doc["_id"]}, doc, upsert=True)
            log.error(
                "outbox.event_parked",
                event_id=doc["_id"],
                event_type=doc["type"],
                error=doc["error"],
                bytes=doc["bytes"],
            )

    async def _close_markers(self, marker_ids: list[str]) -> None:
        await asyncio.gather(*(self._markers.delete_one({"_id": m}) for m in marker_ids))

    async def parked(self, limit: int = 100) -> list[dict[str, Any]]:
        """Events that could never be published, newest first, without their content."""
        cursor = self._parked.find({}, {"event": 0}).sort("parked_at", -1).limit(limit)
        return [doc async for doc in cursor]
