"""Value types shared by several events: enumerations from the contract and constrained strings."""

from __future__ import annotations

import re
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

Benefit = Literal["JSA", "ESA", "IB", "IS", "IS_LP", "UC"]
AgeBand = Literal["16-24", "25-49", "50+"]
PriorityGroup = Literal[
    "lone_parent",
    "disability",
    "health_condition",
    "over_50",
    "bme",
    "ex_offender",
    "young_neet",
    "refugee",
    "long_term_unemployed",
    "carer",
]
ConsentScope = Literal["providers", "employers", "tracking"]
SkillsForLifeLevel = Literal["entry_1", "entry_2", "entry_3", "level_1", "level_2"]
ReferralStatus = Literal[
    "created",
    "on-hold",
    "accepted",
    "rejected",
    "started",
    "did-not-start",
    "completed",
    "dropped-out",
    "withdrawn",
    "expired",
]
ReasonCode = Literal[
    "ineligible",
    "no-capacity",
    "out-of-area",
    "could-not-contact",
    "declined-by-client",
    "duplicate",
    "inappropriate",
    "moved-away",
    "health",
    "found-work",
    "consent-withdrawn",
    "referred-elsewhere",
    "entered-in-error",
    "other",
]
"""Why a referral was rejected, dropped out, withdrawn or did not start (coded, never free text)."""
ProgrammeKind = Literal["assessment", "iag", "skills", "routeway", "support", "employment"]
SlaName = Literal["acknowledge", "start", "action_plan"]
PartnershipId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
"""A partnership of local authorities (`deploy/local/partnerships.json`)."""
VacancyStatus = Literal["posted", "open", "partly-filled", "filled", "closed", "expired"]
QualificationLevel = Annotated[int, Field(ge=0, le=8, description="RQF level 0-8.")]

# The shape of a National Insurance number: two letters, six digits, a suffix A-D. Claimant
# refs must be pseudonymous, so anything of that shape is refused rather than stored or
# forwarded. Deliberately broader than the valid prefixes: the HMRC example QQ123456C counts.
_NINO = re.compile(r"^\s*[A-Z]{2}(\s*\d{2}){3}\s*[A-D]\s*$", re.IGNORECASE)


def _not_a_nino(value: str) -> str:
    if _NINO.match(value):
        raise ValueError("must be a pseudonymous reference, never a National Insurance number")
    return value


# --- Bounded strings and lists ---------------------------------------------------------------
# Every string and list that can reach an event is bounded, so oversize input is refused where
# it enters (422 naming the field, or the dead-letter topic for a Kafka input) instead of
# producing an event Kafka refuses, which would halt the producing service's outbox relay.
# `tests/unit/test_bounds.py` builds the largest event these bounds allow and keeps it well
# under Kafka's 1 MB record limit; widen a bound only with that test in view.

ClaimantRef = Annotated[
    str, StringConstraints(min_length=1, max_length=64), AfterValidator(_not_a_nino)
]
EntityId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
"""An identifier of ours or of a partner (client, vacancy, organisation, ...)."""
Code = Annotated[str, StringConstraints(min_length=1, max_length=64)]
"""A machine-readable code or version label, e.g. a rules version."""
EventId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
"""A CloudEvent `id`: the envelope allows up to 128 characters."""
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
"""A name, a label, a skill, a sector, a ward, a short reason."""
LongText = Annotated[str, StringConstraints(max_length=2000)]
"""Free text: a note, an explanation, an error message."""
PostcodeDistrict = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{1,2}[0-9][0-9A-Za-z]?$"
    ),
]
"""At most four characters: the pattern bounds it."""

MAX_SKILLS = 50
MAX_SECTORS = 20
MAX_WARDS = 100

Skills = Annotated[list[ShortText], Field(max_length=MAX_SKILLS)]
"""Free-text skills, compared case-insensitively (an assessment's, or a person spec's)."""
Sectors = Annotated[list[ShortText], Field(max_length=MAX_SECTORS)]
Wards = Annotated[list[ShortText], Field(max_length=MAX_WARDS)]
PriorityGroups = Annotated[list[PriorityGroup], Field(max_length=len(get_args(PriorityGroup)))]
"""At most one entry per group."""
ConsentScopes = Annotated[list[ConsentScope], Field(max_length=len(get_args(ConsentScope)))]
"""At most one entry per scope."""


class Location(BaseModel):
    """Where a client lives or a job is, at postcode-district precision (never a full address)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    postcode_district: PostcodeDistrict
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
