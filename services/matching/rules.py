"""The matching rules: named gates first, then a weighted score whose every part is explained.

A pair is eligible when every gate passes and the score reaches `MIN_SCORE`; which eligible
pairs become shortlists is the allocation's business (`allocation.py`). The score is
`sum(weight * value)` over the factors, so each reason says exactly what it contributed.
Change a weight or a gate and bump `RULES_VERSION`: every match records the version that scored
it, so a score can always be explained by the rules that produced it.

Two entry points share one computation (`_assess`): `score` for the allocation's hot path (a
gate name or a number, nothing built) and `evaluate` for the explanation of a pair that is
proposed. Skills and sectors are compared through `vocabulary` (case, spacing, plurals,
synonyms); `Client.of` / `Vacancy.of` do that once per profile, not once per pair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

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
    SkillsForLifeLevel,
    Wards,
)
from services.matching.vocabulary import canonical, canonical_set

RULES_VERSION = "engine-2026.11.3"
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

GATES = (
    "in_work",
    "blocking_barrier",
    "job_ready",
    "consent",
    "vacancy_open",
    "partnership",
    "target",
    "qualification",
    "literacy",
    "numeracy",
    "distance",
    "hours",
    "min_score",
)
"""Every gate, in the order they are checked (the contract's list, plus tenancy and the
minimum score). The first that fails names the evaluation's `failed_gate`."""

SKILLS_FOR_LIFE = ("entry_1", "entry_2", "entry_3", "level_1", "level_2")
_SFL_RANK = {level: n for n, level in enumerate(SKILLS_FOR_LIFE)}


class ClientProfile(BaseModel):
    """What matching knows of a client (from `referrals.client.*` and placements)."""

    client_id: EntityId
    skills: Skills
    qualification_level: QualificationLevel
    literacy: SkillsForLifeLevel | None = None
    numeracy: SkillsForLifeLevel | None = None
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
    blocking_barriers: int = 0
    in_work: bool = False
    completed_programmes: list[ShortText] = Field(default_factory=list, max_length=100)


class VacancySpec(BaseModel):
    """What matching knows of a vacancy (from `vacancies.vacancy.scoped` and its lifecycle)."""

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
    status: ShortText = "open"
    partnership: PartnershipId | None = None
    positions: int = Field(default=1, ge=1)
    positions_left: int | None = Field(default=None, ge=0)
    shortlist_size: int | None = Field(default=None, ge=1)
    min_literacy: SkillsForLifeLevel | None = None
    min_numeracy: SkillsForLifeLevel | None = None
    routeway: EntityId | None = None

    @property
    def capacity(self) -> int:
        """Live candidates at most: the scoped size, else 3 per position (left)."""
        if self.shortlist_size is not None:
            return self.shortlist_size
        left = self.positions if self.positions_left is None else self.positions_left
        return 3 * max(left, 1)


@dataclass(frozen=True, slots=True)
class Client:
    """A client's facts in the form the rules compare, normalised once."""

    client_id: str
    partnership: str | None
    eligible_gate: str | None  # the first client-only gate that fails, None when all pass
    skills: frozenset[str]
    sectors: frozenset[str]
    qualification: int
    literacy: int
    numeracy: int
    lat: float
    lon: float
    max_travel_km: float
    hours: float
    groups: frozenset[str]
    ward: str
    programmes: frozenset[str]

    @classmethod
    def of(cls, p: ClientProfile) -> Client:
        gate = None
        if p.in_work:
            gate = "in_work"
        elif p.blocking_barriers > 0:
            gate = "blocking_barrier"
        elif not p.job_ready:
            gate = "job_ready"
        elif p.consent_scopes is not None and "providers" not in p.consent_scopes:
            gate = "consent"
        return cls(
            client_id=p.client_id,
            partnership=p.partnership,
            eligible_gate=gate,
            skills=canonical_set(p.skills),
            sectors=canonical_set(p.preferred_sectors),
            qualification=p.qualification_level,
            # Unknown levels (a profile from before levels were sent) pass only no minimum.
            literacy=_SFL_RANK.get(p.literacy or "", -1),
            numeracy=_SFL_RANK.get(p.numeracy or "", -1),
            lat=p.location.lat,
            lon=p.location.lon,
            max_travel_km=p.max_travel_km,
            hours=p.available_hours_per_week,
            groups=frozenset(p.priority_groups),
            ward=p.ward.casefold(),
            programmes=frozenset(p.completed_programmes),
        )


@dataclass(frozen=True, slots=True)
class Vacancy:
    vacancy_id: str
    partnership: str | None
    open: bool
    required: frozenset[str]
    desirable: frozenset[str]
    sector: str
    min_qualification: int
    min_literacy: int
    min_numeracy: int
    lat: float
    lon: float
    hours: float
    target_groups: frozenset[str]
    target_wards: frozenset[str]
    routeway: str | None
    capacity: int
    required_labels: tuple[str, ...] = field(default=())
    desirable_labels: tuple[str, ...] = field(default=())

    @classmethod
    def of(cls, s: VacancySpec) -> Vacancy:
        return cls(
            vacancy_id=s.vacancy_id,
            partnership=s.partnership,
            open=s.open and s.status in ("open", "partly-filled"),
            required=canonical_set(s.required_skills),
            desirable=canonical_set(s.desirable_skills),
            sector=canonical(s.sector),
            min_qualification=s.min_qualification_level,
            min_literacy=_SFL_RANK.get(s.min_literacy or "", -1),
            min_numeracy=_SFL_RANK.get(s.min_numeracy or "", -1),
            lat=s.location.lat,
            lon=s.location.lon,
            hours=s.hours_per_week,
            target_groups=frozenset(s.target_priority_groups),
            target_wards=frozenset(w.casefold() for w in s.target_wards),
            routeway=s.routeway,
            capacity=s.capacity,
            required_labels=tuple(sorted(canonical_set(s.required_skills))),
            desirable_labels=tuple(sorted(canonical_set(s.desirable_skills))),
        )


@dataclass(frozen=True)
class Evaluation:
    eligible: bool
    score: float
    reasons: list[Reason]
    failed_gate: str | None = None
    priority: bool = False  # completed the vacancy's routeway: ranks first

    @property
    def proposable(self) -> bool:
        return self.eligible and self.score >= MIN_SCORE


_EARTH_KM = 6371.0
_RAD = math.pi / 180


def distance_km(a: Location, b: Location) -> float:
    """Great-circle distance: postcode-district centroids are all we hold, so it is approximate."""
    return _haversine(a.lat, a.lon, b.lat, b.lon)


def _haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = lat1 * _RAD, lat2 * _RAD
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin((lon2 - lon1) * _RAD / 2) ** 2
    )
    return 2 * _EARTH_KM * math.asin(math.sqrt(min(1.0, h)))


@dataclass(frozen=True, slots=True)
class _Assessed:
    gate: str | None
    km: float = 0.0
    required: float = 0.0
    desirable: float = 0.0
    in_sector: bool = False
    score: float = 0.0


def _assess(c: Client, v: Vacancy) -> _Assessed:
    """Every gate in `GATES` order, then the factor values and their weighted sum."""
    if c.eligible_gate is not None:
        return _Assessed(c.eligible_gate)
    if not v.open:
        return _Assessed("vacancy_open")
    # Tenancy: a partnership's clients are matched with its own vacancies only.
    if c.partnership != v.partnership:
        return _Assessed("partnership")
    # Targeted vacancies admit clients in one of their groups OR wards (either list may be empty).
    if (v.target_groups or v.target_wards) and not (
        (v.target_groups and v.target_groups & c.groups)
        or (v.target_wards and c.ward in v.target_wards)
    ):
        return _Assessed("target")
    if c.qualification < v.min_qualification:
        return _Assessed("qualification")
    if c.literacy < v.min_literacy:
        return _Assessed("literacy")
    if c.numeracy < v.min_numeracy:
        return _Assessed("numeracy")
    if v.hours > c.hours:
        return _Assessed("hours")
    km = _haversine(c.lat, c.lon, v.lat, v.lon)
    if km > c.max_travel_km:
        return _Assessed("distance")
    required = len(v.required & c.skills) / len(v.required) if v.required else 1.0
    desirable = len(v.desirable & c.skills) / len(v.desirable) if v.desirable else 1.0
    in_sector = v.sector in c.sectors
    score = (
        WEIGHTS["skills"] * required
        + WEIGHTS["desirable_skills"] * desirable
        + WEIGHTS["qualification"]
        + WEIGHTS["distance"] * (1 - km / c.max_travel_km)
        + WEIGHTS["hours"] * (v.hours / c.hours)
        + WEIGHTS["sector"] * in_sector
    )
    score = round(score, 4)
    if score < MIN_SCORE:
        return _Assessed("min_score", km, required, desirable, in_sector, score)
    return _Assessed(None, km, required, desirable, in_sector, score)


def score(c: Client, v: Vacancy) -> float | None:
    """The pair's score when every gate passes and it reaches `MIN_SCORE`; None otherwise."""
    a = _assess(c, v)
    return a.score if a.gate is None else None


def failed_gate(c: Client, v: Vacancy) -> str | None:
    return _assess(c, v).gate


def priority(c: Client, v: Vacancy) -> bool:
    """Completed the routeway the vacancy names: ranks first on its shortlist."""
    return v.routeway is not None and v.routeway in c.programmes


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


def _count_phrase(matched: list[str], wanted: int, kind: str) -> str:
    if not wanted:
        return f"no {kind} skills asked for"
    listed = f" ({_listing(matched)})" if matched else ""
    return f"has {len(matched)} of {wanted} {kind} skills{listed}"


def _reason(factor: str, value: float, explanation: str) -> Reason:
    return Reason(
        factor=factor,  # type: ignore[arg-type]
        weight=WEIGHTS.get(factor, 0.0),
        value=round(min(max(value, 0.0), 1.0), 4),
        explanation=explanation,
    )


def explain(c: Client, v: Vacancy) -> Evaluation:
    a = _assess(c, v)
    if a.gate is not None and a.gate != "min_score":
        return Evaluation(eligible=False, score=0.0, reasons=[], failed_gate=a.gate)
    req = sorted(v.required & c.skills)
    des = sorted(v.desirable & c.skills)
    reasons = [
        _reason("skills", a.required, _count_phrase(req, len(v.required), "required")),
        _reason("desirable_skills", a.desirable, _count_phrase(des, len(v.desirable), "desirable")),
        _reason(
            "qualification",
            1.0,
            f"qualification level {c.qualification} meets the minimum {v.min_qualification}",
        ),
        _reason(
            "distance",
            1 - a.km / c.max_travel_km,
            f"{a.km:.1f} km away, within {c.max_travel_km:g} km the client can travel",
        ),
        _reason(
            "hours",
            v.hours / c.hours,
            f"{v.hours:g} hours a week of the {c.hours:g} available",
        ),
        _reason(
            "sector",
            1.0 if a.in_sector else 0.0,
            f"{v.sector} is {'a' if a.in_sector else 'not a'} preferred sector",
        ),
    ]
    # Gate reasons carry no weight; target reasons are never shown to an employer.
    if v.target_groups & c.groups:
        reasons.append(_reason("target_group", 1.0, "in a priority group this vacancy targets"))
    if v.target_wards and c.ward in v.target_wards:
        reasons.append(_reason("target_ward", 1.0, "lives in a ward this vacancy targets"))
    # A routeway graduate is marked by `priority` (not a reason: the factors are the
    # published ones); the allocation keeps them first and the shortlist ranks them first.
    first = priority(c, v)
    # Under the minimum score the pair passes every gate but is not proposable.
    return Evaluation(eligible=True, score=a.score, reasons=reasons, priority=first)


def evaluate(client: ClientProfile, vacancy: VacancySpec) -> Evaluation:
    """The explained evaluation of one pair (profiles as stored)."""
    return explain(Client.of(client), Vacancy.of(vacancy))
