"""Consume CloudEvents at least once, exactly one effect each, and never stall on a bad record.

The rules, in the order they apply to each record (cf. NAV's rapids-and-rivers):
1. Not JSON, or not a CloudEvent: the record is *poison*; it goes to `<topic>.dlq`.
2. A type this service has no handler for: not for us; skip it quietly (tolerant reader).
3. `data` fails the event's model: poison, to the DLQ.
4. An event id already in the inbox: a redelivery; skip it.
5. The handler raises `Rejected`: the event can never apply (e.g. it names an unknown entity);
   to the DLQ.
6. The database or broker is unreachable: wait with backoff and let the record be read again,
   indefinitely. Dead-lettering here would discard good records during an outage.
7. Any other error is a bug: retry a few times with backoff, then dead-letter, so one bad record
   cannot stop its partition forever.
The offset is committed only after the effect (or the dead letter) is stored: the subscriber
uses FastStream's `NACK_ON_ERROR`, which commits on return and seeks back on an exception.
FastStream's Kafka default (`ACK_FIRST`) commits before handling, which loses records.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import structlog
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure

from runtime.inbox import Inbox
from schemas.base import EventData
from schemas.envelope import CloudEvent
from schemas.topics import Topic

log = structlog.get_logger(__name__)

Handler = Callable[[CloudEvent, Any], Awaitable[None]]

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionFailure,
    KafkaConnectionError,
    KafkaTimeoutError,
    ConnectionError,
    TimeoutError,
)


class Rejected(Exception):
    """Raised by a handler for an event that is valid but can never be applied."""


class PoisonRecord(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def describe_validation_error(error: ValidationError) -> str:
    """Field paths and messages only: the input values may be personal data."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
        for e in error.errors(include_input=False, include_url=False)
    )


def decode_envelope(value: bytes | None) -> CloudEvent:
    try:
        raw = json.loads(value or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise PoisonRecord("not-json", type(exc).__name__) from None
    try:
        return CloudEvent.model_validate(raw)
    except ValidationError as exc:
        raise PoisonRecord("not-a-cloudevent", describe_validation_error(exc)) from None


async def _raw_body(message: StreamMessage[Any]) -> bytes:
    # Decoding is ours: FastStream's JSON decoder would fail on poison before we could route it.
    return message.body


class EventConsumer:
    """One consumer group (named after the service) over the topics it needs."""

    def __init__(
        self,
        *,
        broker: KafkaBroker,
        group_id: str,
        topics: Iterable[Topic],
        handlers: Mapping[type[EventData], Handler],
        inbox: Inbox,
        max_attempts: int = 5,
        backoff_seconds: float = 0.5,
        max_backoff_seconds: float = 30.0,
    ) -> None:
        self._broker = broker
        self._group_id = group_id
        self._topics = tuple(topics)
        self._handlers = {model.event_type: (model, h) for model, h in handlers.items()}
        self._inbox = inbox
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._max_backoff = max_backoff_seconds
        self._failures: dict[tuple[str, int, int], int] = {}
        self.subscriber = broker.subscriber(
            *(t.name for t in self._topics),
            group_id=group_id,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            decoder=_raw_body,
            title=f"{group_id}-consumer",
            description=f"The {group_id} service's consumer group.",
        )
        self.subscriber(self.on_record)

    async def on_record(self, message: KafkaMessage) -> None:
        record: ConsumerRecord = message.raw_message  # type: ignore[assignment]
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            service=self._group_id,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )
        try:
            await self._handle(record)
        finally:
            structlog.contextvars.unbind_contextvars(
                "topic", "partition", "offset", "event_id", "event_type", "correlation_id"
            )

    async def _handle(self, record: ConsumerRecord) -> None:
        try:
            event = decode_envelope(record.value)
        except PoisonRecord as poison:
            await self._dead_letter(record, poison.reason, poison.detail)
            return
        structlog.contextvars.bind_contextvars(
            event_id=event.id, event_type=event.type, correlation_id=event.correlationid
        )
        if event.type not in self._handlers:
            log.debug("event.skipped", why="no handler for this type")
            return
        model, handler = self._handlers[event.type]
        try:
            data = model.model_validate(event.data)
        except ValidationError as exc:
            await self._dead_letter(record, "invalid-data", describe_validation_error(exc))
            return
        if await self._inbox.seen(event.id):
            log.info("event.duplicate", why="already handled; no second effect")
            return

        position = (record.topic, record.partition, record.offset)
        try:
            await handler(event, data)
        except Rejected as exc:
            await self._dead_letter(record, "rejected", str(exc))
            return
        except Exception as exc:
            transient = isinstance(exc, TRANSIENT_ERRORS)
            attempt = self._failures[position] = self._failures.get(position, 0) + 1
            if not transient and attempt >= self._max_attempts:
                log.exception("event.gave_up", attempts=attempt)
                self._failures.pop(position, None)
                await self._dead_letter(record, "handler-error", f"{type(exc).__name__}: {exc}")
                return
            delay = min(self._backoff * 2 ** (attempt - 1), self._max_backoff)
            log.warning(
                "event.retry",
                why="infrastructure unavailable" if transient else "handler failed",
                error=type(exc).__name__,
                attempt=attempt,
                retry_in_s=delay,
            )
            await asyncio.sleep(delay)
            raise  # FastStream seeks back: the record is read again, never skipped
        self._failures.pop(position, None)
        await self._inbox.record(event.id, event.type)
        log.info("event.handled")

    async def _dead_letter(self, record: ConsumerRecord, reason: str, detail: str) -> None:
        """Move the original bytes, key and headers to `<topic>.dlq` with the error alongside."""
        headers = {k: v.decode("utf-8", "replace") for k, v in (record.headers or ())}
        headers.update(
            {
                "x-dlq-reason": reason,
                "x-dlq-error": detail[:1000],
                "x-dlq-source-topic": record.topic,
                "x-dlq-source-partition": str(record.partition),
                "x-dlq-source-offset": str(record.offset),
                "x-dlq-consumer-group": self._group_id,
                "x-dlq-failed-at": datetime.now(UTC).isoformat(),
            }
        )
        await self._broker.publish(
            record.value or b"", topic=f"{record.topic}.dlq", key=record.key, headers=headers
        )
        log.warning("event.dead_lettered", reason=reason, error=detail[:300])
