"""Events published by the notifications service on `notifications.events.v1`, keyed by org."""

from __future__ import annotations

from pydantic import Field

from schemas.base import EventData
from schemas.types import EntityId, EventId, LongText, ShortText

MAX_ATTEMPTS = 1000


class NotificationDelivered(EventData):
    """A webhook receiver answered 2xx for this notification."""

    event_type = "notifications.notification.delivered"

    notification_id: EntityId
    org_id: EntityId
    subscription_id: EntityId
    kind: ShortText
    source_event_id: EventId
    attempts: int = Field(ge=1, le=MAX_ATTEMPTS)


class NotificationFailed(EventData):
    """Delivery was given up after the last retry; the notification stays in the inbox."""

    event_type = "notifications.notification.failed"

    notification_id: EntityId
    org_id: EntityId
    subscription_id: EntityId
    kind: ShortText
    source_event_id: EventId
    attempts: int = Field(ge=1, le=MAX_ATTEMPTS)
    error: LongText
