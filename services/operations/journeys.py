"""Caseload membership and the five journey questions of the City Strategy plan. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from services.operations.clients import JOURNEY, ClientView, stage_of


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def in_caseload(
    c: ClientView,
    *,
    local_authorities: Iterable[str] = (),
    wards: Iterable[str] = (),
    benefits: Iterable[str] = (),
    priority_groups_any: Iterable[str] = (),
) -> bool:
    """Whether the client fits a caseload's definition (an empty list means any)."""
    las, ws = {_norm(x) for x in local_authorities}, {_norm(x) for x in wards}
    bs, gs = set(benefits), set(priority_groups_any)
    return (
        (not las or _norm(c.local_authority or "") in las)
        and (not ws or _norm(c.ward or "") in ws)
        and (not bs or (c.benefit or "") in bs)
        and (not gs or bool(gs & set(c.priority_groups)))
    )


def _within(at: datetime | None, start: date | None, end: date | None) -> bool:
    if at is None:
        return False
    day = at.date()
    return (start is None or day >= start) and (end is None or day <= end)


def journeys(
    clients: Iterable[ClientView],
    *,
    ward: str | None = None,
    priority_group: str | None = None,
    local_authority: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> dict[str, int]:
    """`clients`: those fitting the filters known by `end`; each question: how many of them
    reached it within the period (engaged = a referral accepted; supported = a `support`, `iag`
    or `assessment` programme started; trained = a `skills` or `routeway` programme completed;
    job = a placement started; sustained = a placement sustained at 13 weeks)."""
    answer = dict.fromkeys(("clients", *JOURNEY), 0)
    for c in clients:
        if not in_caseload(
            c,
            wards=[ward] if ward else (),
            local_authorities=[local_authority] if local_authority else (),
        ):
            continue
        if priority_group and priority_group not in c.groups():
            continue
        if end is not None and c.registered_at is not None and c.registered_at.date() > end:
            continue
        answer["clients"] += 1
        for question, at in (
            ("engaged", c.engaged_at),
            ("supported", c.supported_at),
            ("trained", c.trained_at),
            ("job", c.job_at),
            ("sustained", c.sustained_at),
        ):
            answer[question] += _within(at, start, end)
    return answer


def member(c: ClientView) -> dict[str, object]:
    """A caseload member as the tracking team sees them: ids, area and journey, no details."""
    return {
        "client_id": c.client_id,
        "local_authority": c.local_authority,
        "ward": c.ward,
        "benefit": c.benefit,
        "stage": stage_of(c),
        "journey": c.journey(),
    }
