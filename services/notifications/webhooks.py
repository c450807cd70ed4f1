"""The delivery worker: POST due notifications to their webhook, sign them, retry with backoff."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
import structlog

from runtime.errors import NotFound
from runtime.events import enveloper
from schemas.base import EventData
from services.notifications.domain import Delivery
from services.notifications.rules import sign
from services.notifications.store import NotificationsStore

log = structlog.get_logger(__name__)

SOURCE = "/services/notifications"


_wrap = enveloper(SOURCE)


class WebhookSender:
    def __init__(
        self,
        store: NotificationsStore,
        *,
        max_attempts: int,
        base_backoff_seconds: float,
        timeout_seconds: float = 5.0,
        poll_seconds: float = 0.5,
    ) -> None:
        self._store = store
        self._max_attempts = max_attempts
        self._base_backoff = base_backoff_seconds
        self._timeout = timeout_seconds
        self._poll = poll_seconds

    async def send_due(self, client: httpx.AsyncClient) -> int:
        due = await self._store.due_deliveries()
        for delivery_id in due:
            await self._attempt(client, delivery_id)
        return len(due)

    async def _attempt(self, client: httpx.AsyncClient, delivery_id: str) -> None:
        loaded = await self._store.deliveries.get(delivery_id)
        if loaded is None or loaded.aggregate.status != "pending":
            return
        delivery = loaded.aggregate
        subscription = await self._store.subscriptions.get(delivery.subscription_id)
        notification = await self._store.notification(delivery.notification_id)
        error: str | None = None
        if subscription is None or notification is None:
            error = "subscription deleted"
        else:
            body = notification.body.encode()
            try:
                response = await client.post(
                    subscription.aggregate.url,
                    content=body,
                    headers={
                        "Content-Type": "application/json",
                        "X-Notification-Id": notification.notification_id,
                        "X-Signature-256": sign(subscription.aggregate.secret, body),
                    },
                    timeout=self._timeout,
                )
                if not response.is_success:
                    error = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}"
        now = datetime.now(UTC)

        def outcome(d: Delivery) -> list[EventData]:
            if error is None:
                return d.succeeded(now)
            return d.failed_attempt(
                now, error, max_attempts=self._max_attempts, base_backoff=self._base_backoff
            )

        try:
            await self._store.deliveries.mutate({"_id": delivery_id}, outcome, _wrap)
        except NotFound:
            return
        log.info(
            "webhook.attempt",
            delivery_id=delivery_id,
            ok=error is None,
            error=error,
            attempt=delivery.attempts + 1,
        )

    def job(self) -> Callable[[], Awaitable[None]]:
        async def deliver_webhooks() -> None:
            async with httpx.AsyncClient() as client:
                while True:
                    try:
                        sent = await self.send_due(client)
                    except Exception:
                        log.exception("webhook.worker_failed")
                        sent = 0
                    if not sent:
                        await asyncio.sleep(self._poll)

        return deliver_webhooks
