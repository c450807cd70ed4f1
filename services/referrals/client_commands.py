"""What callers can do with clients, as plain functions: load, check, decide, save.

The routes in `client_api.py` only map HTTP to these. Each takes the store, the caller and a
`Wrap` (the envelope for the events of this one request).
"""

from __future__ import annotations

from datetime import UTC, datetime

from runtime.errors import NotFound
from runtime.events import Wrap
from runtime.principal import Principal
from schemas.types import ConsentScope
from services.referrals import domain
from services.referrals.clients import Assessment, Client
from services.referrals.domain import Referral
from services.referrals.handlers import client_id_for
from services.referrals.store import ReferralsStore


async def visible_client(
    store: ReferralsStore, client_id: str, principal: Principal
) -> tuple[Client, list[Referral]]:
    loaded = await store.clients.get(client_id)
    referrals = await store.referrals_of(client_id) if loaded else []
    if loaded is None or not domain.may_see_client(principal, referrals):
        raise NotFound("no such client")
    return loaded.aggregate, referrals


async def find_clients(
    store: ReferralsStore, principal: Principal, claimant_ref: str, key: str
) -> list[Client]:
    """The client of a claimant reference, if the caller may see it: a lookup by id."""
    try:
        client, _ = await visible_client(store, client_id_for(key, claimant_ref), principal)
    except NotFound:
        return []
    return [client]


async def _check_acting(
    store: ReferralsStore, client_id: str, principal: Principal, *, assess: bool = False
) -> None:
    if await store.clients.get(client_id) is None:
        raise NotFound("no such client")
    referrals = await store.referrals_of(client_id)
    check = domain.check_may_assess if assess else domain.check_may_act_for_client
    check(principal, referrals)


async def record_consent(
    store: ReferralsStore,
    principal: Principal,
    wrap: Wrap,
    client_id: str,
    scopes: list[ConsentScope],
    *,
    withdraw: bool = False,
) -> Client:
    await _check_acting(store, client_id, principal)
    return await store.clients.mutate(
        {"_id": client_id},
        (lambda c: c.withdraw_consent(scopes))
        if withdraw
        else (lambda c: c.record_consent(scopes)),
        wrap,
    )


async def record_assessment(
    store: ReferralsStore, principal: Principal, wrap: Wrap, client_id: str, body: Assessment
) -> Client:
    await _check_acting(store, client_id, principal, assess=True)
    return await store.clients.mutate(
        {"_id": client_id}, lambda c: c.assess(body, principal.org_id, datetime.now(UTC)), wrap
    )


async def mark_job_ready(
    store: ReferralsStore, principal: Principal, wrap: Wrap, client_id: str
) -> Client:
    await _check_acting(store, client_id, principal)
    return await store.clients.mutate(
        {"_id": client_id}, lambda c: [] if c.job_ready else c.mark_job_ready(), wrap
    )
