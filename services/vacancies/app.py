"""Composition root of the vacancies service."""

from __future__ import annotations

from fastapi import FastAPI

from runtime.consumer import EventConsumer
from runtime.http import create_http_app
from runtime.service import ServiceRuntime
from schemas.envelope import CloudEvent
from schemas.topics import MATCH_EVENTS, REFERRAL_EVENTS, VACANCY_EVENTS
from services.vacancies.api import build_router
from services.vacancies.handlers import build_handlers
from services.vacancies.settings import Settings
from services.vacancies.store import VacanciesStore
from services.vacancies.sustainment import sustainment_job


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    rt = ServiceRuntime.build(settings)
    store = VacanciesStore(rt.db, on_saved=rt.wake_relay)
    rt.with_outbox(store.outbox_collections)
    EventConsumer(
        broker=rt.broker,
        group_id=settings.group_id,
        topics=[MATCH_EVENTS, REFERRAL_EVENTS],
        handlers=build_handlers(store),
        inbox=rt.inbox,
        max_attempts=settings.handler_max_attempts,
    )
    rt.broker.publisher(
        VACANCY_EVENTS.name,
        schema=CloudEvent,
        title=VACANCY_EVENTS.name,
        description="Vacancy and placement events, keyed by vacancy_id.",
    )
    rt.background.append(sustainment_job(store, settings.sustainment_check_seconds))

    title = "Vacancies service"
    description = (
        "Employer brokerage posts and scopes vacancies, sees shortlists, records "
        "placements; sustainment at 13 and 26 weeks is tracked from the start date."
    )
    app = create_http_app(
        title=title,
        description=description,
        lifespan=rt.lifespan(setup=store.ensure_indexes),
        readiness=rt.readiness,
        asyncapi=lambda: rt.asyncapi(title, description),
    )
    app.include_router(build_router(store))
    return app
