"""Notifications and their webhook deliveries.

A notification's body is fixed when it is created and stored as the exact bytes sent, so
every retry, and every redelivery of the event that caused it, sends identical content.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from runtime.errors import Conflict
from runtime.ids import derived_id
from schemas import notifications as ev
from schemas.base import EventData
from schemas.envelope import CloudEvent
from schemas.types import EntityId, EventId, LongText, ShortText
from services.notifications.rules import Recipient, reduce_for

MAX_URL_LENGTH = 2048
MAX_SECRET_LENGTH = 256
MAX_EVENT_TYPES = 64


class Notification(BaseModel):
    notification_id: EntityId
    org_id: EntityId
    audience: ShortText
    kind: ShortText
    partnership: ShortText | None = Field(
        default=None, description="The partnership the event belongs to, when it names one."
    )
    created_at: datetime
    source_event_id: EventId
    body: str = Field(description="The webhook body, exactly as sent (JSON text).")

    @classmethod
    def for_recipient(cls, event: CloudEvent, recipient: Recipient) -> Notification:
        notification_id = derived_id("NT", event.id, recipient.org_id)
        # To the millisecond, as a BSON date keeps it: the inbox is sorted by the stored time,
        # so the times it shows must be those, or two notifications of one millisecond would
        # appear out of order.
        exact = event.time.astimezone(UTC)
        created_at = exact.replace(microsecond=exact.microsecond // 1000 * 1000)
        payload = {
            "notification_id": notification_id,
            "org_id": recipient.org_id,
            "kind": event.type,
            "created_at": created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "event": reduce_for(event, recipient.audience),
        }
        return cls(
            notification_id=notification_id,
            org_id=recipient.org_id,
            audience=recipient.audience,
            kind=event.type,
            partnership=event.data.get("partnership"),
            created_at=created_at,
            source_event_id=event.id,
            body=json.dumps(payload, separators=(",", ":"), sort_keys=True),
        )

    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


Channel = Literal["webhook", "email"]
EmailPreference = Literal["immediate", "daily"]
MAX_SUBSCRIPTIONS_PER_ORG = 20
MAX_EMAIL_LENGTH = 254


class Delivery(BaseModel):
    """One notification to one subscription (a webhook URL or an email address), retried with
    backoff until it lands or the attempts run out."""

    delivery_id: EntityId
    notification_id: EntityId
    subscription_id: EntityId
    org_id: EntityId
    kind: ShortText
    source_event_id: EventId
    channel: Channel = "webhook"
    status: Literal["pending", "delivered", "failed"] = "pending"
    attempts: int = Field(default=0, ge=0, le=ev.MAX_ATTEMPTS)
    next_attempt_at: float = Field(description="Unix time; a number so the database sorts it.")
    last_error: LongText | None = None
    delivered_at: datetime | None = None

    @classmethod
    def of(cls, notification: Notification, subscription: Subscription, now: datetime) -> Delivery:
        return cls(
            delivery_id=derived_id(
                "DL", notification.notification_id, subscription.subscription_id
            ),
            notification_id=notification.notification_id,
            subscription_id=subscription.subscription_id,
            org_id=notification.org_id,
            kind=notification.kind,
            source_event_id=notification.source_event_id,
            channel=subscription.channel,
            next_attempt_at=now.timestamp(),
        )

    def _ids(self) -> dict[str, Any]:
        return self.model_dump(
            include={
                "notification_id",
                "org_id",
                "subscription_id",
                "kind",
                "source_event_id",
                "attempts",
            }
        )

    def claim(self, now: datetime, lease_seconds: float) -> list[EventData]:
        """Take the delivery for one attempt: no poll (of this or another replica) picks it up
        again until the attempt's deadline has passed, unless the attempt records its outcome."""
        if self.status == "pending":
            self.next_attempt_at = now.timestamp() + lease_seconds
        return []

    def defer(self, until: float) -> list[EventData]:
        """Hold back without an attempt (the endpoint's circuit breaker is open)."""
        if self.status == "pending":
            self.next_attempt_at = until
        return []

    def succeeded(self, now: datetime) -> list[EventData]:
        if self.status != "pending":
            return []
        self.attempts += 1
        self.status, self.delivered_at = "delivered", now
        return [ev.NotificationDelivered(**self._ids())]

    def failed_attempt(
        self, now: datetime, error: str, *, max_attempts: int, retry_in: float
    ) -> list[EventData]:
        """`retry_in`: the delay the platform's one backoff rule gives for this attempt."""
        if self.status != "pending":
            return []
        self.attempts += 1
        self.last_error = error[:500]
        if self.attempts >= max_attempts:
            self.status = "failed"
            return [ev.NotificationFailed(**self._ids(), error=self.last_error)]
        self.next_attempt_at = (now + timedelta(seconds=retry_in)).timestamp()
        return []


class Subscription(BaseModel):
    """Where an organisation's notifications go: a webhook URL with its signing secret (sealed:
    `secret_box`), or an email address. After a rotation the previous secret stays valid until
    `previous_until`, and both signatures are sent meanwhile."""

    subscription_id: EntityId
    org_id: EntityId
    channel: Channel = "webhook"
    url: str | None = Field(default=None, max_length=MAX_URL_LENGTH)
    email: str | None = Field(default=None, max_length=MAX_EMAIL_LENGTH)
    secret_sealed: str | None = Field(default=None, max_length=4 * MAX_SECRET_LENGTH)
    previous_secret_sealed: str | None = Field(default=None, max_length=4 * MAX_SECRET_LENGTH)
    previous_until: datetime | None = None
    event_types: list[ShortText] = Field(max_length=MAX_EVENT_TYPES)
    partnership: ShortText | None = Field(
        default=None, description="The subscriber's partnership: nobody outside it reads it."
    )
    created_at: datetime

    def rotate(self, sealed: str, now: datetime, overlap: timedelta) -> list[EventData]:
        """The new secret signs from now on; the current one keeps signing beside it until
        `now + overlap`, so receivers can switch over without missing a delivery."""
        if self.channel != "webhook":
            raise Conflict("only a webhook subscription has a secret")
        self.previous_secret_sealed, self.secret_sealed = self.secret_sealed, sealed
        self.previous_until = now + overlap
        return []

    def previous_in_force(self, now: datetime) -> str | None:
        if self.previous_secret_sealed and self.previous_until and now < self.previous_until:
            return self.previous_secret_sealed
        return None


class Organisation(BaseModel):
    """An organisation's subscriptions (at most `MAX_SUBSCRIPTIONS_PER_ORG`, so one subscriber
    cannot multiply the platform's outgoing traffic) and its email preference. One document by
    `_id`: the handlers find a recipient's subscriptions without scanning, and the limit holds
    under concurrent requests (compare-and-set)."""

    org_id: EntityId
    subscription_ids: list[EntityId] = Field(default_factory=list)
    email_preference: EmailPreference = "immediate"

    def add(self, subscription_id: str) -> list[EventData]:
        if subscription_id in self.subscription_ids:
            return []
        if len(self.subscription_ids) >= MAX_SUBSCRIPTIONS_PER_ORG:
            raise Conflict(
                f"an organisation has at most {MAX_SUBSCRIPTIONS_PER_ORG} subscriptions; "
                "delete one first",
                field="subscriptions",
            )
        self.subscription_ids.append(subscription_id)
        return []

    def remove(self, subscription_id: str) -> list[EventData]:
        if subscription_id in self.subscription_ids:
            self.subscription_ids.remove(subscription_id)
        return []

    def prefer(self, preference: EmailPreference) -> list[EventData]:
        self.email_preference = preference
        return []


class Digest(BaseModel):
    """One email subscription's notifications of one day (Europe/London), sent once by a timer
    at the day's end: `sent` is set under compare-and-set, so a second firing sends nothing."""

    digest_id: EntityId
    subscription_id: EntityId
    org_id: EntityId
    day: str
    notification_ids: list[EntityId] = Field(default_factory=list, max_length=10_000)
    sent: bool = False

    def include(self, notification_id: str) -> list[EventData]:
        if notification_id not in self.notification_ids and not self.sent:
            self.notification_ids.append(notification_id)
        return []

    def mark_sent(self) -> list[EventData]:
        self.sent = True
        return []
