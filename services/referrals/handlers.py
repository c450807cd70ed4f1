"""Kafka handlers: JCP claimant events become client records. Thin: the rules are in domain."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from runtime.consumer import Handler, Rejected
from runtime.documents import AlreadyExists
from runtime.errors import NotFound
from runtime.events import enveloper
from runtime.ids import new_id
from schemas import jcp
from schemas.base import EventData
from schemas.envelope import CloudEvent
from services.referrals.domain import Client
from services.referrals.store import ReferralsStore

SOURCE = "/services/referrals"

log = structlog.get_logger(__name__)


def build_handlers(store: ReferralsStore) -> dict[type[EventData], Handler]:
    async def on_claimant_registered(event: CloudEvent, claim: jcp.ClaimantRegistered) -> None:
        if await store.clients.get_by({"claimant_ref": claim.claimant_ref}):
            log.info("client.already_registered")
            return
        client, events = Client.register(new_id("CL"), claim)
        try:
            await store.clients.add(client, enveloper(SOURCE, cause=event)(events))
        except AlreadyExists:
            log.info("client.already_registered")  # a concurrent duplicate won the race

    async def _update(
        event: CloudEvent, claimant_ref: str, change: Callable[[Client], list[EventData]]
    ) -> None:
        try:
            await store.clients.mutate(
                {"claimant_ref": claimant_ref}, change, enveloper(SOURCE, cause=event)
            )
        except NotFound:
            raise Rejected("no client for this claimant_ref; was it ever registered?") from None

    async def on_benefit_changed(event: CloudEvent, data: jcp.ClaimantBenefitChanged) -> None:
        await _update(event, data.claimant_ref, lambda c: c.change_benefit(data))

    async def on_off_flowed(event: CloudEvent, data: jcp.ClaimantOffFlowed) -> None:
        await _update(event, data.claimant_ref, lambda c: c.off_flow())

    async def on_reclaimed(event: CloudEvent, data: jcp.ClaimantReclaimed) -> None:
        await _update(event, data.claimant_ref, lambda c: c.reclaim(data))

    return {
        jcp.ClaimantRegistered: on_claimant_registered,
        jcp.ClaimantBenefitChanged: on_benefit_changed,
        jcp.ClaimantOffFlowed: on_off_flowed,
        jcp.ClaimantReclaimed: on_reclaimed,
    }
