"""The consumer's rules, on FastStream's in-memory broker (real Kafka: tests/integration)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from runtime.consumer import EventConsumer, Rejected
from schemas import jcp
from schemas.envelope import CloudEvent
from schemas.topics import JCP_CLAIMANT_EVENTS

TOPIC = JCP_CLAIMANT_EVENTS.name
CLAIM = {
    "claimant_ref": "CLM-1",
    "benefit": "JSA",
    "claim_start": "2026-01-05",
    "jcp_office": "Stockton",
    "local_authority": "Stockton-on-Tees",
    "ward": "Stainsby Hill",
    "postcode_district": "TS17",
    "age_band": "16-24",
    "priority_groups": [],
}


class FakeInbox:
    def __init__(self) -> None:
        self.ids: set[str] = set()

    async def seen(self, event_id: str) -> bool:
        return event_id in self.ids

    async def record(self, event_id: str, event_type: str) -> None:
        self.ids.add(event_id)


def claim_event(**data: Any) -> bytes:
    return CloudEvent.create(
        type="jcp.claimant.registered", source="/jcp", subject="CLM-1", data={**CLAIM, **data}
    ).to_bytes()


@pytest.fixture
def harness() -> tuple[KafkaBroker, list[jcp.ClaimantRegistered], list[KafkaMessage]]:
    broker = KafkaBroker()
    handled: list[jcp.ClaimantRegistered] = []
    dead: list[KafkaMessage] = []

    async def on_claim(_: CloudEvent, data: jcp.ClaimantRegistered) -> None:
        if data.jcp_office == "nowhere":
            raise Rejected("no such office")
        handled.append(data)

    EventConsumer(
        broker=broker,
        group_id="test",
        topics=[JCP_CLAIMANT_EVENTS],
        handlers={jcp.ClaimantRegistered: on_claim},
        inbox=FakeInbox(),
    )

    @broker.subscriber(f"{TOPIC}.dlq")
    async def on_dead(message: KafkaMessage) -> None:
        dead.append(message)

    return broker, handled, dead


async def test_a_valid_event_is_handled_once_even_when_delivered_twice(harness) -> None:
    broker, handled, dead = harness
    record = claim_event()
    async with TestKafkaBroker(broker) as br:
        await br.publish(record, TOPIC, key=b"CLM-1")
        await br.publish(record, TOPIC, key=b"CLM-1")
    assert len(handled) == 1 and handled[0].claimant_ref == "CLM-1"
    assert dead == []


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"{not json", "not-json"),
        (json.dumps({"hello": "world"}).encode(), "not-a-cloudevent"),
    ],
)
async def test_poison_goes_to_the_dlq_with_its_bytes_and_the_error(harness, value, reason):
    broker, handled, dead = harness
    async with TestKafkaBroker(broker) as br:
        await br.publish(value, TOPIC, key=b"CLM-1", headers={"trace": "abc"})
        await br.publish(claim_event(), TOPIC, key=b"CLM-1")
    assert len(handled) == 1, "the consumer carries on after poison"
    (message,) = dead
    assert message.body == value
    assert message.headers["x-dlq-reason"] == reason
    assert message.headers["x-dlq-source-topic"] == TOPIC
    assert message.headers["trace"] == "abc"


async def test_invalid_data_is_dead_lettered_without_echoing_personal_values(harness) -> None:
    broker, handled, dead = harness
    async with TestKafkaBroker(broker) as br:
        await br.publish(claim_event(claimant_ref="AB123456C"), TOPIC, key=b"CLM-1")
    (message,) = dead
    assert message.headers["x-dlq-reason"] == "invalid-data"
    assert "claimant_ref" in message.headers["x-dlq-error"]
    assert "AB123456C" not in message.headers["x-dlq-error"]
    assert handled == []


async def test_rejected_events_are_dead_lettered_and_unknown_types_skipped(harness) -> None:
    broker, handled, dead = harness
    other = CloudEvent.create(
        type="jcp.claimant.moved-house", source="/jcp", subject="CLM-1", data={"anything": 1}
    ).to_bytes()
    async with TestKafkaBroker(broker) as br:
        await br.publish(other, TOPIC, key=b"CLM-1")
        await br.publish(claim_event(jcp_office="nowhere"), TOPIC, key=b"CLM-1")
    assert handled == []
    assert [m.headers["x-dlq-reason"] for m in dead] == ["rejected"]
