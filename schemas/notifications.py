"""Events published by the notifications service on `notifications.events.v1`, keyed by org."""

from __future__ import annotations

from pydantic import Field

from schemas.base import EventData
from schemas.types import EntityId


class NotificationDelivered(EventData):
    """A webhook receiver answered 2xx for this notification."""

    event_type = "notifications.notification.delivered"

    notification_id: EntityId
    org_id: EntityId
    subscription_id: EntityId
    kind: str
    source_event_id: str
    attempts: int = Field(ge=1)


class NotificationFailed(EventData):
    """Delivery was given up after the last retry; the notification stays in the inbox."""

    event_type = "notifications.notification.failed"

    notification_id: EntityId
    org_id: EntityId
    subscription_id: EntityId
    kind: str
    source_event_id: str
    attempts: int = Field(ge=1)
    error: str
