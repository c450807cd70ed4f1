"""Read many documents by `_id` at a cost that does not grow with the collection."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

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
