"""The timers of a vacancy: its expiry after the closing date, and each placement's 13- and
26-week sustainment points.

Timers fire at least once (`runtime/timers.py`); what they do happens once because the vacancy
stores the outcome with the event under compare-and-set (`expired` status, `sustained_weeks`),
and the events' ids derive from the timer, so two replicas firing one make the same event.
Timer ids derive from the vacancy, or the placement and the week.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, time

from runtime.clock import Clock
from runtime.errors import NotFound
from runtime.events import enveloper
from runtime.timers import Timer
from runtime.working_days import LONDON, london_date
from services.vacancies.domain import SUSTAINMENT_WEEKS, Placement, Vacancy
from services.vacancies.store import VacanciesStore

SOURCE = "/services/vacancies"
EXPIRY = "vacancy-expiry"
SUSTAINMENT = "placement-sustainment"


def expiry_timer(vacancy: Vacancy) -> Timer:
    return Timer(
        timer_id=f"{vacancy.vacancy_id}|expiry|{vacancy.closing_date.isoformat()}",
        kind=EXPIRY,
        target_id=vacancy.vacancy_id,
        due=vacancy.closes_at,
    )


def sustainment_timers(vacancy_id: str, placement: Placement) -> list[Timer]:
    """One per point, at the start of its day in London."""
    return [
        Timer(
            timer_id=f"{placement.placement_id}|sustained|{weeks}",
            kind=SUSTAINMENT,
            target_id=vacancy_id,
            due=datetime.combine(placement.sustainment_day(weeks), time(0), tzinfo=LONDON),
        )
        for weeks in SUSTAINMENT_WEEKS
    ]


def _point(timer: Timer) -> tuple[str, int]:
    placement_id, _, weeks = timer.timer_id.rsplit("|", 2)
    return placement_id, int(weeks)


async def on_expiry(timer: Timer, *, store: VacanciesStore, clock: Clock) -> None:
    now = clock.now()
    loaded = await store.vacancies.get(timer.target_id)
    if loaded is None or not loaded.aggregate.expire(now):
        return  # filled, closed or expired already, or not due: nothing to write
    wrap = enveloper(SOURCE, cause_id=f"timer:{timer.timer_id}")
    try:
        await store.vacancies.mutate({"_id": timer.target_id}, lambda v: v.expire(now), wrap)
    except NotFound:
        return


async def on_sustainment(timer: Timer, *, store: VacanciesStore, clock: Clock) -> None:
    placement_id, weeks = _point(timer)
    today = london_date(clock.now())
    loaded = await store.vacancies.get(timer.target_id)
    if loaded is None or not loaded.aggregate.sustain(placement_id, weeks, today):
        return  # recorded already, ended, or not due
    wrap = enveloper(SOURCE, cause_id=f"timer:{timer.timer_id}")
    try:
        await store.vacancies.mutate(
            {"_id": timer.target_id}, lambda v: v.sustain(placement_id, weeks, today), wrap
        )
    except NotFound:
        return


def timer_handlers(
    store: VacanciesStore, clock: Clock
) -> dict[str, Callable[[Timer], Awaitable[None]]]:
    async def expiry(timer: Timer) -> None:
        await on_expiry(timer, store=store, clock=clock)

    async def sustainment(timer: Timer) -> None:
        await on_sustainment(timer, store=store, clock=clock)

    return {EXPIRY: expiry, SUSTAINMENT: sustainment}
