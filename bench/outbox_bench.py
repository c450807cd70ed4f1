"""Throughput of the outbox path (write with events, relay, publish, remove) against a direct
publish of the same events, in one process and one run."""

from __future__ import annotations

import asyncio
import os
import time
import uuid

from runtime.documents import DocumentStore
from runtime.events import to_cloudevents
from runtime.kafka import EventPublisher, create_broker
from runtime.logging import configure_logging
from runtime.mongo import connect
from runtime.outbox import OutboxRelay
from runtime.topic_admin import ensure_topics
from schemas import referrals as ev
from services.referrals.domain import Referral

N = int(os.environ.get("BENCH_EVENTS", "300"))
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
MONGO = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017")


def make(i: int) -> tuple[Referral, list]:
    referral = Referral(
        referral_id=f"RF-b{i}",
        client_id=f"CL-bench-{i % 50}",
        provider_id="P-01",
        programme="retail-routeway",
        reason="bench",
    )
    events = to_cloudevents(
        [
            ev.ReferralCreated(
                referral_id=referral.referral_id,
                client_id=referral.client_id,
                provider_id="P-01",
                programme="retail-routeway",
            )
        ],
        source="/bench",
    )
    return referral, events


async def main() -> None:
    configure_logging("bench", "WARNING")
    await ensure_topics(KAFKA)
    broker = create_broker(KAFKA, "bench")
    await broker.connect()
    client = connect(MONGO)
    db = client[f"bench_{uuid.uuid4().hex[:8]}"]
    publisher = EventPublisher(broker)
    try:
        items = [make(i) for i in range(N)]
        start = time.perf_counter()
        for _, events in items:
            for e in events:
                await publisher.publish(e)
        direct = N / (time.perf_counter() - start)

        relay = OutboxRelay(publisher, [db["referrals"]])
        store = DocumentStore(
            db["referrals"], Referral, id_field="referral_id", on_saved=relay.wake
        )
        start = time.perf_counter()
        for referral, events in items:
            await store.add(referral, events)
            await relay.relay_hinted()
        outbox = N / (time.perf_counter() - start)
        left = await db["referrals"].count_documents({"outbox.0": {"$exists": True}})
    finally:
        await client.drop_database(db.name)
        await client.close()
        await broker.stop()
    print(f"outbox_bench: {N} events")
    print(f"  direct publish (baseline)        {direct:8.1f} events/s")
    print(f"  write + relay + publish + remove {outbox:8.1f} events/s")
    print(f"  ratio outbox/direct              {outbox / direct:8.2f}   (pending left: {left})")


if __name__ == "__main__":
    asyncio.run(main())
