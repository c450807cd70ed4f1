"""Composition root of the referrals service: wires the domain to Kafka, MongoDB and HTTP."""

from __future__ import annotations

from fastapi import FastAPI

from runtime.consumer import EventConsumer
from runtime.http import create_http_app
from runtime.service import ServiceRuntime
from schemas.envelope import CloudEvent
from schemas.topics import JCP_CLAIMANT_EVENTS, REFERRAL_EVENTS
from services.referrals.api import build_router
from services.referrals.domain import load_directory
from services.referrals.handlers import build_handlers
from services.referrals.settings import Settings
from services.referrals.store import ReferralsStore


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    rt = ServiceRuntime.build(settings)
    store = ReferralsStore(rt.db, on_saved=rt.wake_relay)
    rt.with_outbox(store.outbox_collections)
    EventConsumer(
        broker=rt.broker,
        group_id=settings.group_id,
        topics=[JCP_CLAIMANT_EVENTS],
        handlers=build_handlers(store),
        inbox=rt.inbox,
        max_attempts=settings.handler_max_attempts,
    )
    rt.broker.publisher(
        REFERRAL_EVENTS.name,
        schema=CloudEvent,
        title=REFERRAL_EVENTS.name,
        description="Client and referral events, keyed by client_id.",
    )

    providers = load_directory(settings.providers_file.read_text())

    async def setup() -> None:
        await store.ensure_indexes()
        await store.seed_providers(providers)

    title = "Referrals service"
    description = (
        "Clients from JCP claimant events, consent, referrals to providers, "
        "assessments and job-readiness."
    )
    app = create_http_app(
        title=title,
        description=description,
        lifespan=rt.lifespan(setup=setup),
        readiness=rt.readiness,
        asyncapi=lambda: rt.asyncapi(title, description),
    )
    app.include_router(build_router(store))
    return app
