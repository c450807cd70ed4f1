"""What callers can do with clients, as plain functions: load, check, decide, save.

The routes in `client_api.py` only map HTTP to these. Each takes the store, the caller, a
`Wrap` (the envelope for the events of this one request) where it writes, and `now` where the
rule needs the time: the route reads the service's clock, never this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from pydantic import BaseModel

from runtime.errors import Forbidden, NotFound
from runtime.events import Wrap
from runtime.principal import Principal
from schemas.types import ConsentScope
from services.referrals import clients as rules
from services.referrals.clients import (
    ActionPlan,
    Assessment,
    Client,
    ConsentChange,
    ConsentGrant,
    HistoryEntry,
    PlanItem,
)
from services.referrals.domain import Referral
from services.referrals.handlers import client_id_for
from services.referrals.journey import Journey, journey_of
from services.referrals.store import ReferralsStore


class ClientView(Client):
    """A client as a caller reads it: the record, its history as far as the caller may see
    it, and what the client's referrals and placements add up to."""

    lead_provider: str | None
    journey: Journey


class ConsentLedger(BaseModel):
    current: list[ConsentGrant]
    history: list[ConsentChange]


def view_of(principal: Principal, client: Client, referrals: Sequence[Referral]) -> ClientView:
    history: list[HistoryEntry] = rules.visible_history(principal, client)
    return ClientView(
        **{**client.model_dump(), "history": [h.model_dump() for h in history]},
        lead_provider=rules.lead_provider(referrals),
        journey=journey_of(client, referrals),
    )


async def _load(store: ReferralsStore, client_id: str) -> tuple[Client, list[Referral]]:
    loaded = await store.clients.get(client_id)
    if loaded is None:
        raise NotFound("no such client")
    return loaded.aggregate, await store.referrals_of(loaded.aggregate)


async def visible_client(
    store: ReferralsStore, client_id: str, principal: Principal
) -> tuple[Client, list[Referral]]:
    client, referrals = await _load(store, client_id)
    rules.check_may_see_client(principal, client, referrals)
    return client, referrals


async def read_client(store: ReferralsStore, principal: Principal, client_id: str) -> ClientView:
    client, referrals = await visible_client(store, client_id, principal)
    return view_of(principal, client, referrals)


async def find_clients(
    store: ReferralsStore, principal: Principal, claimant_ref: str, key: str
) -> list[ClientView]:
    """The client of a claimant reference, if the caller may see it: a lookup by id."""
    try:
        return [await read_client(store, principal, client_id_for(key, claimant_ref))]
    except NotFound:
        return []


async def _check_acting(
    store: ReferralsStore, client_id: str, principal: Principal, *, assess: bool = False
) -> None:
    """Consent, assessment and job-readiness: JCP of the client's partnership (not for an
    assessment), or the provider of an active referral. 404 for whoever may not see the
    client, 403 for one who sees it but may not act."""
    _, referrals = await visible_client(store, client_id, principal)
    if principal.is_("jcp") and not assess:
        return
    if not principal.is_("provider"):
        raise Forbidden("only the provider of an active referral may do this")
    if not any(r.provider_id == principal.org_id and r.is_active for r in referrals):
        raise Forbidden("only the provider of an active referral may act for this client")


async def record_consent(
    store: ReferralsStore,
    principal: Principal,
    wrap: Wrap,
    now: datetime,
    client_id: str,
    scopes: list[ConsentScope],
    *,
    form_version: str | None = None,
    expires: date | None = None,
) -> Client:
    await _check_acting(store, client_id, principal)
    return await store.clients.mutate(
        {"_id": client_id},
        lambda c: c.record_consent(
            scopes, now, by_org=principal.org_id, form_version=form_version, expires=expires
        ),
        wrap,
    )


async def withdraw_consent(
    store: ReferralsStore,
    principal: Principal,
    wrap: Wrap,
    now: datetime,
    client_id: str,
    scopes: list[ConsentScope],
) -> Client:
    await _check_acting(store, client_id, principal)
    return await store.clients.mutate(
        {"_id": client_id},
        lambda c: c.withdraw_consent(scopes, now, by_org=principal.org_id),
        wrap,
    )


async def expire_consent(
    store: ReferralsStore, wrap: Wrap, now: datetime, client_id: str
) -> Client:
    """For the consent timer: lapse what has expired by `now` (nothing due: no change)."""
    return await store.clients.mutate({"_id": client_id}, lambda c: c.expire_consent(now), wrap)


async def consent_ledger(
    store: ReferralsStore, principal: Principal, client_id: str
) -> ConsentLedger:
    client, referrals = await _load(store, client_id)
    rules.check_may_read_consent(principal, client, referrals)
    return ConsentLedger(current=client.consents, history=client.consent_history)


async def record_assessment(
    store: ReferralsStore,
    principal: Principal,
    wrap: Wrap,
    now: datetime,
    client_id: str,
    body: Assessment,
) -> Client:
    await _check_acting(store, client_id, principal, assess=True)
    return await store.clients.mutate(
        {"_id": client_id}, lambda c: c.assess(body, principal.org_id, now), wrap
    )


async def mark_job_ready(
    store: ReferralsStore, principal: Principal, wrap: Wrap, client_id: str
) -> Client:
    await _check_acting(store, client_id, principal)
    return await store.clients.mutate(
        {"_id": client_id}, lambda c: [] if c.job_ready else c.mark_job_ready(), wrap
    )


async def read_action_plan(
    store: ReferralsStore, principal: Principal, client_id: str
) -> ActionPlan | None:
    client, referrals = await _load(store, client_id)
    rules.check_may_read_action_plan(principal, client, referrals)
    return client.action_plan


async def agree_action_plan(
    store: ReferralsStore,
    principal: Principal,
    wrap: Wrap,
    now: datetime,
    client_id: str,
    items: list[PlanItem],
) -> ActionPlan:
    client, referrals = await _load(store, client_id)
    rules.check_may_agree_action_plan(principal, client, referrals)
    saved = await store.clients.mutate(
        {"_id": client_id}, lambda c: c.agree_action_plan(items, principal.org_id, now), wrap
    )
    assert saved.action_plan is not None  # just agreed
    # The plan meets the `action_plan` deadline of the client's active referrals at once, not
    # only when their deadlines are next checked (the rule ignores referrals it cannot meet).
    agreed_at = saved.action_plan.first_agreed_at
    for referral in referrals:
        if referral.is_active:
            await store.referrals.mutate(
                {"_id": referral.referral_id}, lambda r: r.meet_action_plan(agreed_at), wrap
            )
    return saved.action_plan
