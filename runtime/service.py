"""The composition shared by every service process: connections, relay, consumer, HTTP, run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
import uvicorn
from fastapi import APIRouter, Depends, FastAPI
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from runtime.auth import allow, load_tokens
from runtime.clock import Clock, ControlledClock, SystemClock, clock_router
from runtime.consumer import BatchLimits, BatchProcessor, DeadLetters, EventConsumer
from runtime.handlers import Dispatcher, Effect, Effects
from runtime.http import create_http_app
from runtime.kafka import EventProducer
from runtime.logging import configure_logging
from runtime.mongo import connect, ping
from runtime.outbox import OutboxRelay
from runtime.persistence import Persistence
from runtime.settings import ServiceSettings
from runtime.tasks import stop_task
from runtime.timers import Handler, TimerLoop, Timers
from schemas.base import EventData
from schemas.export import described_only, envelope_union
from schemas.topics import Topic

log = structlog.get_logger(__name__)

Hook = Callable[[], Awaitable[None]]


@dataclass
class ServiceRuntime:
    """Everything a service's adapters need from the outside world, built in one place."""

    settings: ServiceSettings
    producer: EventProducer
    client: AsyncMongoClient
    persistence: Persistence
    # What "now" is for the service's rules and timers: the real time, or with
    # ALLOW_CLOCK_CONTROL a clock that POST /admin/clock moves forward (demonstrations only).
    clock: Clock = field(default_factory=SystemClock)
    # Describes the service's topics for its AsyncAPI document; never connected. The consumer
    # and producer are aiokafka's own: FastStream's batch subscriber mixes partitions in one
    # batch and commits whatever was fetched, where we need per-partition batches, explicit
    # offsets and a rebalance listener.
    spec: KafkaBroker = field(default_factory=KafkaBroker)
    relay: OutboxRelay | None = None
    consumer: EventConsumer | None = None
    background: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    @classmethod
    def build(cls, settings: ServiceSettings) -> ServiceRuntime:
        configure_logging(settings.service_name, settings.log_level, settings.log_format)
        client = connect(settings.mongodb_uri)
        persistence = Persistence.of(client[settings.database_name])
        clock: Clock = (
            ControlledClock(persistence.db["clock"])
            if settings.allow_clock_control
            else SystemClock()
        )
        return cls(
            settings=settings,
            producer=EventProducer(settings.kafka, settings.service_name),
            client=client,
            persistence=persistence,
            clock=clock,
        )

    def with_outbox(self, collections: Iterable[AsyncCollection]) -> OutboxRelay:
        s = self.settings
        self.relay = OutboxRelay(
            self.producer,
            self.persistence.db,
            self.persistence.outbox,
            collections,
            self.persistence.profile,
            sweep_seconds=s.outbox_sweep_seconds,
            max_backlog_events=s.outbox_max_backlog_events,
        )
        return self.relay

    def effects(self, handlers: Mapping[type[EventData], Effect]) -> Effects:
        """A dispatcher of effect handlers, with this service's inbox."""
        return Effects(handlers, self.persistence.inbox)

    def consume(self, topics: Iterable[Topic], dispatcher: Dispatcher) -> EventConsumer:
        """Subscribe the service's consumer group (named after it) to these topics."""
        s = self.settings
        topics = tuple(topics)
        processor = BatchProcessor(
            dispatcher,
            DeadLetters(self.producer, s.group_id),
            max_attempts=s.handler_max_attempts,
        )
        self.consumer = EventConsumer(
            connection=s.kafka,
            group_id=s.group_id,
            topics=topics,
            processor=processor,
            limits=BatchLimits(s.batch_max_records, s.batch_max_bytes, s.batch_max_wait_ms),
            before_batch=self.relay.capacity if self.relay else None,
        )
        self.spec.subscriber(
            *(t.name for t in topics),
            group_id=s.group_id,
            title=f"{s.group_id}-consumer",
            description=f"The {s.group_id} service's consumer group: "
            + ", ".join(sorted(dispatcher.models))
            + ". The message schema is each event's CloudEvent with its `data` model; other "
            "event types on these topics are skipped, invalid records dead-lettered.",
        )(described_only(dispatcher.models))
        return self.consumer

    def timers(self, handlers: Mapping[str, Handler]) -> Timers:
        """The service's persisted timers, fired by a loop in the background (started with
        the service, before or after `consume`): a handler per timer kind, idempotent."""
        timers = Timers(self.persistence, clock=self.clock)
        loop = TimerLoop(timers, self.clock, handlers, self.settings.timer_poll_seconds)
        self.background.append(loop.run)
        return timers

    async def _refresh_clock(self) -> None:
        """Adopt the clock another replica moved, every `timer_poll_seconds`."""
        if not isinstance(self.clock, ControlledClock):
            return
        while True:
            await asyncio.sleep(self.settings.timer_poll_seconds)
            try:
                await self.clock.refresh()
            except Exception as exc:  # the database away: keep the offset we have
                log.warning("clock.refresh_failed", error=type(exc).__name__)

    def publishes(self, *topics: Topic) -> None:
        """Declare the topics this service writes, for its AsyncAPI document."""
        for topic in topics:
            self.spec.publisher(
                topic.name,
                schema=envelope_union(topic.event_types),
                title=topic.name,
                description=f"{', '.join(topic.event_types)}; keyed by {topic.key}. The message "
                "schema is each event's CloudEvent, told apart by `type`, with its `data` model.",
            )

    async def readiness(self) -> dict[str, bool]:
        checks = {
            "database": await ping(self.persistence.db),
            "kafka": await self.producer.connected(),
        }
        if self.relay:
            checks["outbox_relay"] = self.relay.healthy
        if self.consumer:
            checks["consumer"] = self.consumer.running
        return checks

    def http_app(
        self,
        *,
        title: str,
        description: str,
        router: APIRouter | None = None,
        routers: Iterable[APIRouter] = (),
        setup: Hook | None = None,
    ) -> FastAPI:
        """The service's ASGI app: its routes, health, docs, and the lifespan that runs it all."""
        app = create_http_app(
            title=title,
            description=description,
            lifespan=self.lifespan(setup=setup),
            readiness=self.readiness,
            asyncapi=lambda: self.asyncapi(title, description),
        )
        for each in (*([router] if router else []), *routers):
            app.include_router(each)
        if self.relay:
            app.include_router(self._operations_router(self.relay))
        if isinstance(self.clock, ControlledClock):  # otherwise /admin/clock is a 404
            app.include_router(clock_router(self.clock))
        return app

    @staticmethod
    def _operations_router(relay: OutboxRelay) -> APIRouter:
        router = APIRouter(tags=["operations"])

        @router.get("/outbox/parked", dependencies=[Depends(allow("operations"))])
        async def parked_events() -> list[dict[str, Any]]:
            """Events this service could never publish (e.g. too large), with the error type."""
            return await relay.parked()

        return router

    def asyncapi(self, title: str, description: str) -> dict[str, object]:
        """The AsyncAPI 3.0 document of this service's topics (served at /asyncapi.json)."""
        spec = AsyncAPI(self.spec, title=title, description=description, version="1")
        return spec.to_specification().to_jsonable()

    def lifespan(self, *, setup: Hook | None = None) -> Callable[[FastAPI], object]:
        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            app.state.tokens = load_tokens(self.settings.tokens_file)
            profile = await self.persistence.profile.detect(self.persistence.db)
            log.info("store.detected", store=profile.name, atomic_updates=profile.atomic_updates)
            if isinstance(self.clock, ControlledClock):
                await self.clock.refresh()
            if setup:
                await setup()
            await self.producer.start()
            if self.relay:
                self.relay.start()
            if self.consumer:
                await self.consumer.start()
            jobs = [*self.background, self._refresh_clock]
            tasks = [asyncio.create_task(job(), name=job.__name__) for job in jobs]
            log.info("service.started", port=self.settings.http_port)
            try:
                yield
            finally:
                await asyncio.gather(*(stop_task(task) for task in tasks))
                if self.consumer:
                    await self.consumer.stop()
                if self.relay:
                    await self.relay.stop()
                await self.producer.stop()
                await self.client.close()
                log.info("service.stopped")

        return lifespan


async def _described_only(body: bytes) -> None:
    """The consumer's entry in the AsyncAPI document; records are consumed by `EventConsumer`."""


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run until SIGINT/SIGTERM; uvicorn then drains requests and runs the lifespan's exit."""
    uvicorn.run(
        app, host=settings.http_host, port=settings.http_port, log_config=None, access_log=False
    )
