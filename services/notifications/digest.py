"""Daily digests: an organisation that prefers them gets, per email subscription, one message a
day with that day's notifications, sent at the end of the day (Europe/London) by a persisted
timer.

The Kafka handler records each notification on the day's `Digest` and then schedules the day's
timer (idempotent: the same timer id and moment every time); a crash between the two redelivers
the event, which schedules it again, so the timer exists whenever the digest does. The timer's
handler sends the message and then marks the digest sent under compare-and-set: a second firing
(another replica, a restart) finds it sent and does nothing; a send that fails raises, and the
timer loop retries it with backoff.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from runtime.documents import AlreadyExists
from runtime.errors import NotFound
from runtime.events import enveloper
from runtime.ids import derived_id
from runtime.timers import Timer, Timers
from runtime.working_days import end_of_day, london_date
from services.notifications.domain import Digest, Notification, Subscription
from services.notifications.email import Mailer, compose
from services.notifications.store import NotificationsStore

SOURCE = "/services/notifications"
DIGEST_DUE = "email-digest"


class DigestUndelivered(Exception):
    """The SMTP server did not take the digest; the timer fires again later."""


async def add_to_digest(
    store: NotificationsStore,
    timers: Timers,
    subscription: Subscription,
    notification: Notification,
    now: datetime,
) -> None:
    day = london_date(now)
    digest_id = derived_id("DG", subscription.subscription_id, day.isoformat())
    with contextlib.suppress(AlreadyExists):
        await store.digests.add(
            Digest(
                digest_id=digest_id,
                subscription_id=subscription.subscription_id,
                org_id=subscription.org_id,
                day=day.isoformat(),
            )
        )
    await store.digests.mutate(
        {"_id": digest_id},
        lambda d: d.include(notification.notification_id),
        enveloper(SOURCE),
    )
    await timers.schedule([Timer(digest_id, DIGEST_DUE, digest_id, end_of_day(day))])


def digest_handler(store: NotificationsStore, mailer: Mailer):
    async def on_digest_due(timer: Timer) -> None:
        loaded = await store.digests.get(timer.target_id)
        if loaded is None or loaded.aggregate.sent or not loaded.aggregate.notification_ids:
            return
        digest = loaded.aggregate
        subscription = await store.subscriptions.get(digest.subscription_id)
        if subscription is None or not subscription.aggregate.email:
            return  # unsubscribed since: nothing to send
        notifications = await store.notifications(digest.notification_ids)
        message = compose(
            notifications,
            to=subscription.aggregate.email,
            sender=mailer.sender,
            digest_day=digest.day,
        )
        error = await mailer.send(message)
        if error is not None:
            raise DigestUndelivered(error)
        with contextlib.suppress(NotFound):
            await store.digests.mutate(
                {"_id": digest.digest_id},
                lambda d: d.mark_sent(),
                enveloper(SOURCE, cause_id=f"timer:{timer.timer_id}"),
            )

    return on_digest_due
