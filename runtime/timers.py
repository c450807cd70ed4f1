"""Persisted timers: "at this moment, do this kind of thing to this target", surviving restarts.

**At least once here, exactly once in the handler.** The loop fires every timer whose moment
has passed, and removes it only after its handler returned; a crash in between, or two replicas
loading the same timer, fires it again. Handlers must therefore be idempotent: they check the
aggregate's state under compare-and-set (a deadline already met, or already expired, is a
no-op) and derive the ids of what they create from the timer, so a second firing has no second
effect. Any number of loops (one per replica) may run against the same collections: each
*leases* the buckets it fires from for the pass (a unique insert per bucket), so replicas that
poll together do not all fire the same timers; a loop that dies holding a lease delays those
timers by `LEASE_SECONDS`, never loses them, and the leases only save work: correctness rests on
the idempotent handlers and on `done` being a compare-and-set.

**Storage.** FerretDB answers only an exact `{_id: "<string>"}` filter from an index, so a query
on a `due` field would scan every timer. Timers are kept instead in *day buckets*: documents
`_id = "<UTC date of due>|<shard>"` (the shard a stable hash of the timer id, so concurrent
schedulers spread over `shards` documents a day) holding the day's entries. Finding what is
due is a lookup by `_id` of the buckets from the *cursor* (the first day not yet fully fired,
one document of its own) to today: its cost grows with the days and shards touched, never with
the number of timers kept for later. Every write is a compare-and-set through `DocumentStore`.

**Nothing lost between a scheduler and the loop.** Once every bucket of a past day is empty,
the loop *closes* each one (a missing bucket is created closed) under the same compare-and-set
as any write, and only then moves the cursor past that day. A scheduler that meets a closed
bucket moves its entries on to the next day's bucket (same shard), and a timer whose day is
already before the cursor goes to the cursor's day: its moment has passed, so it fires on the
next pass. A scheduler racing a closing loop loses the compare-and-set, reloads, sees `closed`,
and moves on.

Rescheduling a timer id with another moment replaces its entry when both moments fall on the
same UTC day (the same bucket); a moment on another day adds an entry there and leaves the
earlier one, which then fires at its own moment too: the handler's state check makes that a
no-op. A day whose entries cannot fire (a handler failing, a kind no replica handles) keeps the
cursor on that day; the loop then also reads the buckets of the days after it.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import structlog
from pydantic import BaseModel, BeforeValidator, PlainSerializer
from pymongo.errors import BulkWriteError, DuplicateKeyError

from runtime.backoff import Backoff
from runtime.cas import duplicate_indexes
from runtime.clock import Clock, SystemClock
from runtime.documents import Change, DocumentStore, Versioned
from runtime.errors import Conflict
from runtime.log_once import RepeatedErrors
from runtime.persistence import Persistence

log = structlog.get_logger(__name__)

CURSOR_ID = "cursor"
_ONE_DAY = timedelta(days=1)
# Many writers may meet on one bucket (a burst of timers for the same day): short, jittered
# waits between compare-and-set attempts.
WRITE_BACKOFF = Backoff(base=0.01, cap=0.5)
# A failing handler's timer is tried again on a later pass, after 1 s, 2 s, ... up to a minute.
HANDLER_RETRY = Backoff(base=1.0, cap=60.0)
# A loop holds the buckets it fires from for one pass; one that died holding them is
# overtaken after this long (real seconds, whatever the service's clock says).
LEASE_SECONDS = 20.0
# At most this many past days are closed in one pass (each is `shards` lookups by `_id`).
CLOSE_DAYS = 62


@dataclass(frozen=True)
class Timer:
    timer_id: str
    kind: str
    target_id: str
    due: datetime
    # Where `Timers.due` found it, so `done` removes it there (a scheduler may have moved it
    # off its own day); empty for a timer built by a caller.
    bucket: str = field(default="", compare=False, repr=False)


SEPARATOR = "\x1f"  # the ASCII unit separator: never part of an id or a kind


class Entry(BaseModel):
    timer_id: str
    kind: str
    target_id: str
    due: datetime


def _pack(entry: Entry) -> str:
    return SEPARATOR.join((entry.timer_id, entry.kind, entry.target_id, entry.due.isoformat()))


def _unpack(value: object) -> object:
    if isinstance(value, str):
        timer_id, kind, target_id, due = value.split(SEPARATOR)
        return {"timer_id": timer_id, "kind": kind, "target_id": target_id, "due": due}
    return value


# Stored as one string each: FerretDB reads a bucket of a hundred strings several times faster
# than one of a hundred small documents, and a pass reads every bucket of the day.
PackedEntry = Annotated[Entry, BeforeValidator(_unpack), PlainSerializer(_pack, when_used="json")]


class Bucket(BaseModel):
    bucket_id: str
    entries: list[PackedEntry] = []
    closed: bool = False


class Cursor(BaseModel):
    cursor_id: str = CURSOR_ID
    day: date


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a timer's moment needs a timezone")
    return moment.astimezone(UTC)


def _merge(entries: list[Entry], new: Iterable[Entry]) -> list[Entry]:
    """`entries` with each of `new` added, replacing an entry of the same timer id."""
    merged = {e.timer_id: e for e in entries}
    for entry in new:
        merged[entry.timer_id] = entry
    return list(merged.values())


class Timers:
    def __init__(
        self,
        persistence: Persistence,
        collection: str = "timers",
        shards: int = 16,
        *,
        clock: Clock | None = None,
        attempts: int = 40,
        backoff: Backoff = WRITE_BACKOFF,
    ) -> None:
        if not 1 <= shards <= 100:
            raise ValueError("shards must be between 1 and 100")
        self._buckets: DocumentStore[Bucket] = persistence.documents(
            collection, Bucket, id_field="bucket_id"
        )
        self._cursors: DocumentStore[Cursor] = persistence.documents(
            f"{collection}_cursor", Cursor, id_field="cursor_id"
        )
        self._leases = persistence.collection(f"{collection}_leases")
        self._shards = shards
        # Only the day a first cursor starts on is read from it (see `_open_cursor`).
        self._clock = clock or SystemClock()
        self._attempts = attempts
        self._backoff = backoff

    # --- where a timer lives ---------------------------------------------------------------

    def shard(self, timer_id: str) -> int:
        digest = hashlib.blake2b(timer_id.encode(), digest_size=4).digest()
        return int.from_bytes(digest, "big") % self._shards

    @staticmethod
    def bucket_id(day: date, shard: int) -> str:
        return f"{day.isoformat()}|{shard:02d}"

    def day_buckets(self, day: date) -> list[str]:
        return [self.bucket_id(day, s) for s in range(self._shards)]

    @staticmethod
    def _next_bucket(bucket_id: str) -> str:
        day, shard = bucket_id.split("|")
        return f"{(date.fromisoformat(day) + _ONE_DAY).isoformat()}|{shard}"

    # --- the cursor ------------------------------------------------------------------------

    async def _cursor(self) -> Versioned[Cursor] | None:
        return (await self._cursors.get_many([CURSOR_ID])).get(CURSOR_ID)

    async def cursor(self) -> date | None:
        """The first day not yet fully fired (None before anything was ever scheduled)."""
        loaded = await self._cursor()
        return loaded.aggregate.day if loaded else None

    async def _open_cursor(self, earliest: date) -> date:
        """The cursor's day; the first scheduler creates it, on no later day than today.

        Never later than today: a cursor on a future day would send an earlier timer
        scheduled afterwards to that day's bucket, to fire late."""
        for _ in range(self._attempts):
            loaded = await self._cursor()
            if loaded is not None:
                return loaded.aggregate.day
            day = min(earliest, self._clock.now().astimezone(UTC).date())
            if not await self._cursors.write([Change(Cursor(day=day))]):
                return day
        raise Conflict("could not read the timers' cursor; try again")

    # --- scheduling ------------------------------------------------------------------------

    async def schedule(self, timers: Iterable[Timer]) -> None:
        """Keep these timers (idempotent by timer id); each bucket in one compare-and-set."""
        latest = {t.timer_id: t for t in timers}
        if not latest:
            return
        if any(SEPARATOR in f for t in latest.values() for f in (t.timer_id, t.kind, t.target_id)):
            raise ValueError("a timer's id, kind or target contains a control character")
        entries = [
            Entry(timer_id=t.timer_id, kind=t.kind, target_id=t.target_id, due=_utc(t.due))
            for t in latest.values()
        ]
        cursor = await self._open_cursor(min(e.due.date() for e in entries))
        pending: dict[str, list[Entry]] = {}
        for e in entries:
            bucket = self.bucket_id(max(e.due.date(), cursor), self.shard(e.timer_id))
            pending.setdefault(bucket, []).append(e)
        lost = 0
        while pending:
            loaded = await self._buckets.get_many(pending)
            changes: list[Change[Bucket]] = []
            moved: dict[str, list[Entry]] = {}
            for bucket_id, adding in pending.items():
                current = loaded.get(bucket_id)
                if current is None:
                    changes.append(Change(Bucket(bucket_id=bucket_id, entries=adding)))
                elif current.aggregate.closed:
                    # Its day is fired and closed: the next day's bucket of the same shard.
                    moved.setdefault(self._next_bucket(bucket_id), []).extend(adding)
                else:
                    merged = _merge(current.aggregate.entries, adding)
                    if merged != current.aggregate.entries:
                        bucket = current.aggregate.model_copy(update={"entries": merged})
                        changes.append(Change(bucket, loaded=current))
            stale = await self._buckets.write(changes) if changes else set()
            retry = {b: pending[b] for b in stale}
            for bucket_id, adding in moved.items():
                retry.setdefault(bucket_id, []).extend(adding)
            if stale:
                lost += 1
                if lost >= self._attempts:
                    raise Conflict(f"gave up scheduling after {lost} concurrent updates")
                await asyncio.sleep(self._backoff.delay(lost))
            pending = retry

    # --- firing ----------------------------------------------------------------------------

    async def due(self, now: datetime, limit: int = 1000) -> list[Timer]:
        """The timers whose moment is `now` or earlier, earliest first, at most `limit`."""
        now = _utc(now)
        cursor = await self.cursor()
        if cursor is None:
            return []
        ids = []
        day = cursor
        # The cursor's own day even when this replica's clock is behind it: timers scheduled
        # into it after their day was closed are already due.
        while day <= max(now.date(), cursor):
            ids += self.day_buckets(day)
            day += _ONE_DAY
        return (await self.due_in(ids, now))[:limit]

    async def due_in(self, bucket_ids: Iterable[str], now: datetime) -> list[Timer]:
        """The timers of these buckets whose moment is `now` or earlier, earliest first."""
        now = _utc(now)
        loaded = await self._buckets.get_many(bucket_ids)
        found = [
            Timer(e.timer_id, e.kind, e.target_id, e.due, bucket=bucket_id)
            for bucket_id, bucket in loaded.items()
            for e in bucket.aggregate.entries
            if e.due <= now
        ]
        found.sort(key=lambda t: (t.due, t.timer_id))
        return found

    async def done(self, timers: Iterable[Timer], now: datetime | None = None) -> None:
        """Remove these fired timers; with `now`, also close past days and move the cursor.

        An entry is removed only if it still has the moment that fired: one rescheduled
        meanwhile stays, to fire at its new moment."""
        fired: dict[str, dict[str, datetime]] = {}
        for t in timers:
            bucket = t.bucket or self.bucket_id(_utc(t.due).date(), self.shard(t.timer_id))
            fired.setdefault(bucket, {})[t.timer_id] = _utc(t.due)
        lost = 0
        while fired:
            loaded = await self._buckets.get_many(fired)
            changes: list[Change[Bucket]] = []
            for bucket_id, versioned in loaded.items():
                gone = fired[bucket_id]
                kept = [e for e in versioned.aggregate.entries if gone.get(e.timer_id) != e.due]
                if len(kept) != len(versioned.aggregate.entries):
                    bucket = versioned.aggregate.model_copy(update={"entries": kept})
                    changes.append(Change(bucket, loaded=versioned))
            stale = await self._buckets.write(changes) if changes else set()
            fired = {b: fired[b] for b in stale}
            if stale:
                lost += 1
                if lost >= self._attempts:
                    raise Conflict(f"gave up removing fired timers after {lost} attempts")
                await asyncio.sleep(self._backoff.delay(lost))
        if now is not None:
            await self.advance(now)

    async def lease(self, bucket_ids: Iterable[str], seconds: float = LEASE_SECONDS) -> set[str]:
        """The buckets this caller now holds for a pass (the others are another loop's).

        Not needed for correctness (handlers are idempotent, `done` is compare-and-set), but
        without it two replicas that poll together would both fire every timer due. A unique
        insert per bucket, so only one loop wins each; a lease older than `seconds` is
        overtaken, so a loop that died holding it delays its timers, never loses them."""
        wanted = list(dict.fromkeys(bucket_ids))
        if not wanted:
            return set()
        at = datetime.now(UTC)
        try:
            await self._leases.insert_many([{"_id": b, "at": at} for b in wanted], ordered=False)
            return set(wanted)
        except BulkWriteError as exc:
            lost = {wanted[i] for i in duplicate_indexes(exc)}
        overtaken = await asyncio.gather(*(self._overtake(b, at, seconds) for b in lost))
        return (set(wanted) - lost) | {b for b, won in zip(lost, overtaken, strict=True) if won}

    async def _overtake(self, bucket_id: str, at: datetime, seconds: float) -> bool:
        held = await self._leases.find_one({"_id": bucket_id})
        if held is not None and held["at"] > at - timedelta(seconds=seconds):
            return False
        if held is not None:
            await self._leases.delete_one({"_id": bucket_id})
        try:
            await self._leases.insert_one({"_id": bucket_id, "at": at})
        except DuplicateKeyError:
            return False  # another loop overtook it first
        log.warning("timers.lease_overtaken", bucket=bucket_id, why="its loop stopped holding it")
        return True

    async def release(self, bucket_ids: Iterable[str]) -> None:
        # One by `_id` each: the lookup FerretDB answers from its index.
        await asyncio.gather(*(self._leases.delete_one({"_id": b}) for b in set(bucket_ids)))

    async def advance(self, now: datetime) -> date | None:
        """Close the past days whose buckets are all empty and move the cursor past them.

        In one read of their buckets and one write, for up to `CLOSE_DAYS` days a pass, so a
        clock moved a month forward is caught up in a pass or two."""
        today = _utc(now).date()
        loaded = await self._cursor()
        if loaded is None:
            return None
        first = loaded.aggregate.day
        days = [first + _ONE_DAY * k for k in range(min((today - first).days, CLOSE_DAYS))]
        closing = await self._close(days)
        if not closing:
            return first
        moved = Cursor(day=closing[-1] + _ONE_DAY)
        if await self._cursors.write([Change(moved, loaded=loaded)]):
            return first  # another loop moved it: the next pass starts from where it is
        return moved.day

    async def _close(self, days: list[date]) -> list[date]:
        """The leading days of `days` whose buckets are now all empty and closed.

        A day with an entry left (not fired yet, or scheduled meanwhile) ends the run: no
        later day is counted, so the cursor never passes an entry."""
        ids = {day: self.day_buckets(day) for day in days}
        loaded = await self._buckets.get_many([i for day in days for i in ids[day]])
        closing: list[date] = []
        changes: list[Change[Bucket]] = []
        for day in days:
            if any(loaded[i].aggregate.entries for i in ids[day] if i in loaded):
                break
            closing.append(day)
            for i in ids[day]:
                if i not in loaded:  # created closed: a scheduler cannot create it open later
                    changes.append(Change(Bucket(bucket_id=i, closed=True)))
                elif not loaded[i].aggregate.closed:
                    bucket = loaded[i].aggregate.model_copy(update={"closed": True})
                    changes.append(Change(bucket, loaded=loaded[i]))
        stale = await self._buckets.write(changes) if changes else set()
        if stale:  # someone wrote one first (a scheduler, or another loop closing it)
            first_stale = min(date.fromisoformat(i.split("|")[0]) for i in stale)
            closing = [day for day in closing if day < first_stale]
        return closing


Handler = Callable[[Timer], Awaitable[None]]


class TimerLoop:
    """Fires due timers, forever: at least once each; the handlers make it exactly once."""

    def __init__(
        self,
        timers: Timers,
        clock: Clock,
        handlers: Mapping[str, Handler],
        poll_seconds: float = 1.0,
        *,
        concurrency: int = 16,
        limit: int = 1000,
        retry: Backoff = HANDLER_RETRY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._timers = timers
        self._clock = clock
        self._handlers = dict(handlers)
        self._poll = poll_seconds
        self._concurrency = concurrency
        self._limit = limit
        self._retry = retry
        self._monotonic = monotonic
        self._failing: dict[str, tuple[int, float]] = {}  # timer id -> (failures, not before)
        self._unknown: set[str] = set()
        self._errors = RepeatedErrors()
        self._pass_error = ""
        self._full = False

    async def fire_due(self) -> int:
        """One pass: fire what is due, remove what fired; the number fired."""
        now = self._clock.now()
        timers = await self._timers.due(now, self._limit)
        self._full = len(timers) >= self._limit
        if not self._full:  # forget failures of timers that another replica has fired since
            present = {t.timer_id for t in timers}
            self._failing = {k: v for k, v in self._failing.items() if k in present}
        held = await self._timers.lease({t.bucket for t in timers if self._ready(t)})
        try:
            # Read again what the held buckets hold now: another loop may have fired some of
            # it between our first read and our lease.
            fresh = await self._timers.due_in(held, now) if held else []
            page = {t.timer_id for t in timers}
            fired = await self._fire([t for t in fresh if t.timer_id in page and self._ready(t)])
            await self._timers.done(fired, now=now)
        finally:
            await self._timers.release(held)
        # A full page that fired something: more may be due behind it, so no pause.
        self._full = self._full and bool(fired)
        return len(fired)

    async def _fire(self, ready: list[Timer]) -> list[Timer]:
        gate = asyncio.Semaphore(self._concurrency)

        async def fire(timer: Timer) -> bool:
            async with gate:
                try:
                    await self._handlers[timer.kind](timer)
                except Exception as exc:
                    self._failed(timer, exc)
                    return False
            self._failing.pop(timer.timer_id, None)
            return True

        results = await asyncio.gather(*(fire(t) for t in ready))
        return [t for t, ok in zip(ready, results, strict=True) if ok]

    def _ready(self, timer: Timer) -> bool:
        if timer.kind not in self._handlers:
            if timer.kind not in self._unknown:
                self._unknown.add(timer.kind)
                log.warning("timers.unknown_kind", kind=timer.kind, why="no handler; left in place")
            return False
        failing = self._failing.get(timer.timer_id)
        return failing is None or failing[1] <= self._monotonic()

    def _failed(self, timer: Timer, exc: Exception) -> None:
        failures = self._failing.get(timer.timer_id, (0, 0.0))[0] + 1
        self._failing[timer.timer_id] = (failures, self._monotonic() + self._retry.delay(failures))
        self._errors.report(
            f"handler:{timer.kind}:{type(exc).__name__}",
            "timers.handler_failed",
            kind=timer.kind,
            timer_id=timer.timer_id,
            error=type(exc).__name__,
            failures=failures,
        )

    async def run(self) -> None:
        """Forever: a pass, then a pause (none while a pass found a full page due).

        A failing pass (the database unreachable) is retried with backoff, never in a loop,
        and never ends the task."""
        pauses = Backoff(base=self._poll, cap=10.0)
        failures = 0
        while True:
            try:
                await self.fire_due()
            except Exception as exc:
                failures += 1
                self._pass_error = f"pass:{type(exc).__name__}"
                self._errors.report(
                    self._pass_error, "timers.pass_failed", error=type(exc).__name__
                )
                await asyncio.sleep(pauses.delay(failures))
                continue
            if failures:
                failures = 0
                self._errors.resolved(self._pass_error, "timers.pass_recovered")
            if not self._full:
                await asyncio.sleep(self._poll)
