"""Scheduled work fires once across replicas: each placement's 13-week sustainment timer, fired
by two "replicas" (each with its own client and persistence, as two processes have) at once,
three times each.

On FerretDB the losing interleaving (both read version v between the other's read and write:
its update runs its query outside the write's transaction) is rare with the `_id` path index,
so this shows the outcome; `test_storage.py`'s cross-client increments stress the CAS itself.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase

from runtime.errors import Conflict
from runtime.events import enveloper
from runtime.mongo import connect
from runtime.persistence import Persistence
from runtime.timers import Timer
from schemas.vacancies import PlacementSustained
from services.vacancies.domain import PersonSpecification, Vacancy
from services.vacancies.store import VacanciesStore
from services.vacancies.sustainment import SOURCE, on_sustainment, sustainment_timers
from tests.conftest import Infrastructure

TODAY = date(2026, 11, 23)
FIELDS = {
    "employer_id": "E-01",
    "title": "Sales Assistant",
    "sector": "retail",
    "positions": 40,
    "hours_per_week": 24,
    "location": {"postcode_district": "WA1", "lat": 53.39, "lon": -2.59},
    "closing_date": date(2026, 12, 31),
}


class FixedClock:
    def now(self) -> datetime:
        return datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)


async def replica(infrastructure: Infrastructure, db_name: str) -> VacanciesStore:
    client = connect(infrastructure.mongodb_uri)
    persistence = Persistence.of(client[db_name])
    await persistence.profile.detect(persistence.db)
    return VacanciesStore(persistence)


async def test_two_replicas_firing_at_once_record_each_sustainment_point_once(
    infrastructure: Infrastructure, db: AsyncDatabase
) -> None:
    first, second = [await replica(infrastructure, db.name) for _ in range(2)]
    started = TODAY - timedelta(weeks=14)
    timers = []
    for n in range(8):
        vacancy, _ = Vacancy.post(f"VAC-{n}", "EB-01", started, **FIELDS)
        vacancy.scope(PersonSpecification(required_skills=["tills"], min_qualification_level=1))
        for p in range(5):
            vacancy.place(f"PL-{n}-{p}", f"CL-{n}-{p}", started, 24, today=started)
        await first.vacancies.add(vacancy)
        thirteen = [
            t for p in vacancy.placements for t in sustainment_timers(vacancy.vacancy_id, p)
        ]
        timers += [t for t in thirteen if t.timer_id.endswith("|13")]

    clock = FixedClock()

    async def fire(timer: Timer, store: VacanciesStore) -> None:
        # As the timer loop does: a handler that lost too many races is tried again later.
        for attempt in range(30):
            try:
                return await on_sustainment(timer, store=store, clock=clock)
            except Conflict:
                await asyncio.sleep(0.01 * (attempt + 1))
        raise AssertionError("never fired")

    await asyncio.gather(
        *(fire(timer, store) for timer in timers for store in (first, second) for _ in range(3))
    )

    events = [
        entry["e"]
        async for doc in db["vacancies"].find({})
        for entry in doc["outbox"]
        if entry["e"]["type"] == "vacancies.placement.sustained"
    ]
    assert len(events) == 8 * 5, "one 13-week point per placement, whoever fired the timer"
    assert len({e["id"] for e in events}) == 40
    # The id derives from the timer, not from who fired it: recomputed afresh, it is the same.
    event = next(e for e in events if e["data"]["placement_id"] == "PL-3-1")
    timer = next(t for t in timers if t.timer_id.startswith("PL-3-1|"))
    wrap = enveloper(SOURCE, cause_id=f"timer:{timer.timer_id}")
    (again,) = wrap([PlacementSustained.model_validate(event["data"])])
    assert again.id == event["id"]
