"""Composition root of the referrals service: wires the domain to Kafka, MongoDB and HTTP."""

from __future__ import annotations

from fastapi import FastAPI

from runtime.handlers import Aggregates
from runtime.service import ServiceRuntime
from schemas.topics import JCP_CLAIMANT_EVENTS, REFERRAL_EVENTS
from services.referrals.api import SOURCE, build_router
from services.referrals.client_api import build_client_router
from services.referrals.domain import load_directory
from services.referrals.handlers import handlers
from services.referrals.settings import Settings
from services.referrals.store import ReferralsStore


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    providers = load_directory(settings.providers_file.read_text())
    rt = ServiceRuntime.build(settings)
    store = ReferralsStore(rt.persistence)
    rt.with_outbox(store.outbox_collections)
    clients = Aggregates(store.clients, handlers(settings.client_id_key), SOURCE)
    rt.consume([JCP_CLAIMANT_EVENTS], clients)
    rt.publishes(REFERRAL_EVENTS)

    async def setup() -> None:
        await store.ensure_indexes()
        await store.seed_providers(providers)

    return rt.http_app(
        title="Referrals service",
        description="Clients from JCP claimant events, consent, referrals to providers, "
        "assessments and job-readiness.",
        routers=[build_router(store), build_client_router(store, settings.client_id_key)],
        setup=setup,
    )
