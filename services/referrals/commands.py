"""What callers can do with referrals and the directory, as plain functions.

Load, check, decide, save. The routes in `api.py` only map HTTP to these; timers and
reactions (`reactions.py`) call the same functions, so a rule has one home. Each takes the
store, the caller, a `Wrap` (the envelope of this unit of work's events) and `now`.

Making a referral touches three aggregates, in this order: the client (which keeps the ids of
its referrals), the provider (which counts places), the referral. A crash between two of them
leaves at most a place held for a referral that was never stored; `seats.py` reconciles that.
"""

from __future__ import annotations

from datetime import datetime

from runtime.documents import AlreadyExists
from runtime.errors import Conflict, Forbidden, Invalid, NotFound
from runtime.events import Wrap
from runtime.ids import new_id
from runtime.principal import Principal
from schemas.types import ReasonCode, ReferralStatus
from services.referrals import domain
from services.referrals.clients import Client
from services.referrals.directory import ProgrammeBody, Provider
from services.referrals.domain import Actor, Referral
from services.referrals.eligibility import Applicant, failures
from services.referrals.store import ReferralsStore

PLACE_ATTEMPTS = 30
"""Tries of a write to a provider's places before answering 409 (it is one hot document)."""


class Ineligible(Invalid):
    error = "ineligible"


async def _client_for_referral(
    store: ReferralsStore, principal: Principal, client_id: str
) -> Client:
    loaded = await store.clients.get(client_id)
    if loaded is None or not principal.sees(loaded.aggregate.partnership):
        raise NotFound("no such client")
    return loaded.aggregate


def applicant(client: Client, referrals: list[Referral]) -> Applicant:
    return Applicant(
        benefit=client.benefit,
        age_band=client.age_band,
        priority_groups=tuple(client.priority_groups),
        qualification_level=client.assessment.qualification_level if client.assessment else None,
        local_authority=client.local_authority,
        partnership=client.partnership,
        completed=tuple(
            (r.provider_id, r.programme, at)
            for r in referrals
            if r.status == "completed" and (at := r.completed_at) is not None
        ),
    )


async def create_referral(
    store: ReferralsStore,
    principal: Principal,
    wrap: Wrap,
    now: datetime,
    *,
    client_id: str,
    provider_id: str,
    programme: str,
    reason: str,
    lead: bool | None = None,
) -> Referral:
    client = await _client_for_referral(store, principal, client_id)
    loaded_provider = await store.providers.get(provider_id)
    if loaded_provider is None:
        raise Invalid("no such provider in the directory", field="provider_id")
    provider = loaded_provider.aggregate
    offered = provider.programme(programme)
    if offered is None:
        raise Invalid("the provider offers no such programme", field="programme")
    if "providers" not in client.consent_scopes:
        raise Conflict("the client has not consented to sharing data with providers")
    referrals = await store.referrals_of(client)
    refused = failures(applicant(client, referrals), provider, offered, now)
    if refused:
        raise Ineligible(
            "the client is not eligible for this programme",
            details={"rules": [f.model_dump() for f in refused]},
        )
    domain.check_not_duplicate(referrals, provider_id, programme)
    is_lead = domain.decide_lead(lead, referrals)

    referral_id = new_id("RF")
    await store.clients.mutate({"_id": client_id}, lambda c: c.note_referral(referral_id), wrap)
    decided: list[str] = []

    def take(p: Provider) -> list:
        status, events = p.take_place(programme, referral_id, now)
        decided[:] = [status]
        return events

    # One document counts a provider's places, so it is contended: many tries, jittered.
    await store.providers.mutate({"_id": provider_id}, take, wrap, attempts=PLACE_ATTEMPTS)
    referral, events = Referral.create(
        referral_id=referral_id,
        client_id=client_id,
        provider_id=provider_id,
        programme_id=programme,
        programme_kind=offered.kind,
        sla_settings=offered.sla,
        partnership=client.partnership,
        reason=reason,
        lead=is_lead,
        status=decided[0],  # type: ignore[arg-type]
        by=principal,
        at=now,
    )
    try:
        await store.referrals.add(referral, wrap(events))
    except AlreadyExists:
        # The unique active or lead key: a concurrent request made the same referral first.
        await free_place(store, referral, now, wrap)
        raise Conflict("the client already has an active (lead) referral like this") from None
    return referral


async def free_place(store: ReferralsStore, referral: Referral, now: datetime, wrap: Wrap) -> None:
    """An ended referral gives its place back; the oldest waiting referrals take free places.
    Idempotent, so the reaction to the ended event can repeat it after a crash."""
    released: list[str] = []

    def give_back(p: Provider) -> list:
        events = p.free_place(referral.programme, referral.referral_id, now)
        ids, more = p.release_waiting(referral.programme, now)
        released[:] = ids
        return [*events, *more]

    try:
        await store.providers.mutate(
            {"_id": referral.provider_id}, give_back, wrap, attempts=PLACE_ATTEMPTS
        )
    except NotFound:
        return
    await release(store, released, now, wrap)


async def release(
    store: ReferralsStore, referral_ids: list[str], now: datetime, wrap: Wrap
) -> None:
    for referral_id in referral_ids:
        try:
            await store.referrals.mutate(
                {"_id": referral_id}, lambda r: r.apply("release", domain.SYSTEM, now), wrap
            )
        except (Conflict, NotFound):
            continue  # released already, or ended while waiting: the reconciler tidies up


async def list_referrals(
    store: ReferralsStore,
    principal: Principal,
    status: ReferralStatus | None = None,
    client_id: str | None = None,
) -> list[Referral]:
    if client_id:
        loaded = await store.clients.get(client_id)
        mine = await store.referrals_of(loaded.aggregate) if loaded else []
        return [
            r
            for r in mine
            if domain.may_see_referral(principal, r, loaded.aggregate if loaded else None)
            and status in (None, r.status)
        ]
    query: dict[str, str] = {}
    if status:
        query["status"] = status
    if principal.is_("provider"):
        query["provider_id"] = principal.org_id
    elif not principal.national:
        query["partnership"] = principal.partnership
    return await store.referrals.find(query, sort=[("referral_id", 1)], limit=500)


async def visible_referral(
    store: ReferralsStore, referral_id: str, principal: Principal
) -> Referral:
    loaded = await store.referrals.get(referral_id)
    if loaded is None:
        raise NotFound("no such referral")
    referral = loaded.aggregate
    if domain.may_see_referral(principal, referral):
        return referral
    # Perhaps a client who moved here with their history: one more read, only then.
    client = await store.clients.get(referral.client_id)
    if client is None or not domain.may_see_referral(principal, referral, client.aggregate):
        raise NotFound("no such referral")
    return referral


async def move_referral(
    store: ReferralsStore,
    actor: Actor,
    wrap: Wrap,
    now: datetime,
    referral_id: str,
    action: domain.Action,
    *,
    reason: ReasonCode | None = None,
    note: str | None = None,
    outcome: str | None = None,
) -> Referral:
    if isinstance(actor, Principal):
        await visible_referral(store, referral_id, actor)
    referral = await store.referrals.mutate(
        {"_id": referral_id},
        lambda r: r.apply(action, actor, now, reason=reason, note=note, outcome=outcome),
        wrap,
    )
    if not referral.is_active:
        await free_place(store, referral, now, wrap)
    return referral


# --- The directory ---------------------------------------------------------------------------


async def providers(store: ReferralsStore) -> list[Provider]:
    return await store.providers.find({}, sort=[("_id", 1)], limit=1000)


async def provider(store: ReferralsStore, provider_id: str) -> Provider:
    loaded = await store.providers.get(provider_id)
    if loaded is None:
        raise NotFound("no such provider")
    return loaded.aggregate


def _check_may_manage(principal: Principal, provider: Provider, *, capacity: bool) -> None:
    """Operations of a partnership the provider serves; for places, the provider itself too."""
    if capacity and principal.is_("provider") and principal.org_id == provider.provider_id:
        return
    if principal.is_("operations") and (
        principal.national or provider.serves(principal.partnership)
    ):
        return
    raise Forbidden("only operations of a partnership this provider serves may change it")


async def put_programme(
    store: ReferralsStore,
    principal: Principal,
    wrap: Wrap,
    now: datetime,
    provider_id: str,
    programme_id: str,
    body: ProgrammeBody,
) -> Provider:
    _check_may_manage(principal, await provider(store, provider_id), capacity=False)
    released: list[str] = []

    def put(p: Provider) -> list:
        events = p.put_programme(programme_id, body, now)
        ids, more = p.release_waiting(programme_id, now)
        released[:] = ids
        return [*events, *more]

    updated = await store.providers.mutate({"_id": provider_id}, put, wrap, attempts=PLACE_ATTEMPTS)
    await release(store, released, now, wrap)
    return updated


async def set_capacity(
    store: ReferralsStore,
    principal: Principal,
    wrap: Wrap,
    now: datetime,
    provider_id: str,
    programme_id: str,
    available: int,
) -> Provider:
    found = await provider(store, provider_id)
    _check_may_manage(principal, found, capacity=True)
    if found.programme(programme_id) is None:
        raise NotFound("no such programme")
    released: list[str] = []

    def set_places(p: Provider) -> list:
        events = p.set_available(programme_id, available, now)
        ids, more = p.release_waiting(programme_id, now)
        released[:] = ids
        return [*events, *more]

    updated = await store.providers.mutate(
        {"_id": provider_id}, set_places, wrap, attempts=PLACE_ATTEMPTS
    )
    await release(store, released, now, wrap)
    return updated
