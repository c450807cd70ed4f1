"""Kafka handlers: JCP claimant events become client records, placements the client's journey.

Pure: the rules are in `clients.py`. Each JCP event changes one client, found by an id derived
from the claimant reference (`client_id_for`); each placement event one client, by the
`client_id` it carries. The consumer reads and writes a batch of clients in bulk and these
functions only decide; the ids of the events they cause derive from the event handled (the
`Aggregates` dispatcher wraps them with `enveloper(cause=...)`), so a redelivery emits nothing
twice. `tests/unit/referrals/test_handlers.py` calls them directly.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from runtime.handlers import Apply, Rejected
from runtime.ids import keyed_id
from runtime.partnerships import Partnerships
from runtime.settings import REPO_ROOT
from schemas import jcp, vacancies
from schemas.base import EventData
from schemas.envelope import CloudEvent
from services.referrals.clients import Client

Outcome = tuple[Client | None, list[EventData]]

DEFAULT_PARTNERSHIPS = REPO_ROOT / "deploy" / "local" / "partnerships.json"


def client_id_for(key: str, claimant_ref: str) -> str:
    """The client id of a claimant: the same for the same reference, on every rebuild."""
    return keyed_id("CL", key, claimant_ref)


def on_claimant_registered(
    client: Client | None,
    claim: jcp.ClaimantRegistered,
    event: CloudEvent,
    *,
    key: str,
    partnerships: Partnerships,
) -> Outcome:
    partnership = partnerships.of(claim.local_authority)
    if client is not None:
        # Registered already: JCP repeating itself changes nothing; another area is a move.
        events = client.register_again(claim, partnership, event.time)
        return (client, events) if events else (None, [])
    return Client.register(client_id_for(key, claim.claimant_ref), claim, event.time, partnership)


def _existing(client: Client | None) -> Client:
    if client is None:
        raise Rejected("no client for this claimant_ref; was it ever registered?")
    return client


def on_benefit_changed(
    client: Client | None,
    data: jcp.ClaimantBenefitChanged,
    event: CloudEvent,
    *,
    partnerships: Partnerships,
) -> Outcome:
    client = _existing(client)
    partnership = partnerships.of(data.local_authority) if data.local_authority else None
    return client, client.change_benefit(data, event.time, partnership)


def on_off_flowed(
    client: Client | None, data: jcp.ClaimantOffFlowed, event: CloudEvent, **_: object
) -> Outcome:
    client = _existing(client)
    return client, client.off_flow(data, event.time)


def on_reclaimed(
    client: Client | None, data: jcp.ClaimantReclaimed, event: CloudEvent, **_: object
) -> Outcome:
    client = _existing(client)
    return client, client.reclaim(data, event.time)


HANDLERS: dict[type[EventData], Callable[..., Outcome]] = {
    jcp.ClaimantRegistered: on_claimant_registered,
    jcp.ClaimantBenefitChanged: on_benefit_changed,
    jcp.ClaimantOffFlowed: on_off_flowed,
    jcp.ClaimantReclaimed: on_reclaimed,
}


def handlers(
    client_id_key: str, partnerships: Partnerships | None = None
) -> dict[type[EventData], Apply[Client]]:
    """The registry with the key that derives client ids and the partnerships bound in.

    Without `partnerships` it reads the local development file, so a composition root that
    does not bind them yet still places clients in their partnership."""
    partnerships = partnerships or Partnerships.load(DEFAULT_PARTNERSHIPS)
    by_ref = partial(client_id_for, client_id_key)
    deps = {
        on_claimant_registered: {"key": client_id_key, "partnerships": partnerships},
        on_benefit_changed: {"partnerships": partnerships},
    }
    return {
        model: Apply(
            aggregate_id=lambda data: by_ref(data.claimant_ref),
            apply=partial(fn, **deps.get(fn, {})),
            creates=fn is on_claimant_registered,
        )
        for model, fn in HANDLERS.items()
    }


# --- Placements, from `vacancies.events.v1`: the job and sustained stages of the journey -----


def on_placement_started(
    client: Client | None, data: vacancies.PlacementStarted, event: CloudEvent
) -> Outcome:
    if client is None:
        return None, []  # not a client of ours (another deployment's, or a test's): nothing
    return client, client.note_placement_started(
        data.placement_id, data.vacancy_id, data.start_date, event.time
    )


def on_placement_sustained(
    client: Client | None, data: vacancies.PlacementSustained, event: CloudEvent
) -> Outcome:
    if client is None:
        return None, []
    return client, client.note_placement_sustained(data.placement_id, data.weeks, event.time)


PLACEMENT_HANDLERS: dict[type[EventData], Callable[..., Outcome]] = {
    vacancies.PlacementStarted: on_placement_started,
    vacancies.PlacementSustained: on_placement_sustained,
}


def placement_handlers() -> dict[type[EventData], Apply[Client]]:
    """The registry for `vacancies.events.v1`, keyed by the client id the placement carries."""
    return {
        model: Apply(aggregate_id=lambda data: data.client_id, apply=fn)
        for model, fn in PLACEMENT_HANDLERS.items()
    }
