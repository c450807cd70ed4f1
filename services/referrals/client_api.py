"""HTTP routes for clients: map HTTP to a command (`client_commands.py`), nothing more."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from runtime.clock import Clock
from runtime.events import Wrap, enveloper
from schemas.types import Code, ConsentScope, EntityId, ShortText
from services.referrals import client_commands as commands
from services.referrals.access import Caller
from services.referrals.client_commands import ClientView, ConsentLedger
from services.referrals.clients import PLAN_ITEMS_MAX, ActionPlan, Assessment, PlanItem
from services.referrals.store import ReferralsStore

SOURCE = "/services/referrals"


class ConsentBody(BaseModel):
    scopes: list[ConsentScope] = Field(min_length=1, max_length=3)  # one entry per scope


class NewConsentBody(ConsentBody):
    form_version: Code | None = Field(
        default=None, description="The version of the consent form the client signed."
    )
    expires: date | None = Field(
        default=None, description="The last day the consent holds (today or later)."
    )


class ConsentView(BaseModel):
    client_id: str
    consent_scopes: list[ConsentScope]


class JobReadyView(BaseModel):
    client_id: str
    job_ready: bool


class ActionPlanBody(BaseModel):
    items: list[PlanItem] = Field(max_length=PLAN_ITEMS_MAX)


class ActionPlanView(BaseModel):
    client_id: str
    action_plan: ActionPlan | None


def build_client_router(store: ReferralsStore, client_id_key: str, clock: Clock) -> APIRouter:
    """`clock` is the service's (movable in demonstrations, `runtime/clock.py`)."""
    router = APIRouter()
    time = clock

    def wrap(request: Request) -> Wrap:
        return enveloper(SOURCE, correlationid=request.state.correlation_id)

    @router.get("/clients", tags=["clients"], response_model=list[ClientView])
    async def find_clients(principal: Caller, claimant_ref: ShortText) -> list[ClientView]:
        return await commands.find_clients(store, principal, claimant_ref, client_id_key)

    @router.get("/clients/{client_id}", tags=["clients"], response_model=ClientView)
    async def get_client(client_id: EntityId, principal: Caller) -> ClientView:
        return await commands.read_client(store, principal, client_id)

    @router.post("/clients/{client_id}/consent", tags=["clients"], response_model=ConsentView)
    async def record_consent(
        client_id: EntityId, body: NewConsentBody, principal: Caller, request: Request
    ) -> ConsentView:
        client = await commands.record_consent(
            store,
            principal,
            wrap(request),
            time.now(),
            client_id,
            body.scopes,
            form_version=body.form_version,
            expires=body.expires,
        )
        return ConsentView(client_id=client_id, consent_scopes=client.consent_scopes)

    @router.post(
        "/clients/{client_id}/consent/withdraw", tags=["clients"], response_model=ConsentView
    )
    async def withdraw_consent(
        client_id: EntityId, body: ConsentBody, principal: Caller, request: Request
    ) -> ConsentView:
        client = await commands.withdraw_consent(
            store, principal, wrap(request), time.now(), client_id, body.scopes
        )
        return ConsentView(client_id=client_id, consent_scopes=client.consent_scopes)

    @router.get("/clients/{client_id}/consent", tags=["clients"], response_model=ConsentLedger)
    async def consent_ledger(client_id: EntityId, principal: Caller) -> ConsentLedger:
        return await commands.consent_ledger(store, principal, client_id)

    @router.put("/clients/{client_id}/assessment", tags=["clients"])
    async def record_assessment(
        client_id: EntityId, body: Assessment, principal: Caller, request: Request
    ) -> dict[str, object]:
        client = await commands.record_assessment(
            store, principal, wrap(request), time.now(), client_id, body
        )
        return {
            "client_id": client_id,
            "assessment": client.assessment,
            "job_ready": client.job_ready,
        }

    @router.post("/clients/{client_id}/job-ready", tags=["clients"], response_model=JobReadyView)
    async def mark_job_ready(
        client_id: EntityId, principal: Caller, request: Request
    ) -> JobReadyView:
        client = await commands.mark_job_ready(store, principal, wrap(request), client_id)
        return JobReadyView(client_id=client_id, job_ready=client.job_ready)

    @router.put("/clients/{client_id}/action-plan", tags=["clients"], response_model=ActionPlanView)
    async def agree_action_plan(
        client_id: EntityId, body: ActionPlanBody, principal: Caller, request: Request
    ) -> ActionPlanView:
        plan = await commands.agree_action_plan(
            store, principal, wrap(request), time.now(), client_id, body.items
        )
        return ActionPlanView(client_id=client_id, action_plan=plan)

    @router.get("/clients/{client_id}/action-plan", tags=["clients"], response_model=ActionPlanView)
    async def read_action_plan(client_id: EntityId, principal: Caller) -> ActionPlanView:
        plan = await commands.read_action_plan(store, principal, client_id)
        return ActionPlanView(client_id=client_id, action_plan=plan)

    return router
