"""Who may call each endpoint of the notifications service (see `runtime/access.py`).

Every organisation manages its own subscriptions and preferences and reads its own inbox; no
role reaches another organisation's, and a notification of another partnership (a client who
moved away) answers 404 even to its organisation (`services/notifications/rules.may_read`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from runtime.access import EVERYONE, RUNTIME_RULES, AccessTable, Rule, caller
from runtime.principal import Principal

OWN = Rule(roles=EVERYONE, own_org=EVERYONE, note="the caller's organisation only")

ACCESS: AccessTable = {
    ("POST", "/subscriptions"): OWN,
    ("GET", "/subscriptions"): OWN,
    ("GET", "/subscriptions/{subscription_id}"): OWN,
    ("POST", "/subscriptions/{subscription_id}/secret"): OWN,
    ("DELETE", "/subscriptions/{subscription_id}"): OWN,
    ("GET", "/preferences"): OWN,
    ("PUT", "/preferences"): OWN,
    ("GET", "/inbox"): OWN,
    ("GET", "/notifications/{notification_id}"): OWN,
    **RUNTIME_RULES,
}

Caller = Annotated[Principal, Depends(caller(ACCESS))]
