"""What an employer may see of a match: one named rule, applied by every employer-facing surface.

The shortlist (vacancies), `GET /matches` for an employer brokerage (matching) and employer
webhooks (notifications) all call `employer_view_of_match`, so there is exactly one place that
decides. Health, disability, ethnicity, benefit and priority groups never pass; job-related
details (skills, qualification level, hours) pass only with the client's `employers` consent.
"""

from __future__ import annotations

import re
from typing import Any

# Reasons about the job itself. `target_group` and `target_ward` would reveal priority groups
# (which include disability, health and ethnicity) or where the client lives, so they never pass.
EMPLOYER_VISIBLE_FACTORS = frozenset(
    {"skills", "desirable_skills", "qualification", "distance", "hours", "sector"}
)

# Profile fields an employer may see once the client has agreed to share with employers.
EMPLOYER_CONSENTED_DETAILS = ("skills", "qualification_level", "available_hours_per_week")


# Withdrawal reasons that would tell an employer something about the client (which gate it
# failed, that it is no longer job-ready): an employer reads them as one neutral code.
_HIDDEN_WITHDRAWALS = frozenset({"gate-failed", "not-job-ready"})


def employer_withdrawal_reason(reason: str) -> str:
    return "no-longer-available" if reason in _HIDDEN_WITHDRAWALS else reason


# How a placement ended, and the revolving door, can say that the client claimed benefit again:
# an employer reads a neutral end, never the reclaim.
_BENEFIT_REVEALING_ENDS = frozenset({"returned-to-benefit"})
_BENEFIT_REVEALING_FIELDS = ("revolving_door", "reclaim_date")
EMPLOYER_HIDDEN_EVENT_TYPES = frozenset({"vacancies.placement.revolving-door"})
"""Events about the client's benefit only: no employer hears of them at all."""


def employer_end_reason(reason: str | None) -> str | None:
    return "ended" if reason in _BENEFIT_REVEALING_ENDS else reason


def employer_view_of_placement(placement: dict[str, Any]) -> dict[str, Any]:
    """A placement (or a placement event's data) as an employer may read it."""
    view = {k: v for k, v in placement.items() if k not in _BENEFIT_REVEALING_FIELDS}
    for key in ("end_reason", "reason"):
        if key in view:
            view[key] = employer_end_reason(view[key])
    return view


def employer_visible_reasons(reasons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in reasons if r.get("factor") in EMPLOYER_VISIBLE_FACTORS]


_KM = re.compile(r"^(\d+(?:\.\d+)?) km away")


def _band(reason: dict[str, Any]) -> str:
    """A coarse band: never the client's exact level, hours, skills or distance."""
    value = float(reason.get("value", 0))
    if reason.get("factor") == "distance":
        found = _KM.match(str(reason.get("explanation", "")))
        if found:
            km = float(found.group(1))
            return "under 5 km" if km < 5 else "5-15 km" if km <= 15 else "over 15 km"
    return "all" if value >= 1 else "most" if value >= 0.5 else "some" if value > 0 else "none"


def employer_coarse_reasons(reasons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Without the client's `employers` consent: per job-related factor, met or not and a band."""
    return [
        {"factor": r["factor"], "met": float(r.get("value", 0)) > 0, "band": _band(r)}
        for r in employer_visible_reasons(reasons)
    ]


def employer_view_of_match(
    match: dict[str, Any],
    *,
    employers_consent: bool,
    profile: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Reduce a match (the `matching.match.proposed` data, plus a status) for an employer.

    Args:
        match: the match as the matching service describes it.
        employers_consent: whether the client's `employers` consent is in force now.
        profile: the client's job-ready profile, if the caller has it.
    """
    view: dict[str, Any] = {
        "match_id": match["match_id"],
        "vacancy_id": match["vacancy_id"],
        "client_id": match["client_id"],
        "score": match["score"],
        "reasons": (
            employer_visible_reasons(match.get("reasons", []))
            if employers_consent
            else employer_coarse_reasons(match.get("reasons", []))
        ),
        "rules_version": match.get("rules_version"),
    }
    if "status" in match:
        view["status"] = match["status"]
    if match.get("rank") is not None:
        view["rank"] = match["rank"]
    if employers_consent and profile:
        view["details"] = {k: profile[k] for k in EMPLOYER_CONSENTED_DETAILS if k in profile}
    return view
