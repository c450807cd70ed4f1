"""What the referrals service does when its own events come back, and when its timers fire.

Reacting to our own published events, not inline after the write, is what makes these steps
crash-proof: an event is published if and only if its write was stored (the outbox), and the
consumer retries until the reaction is stored. So a referral that was made always gets its
deadline timers, an ended referral always frees its place, and a consent withdrawal always ends
the referrals it must, whatever process died in between. Each reaction is idempotent.

Timers fire at least once (`runtime/timers.py`); what they do happens once because the
referral records each breach and its expiry under compare-and-set, with the event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from runtime.clock import Clock
from runtime.errors import Conflict, NotFound
from runtime.events import enveloper
from runtime.handlers import bind
from runtime.timers import Timer, Timers
from schemas import referrals as ev
from schemas.envelope import CloudEvent
from services.referrals import commands, domain
from services.referrals.clients import Client, consent_expiry_due
from services.referrals.domain import Referral
from services.referrals.store import ReferralsStore

SOURCE = "/services/referrals"
REFERRAL_DEADLINE = "referral-deadline"
CONSENT_EXPIRY = "consent-expiry"


def deadline_timers(referral: Referral) -> list[Timer]:
    return [
        Timer(
            timer_id=f"{referral.referral_id}|{due.isoformat()}",
            kind=REFERRAL_DEADLINE,
            target_id=referral.referral_id,
            due=due,
        )
        for due in referral.deadlines()
    ]


def consent_timer(client: Client) -> list[Timer]:
    due = consent_expiry_due(client)
    if due is None:
        return []
    return [
        Timer(
            timer_id=f"{client.client_id}|consent|{due.isoformat()}",
            kind=CONSENT_EXPIRY,
            target_id=client.client_id,
            due=due,
        )
    ]


def _plan_agreed_at(client: Client | None) -> datetime | None:
    plan = client.action_plan if client is not None else None
    return plan.agreed_at if plan is not None else None


# --- Reactions to our own events (Effects handlers: `(event, data, **deps)`) -------------------


@dataclass(frozen=True)
class Deps:
    store: ReferralsStore
    timers: Timers
    clock: Clock


async def on_referral_opened(event: CloudEvent, data: ev.ReferralCreated, *, deps: Deps) -> None:
    """Made with a place, or released from the waitlist: its deadlines start now."""
    loaded = await deps.store.referrals.get(data.referral_id)
    if loaded is not None:
        await deps.timers.schedule(deadline_timers(loaded.aggregate))


async def on_referral_ended(event: CloudEvent, data: ev._ReferralEvent, *, deps: Deps) -> None:
    """Repeat the freeing of its place (done inline too; a crash may have cut that short)."""
    loaded = await deps.store.referrals.get(data.referral_id)
    if loaded is not None and not loaded.aggregate.is_active:
        await commands.free_place(
            deps.store, loaded.aggregate, deps.clock.now(), enveloper(SOURCE, cause=event)
        )


async def on_consent_withdrawn(event: CloudEvent, data: ev.ConsentWithdrawn, *, deps: Deps) -> None:
    """Without `providers` consent no provider may hold the client: active referrals end.
    A scope that lapsed may leave another with a later date: its timer is set."""
    store = deps.store
    loaded = await store.clients.get(data.client_id)
    if loaded is None:
        return
    if data.expired:
        await deps.timers.schedule(consent_timer(loaded.aggregate))
    if "providers" in data.current_scopes:
        return
    wrap = enveloper(SOURCE, cause=event)
    for referral in await store.referrals_of(loaded.aggregate):
        if not referral.is_active:
            continue
        try:
            await commands.move_referral(
                store, domain.SYSTEM, wrap, deps.clock.now(), referral.referral_id, "withdraw",
                reason="consent-withdrawn",
            )  # fmt: skip
        except Conflict:
            continue  # ended meanwhile


async def on_consent_recorded(event: CloudEvent, data: ev.ConsentRecorded, *, deps: Deps) -> None:
    """A scope with an expiry date: a timer lapses it then."""
    if data.expires is None:
        return
    loaded = await deps.store.clients.get(data.client_id)
    if loaded is not None:
        await deps.timers.schedule(consent_timer(loaded.aggregate))


async def on_action_plan_agreed(
    event: CloudEvent, data: ev.ActionPlanAgreed, *, deps: Deps
) -> None:
    """The action-plan deadline of every active referral of the client is met."""
    store = deps.store
    loaded = await store.clients.get(data.client_id)
    if loaded is None:
        return
    wrap = enveloper(SOURCE, cause=event)
    for referral in await store.referrals_of(loaded.aggregate):
        if referral.is_active and any(
            s.name == "action_plan" and not s.met_at for s in referral.sla
        ):
            await store.referrals.mutate(
                {"_id": referral.referral_id}, lambda r: r.meet_action_plan(event.time), wrap
            )


ENDED = (
    ev.ReferralRejected,
    ev.ReferralCompleted,
    ev.ReferralDroppedOut,
    ev.ReferralWithdrawn,
    ev.ReferralExpired,
    ev.ReferralDidNotStart,
)

REACTIONS: dict[type, Callable[..., Awaitable[None]]] = {
    ev.ReferralCreated: on_referral_opened,
    ev.ReferralReleased: on_referral_opened,
    **dict.fromkeys(ENDED, on_referral_ended),
    ev.ConsentWithdrawn: on_consent_withdrawn,
    ev.ConsentRecorded: on_consent_recorded,
    ev.ActionPlanAgreed: on_action_plan_agreed,
}


def reactions(deps: Deps) -> dict[type, Callable[..., Awaitable[None]]]:
    return bind(REACTIONS, deps=deps)


# --- Timers ----------------------------------------------------------------------------------


async def on_referral_deadline(timer: Timer, *, store: ReferralsStore, clock: Clock) -> None:
    """Breaches and expiry of one referral, decided on its stored state: once, whoever fires."""
    loaded = await store.referrals.get(timer.target_id)
    if loaded is None:
        return
    client = await store.clients.get(loaded.aggregate.client_id)
    plan_at = _plan_agreed_at(client.aggregate if client else None)
    now = clock.now()
    # Events derive their ids from the timer, so two replicas firing it make the same events.
    wrap = enveloper(SOURCE, cause_id=f"timer:{timer.timer_id}")
    try:
        referral = await store.referrals.mutate(
            {"_id": timer.target_id}, lambda r: r.check_deadlines(now, plan_at), wrap
        )
    except NotFound:
        return
    if not referral.is_active:
        await commands.free_place(store, referral, now, wrap)


async def on_consent_expiry(timer: Timer, *, store: ReferralsStore, clock: Clock) -> None:
    """Scopes past their date lapse; the next one to lapse gets its timer when the
    `consent-withdrawn` (expired) event comes back (`on_consent_withdrawn`)."""
    now = clock.now()
    wrap = enveloper(SOURCE, cause_id=f"timer:{timer.timer_id}")
    try:
        await store.clients.mutate({"_id": timer.target_id}, lambda c: c.expire_consent(now), wrap)
    except NotFound:
        return


def timer_handlers(
    store: ReferralsStore, clock: Clock
) -> dict[str, Callable[[Timer], Awaitable[None]]]:
    async def deadline(timer: Timer) -> None:
        await on_referral_deadline(timer, store=store, clock=clock)

    async def consent(timer: Timer) -> None:
        await on_consent_expiry(timer, store=store, clock=clock)

    return {REFERRAL_DEADLINE: deadline, CONSENT_EXPIRY: consent}
