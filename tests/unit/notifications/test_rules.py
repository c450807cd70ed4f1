"""Notification rules: recipients, what each may see, signatures, frozen bodies, retries."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

from schemas.envelope import CloudEvent
from services.notifications.domain import Delivery, Notification, Subscription
from services.notifications.rules import Recipient, recipients, reduce_for, sign

MATCH = CloudEvent.create(
    type="matching.match.proposed",
    source="/services/matching",
    subject="VAC-1",
    data={
        "match_id": "MT-1",
        "vacancy_id": "VAC-1",
        "client_id": "CL-1",
        "employer_id": "E-1",
        "brokerage_id": "EB-01",
        "score": 0.8,
        "rules_version": "r",
        "reasons": [
            {"factor": "skills", "weight": 0.35, "value": 1, "explanation": "x"},
            {
                "factor": "target_group",
                "weight": 0,
                "value": 1,
                "explanation": "in a priority group this vacancy targets",
            },
        ],
    },
)
REFERRAL = CloudEvent.create(
    type="referrals.referral.created",
    source="/services/referrals",
    subject="CL-1",
    data={
        "referral_id": "RF-1",
        "client_id": "CL-1",
        "provider_id": "P-01",
        "status": "created",
        "programme": "retail-routeway",
    },
)


def test_referrals_go_to_their_provider_and_matches_to_providers_and_brokerage() -> None:
    assert recipients(REFERRAL, set()) == [Recipient("P-01", "provider")]
    assert recipients(MATCH, {"P-01"}) == [
        Recipient("P-01", "provider"),
        Recipient("EB-01", "employer_brokerage"),
    ]


def test_an_employer_webhook_never_carries_target_group_reasons() -> None:
    employer = reduce_for(MATCH, "employer_brokerage")
    assert [r["factor"] for r in employer["data"]["reasons"]] == ["skills"]
    assert "details" not in employer["data"]
    provider = reduce_for(MATCH, "provider")
    assert len(provider["data"]["reasons"]) == 2


def test_signature_is_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"a":1}'
    expected = hmac.new(b"0123456789abcdef", body, hashlib.sha256).hexdigest()
    assert sign("0123456789abcdef", body) == f"sha256={expected}"


def test_the_same_event_gives_the_same_notification_byte_for_byte() -> None:
    first = Notification.for_recipient(MATCH, Recipient("EB-01", "employer_brokerage"))
    again = Notification.for_recipient(MATCH, Recipient("EB-01", "employer_brokerage"))
    assert first.notification_id == again.notification_id and first.body == again.body
    payload = json.loads(first.body)
    assert set(payload) == {"notification_id", "org_id", "kind", "created_at", "event"}


def test_a_notification_shows_the_time_the_inbox_sorts_by() -> None:
    """A BSON date keeps milliseconds: the payload's time is the stored one, so two
    notifications of one millisecond never read as out of order in the inbox."""
    at = datetime(2026, 12, 7, 19, 19, 59, 414421, tzinfo=UTC)
    event = REFERRAL.model_copy(update={"time": at})
    notification = Notification.for_recipient(event, Recipient("P-01", "provider"))
    assert notification.created_at == at.replace(microsecond=414000)
    assert notification.payload()["created_at"] == "2026-12-07T19:19:59.414Z"


def test_a_delivery_retries_with_backoff_then_fails_once() -> None:
    notification = Notification.for_recipient(REFERRAL, Recipient("P-01", "provider"))
    now = datetime(2026, 11, 23, tzinfo=UTC)
    subscription = Subscription(
        subscription_id="SB-1", org_id="P-01", url="http://127.0.0.1/h", event_types=[],
        created_at=now,
    )  # fmt: skip
    delivery = Delivery.of(notification, subscription, now)
    assert delivery.failed_attempt(now, "HTTP 500", max_attempts=3, retry_in=2) == []
    assert delivery.next_attempt_at == now.timestamp() + 2
    assert delivery.failed_attempt(now, "HTTP 500", max_attempts=3, retry_in=4) == []
    assert delivery.next_attempt_at == now.timestamp() + 4
    (failed,) = delivery.failed_attempt(now, "HTTP 500", max_attempts=3, retry_in=8)
    assert failed.attempts == 3 and delivery.status == "failed"
    assert delivery.succeeded(now) == []
