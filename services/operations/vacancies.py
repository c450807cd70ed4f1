"""What the operations team needs of a vacancy to count by sector and partnership. Pure."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from runtime.handlers import Apply
from schemas import vacancies
from schemas.base import EventData
from schemas.envelope import CloudEvent


class VacancyView(BaseModel):
    vacancy_id: str
    sector: str | None = None
    partnership: str | None = None
    brokerage_id: str | None = None


def _describe(view: VacancyView | None, d: Any, e: CloudEvent) -> tuple[VacancyView, list]:
    view = view or VacancyView(vacancy_id=d.vacancy_id)
    view.sector = d.sector
    view.partnership = d.partnership or view.partnership
    view.brokerage_id = d.brokerage_id
    return view, []


def vacancy_handlers() -> dict[type[EventData], Apply[VacancyView]]:
    return {
        model: Apply(aggregate_id=lambda d: d.vacancy_id, apply=_describe)
        for model in (vacancies.VacancyPosted, vacancies.VacancyScoped)
    }
