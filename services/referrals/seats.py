"""The reconciler of places: every programme's held places and waitlist agree with referrals.

Making a referral takes a place on the provider and then stores the referral (two documents);
ending one frees the place inline and again in reaction to the ended event. The one gap left is
a crash after a place was taken and before its referral was stored, or a release that reached
the provider but not the referral. This pass closes both, like a controller loop: it looks at
every place and waiting entry (bounded by the programmes' sizes, not by the number of clients
or referrals), frees those of ended or never-stored referrals and releases the oldest waiting
referrals into free places. Idempotent; replicas may run it at once.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog

from runtime.clock import Clock
from runtime.events import enveloper
from schemas.base import EventData
from services.referrals import commands
from services.referrals.directory import Programme, Provider
from services.referrals.store import ReferralsStore

log = structlog.get_logger(__name__)

GRACE = timedelta(minutes=2)
"""A place younger than this may belong to a referral being stored right now."""


async def reconcile(store: ReferralsStore, clock: Clock) -> int:
    """One pass over the directory; returns how many referrals were released."""
    released = 0
    for provider in await commands.providers(store):
        for programme in provider.programmes:
            released += await _reconcile_programme(store, provider.provider_id, programme, clock)
    return released


async def _reconcile_programme(
    store: ReferralsStore, provider_id: str, programme: Programme, clock: Clock
) -> int:
    wrap = enveloper("/services/referrals")
    ids = [s.referral_id for s in (*programme.holders, *programme.waitlist)]
    found = await store.referrals.get_many(ids)
    statuses = {i: (found[i].aggregate.status if i in found else None) for i in ids}
    # Places given to waiting referrals whose own document never heard of it (a crash).
    held_on_hold = [
        s.referral_id for s in programme.holders if statuses[s.referral_id] == "on-hold"
    ]
    released: list[str] = []
    now = clock.now()

    def repair(p: Provider) -> list[EventData]:
        ids, events = p.reconcile(programme.programme_id, statuses, now, GRACE)
        released[:] = ids
        return events

    await store.providers.mutate(
        {"_id": provider_id}, repair, wrap, attempts=commands.PLACE_ATTEMPTS
    )
    await commands.release(store, [*released, *held_on_hold], now, wrap)
    return len(released)


async def run_reconciler(store: ReferralsStore, clock: Clock, every_seconds: float) -> None:
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await reconcile(store, clock)
        except Exception as exc:
            log.warning("seats.reconcile_failed", error=type(exc).__name__)
