"""Raw Kafka access for the operations service: lag of every consumer group, reading a
dead-letter topic's records as they are (not necessarily CloudEvents), and a live tail.

Consumers here join no group (they assign partitions themselves), so they never take records
from a service and never show up in the lag they report.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from runtime.kafka_connection import KafkaConnection
from services.operations.dead_letters import DeadLetter


def _consumer(kafka: KafkaConnection) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        **kafka.options(),
        group_id=None,
        enable_auto_commit=False,
        client_id=f"operations-reader-{uuid.uuid4().hex[:6]}",
        isolation_level="read_committed",
    )


async def _partitions(consumer: AIOKafkaConsumer, topics: Iterable[str]) -> list[TopicPartition]:
    await consumer._client.force_metadata_update()
    found = []
    for topic in topics:
        for p in sorted(consumer.partitions_for_topic(topic) or ()):
            found.append(TopicPartition(topic, p))
    return found


async def lag(kafka: KafkaConnection) -> list[dict[str, Any]]:
    """Per consumer group, topic and partition: committed offset, end offset and lag."""
    admin = AIOKafkaAdminClient(**kafka.options(), client_id="operations-lag")
    await admin.start()
    consumer = _consumer(kafka)
    await consumer.start()
    try:
        groups = sorted(g[0] for g in await admin.list_consumer_groups())
        committed: dict[str, dict[TopicPartition, Any]] = {}
        for group in groups:
            committed[group] = await admin.list_consumer_group_offsets(group)
        tps = {tp for offsets in committed.values() for tp in offsets}
        ends = await consumer.end_offsets(list(tps)) if tps else {}
        rows = []
        for group in groups:
            for tp, meta in sorted(
                committed[group].items(), key=lambda x: (x[0].topic, x[0].partition)
            ):
                done = meta.offset if meta is not None and meta.offset >= 0 else 0
                end = ends.get(tp, 0)
                rows.append(
                    {
                        "group": group,
                        "topic": tp.topic,
                        "partition": tp.partition,
                        "committed": done,
                        "end": end,
                        "lag": max(0, end - done),
                    }
                )
        return rows
    finally:
        await consumer.stop()
        await admin.close()


async def read_all(kafka: KafkaConnection, topics: Iterable[str]) -> list[DeadLetter]:
    """Every record now on these (dead-letter) topics, from the first kept to the end."""
    consumer = _consumer(kafka)
    await consumer.start()
    try:
        tps = await _partitions(consumer, topics)
        if not tps:
            return []
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
        wanted = {tp for tp in tps if ends[tp] > starts[tp]}
        for tp in wanted:
            consumer.seek(tp, starts[tp])
        letters: list[DeadLetter] = []
        while wanted:
            batches = await consumer.getmany(*wanted, timeout_ms=2000, max_records=1000)
            if not batches:
                break
            for tp, records in batches.items():
                for r in records:
                    if r.offset < ends[tp]:
                        letters.append(
                            DeadLetter(
                                r.topic, r.partition, r.offset, r.value, r.key, tuple(r.headers)
                            )
                        )
                if records and records[-1].offset + 1 >= ends[tp]:
                    wanted.discard(tp)
        return letters
    finally:
        await consumer.stop()


async def tail(kafka: KafkaConnection, topics: Iterable[str]) -> AsyncIterator[Any]:
    """Records arriving on these topics from now on, until the caller stops iterating."""
    consumer = _consumer(kafka)
    await consumer.start()
    try:
        tps = await _partitions(consumer, topics)
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=200)
            if not batches:
                yield None  # a heartbeat: lets the caller notice a client that went away
                continue
            for records in batches.values():
                for r in records:
                    yield r
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(consumer.stop())
