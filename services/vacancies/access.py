"""Who may call each endpoint of the vacancies service (see `runtime/access.py`), and what a
provider may read of a vacancy.

An employer brokerage reaches only its own vacancies and their submissions and placements.
Providers read the partnership's vacancies (they prepare clients for them) but neither the
shortlist, which names other providers' clients and why they were ranked, nor the placements of
clients they do not lead: their own clients' matches are at the matching service's
`GET /matches?client_id=`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from runtime.access import RUNTIME_RULES, AccessTable, caller, rule
from runtime.principal import Principal
from schemas.visibility import employer_end_reason
from services.vacancies.domain import Vacancy

BROKERAGE = ("employer_brokerage",)

ACCESS: AccessTable = {
    ("POST", "/vacancies"): rule("employer_brokerage", own_org=BROKERAGE),
    ("GET", "/vacancies"): rule(
        "employer_brokerage",
        "jcp",
        "provider",
        "operations",
        own_org=BROKERAGE,
        note="a provider sees only placements of clients it leads",
    ),
    ("GET", "/vacancies/{vacancy_id}"): rule(
        "employer_brokerage",
        "jcp",
        "provider",
        "operations",
        own_org=BROKERAGE,
        note="a provider sees only placements of clients it leads",
    ),
    ("PUT", "/vacancies/{vacancy_id}/scope"): rule("employer_brokerage", own_org=BROKERAGE),
    ("POST", "/vacancies/{vacancy_id}/close"): rule("employer_brokerage", own_org=BROKERAGE),
    ("GET", "/vacancies/{vacancy_id}/shortlist"): rule(
        "employer_brokerage",
        "jcp",
        "operations",
        own_org=BROKERAGE,
        consent="employers",
        note="an employer brokerage sees candidates reduced (schemas/visibility.py)",
    ),
    ("POST", "/vacancies/{vacancy_id}/placements"): rule("employer_brokerage", own_org=BROKERAGE),
    ("POST", "/vacancies/{vacancy_id}/placements/{placement_id}/end"): rule(
        "employer_brokerage", own_org=BROKERAGE
    ),
    ("POST", "/vacancies/{vacancy_id}/submissions"): rule(
        "employer_brokerage", own_org=BROKERAGE, consent="employers"
    ),
    ("GET", "/vacancies/{vacancy_id}/submissions"): rule(
        "employer_brokerage", "jcp", "operations", own_org=BROKERAGE
    ),
    ("GET", "/submissions/{submission_id}"): rule(
        "employer_brokerage", "jcp", "operations", own_org=BROKERAGE
    ),
    **{
        ("POST", f"/submissions/{{submission_id}}/{step}"): rule(
            "employer_brokerage", own_org=BROKERAGE
        )
        for step in ("interview", "work-trial", "outcome", "accept")
    },
    **RUNTIME_RULES,
}

Caller = Annotated[Principal, Depends(caller(ACCESS))]


def vacancy_for(principal: Principal, vacancy: Vacancy) -> Vacancy:
    """The vacancy as the caller may read it: a provider sees the placements of the clients it
    leads (the one provider each placement credits) and no other client's."""
    if principal.is_("employer_brokerage"):
        # How a placement ended can say the client claimed benefit again: a neutral end.
        placements = [
            p.model_copy(update={
                "end_reason": employer_end_reason(p.end_reason),
                "revolving_door": None,
                "reclaim_date": None,
            })
            for p in vacancy.placements
        ]  # fmt: skip
        return vacancy.model_copy(update={"placements": placements})
    if not principal.is_("provider"):
        return vacancy
    mine = [p for p in vacancy.placements if p.lead_provider_id == principal.org_id]
    return vacancy.model_copy(update={"placements": mine})
