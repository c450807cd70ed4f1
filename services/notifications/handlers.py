"""Kafka handlers of notifications: one notification per recipient, one delivery per webhook.

The composition root binds `store`, `clock` and `timers` (`runtime.handlers.bind`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

from runtime.clock import Clock
from runtime.documents import AlreadyExists
from runtime.timers import Timers
from schemas import referrals
from schemas.base import EventData
from schemas.envelope import CloudEvent
from schemas.topics import EVENT_MODELS
from services.notifications.digest import add_to_digest
from services.notifications.domain import Delivery, Notification
from services.notifications.rules import NOTIFIABLE_TYPES, REFERRAL_TYPES, recipients
from services.notifications.store import NotificationsStore


async def on_referral(
    event: CloudEvent,
    data: referrals._ReferralEvent,
    *,
    store: NotificationsStore,
    clock: Clock,
    timers: Timers,
) -> None:
    # Remember who the client's providers are: they hear of the client's matches.
    await store.set_referral(data.client_id, data.referral_id, data.provider_id, data.status)
    await on_notifiable(event, data, store=store, clock=clock, timers=timers)


async def on_consent(
    _: CloudEvent,
    data: referrals.ConsentRecorded | referrals.ConsentWithdrawn,
    *,
    store: NotificationsStore,
    **__: object,
) -> None:
    # Without `providers` consent no provider hears of the client's matches, from this event
    # on, even before the referrals it ends reach us as `withdrawn`.
    await store.set_consent(data.client_id, list(data.current_scopes))


async def on_notifiable(
    event: CloudEvent, _: EventData, *, store: NotificationsStore, clock: Clock, timers: Timers
) -> None:
    client_id = event.data.get("client_id")
    providers = await store.providers_of(client_id) if client_id else set()
    now = clock.now()
    for recipient in recipients(event, providers):
        # Every id below is derived from the event and the recipient, and every write
        # inserts only if absent: a redelivered event changes nothing.
        notification = await store.keep(Notification.for_recipient(event, recipient))
        organisation = await store.organisation(recipient.org_id)
        for subscription in await store.subscriptions_for(recipient.org_id, event.type):
            if subscription.channel == "email" and organisation.email_preference == "daily":
                await add_to_digest(store, timers, subscription, notification, now)
                continue
            with contextlib.suppress(AlreadyExists):
                await store.deliveries.add(Delivery.of(notification, subscription, now))


HANDLERS: dict[type[EventData], Callable[..., Awaitable[None]]] = {
    **{
        EVENT_MODELS[t]: on_referral if t in REFERRAL_TYPES else on_notifiable
        for t in sorted(NOTIFIABLE_TYPES)
    },
    referrals.ConsentRecorded: on_consent,
    referrals.ConsentWithdrawn: on_consent,
}
