"""In-memory stand-ins for the store and the dead-letter topic, for handler and consumer tests.

They keep the semantics the real ones promise (versions, applied event ids, stale writes) and
nothing else: integration tests run the real broker and database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Generic, TypeVar

from aiokafka import ConsumerRecord
from pydantic import BaseModel

from runtime.documents import APPLIED_KEPT, Change, Versioned

A = TypeVar("A", bound=BaseModel)

CLAIM: dict[str, Any] = {
    "claimant_ref": "CLM-1",
    "benefit": "JSA",
    "claim_start": "2026-01-05",
    "jcp_office": "Stockton",
    "local_authority": "Stockton-on-Tees",
    "ward": "Stainsby Hill",
    "postcode_district": "TS17",
    "age_band": "16-24",
    "priority_groups": [],
}
"""A valid `jcp.claimant.registered` payload for tests to vary."""


class InMemoryDocuments(Generic[A]):
    """The part of `DocumentStore` the `Aggregates` dispatcher uses, in a dict."""

    def __init__(self, id_field: str) -> None:
        self._id_field = id_field
        self.docs: dict[str, tuple[A, int, list[str]]] = {}
        self.consumed: dict[str, dict[str, int]] = {}
        self.published: list[dict[str, Any]] = []
        self.writes = 0
        self.stale_next: list[str] = []  # ids whose next write loses a race, once per entry
        self.reads = 0

    async def get_many(self, ids: Iterable[str]) -> dict[str, Versioned[A]]:
        ids = list(dict.fromkeys(ids))
        self.reads += len(ids)
        return {
            i: Versioned(a.model_copy(deep=True), v, list(applied), (), self.consumed.get(i))
            for i in ids
            if i in self.docs
            for a, v, applied in [self.docs[i]]
        }

    async def write(self, changes: Sequence[Change[A]]) -> set[str]:
        self.writes += 1
        stale: set[str] = set()
        for c in changes:
            doc_id = str(getattr(c.aggregate, self._id_field))
            current = self.docs.get(doc_id)
            expected = c.loaded.version if c.loaded else None
            if doc_id in self.stale_next or (current[1] if current else None) != expected:
                if doc_id in self.stale_next:
                    self.stale_next.remove(doc_id)
                stale.add(doc_id)
                continue
            applied = [*(current[2] if current else ()), *c.applied][-APPLIED_KEPT:]
            self.docs[doc_id] = (c.aggregate.model_copy(deep=True), (expected or 0) + 1, applied)
            consumed = self.consumed.setdefault(doc_id, {})
            for partition, offset in c.consumed.items():
                consumed[partition] = max(offset, consumed.get(partition, -1))
            self.published += [e.model_dump(mode="json") for e in c.events]
        return stale


class RecordingDeadLetters:
    def __init__(self) -> None:
        self.letters: list[tuple[ConsumerRecord, str, str]] = []

    async def send(self, letters: Sequence[tuple[ConsumerRecord, str, str]]) -> None:
        self.letters += letters

    @property
    def reasons(self) -> list[str]:
        return [reason for _, reason, _ in self.letters]


def record(
    value: bytes | None,
    *,
    offset: int = 0,
    key: bytes | None = b"k",
    headers: Sequence[tuple[str, bytes | None]] = (),
    topic: str = "jcp.claimant-events.v1",
) -> ConsumerRecord:
    return ConsumerRecord(
        topic=topic,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key or b""),
        serialized_value_size=len(value or b""),
        headers=list(headers),
    )
