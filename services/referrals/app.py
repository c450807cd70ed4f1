"""Composition root of the referrals service: wires the domain to Kafka, MongoDB and HTTP."""

from __future__ import annotations

from fastapi import FastAPI

from runtime.events import enveloper
from runtime.handlers import Aggregates, Routed
from runtime.partnerships import Partnerships
from runtime.service import ServiceRuntime
from schemas.topics import DIRECTORY_EVENTS, JCP_CLAIMANT_EVENTS, REFERRAL_EVENTS, VACANCY_EVENTS
from services.referrals import handlers, reactions, seats
from services.referrals.api import SOURCE, build_router
from services.referrals.client_api import build_client_router
from services.referrals.directory import load_directory
from services.referrals.settings import Settings
from services.referrals.store import ReferralsStore

# What the service reads and writes: its Kafka ACLs and the tests read these (topics_of).
CONSUMES = (JCP_CLAIMANT_EVENTS, REFERRAL_EVENTS, VACANCY_EVENTS)
PUBLISHES = (REFERRAL_EVENTS, DIRECTORY_EVENTS)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    providers = load_directory(settings.providers_file.read_text())
    partnerships = Partnerships.load(settings.partnerships_file)
    rt = ServiceRuntime.build(settings)
    store = ReferralsStore(rt.persistence)
    rt.with_outbox(store.outbox_collections)
    timers = rt.timers(reactions.timer_handlers(store, rt.clock))
    deps = reactions.Deps(store, timers, rt.clock)
    rt.consume(
        CONSUMES,
        Routed(
            Aggregates(
                store.clients, handlers.handlers(settings.client_id_key, partnerships), SOURCE
            ),
            Aggregates(store.clients, handlers.placement_handlers(), SOURCE),
            rt.effects(reactions.reactions(deps)),
        ),
    )
    rt.publishes(*PUBLISHES)
    rt.background.append(
        lambda: seats.run_reconciler(store, rt.clock, settings.seats_reconcile_seconds)
    )

    async def setup() -> None:
        await store.ensure_indexes()
        await store.seed_providers(providers, enveloper(SOURCE, cause_id="referrals.seed"))

    return rt.http_app(
        title="Referrals service",
        description="Clients from JCP claimant events, consent, the provider directory, "
        "referrals with working-day deadlines, assessments and job-readiness.",
        routers=[
            build_router(store, rt.clock),
            build_client_router(store, settings.client_id_key, rt.clock),
        ],
        setup=setup,
    )
