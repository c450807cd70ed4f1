"""What callers can do with referrals, as plain functions: load, check, decide, save.

The routes in `api.py` only map HTTP to these. Each takes the store, the caller and a `Wrap`
(the envelope for the events of this one request), so it can be called from anything: a
route, a CLI, a test with an in-memory store.
"""

from __future__ import annotations

from runtime.documents import AlreadyExists
from runtime.errors import Conflict, NotFound
from runtime.events import Wrap
from runtime.ids import new_id
from runtime.principal import Principal
from schemas.types import ReferralStatus
from services.referrals import domain
from services.referrals.domain import Referral
from services.referrals.store import ReferralsStore


async def create_referral(
    store: ReferralsStore,
    principal: Principal,
    wrap: Wrap,
    *,
    client_id: str,
    provider_id: str,
    programme: str,
    reason: str,
) -> Referral:
    loaded = await store.clients.get(client_id)
    if loaded is None:
        raise NotFound("no such client")
    referral, events = Referral.create(
        referral_id=new_id("RF"),
        client=loaded.aggregate,
        provider=await store.provider(provider_id),
        provider_id=provider_id,
        programme=programme,
        reason=reason,
        existing=await store.referrals_of(client_id),
        by=principal,
    )
    try:
        await store.referrals.add(referral, wrap(events))
    except AlreadyExists:
        raise Conflict("the client already has an active referral to this programme") from None
    return referral


async def list_referrals(
    store: ReferralsStore,
    principal: Principal,
    status: ReferralStatus | None = None,
    client_id: str | None = None,
) -> list[Referral]:
    query: dict[str, str] = {}
    if status:
        query["status"] = status
    if client_id:
        query["client_id"] = client_id
    if principal.is_("provider"):
        query["provider_id"] = principal.org_id
    return await store.referrals.find(query, sort=[("referral_id", 1)], limit=500)


async def visible_referral(
    store: ReferralsStore, referral_id: str, principal: Principal
) -> Referral:
    loaded = await store.referrals.get(referral_id)
    if loaded is None or not domain.may_see_referral(principal, loaded.aggregate):
        raise NotFound("no such referral")
    return loaded.aggregate


async def move_referral(
    store: ReferralsStore,
    principal: Principal,
    wrap: Wrap,
    referral_id: str,
    action: domain.Action,
    note: str | None = None,
) -> Referral:
    await visible_referral(store, referral_id, principal)
    return await store.referrals.mutate(
        {"_id": referral_id}, lambda r: r.apply(action, principal, note), wrap
    )
