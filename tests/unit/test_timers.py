"""Timers in day buckets and the loop that fires them, on in-memory documents.

The real database's compare-and-set and two concurrent loops are in
tests/integration/test_timers.py; here: where entries go, what is due, closing days, retries.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel
from pymongo.errors import BulkWriteError, DuplicateKeyError

from runtime.backoff import Backoff
from runtime.timers import Bucket, Timer, TimerLoop, Timers
from tests.unit.fakes import InMemoryDocuments

START = datetime(2026, 12, 1, 9, tzinfo=UTC)
NO_WAIT = Backoff(base=0.0, cap=0.0, jitter=False)


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at


class MemoryCollection:
    """The calls the leases make on their collection, with unique `_id`s."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    async def insert_many(self, docs: list[dict[str, Any]], ordered: bool = True) -> None:
        errors = []
        for n, doc in enumerate(docs):
            if doc["_id"] in self.docs:
                errors.append({"index": n, "code": 11000})
            else:
                self.docs[doc["_id"]] = dict(doc)
        if errors:
            raise BulkWriteError({"writeErrors": errors})

    async def insert_one(self, doc: dict[str, Any]) -> None:
        if doc["_id"] in self.docs:
            raise DuplicateKeyError("E11000")
        self.docs[doc["_id"]] = dict(doc)

    async def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        return self.docs.get(query["_id"])

    async def delete_one(self, query: dict[str, Any]) -> None:
        self.docs.pop(query["_id"], None)


class MemoryPersistence:
    """`documents(...)` over dicts: the part of `Persistence` that `Timers` uses."""

    def __init__(self) -> None:
        self.stores: dict[str, InMemoryDocuments[Any]] = {}
        self.collections: dict[str, MemoryCollection] = {}

    def documents(self, name: str, model: type[BaseModel], *, id_field: str) -> Any:
        return self.stores.setdefault(name, InMemoryDocuments(id_field))

    def collection(self, name: str) -> Any:
        return self.collections.setdefault(name, MemoryCollection())


def make(clock: FixedClock, shards: int = 4) -> tuple[Timers, MemoryPersistence]:
    persistence = MemoryPersistence()
    timers = Timers(persistence, shards=shards, clock=clock, backoff=NO_WAIT)  # type: ignore[arg-type]
    return timers, persistence


def timer(n: int, due: datetime, kind: str = "deadline") -> Timer:
    return Timer(f"T-{n}", kind, f"TARGET-{n}", due)


def bucket(persistence: MemoryPersistence, bucket_id: str) -> Bucket | None:
    found = persistence.stores["timers"].docs.get(bucket_id)
    return found[0] if found else None


async def test_only_timers_whose_moment_has_passed_are_due_earliest_first() -> None:
    timers, _ = make(FixedClock(START))
    hours = [timer(1, START + timedelta(hours=2)), timer(2, START + timedelta(hours=1))]
    await timers.schedule([*hours, timer(3, START + timedelta(days=2))])
    assert await timers.due(START) == []
    due = await timers.due(START + timedelta(hours=3))
    assert [t.timer_id for t in due] == ["T-2", "T-1"]
    assert due[0] == timer(2, START + timedelta(hours=1))
    assert [t.timer_id for t in await timers.due(START + timedelta(days=3))] == [
        "T-2",
        "T-1",
        "T-3",
    ]
    assert len(await timers.due(START + timedelta(days=3), limit=2)) == 2


async def test_done_removes_what_fired_and_nothing_else() -> None:
    timers, _ = make(FixedClock(START))
    await timers.schedule([timer(n, START + timedelta(minutes=n)) for n in range(1, 6)])
    due = await timers.due(START + timedelta(minutes=3))
    await timers.done(due)
    left = await timers.due(START + timedelta(hours=1))
    assert [t.timer_id for t in left] == ["T-4", "T-5"]


async def test_scheduling_is_idempotent_and_a_new_moment_on_the_same_day_replaces() -> None:
    timers, persistence = make(FixedClock(START))
    first = timer(1, START + timedelta(hours=1))
    await timers.schedule([first])
    await timers.schedule([first])
    writes = persistence.stores["timers"].writes
    await timers.schedule([first])
    assert persistence.stores["timers"].writes == writes, "an identical entry is not rewritten"
    later = timer(1, START + timedelta(hours=5))
    await timers.schedule([later])
    assert await timers.due(START + timedelta(hours=2)) == []
    assert await timers.due(START + timedelta(hours=6)) == [later]


async def test_done_keeps_an_entry_rescheduled_since_it_was_loaded() -> None:
    timers, _ = make(FixedClock(START))
    await timers.schedule([timer(1, START + timedelta(hours=1))])
    (loaded,) = await timers.due(START + timedelta(hours=2))
    await timers.schedule([timer(1, START + timedelta(hours=3))])
    await timers.done([loaded])
    assert await timers.due(START + timedelta(hours=4)) == [timer(1, START + timedelta(hours=3))]


async def test_the_loop_closes_empty_past_days_and_moves_the_cursor() -> None:
    clock = FixedClock(START)
    timers, persistence = make(clock)
    await timers.schedule([timer(1, START + timedelta(hours=1))])
    assert await timers.cursor() == START.date()
    clock.at = START + timedelta(days=3)
    assert await timers.advance(clock.at) == START.date(), "a day with an entry stays open"
    await timers.done(await timers.due(clock.at), now=clock.at)
    assert await timers.cursor() == date(2026, 12, 4)
    for day in (date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 3)):
        for bucket_id in timers.day_buckets(day):
            closed = bucket(persistence, bucket_id)
            assert closed is not None and closed.closed and not closed.entries
    assert bucket(persistence, timers.day_buckets(date(2026, 12, 4))[0]) is None, "today is open"


async def test_a_timer_for_a_closed_day_goes_to_the_cursors_day_and_fires_next_pass() -> None:
    clock = FixedClock(START)
    timers, _ = make(clock)
    await timers.schedule([timer(1, START)])
    clock.at = START + timedelta(days=2)
    await timers.done(await timers.due(clock.at), now=clock.at)
    assert await timers.cursor() == date(2026, 12, 3)

    past = timer(2, START - timedelta(days=10))
    await timers.schedule([past])
    assert await timers.due(clock.at) == [past]


async def test_a_timer_dated_before_the_cursor_joins_the_cursors_day() -> None:
    clock = FixedClock(START)
    timers, persistence = make(clock, shards=1)
    await timers.schedule([timer(1, START)])
    clock.at = START + timedelta(days=2)
    await timers.done(await timers.due(clock.at), now=clock.at)
    # The cursor says 3 Dec, so a timer dated 1 Dec goes to 3 Dec's bucket.
    await timers.schedule([timer(2, START + timedelta(hours=1))])
    assert bucket(persistence, "2026-12-01|00").entries == []  # type: ignore[union-attr]
    assert [e.timer_id for e in bucket(persistence, "2026-12-03|00").entries] == ["T-2"]  # type: ignore[union-attr]


async def test_a_closed_bucket_sends_entries_on_even_when_the_cursor_was_read_before() -> None:
    clock = FixedClock(START)
    timers, persistence = make(clock, shards=1)
    await timers.schedule([timer(1, START)])
    clock.at = START + timedelta(days=2)
    await timers.done(await timers.due(clock.at), now=clock.at)

    async def stale_cursor(earliest: date) -> date:  # read before the loop moved it
        return START.date()

    timers._open_cursor = stale_cursor  # type: ignore[method-assign]
    await timers.schedule([timer(2, START + timedelta(hours=1))])
    assert bucket(persistence, "2026-12-01|00").entries == []  # type: ignore[union-attr]
    assert bucket(persistence, "2026-12-02|00").entries == []  # type: ignore[union-attr]
    assert [e.timer_id for e in bucket(persistence, "2026-12-03|00").entries] == ["T-2"]  # type: ignore[union-attr]
    assert [t.timer_id for t in await timers.due(clock.at)] == ["T-2"]


async def test_a_lost_compare_and_set_is_retried() -> None:
    timers, persistence = make(FixedClock(START), shards=1)
    await timers.schedule([timer(1, START)])
    persistence.stores["timers"].stale_next.append("2026-12-01|00")
    await timers.schedule([timer(2, START)])
    assert len(await timers.due(START)) == 2
    persistence.stores["timers"].stale_next.append("2026-12-01|00")
    await timers.done(await timers.due(START))
    assert await timers.due(START) == []


async def test_a_moment_without_timezone_is_refused() -> None:
    timers, _ = make(FixedClock(START))
    with pytest.raises(ValueError, match="timezone"):
        await timers.schedule([Timer("T-1", "deadline", "X", datetime(2026, 12, 1, 9))])


# --- the loop --------------------------------------------------------------------------------


class Ticks:
    def __init__(self) -> None:
        self.at = 0.0

    def __call__(self) -> float:
        return self.at


async def test_the_loop_fires_due_timers_once_and_removes_them() -> None:
    clock = FixedClock(START)
    timers, _ = make(clock)
    await timers.schedule([timer(n, START + timedelta(minutes=n)) for n in range(40)])
    fired: list[str] = []

    async def handle(t: Timer) -> None:
        fired.append(t.timer_id)

    loop = TimerLoop(timers, clock, {"deadline": handle}, concurrency=4)
    clock.at = START + timedelta(minutes=19)
    assert await loop.fire_due() == 20
    assert await loop.fire_due() == 0
    assert sorted(fired) == sorted(f"T-{n}" for n in range(20))
    clock.at = START + timedelta(days=1)
    assert await loop.fire_due() == 20
    assert len(fired) == len(set(fired)) == 40


async def test_a_failing_handler_is_retried_on_a_later_pass_after_a_backoff() -> None:
    clock = FixedClock(START)
    timers, _ = make(clock)
    await timers.schedule([timer(1, START), timer(2, START)])
    ticks = Ticks()
    calls: list[str] = []

    async def handle(t: Timer) -> None:
        calls.append(t.timer_id)
        if t.timer_id == "T-1" and calls.count("T-1") < 3:
            raise RuntimeError("the aggregate's store is away")

    retry = Backoff(base=1.0, cap=8.0, jitter=False)
    loop = TimerLoop(timers, clock, {"deadline": handle}, retry=retry, monotonic=ticks)
    assert await loop.fire_due() == 1
    assert await loop.fire_due() == 0, "not before its backoff"
    assert calls.count("T-1") == 1
    ticks.at = 1.0
    assert await loop.fire_due() == 0  # second failure: now 2 s
    ticks.at = 2.5
    assert await loop.fire_due() == 0
    ticks.at = 3.0
    assert await loop.fire_due() == 1
    assert calls.count("T-1") == 3 and calls.count("T-2") == 1
    assert await timers.due(clock.at) == []


async def test_an_unknown_kind_is_left_in_place_and_logged_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock = FixedClock(START)
    timers, _ = make(clock)
    await timers.schedule([timer(1, START, kind="mystery"), timer(2, START, kind="mystery")])

    async def handle(t: Timer) -> None:
        raise AssertionError("not this one")

    loop = TimerLoop(timers, clock, {"deadline": handle})
    assert await loop.fire_due() == 0
    assert await loop.fire_due() == 0
    assert len(await timers.due(clock.at)) == 2
    assert capsys.readouterr().out.count("timers.unknown_kind") <= 1


async def test_run_survives_a_failing_pass_and_goes_on() -> None:
    clock = FixedClock(START)
    timers, _ = make(clock)
    await timers.schedule([timer(1, START)])
    fired = asyncio.Event()

    async def handle(t: Timer) -> None:
        fired.set()

    real_due = timers.due
    failures = [RuntimeError("database away"), ConnectionError("still away")]

    async def flaky_due(now: datetime, limit: int = 1000) -> list[Timer]:
        if failures:
            raise failures.pop(0)
        return await real_due(now, limit)

    timers.due = flaky_due  # type: ignore[method-assign]
    loop = TimerLoop(timers, clock, {"deadline": handle}, poll_seconds=0.01)
    task = asyncio.create_task(loop.run())
    try:
        await asyncio.wait_for(fired.wait(), timeout=5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert not failures


async def test_a_bucket_another_loop_holds_is_left_to_it_until_its_lease_expires() -> None:
    clock = FixedClock(START)
    timers, persistence = make(clock, shards=1)
    await timers.schedule([timer(1, START)])
    calls: list[str] = []

    async def handle(t: Timer) -> None:
        calls.append(t.timer_id)

    loop = TimerLoop(timers, clock, {"deadline": handle})
    assert await timers.lease(["2026-12-01|00"]) == {"2026-12-01|00"}  # another loop's pass
    assert await loop.fire_due() == 0
    assert calls == []
    leases = persistence.collections["timers_leases"].docs
    leases["2026-12-01|00"]["at"] -= timedelta(minutes=5)  # that loop died holding it
    assert await loop.fire_due() == 1
    assert calls == ["T-1"]
    assert leases == {}, "a pass releases what it held"
