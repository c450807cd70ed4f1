"""The measures of the contract: which event counts towards which measure, under which keys,
and how counted days add up to an answer. Pure: no I/O, no clock.

Counting happens once per event, as it arrives, into one counter document per measure,
partnership and day (`runtime`-written with compare-and-set; see `counters.py`); a query adds up
the days of its period. Each counted event adds 1 under every dimension at once: `ward`,
`local_authority`, `priority_group` (each of the client's groups, or `none`), `provider`,
`sector`, and `all` (the total, from which `month` is derived). A key the event cannot know
(a placement's sector before its vacancy was seen) is `unknown`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from schemas import matching, referrals, vacancies
from schemas.envelope import CloudEvent
from services.operations.clients import ClientView
from services.operations.vacancies import VacancyView

MEASURES = (
    "referrals_created",
    "referrals_started",
    "referral_conversion",
    "sla_breaches",
    "clients_job_ready",
    "matches_proposed",
    "submissions",
    "interviews",
    "placements_started",
    "sustained_13",
    "sustained_26",
    "revolving_door",
    "vacancies_notified",
    "vacancies_filled",
)
DIMENSIONS = ("ward", "priority_group", "provider", "sector", "month", "local_authority")
# Counted only to answer the fairness monitor: distinct clients, by priority group.
FAIRNESS_POOL = "fair_pool"
FAIRNESS_SELECTED = {"shortlisted": "fair_shortlisted", "placed": "fair_placed"}
COUNTED = (
    *(m for m in MEASURES if m != "referral_conversion"),
    FAIRNESS_POOL,
    *FAIRNESS_SELECTED.values(),
)
UNKNOWN = "unknown"
# Events about a vacancy (keyed by it): they count by its sector too.
_ABOUT_A_VACANCY = (
    matching.MatchProposed,
    vacancies.PlacementStarted,
    vacancies.PlacementSustained,
    vacancies.PlacementEnded,
    vacancies.PlacementRevolvingDoor,
    *vacancies.SUBMISSION_EVENTS,
)
ALL = "all"


@dataclass(frozen=True)
class Increment:
    measure: str
    partnership: str
    day: date
    keys: tuple[tuple[str, str], ...]  # (dimension, key) pairs, each gets +1

    @property
    def counter_id(self) -> str:
        return counter_id(self.measure, self.partnership, self.day)


def counter_id(measure: str, partnership: str, day: date | str) -> str:
    return f"{measure}|{partnership}|{day}"


def _client_keys(client: ClientView | None) -> list[tuple[str, str]]:
    if client is None:
        return [("ward", UNKNOWN), ("local_authority", UNKNOWN), ("priority_group", "none")]
    keys = [
        ("ward", client.ward or UNKNOWN),
        ("local_authority", client.local_authority or UNKNOWN),
    ]
    return keys + [("priority_group", g) for g in client.groups()]


def _partnership(client: ClientView | None, data: Any, fallback: str) -> str:
    return (
        (client.partnership if client else None) or getattr(data, "partnership", None) or fallback
    )


def increments(
    event: CloudEvent,
    data: Any,
    client: ClientView | None,
    vacancy: VacancyView | None,
    *,
    unassigned: str = "unassigned",
) -> list[Increment]:
    """What this event adds to which counters (none for an event no measure counts)."""
    day = event.time.date()
    sector = [("sector", (vacancy.sector if vacancy else None) or UNKNOWN)]
    measures: list[str] = []
    provider: str | None = None
    if isinstance(data, referrals.ReferralCreated):
        measures, provider = ["referrals_created"], data.provider_id
    elif isinstance(data, referrals.ReferralStarted):
        measures, provider = ["referrals_started"], data.provider_id
    elif isinstance(data, referrals.ReferralSlaBreached):
        measures, provider = ["sla_breaches"], data.provider_id
    elif isinstance(data, referrals.ClientJobReady):
        # Once per client: a client made job-ready again is still one job-ready client.
        if client is not None and client.firsts.get("job_ready") == event.id:
            measures = ["clients_job_ready", FAIRNESS_POOL]
    elif isinstance(data, matching.MatchProposed):
        measures = ["matches_proposed"]
        if client is not None and client.firsts.get("shortlisted") == event.id:
            measures.append(FAIRNESS_SELECTED["shortlisted"])
    elif isinstance(data, vacancies.SubmissionSubmitted):
        measures = ["submissions"]
    elif isinstance(data, vacancies.SubmissionInterviewScheduled):
        measures = ["interviews"]
    elif isinstance(data, vacancies.PlacementStarted):
        measures, provider = ["placements_started"], data.lead_provider_id
        if client is not None and client.firsts.get("job") == event.id:
            measures.append(FAIRNESS_SELECTED["placed"])
    elif isinstance(data, vacancies.PlacementSustained):
        measures = [f"sustained_{data.weeks}"]
        provider = client.placement_providers.get(data.placement_id) if client else None
    elif (isinstance(data, vacancies.PlacementEnded) and data.revolving_door) or isinstance(
        data, vacancies.PlacementRevolvingDoor
    ):
        measures = ["revolving_door"]
        provider = client.placement_providers.get(data.placement_id) if client else None
    elif isinstance(data, vacancies.VacancyPosted | vacancies.VacancyFilled):
        measure = (
            "vacancies_notified"
            if isinstance(data, vacancies.VacancyPosted)
            else ("vacancies_filled")
        )
        partnership = data.partnership or (vacancy.partnership if vacancy else None) or unassigned
        keys = (("sector", (vacancy.sector if vacancy else None) or UNKNOWN), (ALL, ALL))
        if isinstance(data, vacancies.VacancyPosted):
            keys = (("sector", data.sector), (ALL, ALL))
        return [Increment(measure, partnership, day, keys)]
    if not measures:
        return []
    partnership = _partnership(client, data, unassigned)
    keys = [*_client_keys(client), ("provider", provider or UNKNOWN), (ALL, ALL)]
    if isinstance(data, _ABOUT_A_VACANCY):
        keys += sector
    return [Increment(m, partnership, day, tuple(keys)) for m in measures]


# --- answering ------------------------------------------------------------------------------

Counts = Mapping[str, Mapping[str, int]]  # dimension -> key -> count


def add_up(days: Iterable[tuple[str, Counts]], by: str) -> dict[str, int]:
    """Totals per key of `by` over counted days (`(day, counts)` pairs)."""
    totals: dict[str, int] = {}
    for day, counts in days:
        if by == "month":
            n = counts.get(ALL, {}).get(ALL, 0)
            if n:
                totals[day[:7]] = totals.get(day[:7], 0) + n
            continue
        for key, n in counts.get(by, {}).items():
            totals[key] = totals.get(key, 0) + n
    return totals


def conversion(started: Mapping[str, int], created: Mapping[str, int]) -> dict[str, float]:
    """Started / created per key; a key with nothing created converts at 0."""
    return {
        key: round(started.get(key, 0) / created[key], 4) if created.get(key) else 0.0
        for key in sorted(set(started) | set(created))
    }


def rows(totals: Mapping[str, float]) -> list[dict[str, Any]]:
    return [{"key": k, "value": totals[k]} for k in sorted(totals)]


def total(days: Iterable[tuple[str, Counts]], dimension: str | None, key: str | None) -> int:
    """The measure's count over these days, for one key of one dimension (or in all)."""
    if dimension is None:
        return sum(c.get(ALL, {}).get(ALL, 0) for _, c in days)
    if dimension == "month":
        return sum(c.get(ALL, {}).get(ALL, 0) for d, c in days if d[:7] == key)
    return sum(c.get(dimension, {}).get(key or "", 0) for _, c in days)
