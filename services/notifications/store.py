"""MongoDB adapter for notifications: subscriptions, organisations, notifications (the inbox),
deliveries and daily digests."""

from __future__ import annotations

import contextlib

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from runtime.documents import AlreadyExists
from runtime.persistence import Persistence
from services.notifications.domain import (
    Delivery,
    Digest,
    Notification,
    Organisation,
    Subscription,
)
from services.notifications.rules import providers_hearing_of_matches


class NotificationsStore:
    def __init__(self, persistence: Persistence) -> None:
        db = persistence.db
        self.deliveries = persistence.documents("deliveries", Delivery, id_field="delivery_id")
        self.subscriptions = persistence.documents(
            "subscriptions", Subscription, id_field="subscription_id"
        )
        self.organisations = persistence.documents("organisations", Organisation, id_field="org_id")
        self.digests = persistence.documents("digests", Digest, id_field="digest_id")
        self._notifications = db["notifications"]
        self._clients = db["clients"]

    @property
    def outbox_collections(self) -> list[AsyncCollection]:
        return [self.deliveries.collection]

    async def ensure_indexes(self) -> None:
        await self._notifications.create_index([("org_id", ASCENDING), ("created_at", DESCENDING)])
        await self.deliveries.collection.create_index(
            [("status", ASCENDING), ("next_attempt_at", ASCENDING)]
        )
        await self.subscriptions.collection.create_index([("org_id", ASCENDING)])

    async def keep(self, notification: Notification) -> Notification:
        """Store a notification unless it exists, and return the stored one: its body, once
        written, is what every delivery sends."""
        doc = notification.model_dump()
        await self._notifications.update_one(
            {"_id": notification.notification_id}, {"$setOnInsert": doc}, upsert=True
        )
        stored = await self._notifications.find_one({"_id": notification.notification_id})
        return Notification.model_validate(stored)

    async def notification(self, notification_id: str) -> Notification | None:
        """By `_id`, the one lookup the local store answers from an index."""
        doc = await self._notifications.find_one({"_id": notification_id})
        return Notification.model_validate(doc) if doc else None

    async def notifications(self, ids: list[str]) -> list[Notification]:
        found = [await self.notification(i) for i in ids]
        return [n for n in found if n is not None]

    async def inbox(self, org_id: str, limit: int) -> list[Notification]:
        cursor = (
            self._notifications.find({"org_id": org_id})
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return [Notification.model_validate(d) async for d in cursor]

    async def organisation(self, org_id: str) -> Organisation:
        loaded = await self.organisations.get(org_id)
        return loaded.aggregate if loaded else Organisation(org_id=org_id)

    async def ensure_organisation(self, org_id: str) -> None:
        with contextlib.suppress(AlreadyExists):
            await self.organisations.add(Organisation(org_id=org_id))

    async def subscriptions_of(self, org_id: str) -> list[Subscription]:
        """By `_id` only: the organisation's document names its subscriptions."""
        organisation = await self.organisation(org_id)
        found = await self.subscriptions.get_many(organisation.subscription_ids)
        return [found[i].aggregate for i in organisation.subscription_ids if i in found]

    async def subscriptions_for(self, org_id: str, kind: str) -> list[Subscription]:
        return [s for s in await self.subscriptions_of(org_id) if kind in s.event_types]

    async def due_deliveries(self, now: float, limit: int = 200) -> list[Delivery]:
        cursor = (
            self.deliveries.collection.find(
                {"status": "pending", "next_attempt_at": {"$lte": now}},
                {"outbox": 0, "applied": 0, "consumed": 0},
            )
            .sort("next_attempt_at", ASCENDING)
            .limit(limit)
        )
        return [
            Delivery.model_validate({k: v for k, v in d.items() if k not in ("_id", "version")})
            async for d in cursor
        ]

    async def set_referral(
        self, client_id: str, referral_id: str, provider_id: str, status: str
    ) -> None:
        await self._clients.update_one(
            {"_id": client_id},
            {"$set": {f"referrals.{referral_id}": {"provider_id": provider_id, "status": status}}},
            upsert=True,
        )

    async def set_consent(self, client_id: str, scopes: list[str]) -> None:
        await self._clients.update_one(
            {"_id": client_id}, {"$set": {"consent_scopes": scopes}}, upsert=True
        )

    async def providers_of(self, client_id: str) -> set[str]:
        doc = await self._clients.find_one({"_id": client_id}) or {}
        return providers_hearing_of_matches(
            list(doc.get("referrals", {}).values()), doc.get("consent_scopes")
        )
