"""The cost of finding due timers (`Timers.due`) with 100,000 timers kept vs 1,000, both spread
over 60 days, in one process and one run (the stores' calls taken turn by turn, so a busy
machine slows them alike). Timers live in day buckets read by `_id`, so a call reads the buckets
from the cursor's day to today, whatever the total kept for later days; what does grow is the
size of the buckets it reads (100x the entries a day). The control shows which it is: the
timers of one day only, as many as 100,000 over 60 days put in each day (no later days at
all). 100,000 kept / control near 1 means the cost follows the buckets read, not the total."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

from runtime.logging import configure_logging
from runtime.mongo import connect
from runtime.persistence import Persistence
from runtime.timers import Timer, Timers

SMALL = int(os.environ.get("BENCH_TIMERS_SMALL", "1000"))
LARGE = int(os.environ.get("BENCH_TIMERS_LARGE", "100000"))
DAYS = 60
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "30"))
CHUNK = 10_000
MONGO = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017")
START = datetime(2027, 1, 4, tzinfo=UTC)


class Fixed:
    def now(self) -> datetime:
        return START


def spread(count: int, days: int = DAYS) -> list[Timer]:
    step = timedelta(days=days) / count
    return [
        Timer(f"T-{n}", "deadline", f"REF-{n}", START + step * n + timedelta(seconds=1))
        for n in range(count)
    ]


async def filled(persistence: Persistence, count: int, days: int = DAYS) -> tuple[Timers, float]:
    timers = Timers(persistence, clock=Fixed())
    all_timers = spread(count, days)
    began = time.perf_counter()
    for n in range(0, count, CHUNK):
        await timers.schedule(all_timers[n : n + CHUNK])
    return timers, count / (time.perf_counter() - began)


async def main() -> None:
    configure_logging("bench", "WARNING")
    client = connect(MONGO)
    names = [f"bench_timers_{uuid.uuid4().hex[:8]}" for _ in range(3)]
    try:
        stores = []
        for name in names:
            persistence = Persistence.of(client[name])
            await persistence.profile.detect(persistence.db)
            stores.append(persistence)
        small, small_rate = await filled(stores[0], SMALL)
        large, large_rate = await filled(stores[1], LARGE)
        dense = LARGE // DAYS
        control, _ = await filled(stores[2], dense * 2, days=2)
        # Two moments: an hour into the cursor's day (its 16 buckets read), when a handful
        # are due; and a day and a half in (32 buckets), when the page limit is reached.
        results = {}
        for label, now in (
            ("few due", START + timedelta(hours=1)),
            ("page full", START + timedelta(hours=36)),
        ):
            timings: dict[str, list[float]] = {"small": [], "large": [], "control": []}
            counts = {}
            for _ in range(ROUNDS):
                for key, timers in (("small", small), ("large", large), ("control", control)):
                    began = time.perf_counter()
                    due = await timers.due(now)
                    timings[key].append(time.perf_counter() - began)
                    counts[key] = len(due)
            results[label] = ({k: statistics.median(v) for k, v in timings.items()}, counts)
        profile = stores[0].profile.name
    finally:
        for name in names:
            await client.drop_database(name)
        await client.close()

    print(f"timers_bench: due() over {DAYS} days of timers, 16 shards a day ({profile})")
    print(f"  scheduling                 {small_rate:9.0f} timers/s ({SMALL:,} kept)")
    print(f"  scheduling                 {large_rate:9.0f} timers/s ({LARGE:,} kept)")
    rows = (
        ("small", f"{SMALL:,} kept"),
        ("large", f"{LARGE:,} kept"),
        ("control", f"{dense * 2:,} in 2 days"),
    )
    for label, (ms, counts) in results.items():
        for key, name in rows:
            print(f"  due(), {label:<9} {name:>15} {ms[key] * 1000:8.1f} ms  ({counts[key]} due)")
        print(f"  ratio {LARGE:,} kept / {SMALL:,} kept   {ms['large'] / ms['small']:8.2f}")
        print(f"  ratio {LARGE:,} kept / control     {ms['large'] / ms['control']:8.2f}")
    print(f"  (medians of {ROUNDS} calls each, taken turn by turn)")


if __name__ == "__main__":
    asyncio.run(main())
