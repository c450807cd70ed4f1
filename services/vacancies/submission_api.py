"""HTTP routes of submissions: employer brokerage puts matched clients forward, records
interviews, work trials and outcomes, and turns an accepted offer into a placement."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import AwareDatetime, BaseModel, Field

from runtime.clock import Clock
from runtime.errors import NotFound
from runtime.events import Wrap, enveloper
from runtime.principal import Principal
from schemas.types import EntityId
from services.vacancies import commands, domain
from services.vacancies.access import Caller
from services.vacancies.store import VacanciesStore
from services.vacancies.submissions import Submission, may_manage_submission, may_see_submission
from services.vacancies.sustainment import SOURCE


class NewSubmission(BaseModel):
    match_id: EntityId


class SubmissionCreated(BaseModel):
    submission_id: str
    status: Literal["submitted"] = "submitted"


class InterviewBody(BaseModel):
    at: AwareDatetime


class WorkTrialBody(BaseModel):
    start: date


class OutcomeBody(BaseModel):
    outcome: Literal["offer", "no-offer", "no-show", "left-early", "declined"]


class AcceptBody(BaseModel):
    start_date: date
    hours_per_week: float = Field(gt=0, le=48)


class PlacementCreated(BaseModel):
    placement_id: str


def build_submission_router(store: VacanciesStore, clock: Clock) -> APIRouter:
    router = APIRouter(tags=["submissions"])

    def wrap(request: Request) -> Wrap:
        return enveloper(SOURCE, correlationid=request.state.correlation_id)

    async def visible(submission_id: EntityId, principal: Principal) -> Submission:
        loaded = await store.submissions.get(submission_id)
        if loaded is None or not may_see_submission(principal, loaded.aggregate):
            raise NotFound("no such submission")
        return loaded.aggregate

    async def managed(submission_id: EntityId, principal: Principal) -> Submission:
        submission = await visible(submission_id, principal)
        if not may_manage_submission(principal, submission):
            raise NotFound("no such submission")
        return submission

    async def move(
        submission_id: EntityId, principal: Principal, request: Request, action: str, **kw: object
    ) -> Submission:
        await managed(submission_id, principal)
        return await commands.move(store, submission_id, action, clock.now(), wrap(request), **kw)

    @router.post(
        "/vacancies/{vacancy_id}/submissions", status_code=201, response_model=SubmissionCreated
    )
    async def submit(
        vacancy_id: EntityId, body: NewSubmission, principal: Caller, request: Request
    ) -> SubmissionCreated:
        loaded = await store.vacancies.get(vacancy_id)
        if loaded is None or not domain.may_manage_vacancy(principal, loaded.aggregate):
            raise NotFound("no such vacancy")
        submission = await commands.submit(
            store, loaded.aggregate, body.match_id, clock.now(), wrap(request)
        )
        return SubmissionCreated(submission_id=submission.submission_id)

    @router.get("/vacancies/{vacancy_id}/submissions", response_model=list[Submission])
    async def list_submissions(vacancy_id: EntityId, principal: Caller) -> list[Submission]:
        loaded = await store.vacancies.get(vacancy_id)
        if loaded is None or not domain.may_see_vacancy(principal, loaded.aggregate):
            raise NotFound("no such vacancy")
        return await store.submissions_of_vacancy(vacancy_id)

    @router.get("/submissions/{submission_id}", response_model=Submission)
    async def get_submission(submission_id: EntityId, principal: Caller) -> Submission:
        return await visible(submission_id, principal)

    @router.post("/submissions/{submission_id}/interview", response_model=Submission)
    async def interview(
        submission_id: EntityId, body: InterviewBody, principal: Caller, request: Request
    ) -> Submission:
        return await move(submission_id, principal, request, "interview", interview_at=body.at)

    @router.post("/submissions/{submission_id}/work-trial")
    async def work_trial(
        submission_id: EntityId, body: WorkTrialBody, principal: Caller, request: Request
    ) -> dict[str, Any]:
        """The submission, answering the trial's `end` (15 working days from `start`)."""
        moved = await move(submission_id, principal, request, "work-trial", start=body.start)
        return {**moved.model_dump(mode="json"), "end": moved.work_trial_end}

    @router.post("/submissions/{submission_id}/outcome", response_model=Submission)
    async def outcome(
        submission_id: EntityId, body: OutcomeBody, principal: Caller, request: Request
    ) -> Submission:
        return await move(submission_id, principal, request, body.outcome)

    @router.post(
        "/submissions/{submission_id}/accept", status_code=201, response_model=PlacementCreated
    )
    async def accept(
        submission_id: EntityId, body: AcceptBody, principal: Caller, request: Request
    ) -> PlacementCreated:
        submission = await managed(submission_id, principal)
        placement_id = await commands.accept(
            store, submission, body.start_date, body.hours_per_week, clock.now(), wrap(request)
        )
        return PlacementCreated(placement_id=placement_id)

    return router
