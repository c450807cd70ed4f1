"""Consume CloudEvents at least once, exactly one effect each, a batch at a time, and never stall.

Records are fetched per partition in batches bounded by count, bytes and wait time, and each
partition's batch is handled in order (so order per key holds). The rules, in the order they
apply to each record (cf. NAV's rapids-and-rivers):
1. Not JSON, or not a CloudEvent, whatever the bytes: the record is *poison*; it goes to
   `<topic>.dlq` (`runtime.decoding` never raises).
2. A type this service has no handler for: not for us; skip it quietly (tolerant reader).
3. `data` fails the event's model: poison, to the DLQ.
4. Then the batch's valid events go to the service's dispatcher, which checks for redeliveries
   once for the batch, reads what the batch touches in bulk, applies the rules per event in
   order and writes in bulk (`runtime.handlers`).
5. The handler rejects an event (`Rejected`): it can never apply; to the DLQ.
6. The database or broker is unreachable, or another replica wrote an aggregate first: wait
   with backoff and handle the batch again, indefinitely (the partition is sought back and
   fetched anew, so the consumer stays in its group). Dead-lettering here would discard good
   records during an outage.
7. Any other error is a bug: the batch is split in halves and each handled again, down to the
   one record that fails, which is retried a few times with backoff and then dead-lettered, so
   one bad record cannot stop its partition. Effects are idempotent, so handling the healthy
   part of a batch twice changes nothing.
The offsets are committed only after every effect of the batch (and every dead letter) is
stored. A rebalance waits for the batch in hand to finish and commit; if it cannot, the next
owner handles it again, with no second effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import (
    CommitFailedError,
    IllegalStateError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
)
from aiokafka.structs import OffsetAndMetadata
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure

from runtime import metrics
from runtime.backoff import Backoff
from runtime.decoding import Poison, decode_envelope, describe_validation_error
from runtime.documents import StaleAggregate
from runtime.handlers import Dispatcher, Item
from runtime.kafka import UNPUBLISHABLE, EventProducer, OutRecord
from runtime.kafka_connection import KafkaConnection
from runtime.log_once import RepeatedErrors
from runtime.tasks import stop_task
from schemas.topics import Topic

log = structlog.get_logger(__name__)

RETRY_WITHOUT_LIMIT: tuple[type[BaseException], ...] = (
    ConnectionFailure,
    KafkaConnectionError,
    KafkaTimeoutError,
    ConnectionError,
    TimeoutError,
    StaleAggregate,
)


@dataclass(frozen=True)
class BatchLimits:
    max_records: int = 500
    max_bytes: int = 8 * 1024 * 1024
    max_wait_ms: int = 100


class DeadLetters:
    """Moves original records to `<topic>.dlq`: bytes, key and headers as they came, plus why."""

    def __init__(self, producer: EventProducer, group_id: str) -> None:
        self._producer = producer
        self._group_id = group_id

    async def send(self, letters: Sequence[tuple[ConsumerRecord, str, str]]) -> None:
        if not letters:
            return
        now = datetime.now(UTC).isoformat()
        records = [self._letter(record, reason, detail, now) for record, reason, detail in letters]
        for record, reason, detail in letters:
            log.warning(
                "event.dead_lettered",
                reason=reason,
                error=detail[:300],
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
            )
        outcomes = await self._producer.send_many(records)
        # A record just under the broker's limit no longer fits with our headers: send it
        # without its value rather than stall the partition on it.
        too_large = [
            self._letter(record, reason, detail, now, drop_value=True)
            for (record, reason, detail), error in zip(letters, outcomes, strict=True)
            if isinstance(error, UNPUBLISHABLE)
        ]
        errors = [e for e in outcomes if e is not None and not isinstance(e, UNPUBLISHABLE)]
        errors += [e for e in await self._producer.send_many(too_large) if e is not None]
        if errors:
            raise errors[0]
        for record, reason, _ in letters:
            metrics.DEAD_LETTERED.labels(record.topic, reason).inc()

    def _letter(
        self, record: ConsumerRecord, reason: str, detail: str, now: str, drop_value: bool = False
    ) -> OutRecord:
        # Headers pass through untouched (null and binary values included).
        headers = list(record.headers or ())
        headers += [
            (k, v.encode())
            for k, v in (
                ("x-dlq-reason", reason),
                ("x-dlq-error", detail[:1000]),
                ("x-dlq-source-topic", record.topic),
                ("x-dlq-source-partition", str(record.partition)),
                ("x-dlq-source-offset", str(record.offset)),
                ("x-dlq-consumer-group", self._group_id),
                ("x-dlq-failed-at", now),
            )
        ]
        if drop_value:
            size = str(len(record.value or b""))
            headers.append(("x-dlq-value-dropped", f"too large to copy: {size} bytes".encode()))
        value = None if drop_value else record.value
        return OutRecord(f"{record.topic}.dlq", value, record.key, headers)


class BatchProcessor:
    """Handles one partition's batch of records: rules 1 to 7 above, Kafka-free and testable."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        dead_letters: DeadLetters,
        *,
        max_attempts: int = 5,
        backoff: Backoff | None = None,
    ) -> None:
        self._dispatcher = dispatcher
        self._dead_letters = dead_letters
        self._max_attempts = max_attempts
        self._backoff = backoff or Backoff()
        self._errors = RepeatedErrors()

    async def process(self, records: Sequence[ConsumerRecord]) -> None:
        """Every record handled or dead-lettered, or an exception to retry the batch after."""
        if not records:
            return
        topic = records[0].topic  # one partition's batch: one topic
        metrics.CONSUMED.labels(topic).inc(len(records))
        metrics.BATCH_RECORDS.observe(len(records))
        with metrics.HANDLER_SECONDS.labels(topic).time():
            await self._process(records)

    async def _process(self, records: Sequence[ConsumerRecord]) -> None:
        items: list[tuple[ConsumerRecord, Item]] = []
        poison: list[tuple[ConsumerRecord, str, str]] = []
        for record in records:
            decoded = decode_envelope(record.value)
            if isinstance(decoded, Poison):
                poison.append((record, decoded.reason, decoded.detail))
                continue
            model = self._dispatcher.models.get(decoded.type)
            if model is None:
                continue
            try:
                data = model.model_validate(decoded.data)
            except ValidationError as exc:
                poison.append((record, "invalid-data", describe_validation_error(exc)))
                continue
            except RecursionError:
                poison.append((record, "invalid-data", "data: nested too deeply"))
                continue
            position = (f"{record.topic}/{record.partition}", record.offset)
            items.append((record, Item(decoded, data, position)))
        await self._dead_letters.send(poison)
        await self._handle(items)

    async def _handle(self, items: Sequence[tuple[ConsumerRecord, Item]]) -> None:
        if not items:
            return
        try:
            rejected = await self._dispatcher.handle([item for _, item in items])
        except RETRY_WITHOUT_LIMIT:
            raise
        except Exception as exc:
            if len(items) > 1:
                middle = len(items) // 2
                self._errors.report(
                    f"split:{type(exc).__name__}",
                    "batch.split",
                    why="a handler failed; handling halves to find the record",
                    error=type(exc).__name__,
                    records=len(items),
                )
                await self._handle(items[:middle])
                await self._handle(items[middle:])
                return
            await self._retry_one(items[0], exc)
            return
        records = {id(item): record for record, item in items}
        await self._dead_letters.send(
            [(records[id(item)], "rejected", reason) for item, reason in rejected]
        )
        _count_handled(items, rejected)

    async def _retry_one(self, pair: tuple[ConsumerRecord, Item], first: Exception) -> None:
        """One record whose handler fails: a few tries with backoff, then the DLQ."""
        record, item = pair
        error: Exception = first
        for attempt in range(1, self._max_attempts):
            delay = self._backoff.delay(attempt)
            self._errors.report(
                f"retry:{type(error).__name__}",
                "event.retry",
                why="handler failed",
                error=type(error).__name__,
                attempt=attempt,
                retry_in_s=round(delay, 2),
                event_id=item.event.id,
                event_type=item.event.type,
            )
            await asyncio.sleep(delay)
            try:
                rejected = await self._dispatcher.handle([item])
            except RETRY_WITHOUT_LIMIT:
                raise
            except Exception as exc:
                error = exc
                continue
            await self._dead_letters.send([(record, "rejected", r) for _, r in rejected])
            _count_handled([pair], rejected)
            return
        log.error(
            "event.gave_up",
            attempts=self._max_attempts,
            error=type(error).__name__,
            event_id=item.event.id,
            event_type=item.event.type,
        )
        await self._dead_letters.send([(record, "handler-error", type(error).__name__)])


def _count_handled(
    items: Sequence[tuple[ConsumerRecord, Item]], rejected: Sequence[tuple[Item, str]]
) -> None:
    refused = {id(item) for item, _ in rejected}
    for record, item in items:
        if id(item) not in refused:
            metrics.HANDLED.labels(record.topic, item.event.type).inc()


class _WaitForBatch(ConsumerRebalanceListener):
    """On a rebalance, let the batch in hand finish and commit before giving partitions up."""

    def __init__(self, consumer: EventConsumer) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._consumer.idle.wait(), timeout=20)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        log.info(
            "consumer.assigned", partitions=sorted(f"{p.topic}/{p.partition}" for p in assigned)
        )


class EventConsumer:
    """One consumer group (named after the service) over the topics it needs."""

    def __init__(
        self,
        *,
        connection: KafkaConnection,
        group_id: str,
        topics: Iterable[Topic],
        processor: BatchProcessor,
        limits: BatchLimits | None = None,
        backoff: Backoff | None = None,
        before_batch: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.group_id = group_id
        self.topics = tuple(topics)
        self._processor = processor
        self._limits = limits or BatchLimits()
        self._backoff = backoff or Backoff()
        self._before_batch = before_batch
        self._errors = RepeatedErrors()
        self._connection = connection
        self._consumer: AIOKafkaConsumer | None = None
        self.idle = asyncio.Event()
        self.idle.set()
        self._task: asyncio.Task[None] | None = None
        self.running = False

    async def start(self) -> None:
        # Created here: aiokafka binds its objects to the running event loop.
        self._consumer = consumer = AIOKafkaConsumer(
            **self._connection.options(),
            group_id=self.group_id,
            client_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=self._limits.max_bytes,
            fetch_max_bytes=self._limits.max_bytes,
            fetch_max_wait_ms=self._limits.max_wait_ms,
            isolation_level="read_committed",
            # Longer than the rebalance listener waits for a batch in hand (20 s): with the
            # session timeout (10 s) in its place, a slow batch got its member expelled and
            # the replicas took turns holding every partition.
            rebalance_timeout_ms=60_000,
        )
        await consumer.start()
        consumer.subscribe([t.name for t in self.topics], listener=_WaitForBatch(self))
        self._task = asyncio.create_task(self._run(), name=f"{self.group_id}-consumer")

    async def stop(self) -> None:
        await stop_task(self._task)
        if self._consumer is not None:
            await self._consumer.stop()

    async def _run(self) -> None:
        assert self._consumer is not None
        failures = 0
        self.running = True
        while True:
            if self._before_batch is not None:
                await self._before_batch()
            try:
                batches = await self._fetch(self._consumer)
            except KafkaError as exc:
                failures += 1
                self._errors.report("fetch", "consumer.fetch_failed", error=type(exc).__name__)
                await asyncio.sleep(self._backoff.delay(failures))
                continue
            if not batches:
                continue
            self.idle.clear()
            started = time.perf_counter()
            try:
                retry = await self._handle(batches)
            finally:
                self.idle.set()
            log.debug(
                "consumer.batch",
                records=sum(len(r) for r in batches.values()),
                partitions=len(batches),
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
            if retry is None:
                if failures:
                    self._errors.resolved("handle", "consumer.recovered")
                failures = 0
                continue
            failures += 1
            delay = self._backoff.delay(failures)
            self._errors.report(
                "handle",
                "consumer.retry",
                why="infrastructure unavailable or a concurrent write",
                error=retry,
                retry_in_s=round(delay, 2),
            )
            await asyncio.sleep(delay)

    async def _fetch(
        self, consumer: AIOKafkaConsumer
    ) -> dict[TopicPartition, list[ConsumerRecord]]:
        """Up to `max_records` from each assigned partition that has any.

        aiokafka's `max_records` bounds a whole call, which then returns mostly one partition:
        wait for the first batch, then take what the other partitions already have buffered,
        each up to the limit, so partitions are handled side by side."""
        limit = self._limits.max_records
        batches = await consumer.getmany(timeout_ms=1000, max_records=limit)
        if batches:
            for tp in consumer.assignment() - batches.keys():
                batches.update(await consumer.getmany(tp, timeout_ms=0, max_records=limit))
        return batches

    async def _handle(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> str | None:
        """Handle each partition's batch (partitions concurrently); commit those done. The
        name of an error to back off after, if a batch must be fetched and handled again."""
        parts = list(batches.items())
        outcomes = await asyncio.gather(
            *(self._processor.process(records) for _, records in parts), return_exceptions=True
        )
        done: dict[TopicPartition, OffsetAndMetadata] = {}
        retry: str | None = None
        for (tp, records), outcome in zip(parts, outcomes, strict=True):
            if outcome is None:
                done[tp] = OffsetAndMetadata(records[-1].offset + 1, "")
                continue
            if isinstance(outcome, asyncio.CancelledError):
                raise outcome
            # Read the batch again from its first record: nothing of it is committed.
            with contextlib.suppress(IllegalStateError):  # revoked meanwhile: not ours now
                self._consumer.seek(tp, records[0].offset)
            retry = type(outcome).__name__
            if not isinstance(outcome, RETRY_WITHOUT_LIMIT):
                # Where, not what: an exception's message (a validation error's, say) can
                # carry input values, which never reach the logs.
                log.error("consumer.batch_failed", error=retry, where=_frames(outcome))
        if done:
            try:
                await self._consumer.commit(done)
            except (CommitFailedError, KafkaError) as exc:
                # The partitions moved to another consumer: it will handle them again, and
                # the effects stored here are recognised as applied.
                self._errors.report("commit", "consumer.commit_failed", error=type(exc).__name__)
        return retry


def _frames(exc: BaseException, last: int = 6) -> list[str]:
    """The innermost frames of an exception as `file:line:function`, without its message."""
    frames = traceback.extract_tb(exc.__traceback__)[-last:]
    return [f"{Path(f.filename).name}:{f.lineno}:{f.name}" for f in frames]
