"""Store an aggregate as one document, with its pending events, guarded by a version number.

The version check makes concurrent writers safe without transactions: a save whose version no
longer matches changes nothing and raises `StaleAggregate`, and the caller reloads and retries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from runtime.errors import Conflict, NotFound
from runtime.locks import document_lock
from runtime.outbox import OUTBOX_FIELD, outbox_entries
from schemas.base import EventData
from schemas.envelope import CloudEvent

A = TypeVar("A", bound=BaseModel)

_STORAGE_FIELDS = ("_id", "version", OUTBOX_FIELD)


SaveHook = Callable[[AsyncCollection, Any], None]
"""Called with the collection and `_id` of every document saved (the outbox relay's hint)."""


def _ignore_save(collection: AsyncCollection, document_id: Any) -> None:
    pass


class StaleAggregate(Exception):
    """Someone else saved this aggregate after it was loaded."""


class AlreadyExists(Exception):
    pass


class Versioned(Generic[A]):
    """An aggregate as loaded, with the version its save must match."""

    def __init__(self, aggregate: A, version: int) -> None:
        self.aggregate = aggregate
        self.version = version


class DocumentStore(Generic[A]):
    def __init__(
        self,
        collection: AsyncCollection,
        model: type[A],
        *,
        id_field: str,
        on_saved: SaveHook = _ignore_save,
    ) -> None:
        self.collection = collection
        self._model = model
        self._id_field = id_field
        self._on_saved = on_saved

    def _load(self, doc: Mapping[str, Any]) -> A:
        return self._model.model_validate(
            {k: v for k, v in doc.items() if k not in _STORAGE_FIELDS}
        )

    async def get(self, aggregate_id: str) -> Versioned[A] | None:
        return await self.get_by({"_id": aggregate_id})

    async def get_by(self, query: Mapping[str, Any]) -> Versioned[A] | None:
        doc = await self.collection.find_one(dict(query), {OUTBOX_FIELD: 0})
        return Versioned(self._load(doc), doc["version"]) if doc else None

    async def find(
        self,
        query: Mapping[str, Any],
        *,
        sort: list[tuple[str, int]] | None = None,
        limit: int = 0,
    ) -> list[A]:
        cursor = self.collection.find(dict(query), {OUTBOX_FIELD: 0})
        if sort:
            cursor = cursor.sort(sort)
        if limit:
            cursor = cursor.limit(limit)
        return [self._load(doc) async for doc in cursor]

    async def add(self, aggregate: A, events: Iterable[CloudEvent] = ()) -> None:
        body = aggregate.model_dump(mode="json")
        doc = {
            "_id": body[self._id_field],
            **body,
            "version": 1,
            OUTBOX_FIELD: outbox_entries(events),
        }
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError as exc:
            raise AlreadyExists(str(body[self._id_field])) from exc
        self._on_saved(self.collection, doc["_id"])

    async def save(self, loaded: Versioned[A], events: Iterable[CloudEvent] = ()) -> None:
        body = loaded.aggregate.model_dump(mode="json")
        update: dict[str, Any] = {"$set": {**body, "version": loaded.version + 1}}
        entries = outbox_entries(events)
        if entries:
            update["$push"] = {OUTBOX_FIELD: {"$each": entries}}
        async with document_lock(self.collection.full_name, body[self._id_field]):
            result = await self.collection.update_one(
                {"_id": body[self._id_field], "version": loaded.version}, update
            )
        if result.matched_count != 1:
            raise StaleAggregate(str(body[self._id_field]))
        loaded.version += 1
        self._on_saved(self.collection, body[self._id_field])

    async def mutate(
        self,
        query: Mapping[str, Any],
        change: Callable[[A], Sequence[EventData]],
        wrap: Callable[[Sequence[EventData]], list[CloudEvent]],
        *,
        attempts: int = 5,
    ) -> A:
        """Load, apply a domain rule, and save the new state with the events it returned.

        On a concurrent save the rule is re-applied to the fresh state, so it must be a pure
        function of the aggregate (domain rules are). Raises `NotFound` if nothing matches.
        """
        for _ in range(attempts):
            loaded = await self.get_by(query)
            if loaded is None:
                raise NotFound("no such " + self._model.__name__.lower())
            events = change(loaded.aggregate)
            try:
                await self.save(loaded, wrap(events))
            except StaleAggregate:
                continue
            return loaded.aggregate
        raise Conflict(f"gave up after {attempts} concurrent updates; try again")
