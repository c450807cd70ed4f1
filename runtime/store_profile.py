"""What the MongoDB-wire store behind a service can do, found out once at start.

The code runs unchanged on MongoDB and on FerretDB 1.x (the local default), but two facts
differ and decide how a write or a bulk read is done:
- *Atomic updates.* MongoDB applies `update_one({_id, version: v}, ...)` atomically. FerretDB
  1.x reads the document, applies the update in Go and writes it back by `_id`, without
  isolation, so two such updates can both "match". There `runtime.cas` makes the version check
  a real compare-and-set with a claim (a unique-key insert, which is atomic everywhere).
- *Index use.* FerretDB's SQLite backend pushes down only a filter that is exactly
  `{"_id": <string>}`; `{"_id": {"$in": [...]}}` scans the collection. There a bulk read by id
  is many concurrent lookups by `_id` instead of one `$in`.
- *Bulk writes.* A FerretDB 1.x `bulk_write` of 100 or more updates holds pooled connections
  until the database is restarted; there many updates are concurrent `update_one` by `_id`.
Until `detect` has run, the profile assumes the weaker store: slower, never wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase


@dataclass
class StoreProfile:
    atomic_updates: bool = False
    indexed_in_queries: bool = False
    bulk_updates: bool = False
    name: str = "unknown"

    async def detect(self, db: AsyncDatabase) -> StoreProfile:
        info = await db.client.admin.command("buildInfo")
        ferret = "ferretdbVersion" in info
        self.atomic_updates = not ferret
        self.indexed_in_queries = not ferret
        self.bulk_updates = not ferret
        self.name = "ferretdb" if ferret else f"mongodb {info.get('version', '?')}"
        return self
