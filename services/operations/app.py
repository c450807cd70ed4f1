"""Composition root of the operations service: read models from every service's events, stream
and dead-letter tools over Kafka, and the HTTP API a console or the `brokerage` CLI calls."""

from __future__ import annotations

from fastapi import FastAPI

from runtime.leases import Leases
from runtime.partnerships import UNASSIGNED, Partnerships
from runtime.service import ServiceRuntime
from schemas.topics import OPERATIONS_EVENTS, TOPICS
from services.operations import projections
from services.operations.api import Deps, build_router
from services.operations.console import console_router
from services.operations.monitor import FairnessMonitor
from services.operations.redrive import Redrives, RedriveTask
from services.operations.settings import Settings
from services.operations.store import OperationsStore

# What the service reads and writes: its Kafka ACLs and the tests read these (topics_of).
CONSUMES = projections.TOPICS_CONSUMED
PUBLISHES = (OPERATIONS_EVENTS,)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    partnerships = Partnerships.load(settings.partnerships_file)
    rt = ServiceRuntime.build(settings)
    store = OperationsStore(rt.persistence)
    tasks = rt.persistence.documents("redrive_tasks", RedriveTask, id_field="task_id")
    rt.with_outbox([*store.outbox_collections, tasks.collection])
    touched: set[tuple[str, str]] = set()
    rt.consume(CONSUMES, projections.dispatcher(store, touched))
    rt.publishes(*PUBLISHES)
    monitor = FairnessMonitor(
        store, [*partnerships.names, UNASSIGNED], settings.fairness_check_seconds, touched
    )
    rt.background.append(monitor.run)
    topics = [t.name for t in TOPICS]
    locks = Leases(store.leases, settings.redrive_lock_seconds)
    redrives = Redrives(store, tasks, locks, rt.producer, rt.clock, set(topics))
    deps = Deps(
        store=store,
        redrives=redrives,
        partnerships=partnerships,
        clock=rt.clock,
        kafka=settings.kafka,
        topics=topics,
        dlq_topics=[t.dlq for t in TOPICS],
        redrive_rate=settings.redrive_max_per_second,
    )
    return rt.http_app(
        title="Operations service",
        description="Streams and lag, dead letters with redrive, caseloads and journeys, KPIs, "
        "targets with RAG and fairness, confined to the caller's partnership.",
        router=build_router(deps),
        routers=[console_router()],
    )
