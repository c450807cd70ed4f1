"""Publish claimant events as JCP systems do: CloudEvents on `jcp.claimant-events.v1`."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaProducer

from schemas.envelope import CloudEvent
from schemas.topics import JCP_CLAIMANT_EVENTS


class JcpFeed:
    def __init__(self, bootstrap_servers: str, **security: Any) -> None:
        """`security`: aiokafka's connection options for a secured cluster (`security_protocol`,
        `ssl_context`, `sasl_mechanism`, `sasl_plain_username`, `sasl_plain_password`), as the
        feed's own Kafka user (`jcp-feed` in deploy/k8s/users.yaml)."""
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            **security,
            acks="all",
            enable_idempotence=True,
            client_id="jcp-feed",
        )

    async def __aenter__(self) -> JcpFeed:
        await self._producer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._producer.stop()

    async def publish(self, event_type: str, data: dict[str, Any]) -> CloudEvent:
        event = CloudEvent.create(
            type=event_type, source="/jcp/claimant-feed", subject=data["claimant_ref"], data=data
        )
        await self.send_raw(event.to_bytes(), key=event.subject)
        return event

    async def send_raw(self, value: bytes, key: str) -> None:
        """Send bytes as they are: for replaying an event, or for showing what poison does."""
        await self._producer.send_and_wait(
            JCP_CLAIMANT_EVENTS.name,
            value=value,
            key=key.encode(),
            headers=[("content-type", b"application/cloudevents+json")],
        )
