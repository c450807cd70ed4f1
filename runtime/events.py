"""Wrap a domain event's data in its CloudEvent: id, subject (the topic's key), causation."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence

from runtime.ids import derived_event_id
from schemas.base import EventData
from schemas.envelope import CloudEvent, utc_now
from schemas.topics import topic_for


def to_cloudevent(
    data: EventData,
    *,
    source: str,
    correlationid: str | None = None,
    cause_id: str | None = None,
) -> CloudEvent:
    """Args:
    data: the event's payload, as the domain produced it.
    source: the producing service, e.g. `/services/referrals`.
    correlationid: carried from the request or event that caused this one.
    cause_id: the id of the event being handled, if any. The new event's id is then derived
        from it, so handling a redelivered event produces the very same event, not a twin.
    """
    subject = str(getattr(data, topic_for(data.event_type).key))
    payload = data.model_dump(mode="json")
    # The canonical content is the model's own JSON (fields in the model's order), made in
    # pydantic-core: the same data gives the same id, at a fraction of `json.dumps`'s cost.
    event_id = (
        derived_event_id(cause_id, data.event_type, subject, data.model_dump_json())
        if cause_id
        else str(uuid.uuid4())
    )
    # Built without validating again: `data` is a validated model and the rest is ours.
    return CloudEvent.model_construct(
        id=event_id,
        type=data.event_type,
        source=source,
        time=utc_now(),
        subject=subject,
        correlationid=correlationid,
        data=payload,
    )


def to_cloudevents(
    events: Iterable[EventData],
    *,
    source: str,
    correlationid: str | None = None,
    cause_id: str | None = None,
) -> list[CloudEvent]:
    return [
        to_cloudevent(e, source=source, correlationid=correlationid, cause_id=cause_id)
        for e in events
    ]


MAX_CORRELATION_ID = 128

Wrap = Callable[[Sequence[EventData]], list[CloudEvent]]
"""Turns the events a domain rule returned into the CloudEvents a save stores with the change."""


def enveloper(
    source: str,
    *,
    cause: CloudEvent | None = None,
    correlationid: str | None = None,
    cause_id: str | None = None,
) -> Wrap:
    """A `Wrap` for one unit of work: handling `cause`, serving one HTTP request, or a timer.

    Events caused by another event carry its correlation id (or its id) and derive their ids
    from it; events of a request carry the request's correlation id. Scheduled work names what
    caused it in `cause_id` (e.g. the kind of check), so every replica that runs it derives the
    same ids for the same events and a consumer sees any second copy as a redelivery.
    """
    if cause is not None:
        correlationid = cause.correlationid or cause.id
        cause_id = cause.id
        if len(correlationid) > MAX_CORRELATION_ID:
            # The envelope bounds `id` but not `correlationid`: an outside producer's oversize
            # one is not copied into our events (it would make them unpublishable).
            correlationid = cause.id

    def wrap(events: Sequence[EventData]) -> list[CloudEvent]:
        return to_cloudevents(events, source=source, correlationid=correlationid, cause_id=cause_id)

    return wrap
