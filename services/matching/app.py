"""Composition root of the matching service."""

from __future__ import annotations

from fastapi import FastAPI

from runtime.handlers import bind
from runtime.service import ServiceRuntime
from schemas.topics import MATCH_EVENTS, REFERRAL_EVENTS, VACANCY_EVENTS
from services.matching.allocator import Allocator
from services.matching.api import build_router
from services.matching.handlers import HANDLERS
from services.matching.settings import Settings
from services.matching.store import MatchingStore

# What the service reads and writes: its Kafka ACLs and the tests read these (topics_of).
CONSUMES = (REFERRAL_EVENTS, VACANCY_EVENTS)
PUBLISHES = (MATCH_EVENTS,)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    rt = ServiceRuntime.build(settings)
    store = MatchingStore(rt.persistence)
    rt.with_outbox(store.outbox_collections)
    rt.consume(CONSUMES, rt.effects(bind(HANDLERS, store=store)))
    rt.publishes(*PUBLISHES)
    # Handlers queue changes; the allocator settles them, one replica per partnership.
    rt.background.append(Allocator(store, rt.clock.now).run)
    return rt.http_app(
        title="Matching service",
        description="Pairs job-ready clients with open, scoped vacancies; every score comes "
        "with the reasons that make it up.",
        router=build_router(store),
        setup=store.ensure_indexes,
    )
