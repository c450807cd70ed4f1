"""The lease rule: one holder at a time, renewals keep it, a lapsed lease is overtaken with a
new epoch, a release lets anyone take it next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runtime.leases import Lease, Leases
from tests.unit.fakes import InMemoryDocuments

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def leases(clock: Clock) -> tuple[Leases, InMemoryDocuments[Lease]]:
    documents: InMemoryDocuments[Lease] = InMemoryDocuments("name")
    return Leases(documents, seconds=15, clock=clock), documents  # type: ignore[arg-type]


async def test_one_holder_at_a_time_until_it_lapses_then_a_new_epoch() -> None:
    clock = Clock()
    lease, _ = leases(clock)
    assert await lease.take("cw", "a") == 1
    assert await lease.take("cw", "b") is None
    clock.now += timedelta(seconds=10)
    assert await lease.take("cw", "a") == 1, "a renewal keeps the epoch"
    clock.now += timedelta(seconds=14)
    assert await lease.take("cw", "b") is None, "renewed 14 s ago: still a's"
    clock.now += timedelta(seconds=2)
    assert await lease.take("cw", "b") == 2, "lapsed: overtaken, and the epoch says so"
    assert await lease.take("cw", "a") is None
    assert await lease.holder("cw") == "b"


async def test_a_release_lets_another_take_it_at_once_and_only_the_holder_releases() -> None:
    clock = Clock()
    lease, _ = leases(clock)
    assert await lease.take("redrive|t.dlq", "RD-1") == 1
    await lease.release("redrive|t.dlq", "RD-2")
    assert await lease.holder("redrive|t.dlq") == "RD-1", "only the holder releases"
    await lease.release("redrive|t.dlq", "RD-1")
    assert await lease.holder("redrive|t.dlq") is None
    assert await lease.take("redrive|t.dlq", "RD-2") == 2


async def test_a_lost_race_for_the_lease_is_a_refusal() -> None:
    clock = Clock()
    lease, documents = leases(clock)
    assert await lease.take("cw", "a") == 1
    clock.now += timedelta(seconds=20)
    documents.stale_next.append("cw")  # another replica overtook it between read and write
    assert await lease.take("cw", "b") is None
    assert documents.docs["cw"][0].holder == "a", "the loser wrote nothing"
