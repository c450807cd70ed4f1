"""The Kafka broker every service uses, and the one way events are put on a topic."""

from __future__ import annotations

import logging

from faststream.kafka import KafkaBroker

from schemas.envelope import CloudEvent
from schemas.topics import topic_for

# Structured mode: the whole CloudEvent is the record value (CloudEvents Kafka binding 1.0).
CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"


def create_broker(bootstrap_servers: str, client_id: str) -> KafkaBroker:
    """A broker whose producer cannot lose or duplicate a record it acknowledged.

    `acks="all"` waits for every in-sync replica; idempotence lets the producer retry a send
    without writing the record twice (the broker de-duplicates by producer id and sequence).
    """
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        # FastStream's "Received"/"Processed" line per record goes to DEBUG: the consumer
        # already logs each outcome with the event's ids.
        logger=logging.getLogger(f"{client_id}.faststream"),
        log_level=logging.DEBUG,
    )


class EventPublisher:
    """Publishes CloudEvents to the topic the contract assigns to their type, keyed by subject."""

    def __init__(self, broker: KafkaBroker) -> None:
        self._broker = broker

    async def publish(self, event: CloudEvent) -> None:
        await self._broker.publish(
            event.to_bytes(),
            topic=topic_for(event.type).name,
            key=event.subject.encode(),
            headers={"content-type": CLOUDEVENTS_CONTENT_TYPE},
            correlation_id=event.correlationid or event.id,
        )
