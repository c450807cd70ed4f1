"""HTTP routes of the referrals service: map HTTP to a command (`commands.py`), nothing more."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from runtime.auth import allow
from runtime.events import Wrap, enveloper
from runtime.principal import Principal
from schemas.types import ConsentScope, EntityId, ReferralStatus, ShortText
from services.referrals import commands, domain
from services.referrals.domain import Provider, Referral
from services.referrals.store import ReferralsStore

SOURCE = "/services/referrals"

Anyone = Annotated[Principal, Depends(allow("jcp", "provider", "operations", "employer_brokerage"))]
Readers = Annotated[Principal, Depends(allow("jcp", "provider", "operations"))]
ClientActors = Annotated[Principal, Depends(allow("jcp", "provider"))]
Jcp = Annotated[Principal, Depends(allow("jcp"))]
ProviderOrJcp = Annotated[Principal, Depends(allow("provider", "jcp"))]


class ConsentBody(BaseModel):
    scopes: list[ConsentScope] = Field(min_length=1, max_length=3)  # one entry per scope


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

    @router.get("/providers", tags=["directory"], response_model=list[Provider])
    async def list_providers(_: Anyone) -> list[Provider]:
        return await store.providers()

    @router.post(
        "/referrals", tags=["referrals"], status_code=201, response_model=ReferralCreatedView
    )
    async def create_referral(
        body: NewReferral, principal: Jcp, request: Request
    ) -> ReferralCreatedView:
        referral = await commands.create_referral(
            store, principal, wrap(request), **body.model_dump()
        )
        return ReferralCreatedView(referral_id=referral.referral_id)

    @router.get("/referrals", tags=["referrals"], response_model=list[Referral])
    async def list_referrals(
        principal: Readers,
        status: Annotated[ReferralStatus | None, Query()] = None,
        client_id: EntityId | None = None,
    ) -> list[Referral]:
        return await commands.list_referrals(store, principal, status, client_id)

    @router.get("/referrals/{referral_id}", tags=["referrals"], response_model=Referral)
    async def get_referral(referral_id: EntityId, principal: Readers) -> Referral:
        return await commands.visible_referral(store, referral_id, principal)

    async def move(
        action: domain.Action,
        referral_id: str,
        principal: Principal,
        request: Request,
        note: str | None = None,
    ) -> Referral:
        return await commands.move_referral(
            store, principal, wrap(request), referral_id, action, note
        )

    @router.post("/referrals/{referral_id}/accept", tags=["referrals"], response_model=Referral)
    async def accept(referral_id: EntityId, principal: ProviderOrJcp, request: Request) -> Referral:
        return await move("accept", referral_id, principal, request)

    @router.post("/referrals/{referral_id}/reject", tags=["referrals"], response_model=Referral)
    async def reject(
        referral_id: EntityId, body: ReasonBody, principal: ProviderOrJcp, request: Request
    ) -> Referral:
        return await move("reject", referral_id, principal, request, body.reason)

    @router.post("/referrals/{referral_id}/start", tags=["referrals"], response_model=Referral)
    async def start(referral_id: EntityId, principal: ProviderOrJcp, request: Request) -> Referral:
        return await move("start", referral_id, principal, request)

    @router.post("/referrals/{referral_id}/complete", tags=["referrals"], response_model=Referral)
    async def complete(
        referral_id: EntityId, body: OutcomeBody, principal: ProviderOrJcp, request: Request
    ) -> Referral:
        return await move("complete", referral_id, principal, request, body.outcome)

    @router.post("/referrals/{referral_id}/drop-out", tags=["referrals"], response_model=Referral)
    async def drop_out(
        referral_id: EntityId, body: ReasonBody, principal: ProviderOrJcp, request: Request
    ) -> Referral:
        return await move("drop-out", referral_id, principal, request, body.reason)

    @router.post("/referrals/{referral_id}/withdraw", tags=["referrals"], response_model=Referral)
    async def withdraw(
        referral_id: EntityId, body: ReasonBody, principal: ProviderOrJcp, request: Request
    ) -> Referral:
        return await move("withdraw", referral_id, principal, request, body.reason)

    return router
