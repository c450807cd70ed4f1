"""HTTP routes for referrals and the directory: map HTTP to a command (`commands.py`), no more."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from runtime.clock import Clock
from runtime.events import Wrap, enveloper
from runtime.principal import Principal
from schemas.types import EntityId, ReferralStatus, ShortText
from services.referrals import commands, domain
from services.referrals.access import Caller
from services.referrals.directory import ProgrammeBody, ProviderView
from services.referrals.domain import Referral
from services.referrals.store import ReferralsStore

SOURCE = "/services/referrals"


class NewReferral(BaseModel):
    client_id: EntityId
    provider_id: EntityId
    programme: ShortText
    reason: ShortText
    lead: bool | None = Field(
        default=None,
        description="Whether this provider becomes the client's case owner. Omitted: yes when "
        "the client has no active lead referral.",
    )


class ReferralCreatedView(BaseModel):
    referral_id: str
    status: Literal["created", "on-hold"] = "created"
    lead: bool


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    reason: ShortText = Field(
        description="A reason code (see ReasonCode). Anything else is kept as the note, with "
        "code `other`."
    )
    note: str | None = Field(default=None, max_length=domain.MAX_NOTE)


class OutcomeBody(BaseModel):
    outcome: ShortText = "completed"


class CapacityBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    available: int = Field(ge=0, le=100_000)


def build_router(store: ReferralsStore, clock: Clock) -> APIRouter:
    router = APIRouter()

    def wrap(request: Request) -> Wrap:
        return enveloper(SOURCE, correlationid=request.state.correlation_id)

    @router.get("/providers", tags=["directory"], response_model=list[ProviderView])
    async def list_providers(_: Caller) -> list[ProviderView]:
        return [ProviderView.of(p) for p in await commands.providers(store)]

    @router.get("/providers/{provider_id}", tags=["directory"], response_model=ProviderView)
    async def get_provider(provider_id: EntityId, _: Caller) -> ProviderView:
        return ProviderView.of(await commands.provider(store, provider_id))

    @router.put(
        "/providers/{provider_id}/programmes/{programme_id}",
        tags=["directory"],
        response_model=ProviderView,
    )
    async def put_programme(
        provider_id: EntityId,
        programme_id: EntityId,
        body: ProgrammeBody,
        principal: Caller,
        request: Request,
    ) -> ProviderView:
        provider = await commands.put_programme(
            store, principal, wrap(request), clock.now(), provider_id, programme_id, body
        )
        return ProviderView.of(provider)

    @router.patch(
        "/providers/{provider_id}/programmes/{programme_id}/capacity",
        tags=["directory"],
        response_model=ProviderView,
    )
    async def set_capacity(
        provider_id: EntityId,
        programme_id: EntityId,
        body: CapacityBody,
        principal: Caller,
        request: Request,
    ) -> ProviderView:
        provider = await commands.set_capacity(
            store, principal, wrap(request), clock.now(), provider_id, programme_id, body.available
        )
        return ProviderView.of(provider)

    @router.post(
        "/referrals",
        tags=["referrals"],
        status_code=201,
        response_model=ReferralCreatedView,
        responses={
            409: {"description": "A duplicate active referral, a second lead, no `providers` "
                  "consent, or `{\"error\": \"no-capacity\"}` when the programme is full and "
                  "refuses."},
            422: {"description": "`{\"error\": \"ineligible\", \"rules\": [{\"rule\", "
                  "\"explanation\"}]}` naming every failing rule, or an invalid body."},
        },
    )  # fmt: skip
    async def create_referral(
        body: NewReferral, principal: Caller, request: Request
    ) -> ReferralCreatedView:
        referral = await commands.create_referral(
            store, principal, wrap(request), clock.now(), **body.model_dump()
        )
        return ReferralCreatedView(
            referral_id=referral.referral_id,
            status=referral.status,  # type: ignore[arg-type]
            lead=referral.lead,
        )

    @router.get("/referrals", tags=["referrals"], response_model=list[Referral])
    async def list_referrals(
        principal: Caller,
        status: Annotated[ReferralStatus | None, Query()] = None,
        client_id: EntityId | None = None,
    ) -> list[Referral]:
        return await commands.list_referrals(store, principal, status, client_id)

    @router.get("/referrals/{referral_id}", tags=["referrals"], response_model=Referral)
    async def get_referral(referral_id: EntityId, principal: Caller) -> Referral:
        return await commands.visible_referral(store, referral_id, principal)

    async def move(
        action: domain.Action,
        referral_id: str,
        principal: Principal,
        request: Request,
        body: ReasonBody | None = None,
        outcome: str | None = None,
    ) -> Referral:
        reason, note = domain.parse_reason(body.reason, body.note) if body else (None, None)
        return await commands.move_referral(
            store,
            principal,
            wrap(request),
            clock.now(),
            referral_id,
            action,
            reason=reason,
            note=note,
            outcome=outcome,
        )

    @router.post("/referrals/{referral_id}/accept", tags=["referrals"], response_model=Referral)
    async def accept(referral_id: EntityId, principal: Caller, request: Request) -> Referral:
        return await move("accept", referral_id, principal, request)

    @router.post("/referrals/{referral_id}/reject", tags=["referrals"], response_model=Referral)
    async def reject(
        referral_id: EntityId, body: ReasonBody, principal: Caller, request: Request
    ) -> Referral:
        return await move("reject", referral_id, principal, request, body)

    @router.post("/referrals/{referral_id}/start", tags=["referrals"], response_model=Referral)
    async def start(referral_id: EntityId, principal: Caller, request: Request) -> Referral:
        return await move("start", referral_id, principal, request)

    @router.post("/referrals/{referral_id}/complete", tags=["referrals"], response_model=Referral)
    async def complete(
        referral_id: EntityId, body: OutcomeBody, principal: Caller, request: Request
    ) -> Referral:
        return await move("complete", referral_id, principal, request, outcome=body.outcome)

    @router.post("/referrals/{referral_id}/drop-out", tags=["referrals"], response_model=Referral)
    async def drop_out(
        referral_id: EntityId, body: ReasonBody, principal: Caller, request: Request
    ) -> Referral:
        return await move("drop-out", referral_id, principal, request, body)

    @router.post(
        "/referrals/{referral_id}/did-not-start", tags=["referrals"], response_model=Referral
    )
    async def did_not_start(
        referral_id: EntityId, body: ReasonBody, principal: Caller, request: Request
    ) -> Referral:
        return await move("did-not-start", referral_id, principal, request, body)

    @router.post("/referrals/{referral_id}/withdraw", tags=["referrals"], response_model=Referral)
    async def withdraw(
        referral_id: EntityId, body: ReasonBody, principal: Caller, request: Request
    ) -> Referral:
        return await move("withdraw", referral_id, principal, request, body)

    return router
