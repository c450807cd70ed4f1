"""Notifications and their webhook deliveries.

A notification's body is fixed when it is created and stored as the exact bytes sent, so
every retry, and every redelivery of the event that caused it, sends identical content.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from runtime.ids import derived_id
from schemas import notifications as ev
from schemas.base import EventData
from schemas.envelope import CloudEvent
from schemas.types import EntityId, EventId, LongText, ShortText
from services.notifications.rules import Recipient, backoff_seconds, reduce_for

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
        created_at = event.time.astimezone(UTC)
        payload = {
            "notification_id": notification_id,
            "org_id": recipient.org_id,
            "kind": event.type,
            "created_at": created_at.isoformat().replace("+00:00", "Z"),
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


class Delivery(BaseModel):
    """One notification to one subscription's URL, retried with backoff until it lands."""

    delivery_id: EntityId
    notification_id: EntityId
    subscription_id: EntityId
    org_id: EntityId
    kind: ShortText
    source_event_id: EventId
    status: Literal["pending", "delivered", "failed"] = "pending"
    attempts: int = Field(default=0, ge=0, le=ev.MAX_ATTEMPTS)
    next_attempt_at: float = Field(description="Unix time; a number so the database sorts it.")
    last_error: LongText | None = None
    delivered_at: datetime | None = None

    @classmethod
    def of(cls, notification: Notification, subscription_id: str) -> Delivery:
        return cls(
            delivery_id=derived_id("DL", notification.notification_id, subscription_id),
            notification_id=notification.notification_id,
            subscription_id=subscription_id,
            org_id=notification.org_id,
            kind=notification.kind,
            source_event_id=notification.source_event_id,
            next_attempt_at=datetime.now(UTC).timestamp(),
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

    def succeeded(self, now: datetime) -> list[EventData]:
        if self.status != "pending":
            return []
        self.attempts += 1
        self.status, self.delivered_at = "delivered", now
        return [ev.NotificationDelivered(**self._ids())]

    def failed_attempt(
        self, now: datetime, error: str, *, max_attempts: int, base_backoff: float
    ) -> list[EventData]:
        if self.status != "pending":
            return []
        self.attempts += 1
        self.last_error = error[:500]
        if self.attempts >= max_attempts:
            self.status = "failed"
            return [ev.NotificationFailed(**self._ids(), error=self.last_error)]
        self.next_attempt_at = (
            now + timedelta(seconds=backoff_seconds(self.attempts, base_backoff))
        ).timestamp()
        return []


class Subscription(BaseModel):
    subscription_id: EntityId
    org_id: EntityId
    url: str = Field(max_length=MAX_URL_LENGTH)
    secret: str = Field(max_length=MAX_SECRET_LENGTH)
    event_types: list[ShortText] = Field(max_length=MAX_EVENT_TYPES)
    partnership: ShortText | None = Field(
        default=None, description="The subscriber's partnership: nobody outside it reads it."
    )
    created_at: datetime
