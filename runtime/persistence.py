"""One service's database, with what every document store of it shares.

A store module asks for its collections here (`documents(...)`), so the outbox markers, the
version guard and the store profile are wired once, by the composition root, not per store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from runtime.cas import VersionGuard
from runtime.documents import DocumentStore
from runtime.inbox import Inbox
from runtime.outbox import Outbox
from runtime.store_profile import StoreProfile

A = TypeVar("A", bound=BaseModel)


@dataclass
class Persistence:
    db: AsyncDatabase
    profile: StoreProfile
    outbox: Outbox
    guard: VersionGuard
    inbox: Inbox

    @classmethod
    def of(cls, db: AsyncDatabase, profile: StoreProfile | None = None) -> Persistence:
        profile = profile or StoreProfile()
        return cls(db, profile, Outbox(db, profile), VersionGuard(db, profile), Inbox(db, profile))

    def documents(self, name: str, model: type[A], *, id_field: str) -> DocumentStore[A]:
        return DocumentStore(
            self.db[name],
            model,
            id_field=id_field,
            outbox=self.outbox,
            guard=self.guard,
            profile=self.profile,
        )

    def collection(self, name: str) -> AsyncCollection:
        return self.db[name]
