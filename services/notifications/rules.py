"""Who is told about an event, what they may see of it, and how the webhook is signed.

Pure functions, so the consent and visibility rules can be read and tested alone.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from runtime.principal import EVERY_PARTNERSHIP, Principal
from schemas import matching, operations, referrals
from schemas.envelope import CloudEvent
from schemas.topics import MATCH_EVENTS, VACANCY_EVENTS
from schemas.visibility import (
    EMPLOYER_HIDDEN_EVENT_TYPES,
    employer_view_of_match,
    employer_view_of_placement,
    employer_withdrawal_reason,
)

Audience = Literal["provider", "employer_brokerage", "jcp", "operations"]

REFERRAL_TYPES = frozenset(m.event_type for m in referrals.REFERRAL_LIFECYCLE)
"""Every change of a referral's status (on-hold, released, did-not-start, expired included)."""
SLA_BREACHED = referrals.ReferralSlaBreached.event_type
MATCH_TYPES = frozenset(MATCH_EVENTS.event_types)
VACANCY_TYPES = frozenset(VACANCY_EVENTS.event_types)
DISPARITY_DETECTED = operations.DisparityDetected.event_type
"""Told to operations organisations (`operations_recipients`, handled in `alerts.py`), not
through `recipients`: who they are is a directory the composition root reads, not something
the event names."""
NOTIFIABLE_TYPES = (
    REFERRAL_TYPES | {SLA_BREACHED} | MATCH_TYPES | VACANCY_TYPES | {DISPARITY_DETECTED}
)

OperationsDirectory = Mapping[str, tuple[str, ...]]
"""Partnership -> the organisations acting in the `operations` role within it (`"*"`: national)."""


@dataclass(frozen=True)
class Recipient:
    org_id: str
    audience: Audience


def recipients(event: CloudEvent, client_providers: set[str]) -> list[Recipient]:
    """A provider hears of referrals addressed to it and of its clients' matches; an employer
    brokerage hears of its own vacancies and their matches; the JCP organisation that referred
    hears of the referral's missed deadlines. Nobody else hears anything.

    `client_providers` are the providers holding an active referral for the client while the
    client's `providers` consent is in force (`store.providers_of`): a provider whose referral
    ended, or was withdrawn because consent was, hears of no more matches."""
    data = event.data
    if event.type in REFERRAL_TYPES:
        return [Recipient(data["provider_id"], "provider")]
    if event.type == SLA_BREACHED:
        provider = Recipient(data["provider_id"], "provider")
        referred_by = data.get("referred_by")
        return [provider, Recipient(referred_by, "jcp")] if referred_by else [provider]
    if event.type in MATCH_TYPES:
        providers = [Recipient(p, "provider") for p in sorted(client_providers)]
        return [*providers, Recipient(data["brokerage_id"], "employer_brokerage")]
    if event.type in EMPLOYER_HIDDEN_EVENT_TYPES:
        return []  # about the client's benefit: no employer hears of it
    if event.type in VACANCY_TYPES:
        return [Recipient(data["brokerage_id"], "employer_brokerage")]
    return []


def operations_directory(
    principals: Iterable[Principal], setting: str = ""
) -> dict[str, tuple[str, ...]]:
    """Who acts in the `operations` role, by partnership: the organisations the static tokens
    name, and those of `OPERATIONS_ORGANISATIONS` (a deployment with JWTs only names them
    nowhere else)."""
    found: dict[str, set[str]] = {}
    named = [(p.partnership, p.org_id) for p in principals if p.is_("operations") and p.partnership]
    for partnership, org in [*named, *_named_in(setting)]:
        found.setdefault(partnership, set()).add(org)
    return {partnership: tuple(sorted(orgs)) for partnership, orgs in found.items()}


def _named_in(setting: str) -> list[tuple[str, str]]:
    """`OPERATIONS_ORGANISATIONS` read: `<partnership>=<org>[,<org>]` entries separated by `;`
    (`*` for national operations). A malformed entry is a ValueError naming its position only."""
    pairs = []
    for n, entry in enumerate(filter(None, (e.strip() for e in setting.split(";"))), start=1):
        partnership, sep, orgs = entry.partition("=")
        names = [o.strip() for o in orgs.split(",") if o.strip()]
        if not sep or not partnership.strip() or not names:
            raise ValueError(f"OPERATIONS_ORGANISATIONS: entry {n} is not <partnership>=<org>,...")
        pairs += [(partnership.strip(), name) for name in names]
    return pairs


def operations_recipients(event: CloudEvent, directory: OperationsDirectory) -> list[Recipient]:
    """A disparity in a partnership is told to that partnership's operations organisations and
    to national operations, which oversees every partnership; no other partnership hears of
    it. The event carries counts only, so every recipient sees all of it."""
    if event.type != DISPARITY_DETECTED:
        return []
    partnership = str(event.data.get("partnership", ""))
    orgs = {*directory.get(partnership, ()), *directory.get(EVERY_PARTNERSHIP, ())}
    return [Recipient(org, "operations") for org in sorted(orgs)]


def providers_hearing_of_matches(
    referrals_of_client: list[dict[str, str]], consent_scopes: list[str] | None
) -> set[str]:
    """The providers of the client's active referrals, while the client's `providers` consent
    is in force; None: no consent event seen (kept only since partnerships), so none withdrawn."""
    if consent_scopes is not None and "providers" not in consent_scopes:
        return set()
    return {
        r["provider_id"]
        for r in referrals_of_client
        if r["status"] in referrals.ACTIVE_REFERRAL_STATUSES
    }


def reduce_for(event: CloudEvent, audience: Audience) -> dict[str, Any]:
    """The CloudEvent as this audience may see it.

    An employer brokerage receives a match reduced by the shared visibility rule and without
    the consented details: a webhook is a copy that cannot be recalled if consent is withdrawn
    later, so details stay behind the shortlist, which checks consent at every read.
    """
    envelope = event.model_dump(mode="json", exclude_none=True)
    if audience == "employer_brokerage" and event.type == matching.MatchProposed.event_type:
        envelope["data"] = employer_view_of_match(event.data, employers_consent=False)
    if audience == "employer_brokerage" and event.type == matching.MatchWithdrawn.event_type:
        reason = employer_withdrawal_reason(str(event.data.get("reason", "")))
        envelope["data"] = {**event.data, "reason": reason}
    if audience == "employer_brokerage" and event.type.startswith("vacancies.placement."):
        envelope["data"] = employer_view_of_placement(event.data)
    return envelope


def sign(secret: str, body: bytes) -> str:
    """`X-Signature-256` value: HMAC-SHA256 of the raw body with the subscription's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sign_timestamped(secret: str, timestamp: int, body: bytes) -> str:
    """`X-Signature-256-T` value: HMAC-SHA256 of `"<timestamp>.<raw body>"`, so a captured
    request cannot be replayed once receivers refuse timestamps older than 5 minutes."""
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_headers(
    secret: str, body: bytes, timestamp: int, previous: str | None = None
) -> dict[str, str]:
    """Every signature header of one webhook. During a secret rotation's overlap the previous
    secret's signatures travel too, under `-Previous` names: a receiver still holding the old
    secret verifies those, one holding the new one the usual headers."""
    headers = {
        "X-Signature-256": sign(secret, body),
        "X-Signature-Timestamp": str(timestamp),
        "X-Signature-256-T": sign_timestamped(secret, timestamp, body),
    }
    if previous is not None:
        headers["X-Signature-256-Previous"] = sign(previous, body)
        headers["X-Signature-256-T-Previous"] = sign_timestamped(previous, timestamp, body)
    return headers


def may_read(principal: Principal, org_id: str, partnership: str | None) -> bool:
    """Whether the caller may read a notification or subscription of `org_id` about (or made
    in) `partnership`: only its own organisation, and only within its partnership, except that
    a provider, which may serve several partnerships, reads what is addressed to it from any.
    None: recorded before partnerships, the organisation's alone."""
    if principal.org_id != org_id:
        return False
    return partnership is None or principal.is_("provider") or principal.sees(partnership)
