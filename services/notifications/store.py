"""MongoDB adapter for notifications: subscriptions, notifications (the inbox), deliveries."""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from runtime.persistence import Persistence
from services.notifications.domain import Delivery, Notification, Subscription
from services.notifications.rules import providers_hearing_of_matches


class NotificationsStore:
    def __init__(self, persistence: Persistence) -> None:
        db = persistence.db
        self.deliveries = persistence.documents("deliveries", Delivery, id_field="delivery_id")
        self.subscriptions = persistence.documents(
            "subscriptions", Subscription, id_field="subscription_id"
        )
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

    async def inbox(self, org_id: str, limit: int) -> list[Notification]:
        cursor = (
            self._notifications.find({"org_id": org_id})
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return [Notification.model_validate(d) async for d in cursor]

    async def subscriptions_for(self, org_id: str, kind: str) -> list[Subscription]:
        subs = await self.subscriptions.find({"org_id": org_id})
        return [s for s in subs if kind in s.event_types]

    async def due_deliveries(self, limit: int = 20) -> list[str]:
        now = datetime.now(UTC).timestamp()
        cursor = (
            self.deliveries.collection.find(
                {"status": "pending", "next_attempt_at": {"$lte": now}}, {"_id": 1}
            )
            .sort("next_attempt_at", ASCENDING)
            .limit(limit)
        )
        return [d["_id"] async for d in cursor]

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
