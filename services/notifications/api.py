"""HTTP routes of the notifications service: subscriptions, preferences and the inbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AnyHttpUrl, BaseModel, Field, UrlConstraints, field_validator

from runtime.clock import SystemClock
from runtime.errors import NotFound
from schemas.types import ShortText
from services.notifications import commands
from services.notifications.access import Caller
from services.notifications.domain import (
    MAX_EMAIL_LENGTH,
    MAX_EVENT_TYPES,
    MAX_SECRET_LENGTH,
    MAX_SUBSCRIPTIONS_PER_ORG,
    MAX_URL_LENGTH,
    Channel,
    EmailPreference,
    Subscription,
)
from services.notifications.rules import NOTIFIABLE_TYPES, may_read
from services.notifications.secret_box import DEV_ONLY_INSECURE_KEY, SecretBox
from services.notifications.store import NotificationsStore
from services.notifications.url_policy import DEV_ALLOWED_HOSTS

Secret = Annotated[
    str,
    Field(
        min_length=16,
        max_length=MAX_SECRET_LENGTH,
        description="Shared secret for the signatures; at least 16 characters. Stored encrypted.",
    ),
]
Email = Annotated[
    str,
    Field(
        max_length=MAX_EMAIL_LENGTH,
        pattern=r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+$",
        description="An address of the subscribing organisation (for `channel: email`).",
    ),
]


class NewSubscription(BaseModel):
    channel: Channel = "webhook"
    url: Annotated[AnyHttpUrl, UrlConstraints(max_length=MAX_URL_LENGTH)] | None = Field(
        default=None,
        description="For `channel: webhook`: http(s) only; loopback, private, link-local, "
        "multicast and unspecified addresses are refused (422) unless the host is listed in "
        "`WEBHOOK_ALLOWED_HOSTS`.",
    )
    secret: Secret | None = None
    email: Email | None = None
    event_types: list[ShortText] = Field(min_length=1, max_length=MAX_EVENT_TYPES)

    @field_validator("url")
    @classmethod
    def short_once_normalised(cls, value: AnyHttpUrl | None) -> AnyHttpUrl | None:
        # Normalising percent-encodes non-ASCII characters, which can lengthen a URL sixfold.
        if value is not None and len(str(value)) > MAX_URL_LENGTH:
            raise ValueError(f"URL should have at most {MAX_URL_LENGTH} characters when encoded")
        return value

    @field_validator("event_types")
    @classmethod
    def known_types(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - NOTIFIABLE_TYPES)
        if unknown:
            raise ValueError(f"{len(unknown)} event types are not notifiable")
        return sorted(set(value))


class NewSecret(BaseModel):
    secret: Secret
    overlap_hours: float | None = Field(
        default=None,
        ge=0,
        le=24 * 30,
        description="How long the previous secret keeps signing beside the new one "
        "(`X-Signature-256-Previous`, `X-Signature-256-T-Previous`); the service's default "
        "(24 h) if absent.",
    )


class Preferences(BaseModel):
    email: EmailPreference = Field(
        description="`immediate`: one email per notification; `daily`: one digest per email "
        "subscription at the end of each day (Europe/London)."
    )


class SubscriptionCreated(BaseModel):
    subscription_id: str


class SubscriptionView(BaseModel):
    subscription_id: str
    channel: Channel = "webhook"
    url: str | None = None
    email: str | None = None
    event_types: list[str]
    partnership: str | None = None
    previous_secret_valid_until: datetime | None = None
    created_at: datetime

    @classmethod
    def of(cls, s: Subscription) -> SubscriptionView:
        return cls(
            **s.model_dump(include={"subscription_id", "channel", "url", "email",
                                    "event_types", "partnership", "created_at"}),
            previous_secret_valid_until=s.previous_until,
        )  # fmt: skip


def build_router(
    store: NotificationsStore,
    box: SecretBox | None = None,
    allowed_hosts: frozenset[str] = frozenset(DEV_ALLOWED_HOSTS),
    now: Callable[[], datetime] | None = None,
    default_overlap: timedelta = timedelta(hours=24),
) -> APIRouter:
    """The routes; the defaults (development key and allow-list, the system clock) serve tests
    that exercise validation only: the composition root passes every one."""
    box = box or SecretBox(DEV_ONLY_INSECURE_KEY)
    now = now or SystemClock().now
    router = APIRouter()

    @router.post(
        "/subscriptions",
        status_code=201,
        response_model=SubscriptionCreated,
        tags=["subscriptions"],
        responses={
            409: {"description": f"the organisation already has {MAX_SUBSCRIPTIONS_PER_ORG} "
                  "subscriptions: a limit of its current state, like a duplicate, so 409"},
            422: {"description": "invalid body, or a URL the address policy refuses"},
        },
    )  # fmt: skip
    async def subscribe(body: NewSubscription, principal: Caller) -> SubscriptionCreated:
        """A webhook (`url`, `secret`) or an email (`email`) subscription; at most
        20 per organisation."""
        created = await commands.subscribe(
            store,
            box,
            allowed_hosts,
            principal,
            channel=body.channel,
            url=str(body.url) if body.url else None,
            secret=body.secret,
            email=body.email,
            event_types=body.event_types,
            now=now(),
        )
        return SubscriptionCreated(subscription_id=created.subscription_id)

    @router.get("/subscriptions", response_model=list[SubscriptionView], tags=["subscriptions"])
    async def my_subscriptions(principal: Caller) -> list[SubscriptionView]:
        mine = await store.subscriptions_of(principal.org_id)
        return [
            SubscriptionView.of(s) for s in mine if may_read(principal, s.org_id, s.partnership)
        ]

    @router.get(
        "/subscriptions/{subscription_id}", response_model=SubscriptionView, tags=["subscriptions"]
    )
    async def subscription(subscription_id: str, principal: Caller) -> SubscriptionView:
        """404 for another organisation's or another partnership's subscription."""
        return SubscriptionView.of(await commands.mine(store, principal, subscription_id))

    @router.post(
        "/subscriptions/{subscription_id}/secret",
        response_model=SubscriptionView,
        tags=["subscriptions"],
    )
    async def rotate_secret(
        subscription_id: str, body: NewSecret, principal: Caller
    ) -> SubscriptionView:
        """Rotate a webhook's secret: the new one signs from now on, and the previous one
        keeps signing beside it (the `-Previous` headers) until the overlap ends."""
        overlap = (
            timedelta(hours=body.overlap_hours)
            if body.overlap_hours is not None
            else default_overlap
        )
        rotated = await commands.rotate_secret(
            store, box, principal, subscription_id, secret=body.secret, overlap=overlap, now=now()
        )
        return SubscriptionView.of(rotated)

    @router.delete("/subscriptions/{subscription_id}", status_code=204, tags=["subscriptions"])
    async def unsubscribe(subscription_id: str, principal: Caller) -> None:
        await commands.unsubscribe(store, principal, subscription_id)

    @router.get("/preferences", response_model=Preferences, tags=["subscriptions"])
    async def preferences(principal: Caller) -> Preferences:
        return Preferences(email=(await store.organisation(principal.org_id)).email_preference)

    @router.put("/preferences", response_model=Preferences, tags=["subscriptions"])
    async def set_preferences(body: Preferences, principal: Caller) -> Preferences:
        """The organisation's email preference: immediate, or a daily digest."""
        updated = await commands.set_email_preference(store, principal, body.email)
        return Preferences(email=updated.email_preference)

    @router.get("/inbox", tags=["inbox"])
    async def inbox(
        principal: Caller, limit: Annotated[int, Query(ge=1, le=500)] = 100
    ) -> list[dict[str, Any]]:
        """The caller's notifications, newest first, exactly as their webhooks carry them;
        none of another partnership (after a client moved away, say)."""
        return [
            n.payload()
            for n in await store.inbox(principal.org_id, limit)
            if may_read(principal, n.org_id, n.partnership)
        ]

    @router.get("/notifications/{notification_id}", tags=["inbox"])
    async def notification(notification_id: str, principal: Caller) -> dict[str, Any]:
        """One notification as its webhook carries it; 404 for anyone but its organisation,
        and for it outside the notification's partnership."""
        found = await store.notification(notification_id)
        if found is None or not may_read(principal, found.org_id, found.partnership):
            raise NotFound("no such notification")
        return found.payload()

    return router
