"""The MongoDB client: PyMongo's async API (Motor reached end of life in May 2026)."""

from __future__ import annotations

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase


def connect(uri: str) -> AsyncMongoClient:
    # Majority write concern: a 2xx answer means the write survives a primary failover
    # on a real replica set (FerretDB and a standalone mongod treat it as an ordinary ack).
    return AsyncMongoClient(uri, w="majority", tz_aware=True, serverSelectionTimeoutMS=5000)


async def ping(db: AsyncDatabase) -> bool:
    try:
        await db.command("ping")
    except Exception:
        return False
    return True
