"""JCP events become clients: the pure handlers, run in batches by `Aggregates` on a fake store."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.documents import StaleAggregate
from runtime.handlers import Aggregates, Item
from runtime.partnerships import UNASSIGNED, Partnerships
from schemas import jcp, vacancies
from schemas.envelope import CloudEvent
from services.referrals.clients import Client
from services.referrals.handlers import client_id_for, handlers, placement_handlers
from tests.unit.fakes import CLAIM, InMemoryDocuments

KEY = "a-test-key-of-enough-length"
PARTNERSHIPS = Partnerships.parse(
    '{"cheshire-warrington": {"local_authorities": ["Warrington", "Halton"]},'
    ' "bcbc": {"local_authorities": ["Birmingham", "Coventry"]}}'
)


def item(model: type[jcp.EventData], **data: Any) -> Item:
    body = {**CLAIM, **data} if model is jcp.ClaimantRegistered else data
    event = CloudEvent.create(
        type=model.event_type, source="/jcp", subject=body["claimant_ref"], data=body
    )
    return Item(event, model.model_validate(body))


@pytest.fixture
def clients() -> tuple[InMemoryDocuments[Client], Aggregates[Client]]:
    store: InMemoryDocuments[Client] = InMemoryDocuments("client_id")
    return store, Aggregates(store, handlers(KEY, PARTNERSHIPS), "/services/referrals")  # type: ignore[arg-type]


def test_the_client_id_is_derived_from_the_claimant_ref_with_a_key() -> None:
    first = client_id_for(KEY, "CLM-1")
    assert first == client_id_for(KEY, "CLM-1"), "a rebuild gives the same id"
    assert first != client_id_for(KEY, "CLM-2")
    assert first != client_id_for("another-key-of-enough-length", "CLM-1")
    assert "CLM" not in first and first.startswith("CL-")


async def test_a_batch_of_registrations_is_one_read_and_one_write(clients) -> None:
    store, dispatcher = clients
    batch = [item(jcp.ClaimantRegistered, claimant_ref=f"CLM-{n}") for n in range(50)]
    assert await dispatcher.handle(batch) == []
    assert store.writes == 1
    assert store.reads == 0, "registrations are inserted outright, not read first"
    assert len(store.docs) == 50
    assert [e["type"] for e in store.published] == ["referrals.client.registered"] * 50
    client, _, applied = store.docs[client_id_for(KEY, "CLM-7")]
    assert client.registered_at == batch[7].event.time, "the JCP event's time, not the clock's"
    assert applied == [batch[7].event.id]


async def test_a_redelivered_batch_has_no_second_effect(clients) -> None:
    store, dispatcher = clients
    batch = [
        item(jcp.ClaimantRegistered),
        item(jcp.ClaimantOffFlowed, claimant_ref="CLM-1", off_flow_date="2026-03-01", reason="job"),
    ]
    await dispatcher.handle(batch)
    published = list(store.published)
    await dispatcher.handle(batch)
    assert store.published == published
    client, version, _ = store.docs[client_id_for(KEY, "CLM-1")]
    assert version == 1 and client.on_benefit is False, "both applied in one write"


async def test_jcp_registering_a_claimant_twice_makes_one_client(clients) -> None:
    store, dispatcher = clients
    await dispatcher.handle([item(jcp.ClaimantRegistered)])
    await dispatcher.handle([item(jcp.ClaimantRegistered, ward="Elsewhere")])
    assert len(store.docs) == 1 and len(store.published) == 1
    assert store.reads == 1, "read only once the insert found it there"


async def test_a_lost_race_once_is_retried_within_the_batch(clients) -> None:
    store, dispatcher = clients
    await dispatcher.handle([item(jcp.ClaimantRegistered)])
    change = item(
        jcp.ClaimantOffFlowed, claimant_ref="CLM-1", off_flow_date="2026-03-01", reason="job"
    )
    store.stale_next.append(client_id_for(KEY, "CLM-1"))
    assert await dispatcher.handle([change]) == []
    assert store.docs[client_id_for(KEY, "CLM-1")][0].on_benefit is False


async def test_an_event_for_an_unknown_claimant_is_rejected_and_the_rest_applied(clients) -> None:
    store, dispatcher = clients
    orphan = item(
        jcp.ClaimantReclaimed, claimant_ref="CLM-9", reclaim_date="2026-04-01", benefit="UC"
    )
    rejected = await dispatcher.handle([orphan, item(jcp.ClaimantRegistered)])
    assert [(i.event.id, "no client" in why) for i, why in rejected] == [(orphan.event.id, True)]
    assert len(store.docs) == 1


async def test_a_lost_race_raises_and_the_retry_applies_what_is_missing_once(clients) -> None:
    store, dispatcher = clients
    await dispatcher.handle([item(jcp.ClaimantRegistered)])
    change = item(
        jcp.ClaimantBenefitChanged,
        claimant_ref="CLM-1",
        from_benefit="JSA",
        to_benefit="UC",
        effective_date="2026-02-01",
    )
    store.stale_next += [client_id_for(KEY, "CLM-1")] * 2  # lost twice: the dispatcher tries twice
    with pytest.raises(StaleAggregate):
        await dispatcher.handle([change])
    await dispatcher.handle([change])
    await dispatcher.handle([change])
    client, version, applied = store.docs[client_id_for(KEY, "CLM-1")]
    assert client.benefit == "UC" and version == 2 and applied.count(change.event.id) == 1


async def test_more_events_for_one_client_than_ids_kept_are_still_applied_once(clients) -> None:
    """Positions, not only ids: a redelivered batch of 200 events for one client is a no-op."""
    store, dispatcher = clients
    batch = [item(jcp.ClaimantRegistered)] + [
        item(jcp.ClaimantReclaimed, claimant_ref="CLM-1", reclaim_date="2026-04-01", benefit="UC")
        for _ in range(200)
    ]
    batch = [Item(i.event, i.data, ("jcp.claimant-events.v1/0", n)) for n, i in enumerate(batch)]
    await dispatcher.handle(batch)
    await dispatcher.handle(batch)
    client, _, _ = store.docs[client_id_for(KEY, "CLM-1")]
    assert client.reclaims == 200


# --- Partnerships, moves and JCP history -------------------------------------------------------


def types(store: InMemoryDocuments[Client]) -> list[str]:
    return [e["type"] for e in store.published]


async def test_a_client_is_placed_in_the_partnership_of_its_local_authority(clients) -> None:
    store, dispatcher = clients
    await dispatcher.handle(
        [
            item(jcp.ClaimantRegistered, claimant_ref="CLM-W", local_authority="Warrington"),
            item(jcp.ClaimantRegistered, claimant_ref="CLM-S"),  # Stockton: no partnership here
        ]
    )
    assert store.docs[client_id_for(KEY, "CLM-W")][0].partnership == "cheshire-warrington"
    assert store.docs[client_id_for(KEY, "CLM-S")][0].partnership == UNASSIGNED
    assert store.published[0]["data"]["partnership"] == "cheshire-warrington"


async def test_a_registration_in_another_area_is_a_move(clients) -> None:
    store, dispatcher = clients
    await dispatcher.handle([item(jcp.ClaimantRegistered, local_authority="Warrington")])
    await dispatcher.handle([item(jcp.ClaimantRegistered, local_authority="Warrington")])
    assert types(store) == ["referrals.client.registered"], "an identical repeat: nothing"
    await dispatcher.handle(
        [item(jcp.ClaimantRegistered, local_authority="Birmingham", ward="Aston")]
    )
    assert types(store)[-1] == "referrals.client.moved"
    assert store.published[-1]["data"]["to_partnership"] == "bcbc"
    client = store.docs[client_id_for(KEY, "CLM-1")][0]
    assert (client.partnership, client.ward, client.history[-1].type) == ("bcbc", "Aston", "moved")


async def test_a_benefit_change_with_a_new_area_moves_and_announces_both(clients) -> None:
    store, dispatcher = clients
    await dispatcher.handle([item(jcp.ClaimantRegistered, local_authority="Warrington")])
    change = item(
        jcp.ClaimantBenefitChanged,
        claimant_ref="CLM-1",
        from_benefit="JSA",
        to_benefit="UC",
        effective_date="2026-02-01",
        local_authority="Coventry",
    )
    await dispatcher.handle([change])
    assert types(store)[-2:] == ["referrals.client.moved", "referrals.client.benefit-changed"]
    assert store.published[-1]["data"]["partnership"] == "bcbc"


async def test_jcp_history_becomes_client_events_with_ids_derived_from_jcp_events() -> None:
    batch = [
        item(jcp.ClaimantRegistered, local_authority="Halton"),
        item(jcp.ClaimantOffFlowed, claimant_ref="CLM-1", off_flow_date="2026-03-01", reason="job"),
        item(jcp.ClaimantReclaimed, claimant_ref="CLM-1", reclaim_date="2026-05-01", benefit="UC"),
    ]
    published = []
    for _ in range(2):  # two rebuilds from the same topic
        store: InMemoryDocuments[Client] = InMemoryDocuments("client_id")
        dispatcher = Aggregates(store, handlers(KEY, PARTNERSHIPS), "/services/referrals")  # type: ignore[arg-type]
        await dispatcher.handle(batch)
        await dispatcher.handle(batch)  # a redelivery
        published.append([(e["id"], e["type"]) for e in store.published])
    assert [t for _, t in published[0]] == [
        "referrals.client.registered",
        "referrals.client.off-flowed",
        "referrals.client.reclaimed",
    ]
    assert published[0] == published[1], "the same events, with the same ids"
    client = store.docs[client_id_for(KEY, "CLM-1")][0]
    assert [h.type for h in client.history] == ["off-flowed", "reclaimed"]
    assert client.on_benefit and client.reclaims == 1


# --- Placements --------------------------------------------------------------------------------


def placement(model: type[vacancies.EventData], client_id: str, **data: Any) -> Item:
    body = {
        "placement_id": "PL-1",
        "vacancy_id": "V-1",
        "client_id": client_id,
        "employer_id": "E-1",
        "brokerage_id": "EB-01",
        **data,
    }
    event = CloudEvent.create(type=model.event_type, source="/v", subject="V-1", data=body)
    return Item(event, model.model_validate(body))


async def test_placements_mark_the_journey_and_unknown_clients_are_ignored(clients) -> None:
    store, jcp_dispatcher = clients
    await jcp_dispatcher.handle([item(jcp.ClaimantRegistered)])
    dispatcher = Aggregates(store, placement_handlers(), "/services/referrals")  # type: ignore[arg-type]
    client_id = client_id_for(KEY, "CLM-1")
    started = placement(
        vacancies.PlacementStarted, client_id, start_date="2026-03-02", hours_per_week=24
    )
    sustained = placement(vacancies.PlacementSustained, client_id, weeks=13)
    stranger = placement(
        vacancies.PlacementStarted, "CL-unknown", start_date="2026-03-02", hours_per_week=24
    )
    assert await dispatcher.handle([started, stranger, sustained]) == []
    assert "CL-unknown" not in store.docs and len(store.published) == 1, "no events of ours"
    client = store.docs[client_id]
    assert client[0].placement_started and client[0].sustained_13
    assert [h.type for h in client[0].history] == ["placement-started", "placement-sustained"]
