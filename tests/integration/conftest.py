"""Fixtures over the real broker and database: fresh topics, fresh databases, topic readers."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from runtime.kafka import EventProducer
from runtime.kafka_connection import KafkaConnection
from runtime.mongo import connect
from runtime.persistence import Persistence
from schemas import jcp
from schemas.topics import Topic
from tests.conftest import Infrastructure


@pytest.fixture(scope="session")
async def mongo(infrastructure: Infrastructure) -> AsyncIterator[AsyncMongoClient]:
    client = connect(infrastructure.mongodb_uri)
    yield client
    await client.close()


@pytest.fixture
async def db(mongo: AsyncMongoClient) -> AsyncIterator[AsyncDatabase]:
    name = f"it_{uuid.uuid4().hex[:10]}"
    yield mongo[name]
    await mongo.drop_database(name)


@pytest.fixture
async def claimant_topic(infrastructure: Infrastructure) -> Topic:
    """A fresh topic shaped like the JCP one (with its .dlq), so tests never share offsets."""
    topic = Topic(
        name=f"it.{uuid.uuid4().hex[:10]}.v1",
        key="claimant_ref",
        events=(jcp.ClaimantRegistered,),
        partitions=2,
    )
    await create_topics(
        infrastructure.kafka_bootstrap_servers, [topic.name, topic.dlq], topic.partitions
    )
    return topic


async def create_topics(bootstrap: str, names: list[str], partitions: int = 1) -> None:
    """New topics of the tests' own, one replica each (the test broker is one node)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1) for name in names])
    finally:
        await admin.close()


async def read_topic(
    bootstrap: str,
    topic: str,
    until: Callable[[list[ConsumerRecord]], bool],
    timeout: float = 20.0,
) -> list[ConsumerRecord]:
    """Read a topic from the beginning (no group, no commits) until `until` holds."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    deadline = time.monotonic() + timeout
    try:
        while not until(records):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out reading {topic}: got {len(records)} records")
            batch = await consumer.getmany(timeout_ms=500)
            for partition_records in batch.values():
                records.extend(partition_records)
    finally:
        await consumer.stop()
    return records


async def eventually(check: Callable[[], object], timeout: float = 20.0) -> None:
    """Poll an async or sync check until it returns truthy (asynchronous effects take time)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


# --- The batched runtime: persistence, a started producer, offsets ---------------------------


async def persistence_of(db: AsyncDatabase) -> Persistence:
    """A service's persistence over `db`, with the store detected as a service does at start."""
    persistence = Persistence.of(db)
    await persistence.profile.detect(db)
    return persistence


@pytest.fixture
async def persistence(db: AsyncDatabase) -> Persistence:
    return await persistence_of(db)


@pytest.fixture
async def producer(infrastructure: Infrastructure) -> AsyncIterator[EventProducer]:
    connection = KafkaConnection(infrastructure.kafka_bootstrap_servers)
    started = EventProducer(connection, f"it-{uuid.uuid4().hex[:8]}")
    await started.start()
    yield started
    await started.stop()


@pytest.fixture
def group_id() -> str:
    """A consumer group of this test's own."""
    return f"it-{uuid.uuid4().hex[:10]}"


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """The offset after the last record of each partition of `topic`."""
    # No group: subscribing assigns every partition of the topic at start.
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(list(consumer.assignment()))
    finally:
        await consumer.stop()
    return {tp.partition: offset for tp, offset in ends.items()}


async def committed_offsets(bootstrap: str, group: str) -> dict[int, int]:
    """What `group` has committed, per partition (nothing committed: an empty dict)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
