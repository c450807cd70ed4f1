"""At least once, no second effect, poison aside: the consumer against real Kafka and FerretDB."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import AutoReconnect

from runtime.consumer import EventConsumer
from runtime.inbox import Inbox
from runtime.kafka import create_broker
from schemas import jcp
from schemas.envelope import CloudEvent
from schemas.topics import Topic
from tests.conftest import Infrastructure
from tests.integration.conftest import eventually, read_topic

CLAIM = {
    "claimant_ref": "CLM-7",
    "benefit": "ESA",
    "claim_start": "2026-02-02",
    "jcp_office": "Aston",
    "local_authority": "Birmingham",
    "ward": "Aston",
    "postcode_district": "B6",
    "age_band": "50+",
    "priority_groups": ["over_50"],
}


def claim(ref: str = "CLM-7") -> CloudEvent:
    return CloudEvent.create(
        type="jcp.claimant.registered",
        source="/jcp/claimant-feed",
        subject=ref,
        data={**CLAIM, "claimant_ref": ref},
    )


async def committed_offsets(bootstrap: str, group: str) -> dict[int, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items()}


def counting_consumer(
    broker: KafkaBroker,
    topic: Topic,
    db: AsyncDatabase,
    group: str,
    fail_first: type[Exception] | None = None,
) -> EventConsumer:
    calls = {"n": 0}

    async def on_claim(event: CloudEvent, _: jcp.ClaimantRegistered) -> None:
        calls["n"] += 1
        if fail_first and calls["n"] == 1:
            raise fail_first("database went away")
        await db["effects"].update_one({"_id": event.id}, {"$inc": {"applied": 1}}, upsert=True)

    return EventConsumer(
        broker=broker,
        group_id=group,
        topics=[topic],
        handlers={jcp.ClaimantRegistered: on_claim},
        inbox=Inbox(db),
        backoff_seconds=0.2,
    )


async def test_poison_is_dead_lettered_duplicates_are_ignored_and_offsets_follow_effects(
    infrastructure: Infrastructure, db: AsyncDatabase, claimant_topic: Topic
) -> None:
    bootstrap = infrastructure.kafka_bootstrap_servers
    group = f"it-{uuid.uuid4().hex[:8]}"
    broker = create_broker(bootstrap, "it-delivery")
    counting_consumer(broker, claimant_topic, db, group)
    first, last = claim(), claim()
    await broker.start()
    try:
        for value in (
            b"\x00 definitely not json",
            first.to_bytes(),
            first.to_bytes(),
            last.to_bytes(),
        ):
            await broker.publish(value, topic=claimant_topic.name, key=b"CLM-7")

        await eventually(lambda: _count(db, 2), timeout=30)
        # The offset is committed after the effect is stored, so it trails it a little.
        await eventually(lambda: _committed(bootstrap, group, 4), timeout=15)
    finally:
        await broker.stop()

    effects = await db["effects"].find().to_list()
    assert sorted(e["_id"] for e in effects) == sorted([first.id, last.id])
    assert all(e["applied"] == 1 for e in effects), "a redelivered id had a second effect"

    (dead,) = await read_topic(bootstrap, claimant_topic.dlq, until=lambda r: len(r) >= 1)
    assert dead.value == b"\x00 definitely not json"
    assert dead.key == b"CLM-7"
    headers = dict(dead.headers)
    assert headers["x-dlq-reason"] == b"not-json"
    assert headers["x-dlq-consumer-group"] == group.encode()


async def _count(db: AsyncDatabase, n: int) -> bool:
    return await db["effects"].count_documents({}) >= n


async def _committed(bootstrap: str, group: str, n: int) -> bool:
    return sum((await committed_offsets(bootstrap, group)).values()) == n


async def test_a_transient_failure_is_retried_and_the_record_is_not_lost(
    infrastructure: Infrastructure, db: AsyncDatabase, claimant_topic: Topic
) -> None:
    broker = create_broker(infrastructure.kafka_bootstrap_servers, "it-transient")
    counting_consumer(
        broker, claimant_topic, db, f"it-{uuid.uuid4().hex[:8]}", fail_first=AutoReconnect
    )
    event = claim()
    await broker.start()
    try:
        await broker.publish(event.to_bytes(), topic=claimant_topic.name, key=b"CLM-7")
        await eventually(lambda: _count(db, 1), timeout=30)
    finally:
        await broker.stop()
    assert (await db["effects"].find_one({"_id": event.id}))["applied"] == 1


async def test_a_consumer_that_dies_mid_handling_leaves_the_record_for_its_successor(
    infrastructure: Infrastructure, db: AsyncDatabase, claimant_topic: Topic
) -> None:
    bootstrap = infrastructure.kafka_bootstrap_servers
    group = f"it-{uuid.uuid4().hex[:8]}"
    entered = asyncio.Event()

    # The first process takes the record and dies before storing its effect.
    doomed = KafkaBroker(bootstrap, graceful_timeout=0.5)

    async def hang(_: CloudEvent, __: jcp.ClaimantRegistered) -> None:
        entered.set()
        await asyncio.sleep(3600)

    EventConsumer(
        broker=doomed,
        group_id=group,
        topics=[claimant_topic],
        handlers={jcp.ClaimantRegistered: hang},
        inbox=Inbox(db),
    )
    event = claim()
    await doomed.start()
    await doomed.publish(event.to_bytes(), topic=claimant_topic.name, key=b"CLM-7")
    await asyncio.wait_for(entered.wait(), timeout=30)
    await doomed.stop()
    assert sum((await committed_offsets(bootstrap, group)).values()) <= 0

    # Its successor in the same group gets the record again and stores the effect once.
    successor = create_broker(bootstrap, "it-successor")
    counting_consumer(successor, claimant_topic, db, group)
    await successor.start()
    try:
        await eventually(lambda: _count(db, 1), timeout=40)
    finally:
        await successor.stop()
    assert (await db["effects"].find_one({"_id": event.id}))["applied"] == 1
    assert await db["inbox"].find_one({"_id": event.id}) is not None
