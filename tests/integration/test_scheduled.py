"""Scheduled work fires once across replicas: the sustainment check, run by two "replicas"
(each with its own client and persistence, as two processes have) at the same moment.

On FerretDB the losing interleaving (both read version v between the other's read and write:
its update runs its query outside the write's transaction) is rare with the `_id` path index,
so this shows the outcome; `test_storage.py`'s cross-client increments stress the CAS itself.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from pymongo.asynchronous.database import AsyncDatabase

from runtime.mongo import connect
from runtime.persistence import Persistence
from services.vacancies.domain import PersonSpecification, Vacancy
from services.vacancies.store import VacanciesStore
from services.vacancies.sustainment import check_due
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


async def replica(infrastructure: Infrastructure, db_name: str) -> VacanciesStore:
    client = connect(infrastructure.mongodb_uri)
    persistence = Persistence.of(client[db_name])
    await persistence.profile.detect(persistence.db)
    return VacanciesStore(persistence)


async def test_two_replicas_checking_at_once_record_each_sustainment_point_once(
    infrastructure: Infrastructure, db: AsyncDatabase
) -> None:
    first, second = [await replica(infrastructure, db.name) for _ in range(2)]
    started = TODAY - timedelta(weeks=14)
    for n in range(8):
        vacancy, _ = Vacancy.post(f"VAC-{n}", "EB-01", started, **FIELDS)
        vacancy.scope(PersonSpecification(required_skills=["tills"], min_qualification_level=1))
        for p in range(5):
            vacancy.place(f"PL-{n}-{p}", f"CL-{n}-{p}", started, 24)
        await first.vacancies.add(vacancy)

    await asyncio.gather(*(check_due(store, TODAY) for store in (first, second) for _ in range(3)))

    events = [
        entry["e"]
        async for doc in db["vacancies"].find({})
        for entry in doc["outbox"]
        if entry["e"]["type"] == "vacancies.placement.sustained"
    ]
    assert len(events) == 8 * 5, "one 13-week point per placement, whoever ran the check"
    assert len({e["id"] for e in events}) == 40
    again = [e for e in events if e["data"]["placement_id"] == "PL-3-1"]
    assert again[0]["id"] == (await _recheck_id(first, db, "VAC-3", "PL-3-1")), (
        "the event's id derives from the placement and the point, not from who ran the check"
    )


async def _recheck_id(store: VacanciesStore, db: AsyncDatabase, vacancy_id: str, pl: str) -> str:
    """The id the same point gets when computed afresh (as another replica would)."""
    from services.vacancies.sustainment import _wrap

    loaded = await store.vacancies.get(vacancy_id)
    placement = next(p for p in loaded.aggregate.placements if p.placement_id == pl)
    placement.sustained_weeks.clear()
    placement.schedule_next_check()
    (event,) = [
        e for e in _wrap(loaded.aggregate.check_sustainment(TODAY)) if e.data["placement_id"] == pl
    ]
    return event.id
