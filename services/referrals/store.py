"""MongoDB adapter for the referrals service: clients, referrals and the provider directory."""

from __future__ import annotations

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from runtime.persistence import Persistence
from services.referrals.domain import Client, Provider, Referral


class ReferralsStore:
    def __init__(self, persistence: Persistence) -> None:
        self.clients = persistence.documents("clients", Client, id_field="client_id")
        self.referrals = persistence.documents("referrals", Referral, id_field="referral_id")
        self._providers = persistence.collection("providers")

    @property
    def outbox_collections(self) -> list[AsyncCollection]:
        return [self.clients.collection, self.referrals.collection]

    async def ensure_indexes(self) -> None:
        # Clients need none: the id is derived from the claimant reference, so every lookup
        # is by `_id`, and one claimant cannot become two clients.
        # One active referral per client, provider and programme, enforced by the database.
        await self.referrals.collection.create_index("active_key", unique=True)
        await self.referrals.collection.create_index([("client_id", ASCENDING)])
        await self.referrals.collection.create_index(
            [("provider_id", ASCENDING), ("status", ASCENDING)]
        )

    async def seed_providers(self, providers: list[Provider]) -> None:
        """Load the provider directory (local development seeds P-01 and P-02)."""
        for provider in providers:
            await self._providers.replace_one(
                {"_id": provider.provider_id},
                {"_id": provider.provider_id, **provider.model_dump()},
                upsert=True,
            )

    async def provider(self, provider_id: str) -> Provider | None:
        doc = await self._providers.find_one({"_id": provider_id})
        return Provider.model_validate(doc) if doc else None

    async def providers(self) -> list[Provider]:
        return [Provider.model_validate(d) async for d in self._providers.find().sort("_id")]

    async def referrals_of(self, client_id: str) -> list[Referral]:
        return await self.referrals.find({"client_id": client_id})
