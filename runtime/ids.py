"""Identifiers: new random ones, and derived ones that make replays land on the same record."""

from __future__ import annotations

import hashlib
import hmac
import uuid

_NAMESPACE = uuid.UUID("6f1c2a7e-1b3d-4c5e-9f00-5b1e2d3c4a5b")


def new_id(prefix: str) -> str:
    """A fresh pseudonymous id such as `CL-3f2a9c81d04e`: random, so it reveals nothing."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def derived_id(prefix: str, *parts: str) -> str:
    """The same id every time for the same parts.

    Handlers use it for what they create in response to an event (`derived_id("CL", event.id)`),
    so a redelivered event finds the record it created the first time instead of a twin.
    """
    digest = uuid.uuid5(_NAMESPACE, "\x1f".join(parts)).hex[:12]
    return f"{prefix}-{digest}"


def derived_event_id(cause_id: str, event_type: str, subject: str, content: str) -> str:
    """The id of an event emitted because of another one: stable across redelivery.

    `content` (the event's canonical data) tells apart several events of one type and subject
    caused by the same event, e.g. one `match.proposed` per client when a vacancy opens.
    """
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join((cause_id, event_type, subject, content))))


def keyed_id(prefix: str, key: str, value: str) -> str:
    """The same pseudonymous id for the same value, that only the key's holder can compute.

    A client id is derived from the claimant reference this way: a replay or a rebuild of the
    database from the topics gives every client the id it had, a lookup by claimant reference
    is a lookup by `_id`, and without the key the id does not lead back to the reference.
    """
    digest = hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()[:16]
    return f"{prefix}-{digest}"
