"""MongoDB adapter for the referrals service: clients, referrals and the provider directory.

Every hot lookup is by `_id`: a client by the id derived from its claimant reference, a
client's referrals through the ids kept on the client, a provider by its id.
"""

from __future__ import annotations

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from runtime.documents import AlreadyExists
from runtime.events import Wrap
from runtime.persistence import Persistence
from services.referrals.clients import Client
from services.referrals.directory import Provider
from services.referrals.domain import Referral


class ReferralsStore:
    def __init__(self, persistence: Persistence) -> None:
        self.clients = persistence.documents("clients", Client, id_field="client_id")
        self.referrals = persistence.documents("referrals", Referral, id_field="referral_id")
        self.providers = persistence.documents("providers", Provider, id_field="provider_id")

    @property
    def outbox_collections(self) -> list[AsyncCollection]:
        return [self.clients.collection, self.referrals.collection, self.providers.collection]

    async def ensure_indexes(self) -> None:
        # Clients need none: the id is derived from the claimant reference, so every lookup
        # is by `_id`, and one claimant cannot become two clients.
        # One active referral per client, provider and programme, and one active lead per
        # client, enforced by the database.
        await self.referrals.collection.create_index("active_key", unique=True)
        await self.referrals.collection.create_index("lead_key", unique=True)
        # For the listings (`GET /referrals?status=`), on a store that uses them.
        await self.referrals.collection.create_index(
            [("provider_id", ASCENDING), ("status", ASCENDING)]
        )
        await self.referrals.collection.create_index(
            [("partnership", ASCENDING), ("status", ASCENDING)]
        )

    async def seed_providers(self, providers: list[Provider], wrap: Wrap) -> None:
        """Load the seed directory once: a provider already stored keeps its programmes and
        places, so a restart never resets what operations and providers have set since."""
        for provider in providers:
            events = [e for p in provider.programmes for e in [provider.updated_event(p)]]
            try:
                await self.providers.add(provider, wrap(events))
            except AlreadyExists:
                continue

    async def referrals_of(self, client: Client) -> list[Referral]:
        """The client's referrals, oldest first: ids kept on the client, read by `_id`."""
        found = await self.referrals.get_many(client.referral_ids)
        return [found[i].aggregate for i in client.referral_ids if i in found]
