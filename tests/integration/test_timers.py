"""Persisted timers on the real database: two loops (two "replicas", each with its own client,
as two processes have) fire every timer's effect exactly once, never before its moment, through
scheduling mid-pass, a restart, a clock moved 30 days forward and a timer dated in the past.
And the controllable clock: forward only, shared by the replicas through one document.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from runtime.clock import ControlledClock
from runtime.errors import Conflict
from runtime.mongo import connect
from runtime.persistence import Persistence
from runtime.timers import Timer, TimerLoop, Timers
from tests.conftest import Infrastructure
from tests.integration.conftest import eventually

T0 = datetime(2027, 3, 1, 9, tzinfo=UTC)  # ahead of the real clock: the clock is moved there
POLL = 0.2


@dataclass
class Replica:
    """One process's view: its own client, clock, timers and loop over the shared database."""

    clock: ControlledClock
    timers: Timers
    effects: AsyncCollection
    calls: list[str] = field(default_factory=list)
    early: list[str] = field(default_factory=list)
    repeats: int = 0
    loop: TimerLoop | None = None

    async def on_deadline(self, timer: Timer) -> None:
        """An idempotent handler: the effect is an insert keyed by the timer id."""
        self.calls.append(timer.timer_id)
        at = self.clock.now()
        if at < timer.due:
            self.early.append(timer.timer_id)
        try:
            await self.effects.insert_one({"_id": timer.timer_id, "at": at, "due": timer.due})
        except DuplicateKeyError:
            self.repeats += 1  # a second firing: no second effect


@pytest.fixture
async def replicas(
    infrastructure: Infrastructure, db: AsyncDatabase
) -> AsyncIterator[list[Replica]]:
    clients = [connect(infrastructure.mongodb_uri) for _ in range(2)]
    made = []
    for client in clients:
        persistence = Persistence.of(client[db.name])
        await persistence.profile.detect(persistence.db)
        clock = ControlledClock(persistence.db["clock"])
        made.append(Replica(clock, Timers(persistence, clock=clock), persistence.db["effects"]))
    yield made
    for client in clients:
        await client.close()


async def set_clock(replicas: list[Replica], now: datetime) -> None:
    await replicas[0].clock.set(now)
    for r in replicas:
        await r.clock.refresh()


def deadlines(prefix: str, count: int, start: datetime, span: timedelta) -> list[Timer]:
    step = span / count
    return [
        Timer(f"{prefix}-{n}", "deadline", f"REF-{prefix}-{n}", start + step * (n + 1))
        for n in range(count)
    ]


async def effects_of(db: AsyncDatabase) -> dict[str, dict[str, object]]:
    return {doc["_id"]: doc async for doc in db["effects"].find({})}


async def test_two_loops_fire_every_timer_exactly_once_never_early(
    infrastructure: Infrastructure, replicas: list[Replica], db: AsyncDatabase
) -> None:
    await set_clock(replicas, T0)
    first = deadlines("A", 200, T0, timedelta(days=3))
    await replicas[0].timers.schedule(first)
    loops = []
    for r in replicas:
        r.loop = TimerLoop(r.timers, r.clock, {"deadline": r.on_deadline}, POLL)
        loops.append(asyncio.create_task(r.loop.run()))
    try:
        # Day one: only what is due by then fires.
        await set_clock(replicas, T0 + timedelta(days=1))
        due_by_then = {t.timer_id for t in first if t.due <= T0 + timedelta(days=1)}
        await eventually(lambda: _has(db, due_by_then), timeout=10)
        await asyncio.sleep(3 * POLL)
        assert set(await effects_of(db)) == due_by_then, "nothing fires before its moment"

        # Scheduling while the loops run, some already due and some later: from the second
        # replica, in small pieces, as handlers and routes would.
        now = replicas[1].clock.now()
        mid = deadlines("B", 30, now - timedelta(hours=2), timedelta(hours=4))
        for n in range(0, len(mid), 5):
            await replicas[1].timers.schedule(mid[n : n + 5])
        due_mid = {t.timer_id for t in mid if t.due <= now}
        await eventually(lambda: _has(db, due_by_then | due_mid), timeout=10)

        # The clock 30 days on: everything left fires within the contract's 10 s.
        await set_clock(replicas, T0 + timedelta(days=30))
        started = time.monotonic()
        everything = {t.timer_id for t in (*first, *mid)}
        await eventually(lambda: _has(db, everything), timeout=10)
        took = time.monotonic() - started

        # A timer dated long before the cursor (its days are closed) fires on the next pass.
        past = Timer("PAST-1", "deadline", "REF-PAST", T0 - timedelta(days=5))
        await replicas[0].timers.schedule([past])
        await eventually(lambda: _has(db, everything | {"PAST-1"}), timeout=5)

        # The past days are closed and the cursor reaches today, so a pass reads 16 buckets.
        today = (T0 + timedelta(days=30)).date()
        await eventually(lambda: _cursor_is(replicas[0].timers, today), timeout=10)
        await asyncio.sleep(3 * POLL)
    finally:
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)

    effects = await effects_of(db)
    assert set(effects) == everything | {"PAST-1"}, "every effect once (an insert per timer)"
    assert not [e for r in replicas for e in r.early], "no timer fired before its moment"
    for timer in (*first, *mid):
        assert effects[timer.timer_id]["at"] >= timer.due  # type: ignore[operator]
    calls = [c for r in replicas for c in r.calls]
    repeats = sum(r.repeats for r in replicas)
    assert len(calls) == len(effects) + repeats
    print(
        f"\n  {len(effects)} effects, {repeats} repeated firings, 30 days caught up in {took:.2f} s"
    )
    assert await replicas[0].timers.due(replicas[0].clock.now()) == []

    # A restart: new objects over the same database fire nothing again.
    client = connect(infrastructure.mongodb_uri)
    try:
        persistence = Persistence.of(client[db.name])
        await persistence.profile.detect(persistence.db)
        clock = ControlledClock(persistence.db["clock"])
        await clock.refresh()
        again = Replica(clock, Timers(persistence, clock=clock), persistence.db["effects"])
        loop = TimerLoop(again.timers, clock, {"deadline": again.on_deadline}, POLL)
        assert await loop.fire_due() == 0
        assert await loop.fire_due() == 0
        assert again.calls == []
    finally:
        await client.close()


async def _cursor_is(timers: Timers, day: date) -> bool:
    return await timers.cursor() == day


async def _has(db: AsyncDatabase, wanted: set[str]) -> bool:
    return wanted <= set(await effects_of(db))


async def test_timers_scheduled_concurrently_into_one_bucket_are_all_kept(
    replicas: list[Replica],
) -> None:
    """Many writers on one day's buckets: every compare-and-set loser retries; none is lost."""
    await set_clock(replicas, T0)
    batches = [deadlines(f"C{n}", 10, T0, timedelta(hours=1)) for n in range(12)]
    await asyncio.gather(
        *(replicas[n % 2].timers.schedule(batch) for n, batch in enumerate(batches))
    )
    due = await replicas[0].timers.due(T0 + timedelta(hours=2), limit=10_000)
    assert sorted(t.timer_id for t in due) == sorted(t.timer_id for b in batches for t in b)


async def test_the_controlled_clock_on_the_real_database(replicas: list[Replica]) -> None:
    first, second = replicas[0].clock, replicas[1].clock
    target = datetime(2027, 6, 1, 12, tzinfo=UTC)
    assert await first.set(target) == target
    assert timedelta(0) <= first.now() - target < timedelta(seconds=2)
    with pytest.raises(Conflict):
        await first.set(target - timedelta(hours=1))
    assert second.now() < target
    await second.refresh()
    assert second.now() >= target
    with pytest.raises(Conflict):
        await second.set(target - timedelta(minutes=1))
    later = target + timedelta(days=3)
    assert await second.set(later) == later
    await first.refresh()
    assert first.now() >= later
