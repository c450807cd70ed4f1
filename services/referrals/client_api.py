"""HTTP routes for clients: map HTTP to a command (`client_commands.py`), nothing more."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from runtime.auth import allow
from runtime.events import Wrap, enveloper
from runtime.principal import Principal
from schemas.types import ConsentScope, EntityId, ShortText
from services.referrals import client_commands as commands
from services.referrals.clients import Assessment, Client
from services.referrals.store import ReferralsStore

SOURCE = "/services/referrals"

Readers = Annotated[Principal, Depends(allow("jcp", "provider", "operations"))]
ClientActors = Annotated[Principal, Depends(allow("jcp", "provider"))]


class ConsentBody(BaseModel):
    scopes: list[ConsentScope] = Field(min_length=1, max_length=3)  # one entry per scope


class ConsentView(BaseModel):
    client_id: str
    consent_scopes: list[ConsentScope]


class JobReadyView(BaseModel):
    client_id: str
    job_ready: bool


def build_client_router(store: ReferralsStore, client_id_key: str) -> APIRouter:
    router = APIRouter()

    def wrap(request: Request) -> Wrap:
        return enveloper(SOURCE, correlationid=request.state.correlation_id)

    @router.get("/clients", tags=["clients"], response_model=list[Client])
    async def find_clients(principal: Readers, claimant_ref: ShortText) -> list[Client]:
        return await commands.find_clients(store, principal, claimant_ref, client_id_key)

    @router.get("/clients/{client_id}", tags=["clients"], response_model=Client)
    async def get_client(client_id: EntityId, principal: Readers) -> Client:
        client, _ = await commands.visible_client(store, client_id, principal)
        return client

    @router.post("/clients/{client_id}/consent", tags=["clients"], response_model=ConsentView)
    async def record_consent(
        client_id: EntityId, body: ConsentBody, principal: ClientActors, request: Request
    ) -> ConsentView:
        client = await commands.record_consent(
            store, principal, wrap(request), client_id, body.scopes
        )
        return ConsentView(client_id=client_id, consent_scopes=client.consent_scopes)

    @router.post(
        "/clients/{client_id}/consent/withdraw", tags=["clients"], response_model=ConsentView
    )
    async def withdraw_consent(
        client_id: EntityId, body: ConsentBody, principal: ClientActors, request: Request
    ) -> ConsentView:
        client = await commands.record_consent(
            store, principal, wrap(request), client_id, body.scopes, withdraw=True
        )
        return ConsentView(client_id=client_id, consent_scopes=client.consent_scopes)

    @router.put("/clients/{client_id}/assessment", tags=["clients"])
    async def record_assessment(
        client_id: EntityId, body: Assessment, principal: ClientActors, request: Request
    ) -> dict[str, object]:
        client = await commands.record_assessment(store, principal, wrap(request), client_id, body)
        return {
            "client_id": client_id,
            "assessment": client.assessment,
            "job_ready": client.job_ready,
        }

    @router.post("/clients/{client_id}/job-ready", tags=["clients"], response_model=JobReadyView)
    async def mark_job_ready(
        client_id: EntityId, principal: ClientActors, request: Request
    ) -> JobReadyView:
        client = await commands.mark_job_ready(store, principal, wrap(request), client_id)
        return JobReadyView(client_id=client_id, job_ready=client.job_ready)

    return router
