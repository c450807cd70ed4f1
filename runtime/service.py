"""The composition shared by every service process: connections, relay, consumer, HTTP, run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
import uvicorn
from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from runtime.auth import load_tokens
from runtime.consumer import EventConsumer, Handler
from runtime.http import create_http_app
from runtime.inbox import Inbox
from runtime.kafka import EventPublisher, create_broker
from runtime.logging import configure_logging
from runtime.mongo import connect, ping
from runtime.outbox import OutboxRelay
from runtime.settings import ServiceSettings
from schemas.base import EventData
from schemas.envelope import CloudEvent
from schemas.topics import Topic

log = structlog.get_logger(__name__)

Hook = Callable[[], Awaitable[None]]


@dataclass
class ServiceRuntime:
    """Everything a service's adapters need from the outside world, built in one place."""

    settings: ServiceSettings
    broker: KafkaBroker
    publisher: EventPublisher
    client: AsyncMongoClient
    db: AsyncDatabase
    inbox: Inbox
    relay: OutboxRelay | None = None
    background: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    @classmethod
    def build(cls, settings: ServiceSettings) -> ServiceRuntime:
        configure_logging(settings.service_name, settings.log_level, settings.log_format)
        broker = create_broker(settings.kafka_bootstrap_servers, settings.service_name)
        client = connect(settings.mongodb_uri)
        db = client[settings.database_name]
        return cls(
            settings=settings,
            broker=broker,
            publisher=EventPublisher(broker),
            client=client,
            db=db,
            inbox=Inbox(db),
        )

    def with_outbox(self, collections: Iterable[AsyncCollection]) -> OutboxRelay:
        self.relay = OutboxRelay(
            self.publisher, collections, sweep_seconds=self.settings.outbox_sweep_seconds
        )
        return self.relay

    def wake_relay(self, collection: AsyncCollection, document_id: Any) -> None:
        if self.relay:
            self.relay.wake(collection, document_id)

    async def readiness(self) -> dict[str, bool]:
        checks = {
            "database": await ping(self.db),
            "kafka": await self.broker.ping(timeout=2.0),
        }
        if self.relay:
            checks["outbox_relay"] = self.relay.healthy
        return checks

    def consume(
        self, topics: Iterable[Topic], handlers: Mapping[type[EventData], Handler]
    ) -> EventConsumer:
        """Subscribe the service's consumer group (named after it) to these topics."""
        return EventConsumer(
            broker=self.broker,
            group_id=self.settings.group_id,
            topics=topics,
            handlers=handlers,
            inbox=self.inbox,
            max_attempts=self.settings.handler_max_attempts,
        )

    def publishes(self, topic: Topic) -> None:
        """Declare the topic this service writes, for its AsyncAPI document."""
        self.broker.publisher(
            topic.name,
            schema=CloudEvent,
            title=topic.name,
            description=f"{', '.join(topic.event_types)}; keyed by {topic.key}.",
        )

    def http_app(
        self, *, title: str, description: str, router: APIRouter, setup: Hook | None = None
    ) -> FastAPI:
        """The service's ASGI app: its routes, health, docs, and the lifespan that runs it all."""
        app = create_http_app(
            title=title,
            description=description,
            lifespan=self.lifespan(setup=setup),
            readiness=self.readiness,
            asyncapi=lambda: self.asyncapi(title, description),
        )
        app.include_router(router)
        return app

    def asyncapi(self, title: str, description: str) -> dict[str, object]:
        """The AsyncAPI 3.0 document of this service's topics (served at /asyncapi.json)."""
        spec = AsyncAPI(self.broker, title=title, description=description, version="1")
        return spec.to_specification().to_jsonable()

    def lifespan(self, *, setup: Hook | None = None) -> Callable[[FastAPI], object]:
        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            app.state.tokens = load_tokens(self.settings.tokens_file)
            if setup:
                await setup()
            await self.broker.start()
            if self.relay:
                self.relay.start()
            tasks = [asyncio.create_task(job(), name=job.__name__) for job in self.background]
            log.info("service.started", port=self.settings.http_port)
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                if self.relay:
                    await self.relay.stop()
                await self.broker.stop()
                await self.client.close()
                log.info("service.stopped")

        return lifespan


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run until SIGINT/SIGTERM; uvicorn then drains requests and runs the lifespan's exit."""
    uvicorn.run(
        app, host=settings.http_host, port=settings.http_port, log_config=None, access_log=False
    )
