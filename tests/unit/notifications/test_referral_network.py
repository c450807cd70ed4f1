"""Who hears of the referral network's events, and who may read a notification."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from runtime.principal import Principal
from schemas.envelope import CloudEvent
from schemas.topics import EVENT_MODELS
from services.notifications import handlers
from services.notifications.domain import Delivery, Notification, Organisation, Subscription
from services.notifications.rules import (
    NOTIFIABLE_TYPES,
    Recipient,
    may_read,
    providers_hearing_of_matches,
    recipients,
    reduce_for,
)

REFERRAL = {
    "referral_id": "RF-1",
    "client_id": "CL-1",
    "provider_id": "P-01",
    "programme": "retail-routeway",
    "partnership": "cheshire-warrington",
    "referred_by": "JCP-CW",
}
MATCH = {
    "match_id": "MT-1",
    "vacancy_id": "VAC-1",
    "client_id": "CL-1",
    "employer_id": "E-1",
    "brokerage_id": "EB-01",
    "score": 0.8,
    "rules_version": "r",
    "reasons": [],
    "partnership": "cheshire-warrington",
}


def event(type_: str, data: dict[str, Any], event_id: str | None = None) -> CloudEvent:
    made = CloudEvent.create(type=type_, source="/services/x", subject="CL-1", data=data)
    return made.model_copy(update={"id": event_id}) if event_id else made


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("on-hold", "on-hold"),
        ("released", "created"),
        ("did-not-start", "did-not-start"),
        ("expired", "expired"),
    ],
)
def test_every_referral_event_goes_to_its_provider(kind: str, status: str) -> None:
    type_ = f"referrals.referral.{kind}"
    assert type_ in NOTIFIABLE_TYPES
    assert recipients(event(type_, {**REFERRAL, "status": status}), set()) == [
        Recipient("P-01", "provider")
    ]


def test_a_missed_deadline_goes_to_the_provider_and_the_referring_jcp() -> None:
    breached = {
        **REFERRAL,
        "status": "created",
        "sla": "acknowledge",
        "due": "2026-11-25T23:59:59Z",
    }
    assert "referrals.referral.sla-breached" in NOTIFIABLE_TYPES
    found = recipients(event("referrals.referral.sla-breached", breached), set())
    assert found == [Recipient("P-01", "provider"), Recipient("JCP-CW", "jcp")]
    without_referrer = {**breached, "referred_by": None}
    assert recipients(event("referrals.referral.sla-breached", without_referrer), set()) == [
        Recipient("P-01", "provider")
    ]
    jcp_view = reduce_for(event("referrals.referral.sla-breached", breached), "jcp")
    assert jcp_view["data"]["sla"] == "acknowledge"


def test_providers_hear_of_matches_only_through_active_referrals_with_providers_consent() -> None:
    referrals = [
        {"provider_id": "P-01", "status": "on-hold"},
        {"provider_id": "P-02", "status": "completed"},
        {"provider_id": "P-03", "status": "started"},
    ]
    assert providers_hearing_of_matches(referrals, ["providers"]) == {"P-01", "P-03"}
    assert providers_hearing_of_matches(referrals, None) == {"P-01", "P-03"}
    assert providers_hearing_of_matches(referrals, ["employers", "tracking"]) == set()


def test_notifications_and_subscriptions_are_read_only_by_their_org_in_its_partnership() -> None:
    eb01 = Principal("EB-01", "employer_brokerage", "cheshire-warrington")
    eb02 = Principal("EB-02", "employer_brokerage", "bcbc")
    jcp_cw = Principal("JCP-CW", "jcp", "cheshire-warrington")
    p01 = Principal("P-01", "provider", "cheshire-warrington")
    national = Principal("OPS-NATIONAL", "operations", "*")
    assert may_read(eb01, "EB-01", "cheshire-warrington")
    assert not may_read(eb02, "EB-01", "cheshire-warrington")
    assert not may_read(national, "EB-01", "cheshire-warrington"), "an inbox is an org's own"
    assert not may_read(jcp_cw, "JCP-CW", "bcbc"), "after the client moved away"
    assert may_read(p01, "P-01", "bcbc"), "a provider serves several partnerships"
    assert may_read(eb01, "EB-01", None)


def test_a_notification_keeps_the_events_partnership() -> None:
    proposed = event("matching.match.proposed", MATCH)
    notification = Notification.for_recipient(proposed, Recipient("EB-01", "employer_brokerage"))
    assert notification.partnership == "cheshire-warrington"
    assert "partnership" not in notification.payload(), "the webhook body is as before"


class FakeStore:
    """The part of `NotificationsStore` the handlers use, in dicts."""

    def __init__(self, subscribers: dict[str, list[str]] | None = None) -> None:
        self.clients: dict[str, dict[str, Any]] = {}
        self.notifications: dict[str, Notification] = {}
        self.subscribers = subscribers or {}
        self.delivered: list[Delivery] = []
        self.deliveries = self

    async def set_referral(
        self, client_id: str, referral_id: str, provider_id: str, status: str
    ) -> None:
        doc = self.clients.setdefault(client_id, {})
        doc.setdefault("referrals", {})[referral_id] = {
            "provider_id": provider_id,
            "status": status,
        }

    async def set_consent(self, client_id: str, scopes: list[str]) -> None:
        self.clients.setdefault(client_id, {})["consent_scopes"] = scopes

    async def providers_of(self, client_id: str) -> set[str]:
        doc = self.clients.get(client_id, {})
        return providers_hearing_of_matches(
            list(doc.get("referrals", {}).values()), doc.get("consent_scopes")
        )

    async def keep(self, notification: Notification) -> Notification:
        return self.notifications.setdefault(notification.notification_id, notification)

    async def subscriptions_for(self, org_id: str, kind: str) -> list[Subscription]:
        if kind not in self.subscribers.get(org_id, []):
            return []
        subscription = Subscription(
            subscription_id=f"SB-{org_id}",
            org_id=org_id,
            url="http://127.0.0.1/hook",
            secret_sealed="sealed",
            event_types=[kind],
            created_at=datetime(2026, 11, 23, tzinfo=UTC),
        )
        return [subscription]

    async def add(self, delivery: Delivery) -> None:
        self.delivered.append(delivery)

    async def organisation(self, org_id: str) -> Organisation:
        return Organisation(org_id=org_id)

    def told(self, kind: str) -> set[str]:
        return {n.org_id for n in self.notifications.values() if n.kind == kind}


class FixedClock:
    def now(self) -> datetime:
        return datetime(2026, 11, 23, 10, tzinfo=UTC)


async def dispatch(store: FakeStore, type_: str, data: dict[str, Any], n: int) -> None:
    model = EVENT_MODELS[type_]
    await handlers.HANDLERS[model](
        event(type_, data, f"ev-{n}"), model(**data), store=store, clock=FixedClock(), timers=None
    )


async def test_after_consent_is_withdrawn_the_provider_hears_of_no_more_matches() -> None:
    store = FakeStore(subscribers={"JCP-CW": ["referrals.referral.sla-breached"]})
    await dispatch(store, "referrals.referral.created", {**REFERRAL, "status": "created"}, 1)
    await dispatch(store, "matching.match.proposed", MATCH, 2)
    assert store.told("matching.match.proposed") == {"P-01", "EB-01"}

    scopes = {"client_id": "CL-1", "scopes": ["providers"], "current_scopes": ["employers"]}
    await dispatch(store, "referrals.client.consent-withdrawn", scopes, 3)
    await dispatch(store, "matching.match.proposed", {**MATCH, "match_id": "MT-2"}, 4)
    assert {n.org_id for n in store.notifications.values() if n.source_event_id == "ev-4"} == {
        "EB-01"
    }, "the brokerage still hears of its vacancy's match; the provider does not"

    breached = {**REFERRAL, "status": "created", "sla": "start", "due": "2026-12-01T23:59:59Z"}
    await dispatch(store, "referrals.referral.sla-breached", breached, 5)
    assert store.told("referrals.referral.sla-breached") == {"P-01", "JCP-CW"}
    assert [d.org_id for d in store.delivered] == ["JCP-CW"], "JCP may subscribe to webhooks"


async def test_a_provider_whose_referral_ended_hears_of_no_more_matches() -> None:
    store = FakeStore()
    await dispatch(store, "referrals.referral.created", {**REFERRAL, "status": "created"}, 1)
    expired = {**REFERRAL, "status": "expired", "reason": "expired"}
    await dispatch(store, "referrals.referral.expired", expired, 2)
    await dispatch(store, "matching.match.proposed", MATCH, 3)
    assert store.told("matching.match.proposed") == {"EB-01"}
    assert store.told("referrals.referral.expired") == {"P-01"}


def test_an_employer_webhook_of_a_withdrawal_never_names_the_gate() -> None:
    withdrawn = {k: MATCH[k] for k in ("match_id", "vacancy_id", "client_id", "brokerage_id")}
    gone = event("matching.match.withdrawn", {**withdrawn, "reason": "gate-failed"})
    assert reduce_for(gone, "employer_brokerage")["data"]["reason"] == "no-longer-available"
    assert reduce_for(gone, "provider")["data"]["reason"] == "gate-failed"
