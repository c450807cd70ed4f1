"""HTTP routes of the vacancies service."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from runtime.clock import Clock, SystemClock
from runtime.errors import NotFound
from runtime.events import Wrap, enveloper
from runtime.ids import new_id
from runtime.principal import Principal
from schemas.base import EventData
from schemas.types import EntityId, Location, ShortText, VacancyStatus
from schemas.vacancies import MAX_POSITIONS
from schemas.visibility import employer_view_of_match
from services.vacancies import commands, domain
from services.vacancies.access import Caller, vacancy_for
from services.vacancies.domain import MAX_DESCRIPTION, PersonSpecification, Vacancy
from services.vacancies.store import VacanciesStore

SOURCE = "/services/vacancies"


class NewVacancy(BaseModel):
    employer_id: EntityId
    title: ShortText
    sector: ShortText
    positions: int = Field(ge=1, le=MAX_POSITIONS)
    hours_per_week: float = Field(gt=0, le=48)
    location: Location
    closing_date: date
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)


class VacancyCreated(BaseModel):
    vacancy_id: str
    status: VacancyStatus = "posted"


class CloseBody(BaseModel):
    reason: ShortText


class NewPlacement(BaseModel):
    client_id: EntityId
    start_date: date
    hours_per_week: float = Field(gt=0, le=48)


class PlacementCreated(BaseModel):
    placement_id: str


class EndPlacement(BaseModel):
    end_date: date
    reason: ShortText


def build_router(store: VacanciesStore, clock: Clock | None = None) -> APIRouter:
    clock = clock or SystemClock()
    router = APIRouter(tags=["vacancies"])

    def wrap(request: Request) -> Wrap:
        return enveloper(SOURCE, correlationid=request.state.correlation_id)

    async def visible(vacancy_id: EntityId, principal: Principal) -> Vacancy:
        """The vacancy, or 404 when it is unknown or outside what the caller may see (another
        partnership's, another brokerage's): the two are indistinguishable on purpose."""
        loaded = await store.vacancies.get(vacancy_id)
        if loaded is None or not domain.may_see_vacancy(principal, loaded.aggregate):
            raise NotFound("no such vacancy")
        return loaded.aggregate

    async def managed(
        vacancy_id: EntityId,
        principal: Principal,
        request: Request,
        change: Callable[[Vacancy], Sequence[EventData]],
    ) -> Vacancy:
        vacancy = await visible(vacancy_id, principal)
        if not domain.may_manage_vacancy(principal, vacancy):
            raise NotFound("no such vacancy")
        return await store.vacancies.mutate({"_id": vacancy_id}, change, wrap(request))

    @router.post("/vacancies", status_code=201, response_model=VacancyCreated)
    async def post_vacancy(body: NewVacancy, principal: Caller, request: Request) -> VacancyCreated:
        now = clock.now()
        vacancy, events = Vacancy.post(
            new_id("VAC"),
            principal.org_id,
            now,
            partnership=principal.partnership,
            **body.model_dump(),
        )
        await store.register_employer(principal.org_id, body.employer_id, now)
        await store.vacancies.add(vacancy, wrap(request)(events))
        return VacancyCreated(vacancy_id=vacancy.vacancy_id)

    @router.get("/vacancies", response_model=list[Vacancy])
    async def list_vacancies(
        principal: Caller, status: VacancyStatus | None = None
    ) -> list[Vacancy]:
        found = await store.vacancies.find(
            domain.vacancy_query(principal, status), sort=[("posted_at", -1)], limit=500
        )
        return [vacancy_for(principal, v) for v in found]

    @router.get("/vacancies/{vacancy_id}", response_model=Vacancy)
    async def get_vacancy(vacancy_id: EntityId, principal: Caller) -> Vacancy:
        return vacancy_for(principal, await visible(vacancy_id, principal))

    @router.put("/vacancies/{vacancy_id}/scope", response_model=Vacancy)
    async def scope(
        vacancy_id: EntityId, body: PersonSpecification, principal: Caller, request: Request
    ) -> Vacancy:
        return await managed(vacancy_id, principal, request, lambda v: v.scope(body))

    @router.post("/vacancies/{vacancy_id}/close", response_model=Vacancy)
    async def close(
        vacancy_id: EntityId, body: CloseBody, principal: Caller, request: Request
    ) -> Vacancy:
        return await managed(vacancy_id, principal, request, lambda v: v.close(body.reason))

    @router.get("/vacancies/{vacancy_id}/shortlist")
    async def shortlist(vacancy_id: EntityId, principal: Caller) -> list[dict[str, Any]]:
        """Proposed matches, best first; an employer brokerage sees them reduced."""
        await visible(vacancy_id, principal)
        matches = await store.shortlist(vacancy_id)
        if not principal.is_("employer_brokerage"):
            return matches
        candidates = await store.candidates([m["client_id"] for m in matches])
        views = []
        for match in matches:
            candidate = candidates.get(match["client_id"], {})
            views.append(
                employer_view_of_match(
                    match,
                    employers_consent="employers" in candidate.get("consent_scopes", []),
                    profile=candidate.get("profile"),
                )
            )
        return views

    @router.post(
        "/vacancies/{vacancy_id}/placements", status_code=201, response_model=PlacementCreated
    )
    async def place(
        vacancy_id: EntityId, body: NewPlacement, principal: Caller, request: Request
    ) -> PlacementCreated:
        vacancy = await visible(vacancy_id, principal)
        if not domain.may_manage_vacancy(principal, vacancy):
            raise NotFound("no such vacancy")
        placement_id = await commands.place(
            store,
            vacancy_id,
            body.client_id,
            body.start_date,
            body.hours_per_week,
            clock.now(),
            wrap(request),
        )
        return PlacementCreated(placement_id=placement_id)

    @router.post("/vacancies/{vacancy_id}/placements/{placement_id}/end", response_model=Vacancy)
    async def end_placement(
        vacancy_id: EntityId,
        placement_id: EntityId,
        body: EndPlacement,
        principal: Caller,
        request: Request,
    ) -> Vacancy:
        return await managed(
            vacancy_id,
            principal,
            request,
            lambda v: v.end_placement(placement_id, body.end_date, body.reason),
        )

    return router
