"""A compare-and-set on a document's version, on stores whose updates are not atomic.

On FerretDB 1.x `update_one({"_id": x, "version": v}, ...)` is read, check in Go, write back
by `_id`: two writers holding version `v` can both pass the check, and the later write silently
undoes the earlier one. A unique-key insert, though, is atomic on every MongoDB-wire store. So
before writing version `v + 1` of a document a writer inserts a *claim* whose `_id` names the
document and that version, writes, and deletes the claim:

- while the claim exists, every other writer of `v + 1` fails to insert it and is told its copy
  is stale (it reloads and retries, as after any lost race);
- after the claim is gone the document is at `v + 1`, so a late writer that still holds `v`
  wins the claim but then reads the document at `v + 1`: stale again. (The holder reads the
  version after claiming and writes by `_id` alone: only the holder of the claim on `v + 1` can
  move the document off `v`, and `{"_id": ...}` is the one filter FerretDB answers from an
  index.)

Only the claim's holder can therefore write `v + 1`, whatever the number of replicas. A holder
that dies between claim and release leaves the claim behind; after `expire_after` seconds
(far longer than one write) the next writer that meets it removes it. That removal is itself
claimed (a second unique insert named after the stale claim's timestamp), so two writers never
both remove it and never remove a newer claim by mistake. On MongoDB, where the update is
atomic, no claim is taken.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from runtime.store_profile import StoreProfile

log = structlog.get_logger(__name__)

DUPLICATE_KEY = 11000
Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


def duplicate_indexes(error: BulkWriteError) -> set[int]:
    """Which documents of an unordered `insert_many` were refused as duplicates."""
    details = error.details or {}
    others = [e for e in details.get("writeErrors", []) if e.get("code") != DUPLICATE_KEY]
    if others or details.get("writeConcernErrors"):
        raise error
    return {e["index"] for e in details.get("writeErrors", [])}


class VersionGuard:
    def __init__(
        self,
        db: AsyncDatabase,
        profile: StoreProfile,
        *,
        expire_after: float = 30.0,
        clock: Clock = _now,
    ) -> None:
        self._claims = db["_version_claims"]
        self._profile = profile
        self._expire_after = timedelta(seconds=expire_after)
        self._clock = clock

    @staticmethod
    def _claim_id(collection: str, doc_id: Any, version: int) -> str:
        return f"{collection}\x1f{doc_id}\x1f{version}"

    async def claim(self, collection: str, targets: Sequence[tuple[Any, int]]) -> list[str] | None:
        """Claim writing `(document id, new version)` for each target.

        Returns, in target order, the claim id of each target won and "" for each lost (another
        writer holds it: the caller's copy is stale); None when the store needs no claims."""
        if self._profile.atomic_updates or not targets:
            return None
        at = self._clock()
        ids = [self._claim_id(collection, d, v) for d, v in targets]
        try:
            await self._claims.insert_many([{"_id": i, "at": at} for i in ids], ordered=False)
            lost: set[int] = set()
        except BulkWriteError as exc:
            lost = duplicate_indexes(exc)
            await self._expire([ids[i] for i in lost])
        return [i if n not in lost else "" for n, i in enumerate(ids)]

    async def release(self, claim_ids: Iterable[str]) -> None:
        won = [i for i in claim_ids if i]
        # One by `_id` each: a lookup FerretDB answers from its index, whatever the count.
        await asyncio.gather(*(self._claims.delete_one({"_id": i}) for i in won))

    async def _expire(self, claim_ids: list[str]) -> None:
        """Remove claims left by a writer that died holding them."""
        cutoff = self._clock() - self._expire_after
        for claim_id in claim_ids:
            claim = await self._claims.find_one({"_id": claim_id})
            if claim is None or claim["at"] > cutoff:
                continue
            takeover = f"{claim_id}\x1fexpired\x1f{claim['at'].isoformat()}"
            try:
                await self._claims.insert_one({"_id": takeover, "at": self._clock()})
            except DuplicateKeyError:
                continue  # another writer is removing it
            await self._claims.delete_one({"_id": claim_id})
            log.warning("cas.expired_claim_removed", why="its writer died holding it")
