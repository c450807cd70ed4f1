"""Composition root of the vacancies service."""

from __future__ import annotations

from fastapi import FastAPI

from runtime.handlers import bind
from runtime.service import ServiceRuntime
from schemas.topics import MATCH_EVENTS, REFERRAL_EVENTS, VACANCY_EVENTS
from services.vacancies import reactions, sustainment
from services.vacancies.api import build_router
from services.vacancies.handlers import HANDLERS
from services.vacancies.settings import Settings
from services.vacancies.store import VacanciesStore
from services.vacancies.submission_api import build_submission_router

# What the service reads and writes: its Kafka ACLs and the tests read these (topics_of).
CONSUMES = (MATCH_EVENTS, REFERRAL_EVENTS, VACANCY_EVENTS)
PUBLISHES = (VACANCY_EVENTS,)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    rt = ServiceRuntime.build(settings)
    store = VacanciesStore(rt.persistence)
    rt.with_outbox(store.outbox_collections)
    timers = rt.timers(sustainment.timer_handlers(store, rt.clock))
    deps = reactions.Deps(store, timers, rt.clock)
    # Other services' events feed the read models; our own come back to schedule timers and
    # finish what a placement starts (see `reactions`).
    rt.consume(
        CONSUMES,
        rt.effects({**bind(HANDLERS, store=store), **reactions.reactions(deps)}),
    )
    rt.publishes(*PUBLISHES)
    return rt.http_app(
        title="Vacancies service",
        description="Employer brokerage posts and scopes vacancies, sees shortlists, puts "
        "matched clients forward (submissions, interviews, work trials, offers) and records "
        "placements; vacancies expire at their closing date, sustainment is recorded at 13 and "
        "26 weeks from the start date, and a reclaim marks the revolving door.",
        routers=[build_router(store, rt.clock), build_submission_router(store, rt.clock)],
        setup=store.ensure_indexes,
    )
