"""HTTP routes of the notifications service: subscriptions and the inbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import AnyHttpUrl, BaseModel, Field, UrlConstraints, field_validator

from runtime.auth import allow
from runtime.errors import NotFound
from runtime.ids import new_id
from runtime.principal import Principal
from schemas.types import ShortText
from services.notifications.domain import (
    MAX_EVENT_TYPES,
    MAX_SECRET_LENGTH,
    MAX_URL_LENGTH,
    Subscription,
)
from services.notifications.rules import NOTIFIABLE_TYPES, may_read
from services.notifications.store import NotificationsStore

Anyone = Annotated[Principal, Depends(allow("provider", "employer_brokerage", "jcp", "operations"))]


class NewSubscription(BaseModel):
    url: Annotated[AnyHttpUrl, UrlConstraints(max_length=MAX_URL_LENGTH)]
    secret: str = Field(
        min_length=16,
        max_length=MAX_SECRET_LENGTH,
        description="Shared secret for X-Signature-256; at least 16 characters.",
    )
    event_types: list[ShortText] = Field(min_length=1, max_length=MAX_EVENT_TYPES)

    @field_validator("url")
    @classmethod
    def short_once_normalised(cls, value: AnyHttpUrl) -> AnyHttpUrl:
        # Normalising percent-encodes non-ASCII characters, which can lengthen a URL sixfold.
        if len(str(value)) > MAX_URL_LENGTH:
            raise ValueError(f"URL should have at most {MAX_URL_LENGTH} characters when encoded")
        return value

    @field_validator("event_types")
    @classmethod
    def known_types(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - NOTIFIABLE_TYPES)
        if unknown:
            raise ValueError(f"not notifiable event types: {', '.join(unknown)}")
        return sorted(set(value))


class SubscriptionCreated(BaseModel):
    subscription_id: str


class SubscriptionView(BaseModel):
    subscription_id: str
    url: str
    event_types: list[str]
    partnership: str | None = None
    created_at: datetime


def build_router(store: NotificationsStore) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/subscriptions",
        status_code=201,
        response_model=SubscriptionCreated,
        tags=["subscriptions"],
    )
    async def subscribe(body: NewSubscription, principal: Anyone) -> SubscriptionCreated:
        subscription = Subscription(
            subscription_id=new_id("SB"),
            org_id=principal.org_id,
            url=str(body.url),
            secret=body.secret,
            event_types=body.event_types,
            partnership=principal.partnership,
            created_at=datetime.now(UTC),
        )
        await store.subscriptions.add(subscription)
        return SubscriptionCreated(subscription_id=subscription.subscription_id)

    @router.get("/subscriptions", response_model=list[SubscriptionView], tags=["subscriptions"])
    async def my_subscriptions(principal: Anyone) -> list[Subscription]:
        mine = await store.subscriptions.find({"org_id": principal.org_id})
        return [s for s in mine if may_read(principal, s.org_id, s.partnership)]

    @router.get(
        "/subscriptions/{subscription_id}", response_model=SubscriptionView, tags=["subscriptions"]
    )
    async def subscription(subscription_id: str, principal: Anyone) -> Subscription:
        """404 for another organisation's or another partnership's subscription."""
        loaded = await store.subscriptions.get(subscription_id)
        if loaded is None or not may_read(
            principal, loaded.aggregate.org_id, loaded.aggregate.partnership
        ):
            raise NotFound("no such subscription")
        return loaded.aggregate

    @router.delete("/subscriptions/{subscription_id}", status_code=204, tags=["subscriptions"])
    async def unsubscribe(subscription_id: str, principal: Anyone) -> None:
        loaded = await store.subscriptions.get(subscription_id)
        if loaded is None or not may_read(
            principal, loaded.aggregate.org_id, loaded.aggregate.partnership
        ):
            raise NotFound("no such subscription")
        result = await store.subscriptions.collection.delete_one(
            {"_id": subscription_id, "org_id": principal.org_id}
        )
        if result.deleted_count != 1:
            raise NotFound("no such subscription")

    @router.get("/inbox", tags=["inbox"])
    async def inbox(
        principal: Anyone, limit: Annotated[int, Query(ge=1, le=500)] = 100
    ) -> list[dict[str, Any]]:
        """The caller's notifications, newest first, exactly as their webhooks carry them;
        none of another partnership (after a client moved away, say)."""
        return [
            n.payload()
            for n in await store.inbox(principal.org_id, limit)
            if may_read(principal, n.org_id, n.partnership)
        ]

    @router.get("/notifications/{notification_id}", tags=["inbox"])
    async def notification(notification_id: str, principal: Anyone) -> dict[str, Any]:
        """One notification as its webhook carries it; 404 for anyone but its organisation,
        and for it outside the notification's partnership."""
        found = await store.notification(notification_id)
        if found is None or not may_read(principal, found.org_id, found.partnership):
            raise NotFound("no such notification")
        return found.payload()

    return router
