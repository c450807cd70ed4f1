"""What the live tail shows a caller. Pure.

Operations sees every event of its partnership (national operations: all). Anyone else sees
what an employer would: only vacancy and match events of its partnership, a match reduced by
the one visibility rule (`schemas.visibility`), a withdrawal's hidden reasons as
`no-longer-available`; nothing of referrals, claimants or notifications."""

from __future__ import annotations

from typing import Any

from runtime.principal import Principal
from schemas.envelope import CloudEvent
from schemas.visibility import employer_view_of_match, employer_withdrawal_reason

EMPLOYER_SEES = ("vacancies.", "matching.")


def matches(event: CloudEvent, type_: str | None, subject: str | None) -> bool:
    return (not type_ or event.type == type_) and (not subject or event.subject == subject)


def view(event: CloudEvent, principal: Principal) -> dict[str, Any] | None:
    data = event.data if isinstance(event.data, dict) else {}
    partnership = data.get("partnership")
    if not principal.sees(partnership if isinstance(partnership, str) else None):
        return None
    envelope = event.model_dump(mode="json", exclude_none=True)
    if principal.role == "operations":
        return envelope
    if not event.type.startswith(EMPLOYER_SEES):
        return None
    if event.type == "matching.match.proposed":
        envelope["data"] = employer_view_of_match(data, employers_consent=False)
    elif event.type == "matching.match.withdrawn":
        envelope["data"] = {**data, "reason": employer_withdrawal_reason(str(data.get("reason")))}
    return envelope
