"""Who is told about an event, what they may see of it, and how the webhook is signed.

Pure functions, so the consent and visibility rules can be read and tested alone.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, Literal

from schemas import matching, referrals
from schemas.envelope import CloudEvent
from schemas.topics import MATCH_EVENTS, VACANCY_EVENTS
from schemas.visibility import employer_view_of_match

Audience = Literal["provider", "employer_brokerage"]

REFERRAL_TYPES = frozenset(m.event_type for m in referrals.REFERRAL_LIFECYCLE)
MATCH_TYPES = frozenset(MATCH_EVENTS.event_types)
VACANCY_TYPES = frozenset(VACANCY_EVENTS.event_types)
NOTIFIABLE_TYPES = REFERRAL_TYPES | MATCH_TYPES | VACANCY_TYPES


@dataclass(frozen=True)
class Recipient:
    org_id: str
    audience: Audience


def recipients(event: CloudEvent, client_providers: set[str]) -> list[Recipient]:
    """A provider hears of referrals addressed to it and of its clients' matches; an employer
    brokerage hears of its own vacancies and their matches. Nobody else hears anything."""
    data = event.data
    if event.type in REFERRAL_TYPES:
        return [Recipient(data["provider_id"], "provider")]
    if event.type in MATCH_TYPES:
        providers = [Recipient(p, "provider") for p in sorted(client_providers)]
        return [*providers, Recipient(data["brokerage_id"], "employer_brokerage")]
    if event.type in VACANCY_TYPES:
        return [Recipient(data["brokerage_id"], "employer_brokerage")]
    return []


def reduce_for(event: CloudEvent, audience: Audience) -> dict[str, Any]:
    """The CloudEvent as this audience may see it.

    An employer brokerage receives a match reduced by the shared visibility rule and without
    the consented details: a webhook is a copy that cannot be recalled if consent is withdrawn
    later, so details stay behind the shortlist, which checks consent at every read.
    """
    envelope = event.model_dump(mode="json", exclude_none=True)
    if audience == "employer_brokerage" and event.type == matching.MatchProposed.event_type:
        envelope["data"] = employer_view_of_match(event.data, employers_consent=False)
    return envelope


def sign(secret: str, body: bytes) -> str:
    """`X-Signature-256` value: HMAC-SHA256 of the raw body with the subscription's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff_seconds(attempt: int, base: float, cap: float = 300.0) -> float:
    """Delay before retry number `attempt` (1-based): doubling from `base`, capped."""
    return min(base * 2 ** (attempt - 1), cap)
