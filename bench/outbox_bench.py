"""Throughput of the outbox path (batch write with events, relay, publish, close the marker)
against a direct publish of the same events (sent together, acks awaited together), in one
process and one run. Both sides batch the same way, so the ratio is the outbox's own cost."""

from __future__ import annotations

import asyncio
import os
import time
import uuid

from runtime.documents import Change
from runtime.events import to_cloudevents
from runtime.kafka import EventProducer, OutRecord
from runtime.kafka_connection import KafkaConnection
from runtime.logging import configure_logging
from runtime.mongo import connect
from runtime.outbox import OutboxRelay
from runtime.persistence import Persistence
from runtime.topic_admin import ensure_topics
from schemas import referrals as ev
from services.referrals.domain import Referral

N = int(os.environ.get("BENCH_EVENTS", "5000"))
BATCH = int(os.environ.get("BENCH_BATCH", "500"))
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
MONGO = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017")


def make(run: str, i: int) -> Change[Referral]:
    referral = Referral(
        referral_id=f"RF-{run}-{i}",
        client_id=f"CL-bench-{i}",
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
    return Change(referral, events)


async def main() -> None:
    configure_logging("bench", "WARNING")
    await ensure_topics(KafkaConnection(KAFKA))
    producer = EventProducer(KafkaConnection(KAFKA), "bench")
    await producer.start()
    client = connect(MONGO)
    db = client[f"bench_{uuid.uuid4().hex[:8]}"]
    run = uuid.uuid4().hex[:6]
    try:
        persistence = Persistence.of(db)
        await persistence.profile.detect(db)
        store = persistence.documents("referrals", Referral, id_field="referral_id")
        relay = OutboxRelay(
            producer, db, persistence.outbox, [store.collection], persistence.profile
        )
        changes = [make(run, i) for i in range(N)]
        batches = [changes[i : i + BATCH] for i in range(0, N, BATCH)]

        start = time.perf_counter()
        for batch in batches:
            errors = await producer.send_many([OutRecord.of(c.events[0]) for c in batch])
            assert not any(errors)
        direct = N / (time.perf_counter() - start)

        start = time.perf_counter()
        for batch in batches:
            await store.write(batch)
            await relay.relay_hinted()
        outbox = N / (time.perf_counter() - start)
        markers = await db["outbox_markers"].count_documents({})
    finally:
        await client.drop_database(db.name)
        await client.close()
        await producer.stop()
    print(f"outbox_bench: {N} events in batches of {BATCH} ({persistence.profile.name})")
    print(f"  direct publish (baseline)          {direct:9.1f} events/s")
    print(f"  write + relay + publish + marker   {outbox:9.1f} events/s")
    print(
        f"  ratio outbox/direct                {outbox / direct:9.2f}   (markers left: {markers})"
    )


if __name__ == "__main__":
    asyncio.run(main())
