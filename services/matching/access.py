"""Who may call each endpoint of the matching service (see `runtime/access.py`).

The contract: operations and JCP see every match of their partnership, a provider its clients'
matches, an employer brokerage its vacancies' matches reduced as in the shortlist (details only
with the client's `employers` consent). `services/matching/domain.may_see_match` applies it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from runtime.access import RUNTIME_RULES, AccessTable, caller, rule
from runtime.principal import Principal

ACCESS: AccessTable = {
    ("GET", "/matches"): rule(
        "operations",
        "jcp",
        "provider",
        "employer_brokerage",
        own_org=("provider", "employer_brokerage"),
        consent="employers",
        note="a provider: its clients' matches; a brokerage: its vacancies', reduced",
    ),
    ("GET", "/rules"): rule(
        "operations",
        "jcp",
        "provider",
        "employer_brokerage",
        partnership=False,
        note="the published weights",
    ),
    **RUNTIME_RULES,
}

Caller = Annotated[Principal, Depends(caller(ACCESS))]
