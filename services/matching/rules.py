"""The matching rules: hard gates first, then a weighted score whose every part is explained.

A match is proposed when every gate passes and the score reaches `MIN_SCORE`. The score is
`sum(weight * value)` over the factors below, so each reason says exactly what it contributed.
Change a weight or a gate and bump `RULES_VERSION`: every proposed match records the version
that scored it, so a score can always be explained by the rules that produced it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import BaseModel, Field

from schemas.matching import Reason
from schemas.types import (
    ConsentScopes,
    EntityId,
    Location,
    PartnershipId,
    PriorityGroups,
    QualificationLevel,
    Sectors,
    ShortText,
    Skills,
    Wards,
)

RULES_VERSION = "simple-2026.11.2"
MIN_SCORE = 0.5
LISTED_SKILLS_MAX_CHARS = 300
"""How much of an explanation may name matched skills; the rest are counted, not named."""

WEIGHTS = {
    "skills": 0.35,
    "desirable_skills": 0.10,
    "qualification": 0.15,
    "distance": 0.20,
    "hours": 0.10,
    "sector": 0.10,
}


class ClientProfile(BaseModel):
    """What matching knows of a job-ready client (from `referrals.client.job-ready`)."""

    client_id: EntityId
    skills: Skills
    qualification_level: QualificationLevel
    preferred_sectors: Sectors
    location: Location
    max_travel_km: float = Field(gt=0, le=200)
    available_hours_per_week: float = Field(gt=0, le=48)
    priority_groups: PriorityGroups
    ward: ShortText
    job_ready: bool = True
    partnership: PartnershipId | None = None
    consent_scopes: ConsentScopes | None = Field(
        default=None,
        description="The scopes in force; None when not known, as for a profile taken from the "
        "job-ready event alone, which implies `providers` consent (a provider assessed them).",
    )


class VacancySpec(BaseModel):
    """What matching knows of an open vacancy (from `vacancies.vacancy.scoped`)."""

    vacancy_id: EntityId
    employer_id: EntityId
    brokerage_id: EntityId
    title: ShortText
    sector: ShortText
    hours_per_week: float = Field(gt=0, le=48)
    location: Location
    required_skills: Skills
    desirable_skills: Skills
    min_qualification_level: QualificationLevel
    target_priority_groups: PriorityGroups = Field(default_factory=list)
    target_wards: Wards = Field(default_factory=list)
    open: bool = True
    partnership: PartnershipId | None = None


@dataclass(frozen=True)
class Evaluation:
    eligible: bool
    score: float
    reasons: list[Reason]
    failed_gate: str | None = None

    @property
    def proposable(self) -> bool:
        return self.eligible and self.score >= MIN_SCORE


def _norm(values: list[str]) -> set[str]:
    return {v.strip().casefold() for v in values}


def distance_km(a: Location, b: Location) -> float:
    """Great-circle distance: postcode-district centroids are all we hold, so it is approximate."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def _listing(names: list[str], budget: int = LISTED_SKILLS_MAX_CHARS) -> str:
    """Names, comma separated, as many as fit in `budget` characters; the rest counted.

    Keeps an explanation short whatever the skills: a reason is read by people, and it
    travels in `matching.match.proposed`, whose size is bounded.
    """
    shown: list[str] = []
    used = 0
    for name in names:
        cost = len(name) + (2 if shown else 0)
        if used + cost > budget:
            break
        shown.append(name)
        used += cost
    rest = len(names) - len(shown)
    if not shown:
        return f"{rest} too long to name"
    return ", ".join(shown) + (f" and {rest} more" if rest else "")


def _count_phrase(matched: list[str], wanted: list[str], kind: str) -> str:
    if not wanted:
        return f"no {kind} skills asked for"
    listed = f" ({_listing(matched)})" if matched else ""
    return f"has {len(matched)} of {len(wanted)} {kind} skills{listed}"


def _coverage(wanted: list[str], have: set[str]) -> tuple[float, list[str]]:
    wanted_n = _norm(wanted)
    if not wanted_n:
        return 1.0, []
    matched = sorted(wanted_n & have)
    return len(matched) / len(wanted_n), matched


def _reason(factor: str, value: float, explanation: str) -> Reason:
    return Reason(
        factor=factor,
        weight=WEIGHTS.get(factor, 0.0),
        value=round(value, 4),
        explanation=explanation,
    )


def _fail(gate: str) -> Evaluation:
    return Evaluation(eligible=False, score=0.0, reasons=[], failed_gate=gate)


def evaluate(client: ClientProfile, vacancy: VacancySpec) -> Evaluation:
    if not client.job_ready:
        return _fail("job_ready")
    if not vacancy.open:
        return _fail("vacancy_open")
    # Tenancy: a partnership's clients are matched with its own vacancies only. A client whose
    # partnership is not known yet matches no vacancy of a partnership.
    if client.partnership != vacancy.partnership:
        return _fail("partnership")
    # Without `providers` consent nobody may act on the client's behalf, so nothing is proposed
    # until it is recorded again (`employers` consent only governs what an employer sees).
    if client.consent_scopes is not None and "providers" not in client.consent_scopes:
        return _fail("consent")
    gate_reasons: list[Reason] = []
    # Targeted vacancies (e.g. a Public Service Compact for target wards) admit only their
    # groups. These reasons carry no weight and are never shown to an employer.
    if vacancy.target_priority_groups:
        shared = sorted(_norm(vacancy.target_priority_groups) & _norm(client.priority_groups))
        if not shared:
            return _fail("target_group")
        gate_reasons.append(
            _reason("target_group", 1.0, "in a priority group this vacancy targets")
        )
    if vacancy.target_wards:
        if client.ward.casefold() not in _norm(vacancy.target_wards):
            return _fail("target_ward")
        gate_reasons.append(_reason("target_ward", 1.0, "lives in a ward this vacancy targets"))
    if client.qualification_level < vacancy.min_qualification_level:
        return _fail("qualification")
    km = distance_km(client.location, vacancy.location)
    if km > client.max_travel_km:
        return _fail("distance")
    if vacancy.hours_per_week > client.available_hours_per_week:
        return _fail("hours")

    skills = _norm(client.skills)
    required, req_matched = _coverage(vacancy.required_skills, skills)
    desirable, des_matched = _coverage(vacancy.desirable_skills, skills)
    in_sector = vacancy.sector.casefold() in _norm(client.preferred_sectors)
    reasons = [
        _reason(
            "skills",
            required,
            _count_phrase(req_matched, vacancy.required_skills, "required"),
        ),
        _reason(
            "desirable_skills",
            desirable,
            _count_phrase(des_matched, vacancy.desirable_skills, "desirable"),
        ),
        _reason(
            "qualification",
            1.0,
            f"qualification level {client.qualification_level} meets the minimum "
            f"{vacancy.min_qualification_level}",
        ),
        _reason(
            "distance",
            1 - km / client.max_travel_km,
            f"{km:.1f} km away, within {client.max_travel_km:g} km the client can travel",
        ),
        _reason(
            "hours",
            vacancy.hours_per_week / client.available_hours_per_week,
            f"{vacancy.hours_per_week:g} hours a week of the "
            f"{client.available_hours_per_week:g} available",
        ),
        _reason(
            "sector",
            1.0 if in_sector else 0.0,
            f"{vacancy.sector} is {'a' if in_sector else 'not a'} preferred sector",
        ),
    ]
    score = round(sum(r.weight * r.value for r in reasons), 4)
    return Evaluation(eligible=True, score=score, reasons=reasons + gate_reasons)
