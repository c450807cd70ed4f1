"""kill -9 of the broker or of the database mid-ingest, then `infra.py up` starts it again: the
services ride it out (or are restarted by the supervisor), nothing is lost or doubled.

Only with the tests' own local infrastructure (`deploy/local/infra.py`): an instance given by
KAFKA_BOOTSTRAP_SERVERS/MONGODB_URI, or testcontainers, is not ours to kill.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from runtime.kafka import EventProducer, OutRecord
from runtime.kafka_connection import KafkaConnection
from tests.conftest import Infrastructure
from tests.faults.conftest import Deployment, LocalInfra
from tests.integration.conftest import create_topics, end_offsets


async def test_a_producer_stopped_while_the_broker_is_down_gives_up_after_its_flush_timeout(
    infrastructure: Infrastructure, local_infra: LocalInfra
) -> None:
    """An idempotent producer retries a record for ever, and aiokafka's stop waits for every
    record in flight: a service stopped during an outage would never stop. Ours gives up
    after `flush_timeout` (the record is still in an outbox, or its input uncommitted)."""
    bootstrap = infrastructure.kafka_bootstrap_servers
    topic = f"faults.unsent.{uuid.uuid4().hex[:8]}.v1"
    await create_topics(bootstrap, [topic])
    producer = EventProducer(KafkaConnection(bootstrap), "faults-unsent")
    await producer.start()
    await producer.send_many([OutRecord(topic, b"{}", b"before", headers=[])])
    try:
        await asyncio.to_thread(local_infra.kill, "kafka")
        sending = asyncio.create_task(
            producer.send_many([OutRecord(topic, b"{}", b"during", headers=[])])
        )
        await asyncio.sleep(1)
        assert not sending.done(), "a record was acknowledged by a broker that is down"
        # A bound for the test only, far above the flush timeout.
        await asyncio.wait_for(producer.stop(flush_timeout=1.0), timeout=60)
        sending.cancel()
    finally:
        await asyncio.to_thread(local_infra.up)
    assert await end_offsets(bootstrap, topic) == {0: 1}, "only the record sent before"


@pytest.mark.parametrize("part", ["kafka", "ferretdb"])
async def test_a_restart_mid_ingest_loses_and_doubles_nothing(
    local_infra: LocalInfra, deployment: Deployment, part: str
) -> None:
    # `local_infra` first: where it skips, no deployment is started for nothing.
    await deployment.quiet()
    batch = deployment.batch()

    async def restart() -> None:
        await asyncio.to_thread(local_infra.restart, part)

    await deployment.strike(batch, restart)
    found = await deployment.settle(batch)
    await deployment.assert_exactly_once(batch, found)
    await deployment.ready(deployment.processes)
    await deployment.rejoined()
    batch.mark("rejoined")
    print(batch.timeline())
    await deployment.forget(batch)
