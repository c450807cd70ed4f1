"""Read and set many documents by `_id` at a cost that does not grow with the collection."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from runtime.cas import duplicate_indexes
from runtime.store_profile import StoreProfile

_CHUNK = 500
_CONCURRENCY = 32


async def find_by_ids(
    collection: AsyncCollection,
    ids: Iterable[Any],
    profile: StoreProfile,
    projection: Mapping[str, Any] | None = None,
) -> dict[Any, dict[str, Any]]:
    """`{_id: document}` for those of `ids` that exist.

    One `$in` query per chunk where the store uses its `_id` index for it (MongoDB); otherwise
    concurrent lookups by `_id`, the one filter FerretDB's SQLite backend answers from an index.
    """
    wanted = list(dict.fromkeys(ids))
    found: dict[Any, dict[str, Any]] = {}
    if not wanted:
        return found
    proj = dict(projection) if projection else None
    if profile.indexed_in_queries:
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            async for doc in collection.find({"_id": {"$in": chunk}}, proj):
                found[doc["_id"]] = doc
        return found
    gate = asyncio.Semaphore(_CONCURRENCY)

    async def one(doc_id: Any) -> None:
        async with gate:
            doc = await collection.find_one({"_id": doc_id}, proj)
        if doc is not None:
            found[doc_id] = doc

    await asyncio.gather(*(one(i) for i in wanted))
    return found


async def insert_or_set(
    collection: AsyncCollection,
    fields: Mapping[Any, Mapping[str, Any]],
    profile: StoreProfile,
) -> None:
    """Set these fields on each document, `{_id: {field: value}}`, for documents that are mostly
    new (a flood of registrations): one unordered `insert_many` creates the new ones, and only
    those already there are updated. An insert of 500 costs about what one update by `_id`
    costs on FerretDB, whose updates are a read and a write each."""
    if not fields:
        return
    docs = [{**values, "_id": doc_id} for doc_id, values in fields.items()]
    existing: set[Any] = set()
    for start in range(0, len(docs), _CHUNK):
        chunk = docs[start : start + _CHUNK]
        try:
            await collection.insert_many(chunk, ordered=False)
        except BulkWriteError as exc:
            existing |= {chunk[i]["_id"] for i in duplicate_indexes(exc)}
    await set_by_ids(collection, {i: fields[i] for i in existing}, profile)


async def set_by_ids(
    collection: AsyncCollection,
    fields: Mapping[Any, Mapping[str, Any]],
    profile: StoreProfile,
) -> None:
    """`$set` these fields on each document (created if missing): `{_id: {field: value}}`.

    One unordered `bulk_write` per chunk where the store takes it (MongoDB); otherwise
    concurrent `update_one` by `_id` (FerretDB, whose bulk updates hang; see StoreProfile)."""
    if not fields:
        return
    if profile.bulk_updates:
        writes = [UpdateOne({"_id": i}, {"$set": dict(f)}, upsert=True) for i, f in fields.items()]
        for start in range(0, len(writes), _CHUNK):
            await collection.bulk_write(writes[start : start + _CHUNK], ordered=False)
        return
    gate = asyncio.Semaphore(_CONCURRENCY)

    async def one(doc_id: Any, values: Mapping[str, Any]) -> None:
        async with gate:
            await collection.update_one({"_id": doc_id}, {"$set": dict(values)}, upsert=True)

    await asyncio.gather(*(one(i, f) for i, f in fields.items()))
