"""Who may call each endpoint of the referrals service (see `runtime/access.py`).

"Own organisation" for a provider means the referrals addressed to it and the clients of those
referrals (the lead provider for the consent ledger and the action plan); for JCP and operations
every record of their partnership is their own. A provider may serve several partnerships: it
sees referrals addressed to it from any of them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from runtime.access import RUNTIME_RULES, AccessTable, caller, rule
from runtime.principal import Principal
from services.referrals.domain import LIFECYCLE

ACCESS: AccessTable = {
    # The directory is public within the platform: every role reads every provider.
    ("GET", "/providers"): rule(
        "jcp", "provider", "operations", "employer_brokerage", partnership=False
    ),
    ("GET", "/providers/{provider_id}"): rule(
        "jcp", "provider", "operations", "employer_brokerage", partnership=False
    ),
    ("PUT", "/providers/{provider_id}/programmes/{programme_id}"): rule(
        "operations", note="operations of a partnership the provider serves", refusal=403
    ),
    ("PATCH", "/providers/{provider_id}/programmes/{programme_id}/capacity"): rule(
        "provider",
        "operations",
        own_org=("provider",),
        note="that provider, or operations of a partnership it serves",
        refusal=403,
    ),
    ("POST", "/referrals"): rule(
        "jcp", consent="providers", note="of a client of the caller's partnership (404 otherwise)"
    ),
    ("GET", "/referrals"): rule("jcp", "provider", "operations", own_org=("provider",)),
    ("GET", "/referrals/{referral_id}"): rule(
        "jcp", "provider", "operations", own_org=("provider",)
    ),
    # Each step of the lifecycle, by the roles its table names (`system` is the platform).
    **{
        ("POST", f"/referrals/{{referral_id}}/{action}"): rule(
            *sorted(step.roles - {"system"}),  # type: ignore[arg-type]
            own_org=("provider",) if "provider" in step.roles else (),
        )
        for action, step in LIFECYCLE.items()
        if step.roles - {"system"}
    },
    ("GET", "/clients"): rule("jcp", "provider", "operations", own_org=("provider",)),
    ("GET", "/clients/{client_id}"): rule(
        "jcp", "provider", "operations", own_org=("provider",), consent="providers"
    ),
    ("POST", "/clients/{client_id}/consent"): rule(
        "jcp", "provider", own_org=("provider",), note="a provider of an active referral"
    ),
    ("POST", "/clients/{client_id}/consent/withdraw"): rule(
        "jcp", "provider", own_org=("provider",), note="a provider of an active referral"
    ),
    ("GET", "/clients/{client_id}/consent"): rule(
        "jcp", "provider", "operations", own_org=("provider",), note="the lead provider"
    ),
    ("PUT", "/clients/{client_id}/assessment"): rule(
        "provider", own_org=("provider",), consent="providers", note="of an active referral"
    ),
    ("POST", "/clients/{client_id}/job-ready"): rule(
        "jcp", "provider", own_org=("provider",), consent="providers"
    ),
    ("PUT", "/clients/{client_id}/action-plan"): rule(
        "provider", own_org=("provider",), note="the lead provider"
    ),
    ("GET", "/clients/{client_id}/action-plan"): rule(
        "jcp",
        "provider",
        "operations",
        own_org=("provider",),
        note="providers of active referrals",
    ),
    **RUNTIME_RULES,
}

Caller = Annotated[Principal, Depends(caller(ACCESS))]
