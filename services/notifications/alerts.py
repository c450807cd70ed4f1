"""Kafka handler of the operations service's alerts: a fairness disparity is told to the
operations organisations of its partnership (`rules.operations_recipients`).

Kept apart from `handlers.py` because it needs one more dependency, the operations directory,
which the composition root binds here only. Delivery is the same as every notification's: one
notification per recipient, one delivery per subscription (or a place in a daily digest).
"""

from __future__ import annotations

import contextlib

from runtime.clock import Clock
from runtime.documents import AlreadyExists
from runtime.timers import Timers
from schemas import operations
from schemas.envelope import CloudEvent
from services.notifications.digest import add_to_digest
from services.notifications.domain import Delivery, Notification
from services.notifications.rules import OperationsDirectory, operations_recipients
from services.notifications.store import NotificationsStore


async def on_disparity(
    event: CloudEvent,
    _: operations.DisparityDetected,
    *,
    store: NotificationsStore,
    clock: Clock,
    timers: Timers,
    directory: OperationsDirectory,
) -> None:
    now = clock.now()
    for recipient in operations_recipients(event, directory):
        # Ids derive from the event and the recipient, writes insert only if absent: a
        # redelivered event changes nothing.
        notification = await store.keep(Notification.for_recipient(event, recipient))
        organisation = await store.organisation(recipient.org_id)
        for subscription in await store.subscriptions_for(recipient.org_id, event.type):
            if subscription.channel == "email" and organisation.email_preference == "daily":
                await add_to_digest(store, timers, subscription, notification, now)
                continue
            with contextlib.suppress(AlreadyExists):
                await store.deliveries.add(Delivery.of(notification, subscription, now))


HANDLERS = {operations.DisparityDetected: on_disparity}
