"""What the notification routes do: subscribe, rotate a secret, unsubscribe, set the email
preference. `now` comes from the service's clock; the URL policy's lookup is the one I/O
besides the store."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from runtime.errors import Invalid, NotFound
from runtime.events import enveloper
from runtime.ids import new_id
from runtime.principal import Principal
from services.notifications.domain import (
    Channel,
    EmailPreference,
    Organisation,
    Subscription,
)
from services.notifications.rules import may_read
from services.notifications.secret_box import SecretBox
from services.notifications.store import NotificationsStore
from services.notifications.url_policy import RefusedUrl, check

SOURCE = "/services/notifications"


async def subscribe(
    store: NotificationsStore,
    box: SecretBox,
    allowed_hosts: frozenset[str],
    principal: Principal,
    *,
    channel: Channel,
    url: str | None,
    secret: str | None,
    email: str | None,
    event_types: list[str],
    now: datetime,
) -> Subscription:
    if channel == "webhook":
        if not url:
            raise Invalid("a webhook subscription needs a url", field="url")
        if not secret:
            raise Invalid("a webhook subscription needs a secret", field="secret")
        try:
            await check(url, allowed_hosts)
        except RefusedUrl as exc:
            raise Invalid(f"url refused: {exc}", field="url") from exc
    elif not email:
        raise Invalid("an email subscription needs an email address", field="email")
    subscription = Subscription(
        subscription_id=new_id("SB"),
        org_id=principal.org_id,
        channel=channel,
        url=url if channel == "webhook" else None,
        email=email if channel == "email" else None,
        secret_sealed=box.seal(secret) if channel == "webhook" and secret else None,
        event_types=event_types,
        partnership=principal.partnership,
        created_at=now,
    )
    # The organisation's list first, under compare-and-set: the limit holds however many
    # requests race. A crash before the subscription is stored leaves an id that names
    # nothing, which every reader skips.
    await store.ensure_organisation(principal.org_id)
    await store.organisations.mutate(
        {"_id": principal.org_id},
        lambda o: o.add(subscription.subscription_id),
        enveloper(SOURCE),
    )
    await store.subscriptions.add(subscription)
    return subscription


async def mine(
    store: NotificationsStore, principal: Principal, subscription_id: str
) -> Subscription:
    """404 for another organisation's or another partnership's subscription."""
    loaded = await store.subscriptions.get(subscription_id)
    if loaded is None or not may_read(
        principal, loaded.aggregate.org_id, loaded.aggregate.partnership
    ):
        raise NotFound("no such subscription")
    return loaded.aggregate


async def rotate_secret(
    store: NotificationsStore,
    box: SecretBox,
    principal: Principal,
    subscription_id: str,
    *,
    secret: str,
    overlap: timedelta,
    now: datetime,
) -> Subscription:
    await mine(store, principal, subscription_id)
    sealed = box.seal(secret)
    return await store.subscriptions.mutate(
        {"_id": subscription_id},
        lambda s: s.rotate(sealed, now, overlap),
        enveloper(SOURCE),
    )


async def unsubscribe(
    store: NotificationsStore, principal: Principal, subscription_id: str
) -> None:
    await mine(store, principal, subscription_id)
    result = await store.subscriptions.collection.delete_one({"_id": subscription_id})
    if result.deleted_count != 1:
        raise NotFound("no such subscription")
    with contextlib.suppress(NotFound):
        await store.organisations.mutate(
            {"_id": principal.org_id}, lambda o: o.remove(subscription_id), enveloper(SOURCE)
        )


async def set_email_preference(
    store: NotificationsStore, principal: Principal, preference: EmailPreference
) -> Organisation:
    await store.ensure_organisation(principal.org_id)
    return await store.organisations.mutate(
        {"_id": principal.org_id}, lambda o: o.prefer(preference), enveloper(SOURCE)
    )
