"""A client's journey towards sustained work, as the partnership plans count it.

engaged = a referral accepted; supported = a referral to a `support`, `iag` or `assessment`
programme started; trained = a referral to a `skills` or `routeway` programme completed;
job = a placement started; sustained = a placement sustained at 13 weeks. The first three come
from the client's referrals (their status and history), the last two from the placements the
client record noted from the vacancies service. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from services.referrals.clients import Client, ReferralFacts, programme_kind

SUPPORT_KINDS = frozenset({"support", "iag", "assessment"})
TRAINING_KINDS = frozenset({"skills", "routeway"})

# What each stage implies was reached before it, for a history that may be trimmed or a
# status set without its steps (a referral that started was accepted first).
_IMPLIES = {
    "accepted": frozenset({"accepted"}),
    "started": frozenset({"accepted", "started"}),
    "completed": frozenset({"accepted", "started", "completed"}),
    "did-not-start": frozenset({"accepted"}),
}


class Journey(BaseModel):
    engaged: bool = False
    supported: bool = False
    trained: bool = False
    job: bool = False
    sustained: bool = False


def reached(referral: ReferralFacts) -> frozenset[str]:
    """Every status the referral has been in, with those its later statuses imply."""
    seen = {h.status for h in referral.history} | {referral.status}
    return frozenset(s for status in seen for s in _IMPLIES.get(status, {status}))


def journey_of(client: Client, referrals: Sequence[ReferralFacts]) -> Journey:
    def any_reached(status: str, kinds: frozenset[str] | None = None) -> bool:
        return any(
            status in reached(r) and (kinds is None or programme_kind(r) in kinds)
            for r in referrals
        )

    return Journey(
        engaged=any_reached("accepted"),
        supported=any_reached("started", SUPPORT_KINDS),
        trained=any_reached("completed", TRAINING_KINDS),
        job=client.placement_started,
        sustained=client.sustained_13,
    )
