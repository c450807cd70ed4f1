"""The Prometheus counters move with the event path: consumed, handled, dead-lettered, published,
batch sizes, handler latency and the outbox backlog; `/metrics` serves them without a token."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from runtime.consumer import BatchProcessor, DeadLetters
from runtime.http import create_http_app
from runtime.kafka import EventProducer, OutRecord
from runtime.kafka_connection import KafkaConnection
from runtime.outbox import Hint, Outbox, OutboxRelay
from tests.unit.fakes import RecordingDeadLetters, record
from tests.unit.test_consumer import NO_WAIT, ListDispatcher, claim_event

TOPIC = "jcp.claimant-events.v1"
TYPE = "jcp.claimant.registered"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_batch_counts_consumed_handled_its_size_and_its_time() -> None:
    before = {
        "consumed": value("events_consumed_total", topic=TOPIC),
        "handled": value("events_handled_total", topic=TOPIC, type=TYPE),
        "batches": value("consumer_batch_records_count"),
        "timed": value("handler_batch_seconds_count", topic=TOPIC),
    }
    proc = BatchProcessor(ListDispatcher(), RecordingDeadLetters(), backoff=NO_WAIT)
    good, poison = record(claim_event(), offset=0), record(b"{not json", offset=1)
    await proc.process([good, poison, record(claim_event(jcp_office="nowhere"), offset=2)])
    assert value("events_consumed_total", topic=TOPIC) - before["consumed"] == 3
    # The poison and the rejected record are not counted as handled.
    assert value("events_handled_total", topic=TOPIC, type=TYPE) - before["handled"] == 1
    assert value("consumer_batch_records_count") - before["batches"] == 1
    assert value("handler_batch_seconds_count", topic=TOPIC) - before["timed"] == 1


class FakeKafka:
    """Stands in for aiokafka's producer: acknowledges every record except on `refused`."""

    def __init__(self, refused: str = "") -> None:
        self.sent: list[tuple[str, bytes | None]] = []
        self._refused = refused

    async def send(self, topic: str, value: bytes | None, **_: Any) -> asyncio.Future[object]:
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        if topic == self._refused:
            from aiokafka.errors import KafkaTimeoutError

            future.set_exception(KafkaTimeoutError())
        else:
            self.sent.append((topic, value))
            future.set_result(None)
        return future


def producer(refused: str = "") -> EventProducer:
    p = EventProducer(KafkaConnection("127.0.0.1:1"), "t")
    p._started = FakeKafka(refused)  # type: ignore[assignment]
    return p


async def test_published_and_failed_sends_are_counted_per_topic() -> None:
    ok, bad = "metrics-ok.v1", "metrics-bad.v1"
    sent = value("events_published_total", topic=ok)
    failed = value("events_publish_failed_total", topic=bad)
    outcomes = await producer(refused=bad).send_many(
        [
            OutRecord(ok, b"1", b"k", []),
            OutRecord(ok, b"2", b"k", []),
            OutRecord(bad, b"3", None, []),
        ]
    )
    assert [o is None for o in outcomes] == [True, True, False]
    assert value("events_published_total", topic=ok) - sent == 2
    assert value("events_publish_failed_total", topic=bad) - failed == 1


async def test_dead_letters_are_counted_per_source_topic_and_reason() -> None:
    before = value("events_dead_lettered_total", topic=TOPIC, reason="not-json")
    letters = DeadLetters(producer(), "group")
    await letters.send([(record(b"{", offset=n), "not-json", "value: not JSON") for n in range(2)])
    assert value("events_dead_lettered_total", topic=TOPIC, reason="not-json") - before == 2


class Markers:
    async def delete_one(self, _: dict[str, Any]) -> None:
        return None


async def test_the_outbox_backlog_rises_with_writes_and_falls_as_they_are_published() -> None:
    db: dict[str, Any] = {"outbox_markers": Markers(), "outbox_parked": None}
    outbox = Outbox(db, None)  # type: ignore[arg-type]
    relay = OutboxRelay(producer(), db, outbox, [], None)  # type: ignore[arg-type]

    events: Sequence[dict[str, Any]] = [json.loads(claim_event()) for _ in range(3)]
    relay.hint(Hint("m1", list(events)))
    assert value("outbox_backlog_events") == 3
    assert await relay.relay_hinted() == 3
    assert value("outbox_backlog_events") == 0


def test_metrics_are_served_as_prometheus_text_without_a_token() -> None:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield

    async def ready() -> dict[str, bool]:
        return {}

    app = create_http_app(title="t", description="t", lifespan=lifespan, readiness=ready)
    with TestClient(app) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    for name in (
        "events_consumed_total",
        "events_handled_total",
        "events_dead_lettered_total",
        "events_published_total",
        "consumer_batch_records_bucket",
        "handler_batch_seconds_bucket",
        "outbox_backlog_events",
    ):
        assert name in response.text
