"""The one way events are put on a topic: an idempotent producer that sends many at a time.

`acks="all"` waits for every in-sync replica; idempotence lets the producer retry a send without
writing the record twice (the broker de-duplicates by producer id and sequence) and keeps the
order of records per partition across retries. Records are handed to the producer one after the
other, in the order given, and only then awaited together: the producer batches them (linger)
while order per key is kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pydantic_core
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)

from runtime import metrics
from runtime.kafka_connection import KafkaConnection
from runtime.tasks import stop_task
from schemas.envelope import CloudEvent
from schemas.topics import topic_for

log = structlog.get_logger(__name__)

# Structured mode: the whole CloudEvent is the record value (CloudEvents Kafka binding 1.0).
CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"

Headers = list[tuple[str, bytes | None]]

# Errors after which the same record can never be written: retrying would stall everything
# behind it, so the caller parks the record instead. Anything else is treated as passing.
UNPUBLISHABLE: tuple[type[BaseException], ...] = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    CorruptRecordException,
    InvalidTopicError,
)


@dataclass(frozen=True)
class OutRecord:
    topic: str
    value: bytes | None  # None: a tombstone
    key: bytes | None
    headers: Headers

    @classmethod
    def of_stored(cls, event: Mapping[str, Any]) -> OutRecord:
        """A CloudEvent as our outbox stores it (already validated when it was made):
        encoded as it is, without building and validating the model again."""
        return cls(
            topic=topic_for(event["type"]).name,
            value=pydantic_core.to_json(event),
            key=str(event["subject"]).encode(),
            headers=[("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())],
        )

    @classmethod
    def of(cls, event: CloudEvent) -> OutRecord:
        """A CloudEvent on the topic the contract assigns to its type, keyed by its subject."""
        return cls(
            topic=topic_for(event.type).name,
            value=event.to_bytes(),
            key=event.subject.encode(),
            headers=[("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())],
        )


class EventProducer:
    def __init__(self, connection: KafkaConnection, client_id: str, *, linger_ms: int = 5) -> None:
        self._config = {
            **connection.options(),
            "client_id": client_id,
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": linger_ms,
            "max_batch_size": 256 * 1024,
        }
        self._started: AIOKafkaProducer | None = None

    @property
    def _producer(self) -> AIOKafkaProducer:
        if self._started is None:
            raise RuntimeError("the producer is not started")
        return self._started

    async def start(self) -> None:
        # Created here: aiokafka binds its objects to the running event loop.
        self._started = AIOKafkaProducer(**self._config)
        await self._started.start()

    async def stop(self, *, flush_timeout: float = 10.0) -> None:
        """Deliver what is in flight, for at most `flush_timeout` seconds, and close.

        An idempotent producer never gives up on a record: aiokafka retries it until the
        broker takes it, so an unreachable broker would hold the stop (and the service's
        shutdown, and a test's teardown) forever. Abandoning a record here loses nothing: an
        outbox event keeps its marker and the next sweep publishes it; a consumer has not
        committed the offset of the record it was handling."""
        producer, self._started = self._started, None
        if producer is None:
            return
        try:
            await asyncio.wait_for(producer.stop(), flush_timeout)
        except TimeoutError:
            log.warning("producer.stop_abandoned", flush_timeout_s=flush_timeout)
            # aiokafka has no public abort: end its sender (which would retry forever),
            # then close the connections, as its own stop does after flushing.
            await stop_task(getattr(getattr(producer, "_sender", None), "sender_task", None))
            await producer.client.close()

    async def connected(self, timeout: float = 2.0) -> bool:
        if self._started is None:
            return False
        try:
            await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout)
        except (KafkaError, TimeoutError, OSError):
            return False
        return True

    async def send_many(self, records: Sequence[OutRecord]) -> list[BaseException | None]:
        """Send every record, in order, and wait for all acks; each record's error or None."""
        pending: list[asyncio.Future[object] | BaseException] = []
        for r in records:
            try:
                pending.append(
                    await self._producer.send(r.topic, r.value, key=r.key, headers=r.headers)
                )
            except KafkaError as exc:  # refused before sending, e.g. larger than allowed
                pending.append(exc)
        outcomes: list[BaseException | None] = []
        for p in pending:
            if isinstance(p, BaseException):
                outcomes.append(p)
                continue
            try:
                await p
                outcomes.append(None)
            except KafkaError as exc:
                outcomes.append(exc)
        for r, outcome in zip(records, outcomes, strict=True):
            (metrics.PUBLISHED if outcome is None else metrics.PUBLISH_FAILED).labels(r.topic).inc()
        return outcomes

    async def publish(self, event: CloudEvent) -> None:
        """One event, acknowledged by every in-sync replica, or an exception."""
        (error,) = await self.send_many([OutRecord.of(event)])
        if error is not None:
            raise error
