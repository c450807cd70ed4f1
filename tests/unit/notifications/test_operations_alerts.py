"""A fairness disparity is told to the operations organisations of its partnership (and to
national operations), never to another partnership, a provider or an employer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from runtime.clock import SystemClock
from runtime.principal import Principal
from schemas.envelope import CloudEvent
from services.notifications.alerts import on_disparity
from services.notifications.domain import Notification, Organisation
from services.notifications.handlers import HANDLERS
from services.notifications.rules import (
    NOTIFIABLE_TYPES,
    Recipient,
    operations_directory,
    operations_recipients,
    recipients,
)

PRINCIPALS = [
    Principal("OPS", "operations", "cheshire-warrington"),
    Principal("OPS-BCBC", "operations", "bcbc"),
    Principal("OPS-NATIONAL", "operations", "*"),
    Principal("JCP-CW", "jcp", "cheshire-warrington"),
    Principal("P-01", "provider", "cheshire-warrington"),
]


def disparity(partnership: str = "cheshire-warrington") -> CloudEvent:
    return CloudEvent.create(
        type="operations.fairness.disparity-detected",
        source="/services/operations",
        subject=partnership,
        data={
            "partnership": partnership,
            "group": "lone_parent",
            "measure": "placed",
            "month": "2026-03",
            "clients": 25,
            "selected": 2,
            "rate": 0.08,
            "ratio": 0.2,
        },
    )


def test_the_directory_holds_operations_organisations_by_partnership_only() -> None:
    assert operations_directory(PRINCIPALS) == {
        "cheshire-warrington": ("OPS",),
        "bcbc": ("OPS-BCBC",),
        "*": ("OPS-NATIONAL",),
    }


def test_a_deployment_without_static_tokens_names_them_in_a_setting() -> None:
    setting = " cheshire-warrington=OPS, OPS-CW2 ; *=OPS-NATIONAL;"
    named = operations_directory([], setting)
    assert named == {"cheshire-warrington": ("OPS", "OPS-CW2"), "*": ("OPS-NATIONAL",)}
    assert operations_directory(PRINCIPALS, setting)["cheshire-warrington"] == (
        "OPS",
        "OPS-CW2",
    )
    assert operations_directory([], "") == {}
    for malformed in ("bcbc", "=OPS", "bcbc=", "bcbc=OPS;oops"):
        with pytest.raises(ValueError, match="entry") as refused:
            operations_directory([], malformed)
        values = [v for v in malformed.replace(";", "=").split("=") if v]
        assert not [v for v in values if v in str(refused.value)], "no value in the error"


def test_a_disparity_goes_to_its_partnerships_operations_and_national_only() -> None:
    directory = operations_directory(PRINCIPALS)
    assert operations_recipients(disparity(), directory) == [
        Recipient("OPS", "operations"),
        Recipient("OPS-NATIONAL", "operations"),
    ]
    assert operations_recipients(disparity("bcbc"), directory) == [
        Recipient("OPS-BCBC", "operations"),
        Recipient("OPS-NATIONAL", "operations"),
    ]
    # Nobody else: the general rule names no one, and organisations may subscribe to it.
    assert recipients(disparity(), set()) == []
    assert "operations.fairness.disparity-detected" in NOTIFIABLE_TYPES
    assert operations_recipients(disparity(), {}) == []


class FakeStore:
    def __init__(self) -> None:
        self.kept: list[Notification] = []

    async def keep(self, notification: Notification) -> Notification:
        self.kept.append(notification)
        return notification

    async def organisation(self, org_id: str) -> Organisation:
        return Organisation(org_id=org_id)

    async def subscriptions_for(self, org_id: str, kind: str) -> list[Any]:
        return []


async def test_the_handler_keeps_one_notification_per_operations_organisation() -> None:
    store = FakeStore()
    event = disparity()
    await on_disparity(
        event,
        None,  # type: ignore[arg-type]
        store=store,  # type: ignore[arg-type]
        clock=SystemClock(),
        timers=None,  # type: ignore[arg-type]
        directory=operations_directory(PRINCIPALS),
    )
    assert [(n.org_id, n.audience, n.partnership) for n in store.kept] == [
        ("OPS", "operations", "cheshire-warrington"),
        ("OPS-NATIONAL", "operations", "cheshire-warrington"),
    ]
    body = store.kept[0].payload()["event"]["data"]
    assert body["group"] == "lone_parent" and body["clients"] == 25
    assert store.kept[0].created_at <= datetime.now(UTC)
    # The general handler registry maps the type too, but names nobody (see alerts.py).
    assert any(m.event_type == event.type for m in HANDLERS)
