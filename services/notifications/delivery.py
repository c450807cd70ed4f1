"""The delivery worker: due deliveries go to one lane per endpoint, so one slow or failing
receiver never delays another's deliveries.

- A poll reads the due deliveries (a few hundred, oldest first) and *claims* each one it hands to
  a lane: a compare-and-set that moves its next attempt past the attempt's deadline, so neither
  the next poll nor another replica takes it again while it is in flight (a replica that dies
  mid-attempt leaves it to be retried after the lease).
- Each endpoint (a webhook URL's origin; all email goes through the SMTP lane) has a lane of its
  own with `concurrency` workers and room for `QUEUED_PER_WORKER * concurrency` deliveries;
  beyond that a delivery is deferred by a second instead of queued, so a backlog for one
  receiver never fills the poll and starves the others.
- A circuit breaker per endpoint (`breaker.py`) holds an unhealthy endpoint's deliveries back
  (deferred, not counted as attempts) until its cool-down ends.
- Every attempt has one total deadline (`webhooks.py`), and retries wait by the platform's one
  backoff rule (`runtime/backoff.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

import structlog

from runtime.backoff import Backoff
from runtime.clock import Clock
from runtime.errors import Conflict, NotFound
from runtime.events import enveloper
from schemas.base import EventData
from services.notifications.breaker import Breakers
from services.notifications.domain import Delivery, Notification, Subscription
from services.notifications.email import Mailer, compose
from services.notifications.rules import signature_headers
from services.notifications.secret_box import SecretBox
from services.notifications.store import NotificationsStore
from services.notifications.url_policy import RefusedUrl, check
from services.notifications.webhooks import WebhookTransport

log = structlog.get_logger(__name__)

SOURCE = "/services/notifications"
_wrap = enveloper(SOURCE)
SMTP_LANE = "smtp:"
QUEUED_PER_WORKER = 10


def endpoint_of(subscription: Subscription) -> str:
    if subscription.channel == "email" or not subscription.url:
        return SMTP_LANE
    parts = urlsplit(subscription.url)
    return f"{parts.scheme}://{(parts.netloc.rsplit('@', 1)[-1]).lower()}"


@dataclass
class Lane:
    queue: asyncio.Queue[Delivery]
    capacity: int
    busy: int = 0
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def load(self) -> int:
        return self.queue.qsize() + self.busy


class DeliveryWorker:
    def __init__(
        self,
        store: NotificationsStore,
        *,
        clock: Clock,
        box: SecretBox,
        transport: WebhookTransport,
        mailer: Mailer,
        allowed_hosts: frozenset[str],
        max_attempts: int,
        backoff: Backoff,
        concurrency: int = 2,
        breakers: Breakers | None = None,
        poll_seconds: float = 0.5,
    ) -> None:
        self._store = store
        self._clock = clock
        self._box = box
        self._transport = transport
        self._mailer = mailer
        self._allowed = allowed_hosts
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._concurrency = concurrency
        self._breakers = breakers or Breakers()
        self._poll = poll_seconds
        self._lanes: dict[str, Lane] = {}
        self._inflight: set[str] = set()
        # A claim outlives the attempt's deadline, so a delivery is never sent twice at once.
        self._lease = transport.total_seconds + 5.0

    # --- polling ---------------------------------------------------------------------------

    async def poll_once(self) -> int:
        now = self._clock.now()
        due = [
            d
            for d in await self._store.due_deliveries(now.timestamp())
            if d.delivery_id not in self._inflight
        ]
        if not due:
            return 0
        found = await self._store.subscriptions.get_many({d.subscription_id for d in due})
        subscriptions = {i: v.aggregate for i, v in found.items()}
        claims = []
        for delivery in due:
            subscription = subscriptions.get(delivery.subscription_id)
            endpoint = endpoint_of(subscription) if subscription else SMTP_LANE
            lane = self._lane(endpoint)
            breaker = self._breakers(endpoint)
            if subscription and not breaker.allows(time.time()):
                until = now.timestamp() + max(1.0, breaker.retry_at(time.time()) - time.time())
                claims.append(self._set(delivery, lambda d, u=until: d.defer(u)))
            elif lane.load >= lane.capacity:
                claims.append(self._set(delivery, lambda d: d.defer(now.timestamp() + 1.0)))
            else:
                # A queued delivery waits for those ahead of it: its claim lasts that long too.
                lease = self._lease * (1 + lane.load // self._concurrency)
                self._inflight.add(delivery.delivery_id)
                lane.busy += 1  # reserved until it is queued
                claims.append(self._enqueue(lane, delivery, now, lease))
        await asyncio.gather(*claims)
        return len(due)

    async def _set(self, delivery: Delivery, change: Callable[[Delivery], list[EventData]]) -> bool:
        try:
            await self._store.deliveries.mutate({"_id": delivery.delivery_id}, change, _wrap)
        except (NotFound, Conflict):
            return False
        return True

    async def _enqueue(self, lane: Lane, delivery: Delivery, now: datetime, lease: float) -> None:
        try:
            claimed = await self._set(delivery, lambda d: d.claim(now, lease))
        except Exception:
            claimed = False
            log.exception("delivery.claim_failed", delivery_id=delivery.delivery_id)
        lane.busy -= 1
        if claimed:
            lane.queue.put_nowait(delivery)
        else:
            self._inflight.discard(delivery.delivery_id)

    def _lane(self, endpoint: str) -> Lane:
        lane = self._lanes.get(endpoint)
        if lane is None:
            lane = Lane(asyncio.Queue(), capacity=QUEUED_PER_WORKER * self._concurrency)
            lane.tasks = [
                asyncio.create_task(self._work(endpoint, lane), name=f"lane:{endpoint}")
                for _ in range(self._concurrency)
            ]
            self._lanes[endpoint] = lane
        return lane

    # --- one endpoint's lane ------------------------------------------------------------------

    async def _work(self, endpoint: str, lane: Lane) -> None:
        while True:
            delivery = await lane.queue.get()
            lane.busy += 1
            try:
                await self.attempt(endpoint, delivery.delivery_id)
            except Exception:
                log.exception("delivery.attempt_crashed", delivery_id=delivery.delivery_id)
            finally:
                lane.busy -= 1
                self._inflight.discard(delivery.delivery_id)

    async def attempt(self, endpoint: str, delivery_id: str) -> str | None:
        """Send one delivery now and record the outcome; the error, or None on success."""
        loaded = await self._store.deliveries.get(delivery_id)
        if loaded is None or loaded.aggregate.status != "pending":
            return None
        delivery = loaded.aggregate
        subscription = await self._store.subscriptions.get(delivery.subscription_id)
        notification = await self._store.notification(delivery.notification_id)
        if subscription is None or notification is None:
            error: str | None = "subscription deleted"
        elif subscription.aggregate.channel == "email":
            error = await self._email(subscription.aggregate, notification)
        else:
            error = await self._webhook(subscription.aggregate, notification)
        breaker = self._breakers(endpoint)
        if error is None:
            breaker.succeeded()
        elif subscription is not None:
            breaker.failed(time.time())
        now = self._clock.now()
        retry_in = self._backoff.delay(delivery.attempts + 1)

        def outcome(d: Delivery) -> list[EventData]:
            if error is None:
                return d.succeeded(now)
            return d.failed_attempt(now, error, max_attempts=self._max_attempts, retry_in=retry_in)

        with contextlib.suppress(NotFound):
            await self._store.deliveries.mutate({"_id": delivery_id}, outcome, _wrap)
        log.info(
            "delivery.attempt",
            delivery_id=delivery_id,
            channel=delivery.channel,
            ok=error is None,
            error=error,
            attempt=delivery.attempts + 1,
        )
        return error

    async def _webhook(self, subscription: Subscription, notification: Notification) -> str | None:
        try:
            target = await check(subscription.url or "", self._allowed)
        except RefusedUrl as exc:
            return f"refused: {exc}"
        body = notification.body.encode()
        now = self._clock.now()
        previous = subscription.previous_in_force(now)
        headers = {
            "X-Notification-Id": notification.notification_id,
            # The receiver compares this with its own clock: real time, whatever the
            # service's (controllable) clock says.
            **signature_headers(
                self._box.open(subscription.secret_sealed or ""),
                body,
                int(time.time()),
                self._box.open(previous) if previous else None,
            ),
        }
        return await self._transport.post(target, body, headers)

    async def _email(self, subscription: Subscription, notification: Notification) -> str | None:
        message = compose([notification], to=subscription.email or "", sender=self._mailer.sender)
        return await self._mailer.send(message)

    def job(self) -> Callable[[], Awaitable[None]]:
        async def deliver_notifications() -> None:
            try:
                while True:
                    try:
                        found = await self.poll_once()
                    except Exception:
                        log.exception("delivery.poll_failed")
                        found = 0
                    await asyncio.sleep(self._poll if not found else min(self._poll, 0.1))
            finally:
                for lane in self._lanes.values():
                    for task in lane.tasks:
                        task.cancel()
                await self._transport.close()

        return deliver_notifications
