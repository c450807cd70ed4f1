"""Composition root of the vacancies service."""

from __future__ import annotations

from fastapi import FastAPI

from runtime.handlers import bind
from runtime.service import ServiceRuntime
from schemas.topics import MATCH_EVENTS, REFERRAL_EVENTS, VACANCY_EVENTS
from services.vacancies.api import build_router
from services.vacancies.handlers import HANDLERS
from services.vacancies.settings import Settings
from services.vacancies.store import VacanciesStore
from services.vacancies.sustainment import sustainment_job


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    rt = ServiceRuntime.build(settings)
    store = VacanciesStore(rt.persistence)
    rt.with_outbox(store.outbox_collections)
    rt.consume([MATCH_EVENTS, REFERRAL_EVENTS], rt.effects(bind(HANDLERS, store=store)))
    rt.publishes(VACANCY_EVENTS)
    rt.background.append(sustainment_job(store, settings.sustainment_check_seconds))
    return rt.http_app(
        title="Vacancies service",
        description="Employer brokerage posts and scopes vacancies, sees shortlists, records "
        "placements; sustainment at 13 and 26 weeks is tracked from the start date.",
        router=build_router(store),
        setup=store.ensure_indexes,
    )
