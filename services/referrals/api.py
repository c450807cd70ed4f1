"""HTTP routes of the referrals service: map JSON to domain calls, and nothing more."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from runtime.auth import allow
from runtime.documents import AlreadyExists
from runtime.errors import Conflict, NotFound
from runtime.events import Wrap, enveloper
from runtime.ids import new_id
from runtime.principal import Principal
from schemas.types import ConsentScope, EntityId, ReferralStatus, ShortText
from services.referrals import domain
from services.referrals.domain import Assessment, Client, Provider, Referral
from services.referrals.store import ReferralsStore

SOURCE = "/services/referrals"

Anyone = Annotated[Principal, Depends(allow("jcp", "provider", "operations", "employer_brokerage"))]
Readers = Annotated[Principal, Depends(allow("jcp", "provider", "operations"))]
ClientActors = Annotated[Principal, Depends(allow("jcp", "provider"))]
Jcp = Annotated[Principal, Depends(allow("jcp"))]
ProviderOrJcp = Annotated[Principal, Depends(allow("provider", "jcp"))]


class ConsentBody(BaseModel):
    scopes: list[ConsentScope] = Field(min_length=1)


class ConsentView(BaseModel):
    client_id: str
    consent_scopes: list[ConsentScope]


class JobReadyView(BaseModel):
    client_id: str
    job_ready: bool


class NewReferral(BaseModel):
    client_id: EntityId
    provider_id: EntityId
    programme: ShortText
    reason: ShortText


class ReferralCreatedView(BaseModel):
    referral_id: str
    status: Literal["created"] = "created"


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    reason: ShortText


class OutcomeBody(BaseModel):
    outcome: ShortText


def build_router(store: ReferralsStore) -> APIRouter:
    router = APIRouter()

    def wrap(request: Request) -> Wrap:
        return enveloper(SOURCE, correlationid=request.state.correlation_id)

    async def visible_client(client_id: str, principal: Principal) -> tuple[Client, list[Referral]]:
        loaded = await store.clients.get(client_id)
        referrals = await store.referrals_of(client_id) if loaded else []
        if loaded is None or not domain.may_see_client(principal, referrals):
            raise NotFound("no such client")
        return loaded.aggregate, referrals

    async def acting_on(client_id: str, principal: Principal, *, assess: bool = False) -> None:
        if await store.clients.get(client_id) is None:
            raise NotFound("no such client")
        referrals = await store.referrals_of(client_id)
        check = domain.check_may_assess if assess else domain.check_may_act_for_client
        check(principal, referrals)

    @router.get("/providers", tags=["directory"], response_model=list[Provider])
    async def list_providers(_: Anyone) -> list[Provider]:
        return await store.providers()

    @router.get("/clients", tags=["clients"], response_model=list[Client])
    async def find_clients(principal: Readers, claimant_ref: str) -> list[Client]:
        loaded = await store.clients.get_by({"claimant_ref": claimant_ref})
        if loaded is None:
            return []
        referrals = await store.referrals_of(loaded.aggregate.client_id)
        return [loaded.aggregate] if domain.may_see_client(principal, referrals) else []

    @router.get("/clients/{client_id}", tags=["clients"], response_model=Client)
    async def get_client(client_id: str, principal: Readers) -> Client:
        client, _ = await visible_client(client_id, principal)
        return client

    @router.post("/clients/{client_id}/consent", tags=["clients"], response_model=ConsentView)
    async def record_consent(
        client_id: str, body: ConsentBody, principal: ClientActors, request: Request
    ) -> ConsentView:
        await acting_on(client_id, principal)
        client = await store.clients.mutate(
            {"_id": client_id}, lambda c: c.record_consent(body.scopes), wrap(request)
        )
        return ConsentView(client_id=client_id, consent_scopes=client.consent_scopes)

    @router.post(
        "/clients/{client_id}/consent/withdraw", tags=["clients"], response_model=ConsentView
    )
    async def withdraw_consent(
        client_id: str, body: ConsentBody, principal: ClientActors, request: Request
    ) -> ConsentView:
        await acting_on(client_id, principal)
        client = await store.clients.mutate(
            {"_id": client_id}, lambda c: c.withdraw_consent(body.scopes), wrap(request)
        )
        return ConsentView(client_id=client_id, consent_scopes=client.consent_scopes)

    @router.put("/clients/{client_id}/assessment", tags=["clients"])
    async def record_assessment(
        client_id: str, body: Assessment, principal: ClientActors, request: Request
    ) -> dict[str, object]:
        await acting_on(client_id, principal, assess=True)
        client = await store.clients.mutate(
            {"_id": client_id}, lambda c: c.assess(body, principal.org_id), wrap(request)
        )
        return {
            "client_id": client_id,
            "assessment": client.assessment,
            "job_ready": client.job_ready,
        }

    @router.post("/clients/{client_id}/job-ready", tags=["clients"], response_model=JobReadyView)
    async def mark_job_ready(
        client_id: str, principal: ClientActors, request: Request
    ) -> JobReadyView:
        await acting_on(client_id, principal)
        await store.clients.mutate(
            {"_id": client_id},
            lambda c: [] if c.job_ready else c.mark_job_ready(),
            wrap(request),
        )
        return JobReadyView(client_id=client_id, job_ready=True)

    @router.post(
        "/referrals", tags=["referrals"], status_code=201, response_model=ReferralCreatedView
    )
    async def create_referral(
        body: NewReferral, principal: Jcp, request: Request
    ) -> ReferralCreatedView:
        loaded = await store.clients.get(body.client_id)
        if loaded is None:
            raise NotFound("no such client")
        referral, events = Referral.create(
            referral_id=new_id("RF"),
            client=loaded.aggregate,
            provider=await store.provider(body.provider_id),
            provider_id=body.provider_id,
            programme=body.programme,
            reason=body.reason,
            existing=await store.referrals_of(body.client_id),
            by=principal,
        )
        try:
            await store.referrals.add(referral, wrap(request)(events))
        except AlreadyExists:
            raise Conflict("the client already has an active referral to this programme") from None
        return ReferralCreatedView(referral_id=referral.referral_id)

    @router.get("/referrals", tags=["referrals"], response_model=list[Referral])
    async def list_referrals(
        principal: Readers,
        status: Annotated[ReferralStatus | None, Query()] = None,
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

    async def visible_referral(referral_id: str, principal: Principal) -> Referral:
        loaded = await store.referrals.get(referral_id)
        if loaded is None or not domain.may_see_referral(principal, loaded.aggregate):
            raise NotFound("no such referral")
        return loaded.aggregate

    @router.get("/referrals/{referral_id}", tags=["referrals"], response_model=Referral)
    async def get_referral(referral_id: str, principal: Readers) -> Referral:
        return await visible_referral(referral_id, principal)

    async def transition(
        referral_id: str,
        action: domain.Action,
        principal: Principal,
        request: Request,
        note: str | None = None,
    ) -> Referral:
        await visible_referral(referral_id, principal)
        return await store.referrals.mutate(
            {"_id": referral_id}, lambda r: r.apply(action, principal, note), wrap(request)
        )

    @router.post("/referrals/{referral_id}/accept", tags=["referrals"], response_model=Referral)
    async def accept(referral_id: str, principal: ProviderOrJcp, request: Request) -> Referral:
        return await transition(referral_id, "accept", principal, request)

    @router.post("/referrals/{referral_id}/reject", tags=["referrals"], response_model=Referral)
    async def reject(
        referral_id: str, body: ReasonBody, principal: ProviderOrJcp, request: Request
    ) -> Referral:
        return await transition(referral_id, "reject", principal, request, body.reason)

    @router.post("/referrals/{referral_id}/start", tags=["referrals"], response_model=Referral)
    async def start(referral_id: str, principal: ProviderOrJcp, request: Request) -> Referral:
        return await transition(referral_id, "start", principal, request)

    @router.post("/referrals/{referral_id}/complete", tags=["referrals"], response_model=Referral)
    async def complete(
        referral_id: str, body: OutcomeBody, principal: ProviderOrJcp, request: Request
    ) -> Referral:
        return await transition(referral_id, "complete", principal, request, body.outcome)

    @router.post("/referrals/{referral_id}/drop-out", tags=["referrals"], response_model=Referral)
    async def drop_out(
        referral_id: str, body: ReasonBody, principal: ProviderOrJcp, request: Request
    ) -> Referral:
        return await transition(referral_id, "drop-out", principal, request, body.reason)

    @router.post("/referrals/{referral_id}/withdraw", tags=["referrals"], response_model=Referral)
    async def withdraw(
        referral_id: str, body: ReasonBody, principal: ProviderOrJcp, request: Request
    ) -> Referral:
        return await transition(referral_id, "withdraw", principal, request, body.reason)

    return router
