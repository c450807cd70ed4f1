"""What the vacancies service does when its own events come back.

Reacting to our own published events, not inline after the write, is what makes these steps
crash-proof: an event is published if and only if its write was stored (the outbox), and the
consumer retries until the reaction is stored. So a posted vacancy always gets its expiry timer,
a placement always gets its sustainment timers, its submission is always marked `placed`, and
the client's other live submissions always end. Each reaction is idempotent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from runtime.clock import Clock
from runtime.events import enveloper
from runtime.handlers import bind
from runtime.timers import Timers
from schemas import vacancies as ev
from schemas.envelope import CloudEvent
from services.vacancies import commands
from services.vacancies.store import VacanciesStore
from services.vacancies.sustainment import SOURCE, expiry_timer, sustainment_timers


@dataclass(frozen=True)
class Deps:
    store: VacanciesStore
    timers: Timers
    clock: Clock


async def on_vacancy_posted(_: CloudEvent, data: ev.VacancyPosted, *, deps: Deps) -> None:
    loaded = await deps.store.vacancies.get(data.vacancy_id)
    if loaded is not None:
        await deps.timers.schedule([expiry_timer(loaded.aggregate)])


async def on_placement_started(event: CloudEvent, data: ev.PlacementStarted, *, deps: Deps) -> None:
    store = deps.store
    loaded = await store.vacancies.get(data.vacancy_id)
    if loaded is None or not loaded.aggregate.has_placement(data.placement_id):
        return
    placement = loaded.aggregate.placement(data.placement_id)
    await deps.timers.schedule(sustainment_timers(data.vacancy_id, placement))
    await store.note_placement(data.client_id, data.placement_id, data.vacancy_id)
    wrap = enveloper(SOURCE, cause=event)
    now = deps.clock.now()
    if data.submission_id:
        await commands.mark_placed(store, data.submission_id, data.placement_id, now, wrap)
    await commands.decline_other_submissions(store, data.client_id, data.submission_id, now, wrap)


async def on_submitted(_: CloudEvent, data: ev.SubmissionSubmitted, *, deps: Deps) -> None:
    """Repeat the index entry written with the call (a crash may have cut that short)."""
    await deps.store.note_submission(data.client_id, data.submission_id, data.vacancy_id)


REACTIONS: dict[type, Callable[..., Awaitable[None]]] = {
    ev.VacancyPosted: on_vacancy_posted,
    ev.PlacementStarted: on_placement_started,
    ev.SubmissionSubmitted: on_submitted,
}


def reactions(deps: Deps) -> dict[type, Callable[..., Awaitable[None]]]:
    return bind(REACTIONS, deps=deps)
