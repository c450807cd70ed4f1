"""Kafka handlers: JCP claimant events become client records. Pure: the rules are in domain.

Each JCP event changes one client, found by an id derived from the claimant reference
(`client_id_for`), so the consumer reads and writes a batch of clients in bulk and these
functions only decide. None of them does I/O; `tests/unit/referrals/test_handlers.py` calls
them directly.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from runtime.handlers import Apply, Rejected
from runtime.ids import keyed_id
from schemas import jcp
from schemas.base import EventData
from schemas.envelope import CloudEvent
from services.referrals.clients import Client

Outcome = tuple[Client | None, list[EventData]]


def client_id_for(key: str, claimant_ref: str) -> str:
    """The client id of a claimant: the same for the same reference, on every rebuild."""
    return keyed_id("CL", key, claimant_ref)


def on_claimant_registered(
    client: Client | None, claim: jcp.ClaimantRegistered, event: CloudEvent, *, key: str
) -> Outcome:
    if client is not None:
        return None, []  # registered already (JCP sent it twice): nothing changes
    new, events = Client.register(client_id_for(key, claim.claimant_ref), claim, event.time)
    return new, events


def _existing(client: Client | None) -> Client:
    if client is None:
        raise Rejected("no client for this claimant_ref; was it ever registered?")
    return client


def on_benefit_changed(
    client: Client | None, data: jcp.ClaimantBenefitChanged, _: CloudEvent
) -> Outcome:
    client = _existing(client)
    return client, client.change_benefit(data)


def on_off_flowed(client: Client | None, _data: jcp.ClaimantOffFlowed, _: CloudEvent) -> Outcome:
    client = _existing(client)
    return client, client.off_flow()


def on_reclaimed(client: Client | None, data: jcp.ClaimantReclaimed, _: CloudEvent) -> Outcome:
    client = _existing(client)
    return client, client.reclaim(data)


HANDLERS: dict[type[EventData], Callable[..., Outcome]] = {
    jcp.ClaimantRegistered: on_claimant_registered,
    jcp.ClaimantBenefitChanged: on_benefit_changed,
    jcp.ClaimantOffFlowed: on_off_flowed,
    jcp.ClaimantReclaimed: on_reclaimed,
}


def handlers(client_id_key: str) -> dict[type[EventData], Apply[Client]]:
    """The registry with the key that derives client ids bound in."""
    by_ref = partial(client_id_for, client_id_key)
    return {
        model: Apply(
            aggregate_id=lambda data: by_ref(data.claimant_ref),
            apply=partial(fn, key=client_id_key) if fn is on_claimant_registered else fn,
            creates=fn is on_claimant_registered,
        )
        for model, fn in HANDLERS.items()
    }
