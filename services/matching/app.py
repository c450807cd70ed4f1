"""Composition root of the matching service."""

from __future__ import annotations

from fastapi import FastAPI

from runtime.consumer import EventConsumer
from runtime.http import create_http_app
from runtime.service import ServiceRuntime
from schemas.envelope import CloudEvent
from schemas.topics import MATCH_EVENTS, REFERRAL_EVENTS, VACANCY_EVENTS
from services.matching.api import build_router
from services.matching.handlers import build_handlers
from services.matching.settings import Settings
from services.matching.store import MatchingStore


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    rt = ServiceRuntime.build(settings)
    store = MatchingStore(rt.db, on_saved=rt.wake_relay)
    rt.with_outbox(store.outbox_collections)
    EventConsumer(
        broker=rt.broker,
        group_id=settings.group_id,
        topics=[REFERRAL_EVENTS, VACANCY_EVENTS],
        handlers=build_handlers(store),
        inbox=rt.inbox,
        max_attempts=settings.handler_max_attempts,
    )
    rt.broker.publisher(
        MATCH_EVENTS.name,
        schema=CloudEvent,
        title=MATCH_EVENTS.name,
        description="Proposed and withdrawn matches, keyed by vacancy_id.",
    )
    title = "Matching service"
    description = (
        "Pairs job-ready clients with open, scoped vacancies; every score comes "
        "with the reasons that make it up."
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
