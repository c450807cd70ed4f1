"""The periodic check that turns 13 and 26 weeks in work into `placement.sustained` events."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date

import structlog

from runtime.errors import Conflict
from runtime.events import enveloper
from services.vacancies.store import VacanciesStore

log = structlog.get_logger(__name__)

SOURCE = "/services/vacancies"


# Derived ids: a placement's 13-week point gives the same event id in every replica and run.
_wrap = enveloper(SOURCE, cause_id="vacancies.sustainment-check")


async def check_due(store: VacanciesStore, today: date) -> int:
    """Record every sustainment point reached by `today`; returns how many vacancies it checked.

    Exactly once across replicas: a point already recorded is not due any more, concurrent
    saves of one vacancy are serialised by a compare-and-set on its version (the loser reloads
    and finds nothing due), and the events' ids derive from the placement and the point.
    """
    count = 0
    for vacancy_id in await store.due_for_sustainment(today):
        try:
            await store.vacancies.mutate(
                {"_id": vacancy_id}, lambda v: v.check_sustainment(today), _wrap
            )
        except Conflict:
            # Other replicas kept winning the race for it: they are checking it right now.
            log.info("sustainment.left_to_another_replica", vacancy_id=vacancy_id)
            continue
        count += 1
    return count


def sustainment_job(
    store: VacanciesStore, every_seconds: float, today: Callable[[], date] = date.today
) -> Callable[[], Awaitable[None]]:
    async def run_sustainment_checks() -> None:
        while True:
            try:
                await check_due(store, today())
            except Exception:
                log.exception("sustainment.check_failed")
            await asyncio.sleep(every_seconds)

    return run_sustainment_checks
