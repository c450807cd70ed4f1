"""Ingest throughput of the running platform: JCP claimant events in, every consumer group
caught up, against a floor measured in the same run.

Needs the platform up (`make run`, or `DEMO=0 make run`). One run:

1. publishes N `jcp.claimant.registered` events as JCP would (CloudEvents keyed by claimant
   ref on `jcp.claimant-events.v1`, unique refs `BNCH-<run>-<i>`), as fast as an idempotent
   `acks=all` producer goes;
2. samples the referrals group's committed offsets on that topic every half second and reports
   events/s per tenth of the run, overall, and the last tenth against the first;
3. reports when every consumer group of the platform had committed up to the end of every
   partition it consumes (and every new client was announced on `referrals.events.v1`),
   counted from the first publish;
4. reports each service's resident memory (from /proc);
5. then, with the platform idle, runs the floor: one raw aiokafka loop over the same records
   (a fresh group, `getmany` batches, one `insert_many` into a scratch database and one produced
   record per event to a scratch topic, a commit per batch), and the ratio of the referrals
   stage to it.

Goals are printed beside the figures; nothing is asserted. `--check` only says whether the
four services answer on their ports (`bench/run_all.py` uses it).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import itertools
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)
from aiokafka.errors import KafkaError

from runtime.kafka import CLOUDEVENTS_CONTENT_TYPE
from runtime.mongo import connect
from runtime.supervisor import SERVICES
from schemas import jcp
from schemas.envelope import CloudEvent
from schemas.topics import JCP_CLAIMANT_EVENTS, REFERRAL_EVENTS

KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
MONGO = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017")
REPLICATION = int(os.environ.get("KAFKA_REPLICATION_FACTOR", "1"))
QUICK_EVENTS = 1_000

# Goals: informative, printed next to the figures, never asserted.
GOAL_REFERRALS_RATE = 2_000.0  # events/s through the referrals stage
GOAL_FLOOR_SHARE = 0.50  # referrals stage / floor
GOAL_LAST_OVER_FIRST = 1.25  # duration of the last tenth / the first
GOAL_CATCH_UP_S, GOAL_CATCH_UP_EVENTS = 120.0, 100_000  # every group caught up
GOAL_RSS_MB = 200.0  # per service

HEADERS = [("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())]

# --- realistic claimants ------------------------------------------------------------------
# (jcp office, local authority, ward, postcode district, weight). The five priority wards of
# the plans and the demo's areas weigh most (shared/reference/domain-digest.md).
AREAS: list[tuple[str, str, str, str, int]] = [
    ("Warrington", "Warrington", "Bewsey & Whitecross", "WA5", 8),
    ("Warrington", "Warrington", "Poplars & Hulme", "WA2", 4),
    ("Chester", "Cheshire West and Chester", "Blacon Lodge", "CH1", 7),
    ("Chester", "Cheshire West and Chester", "Grosvenor", "CH4", 5),
    ("Ellesmere Port", "Cheshire West and Chester", "Westminster", "CH65", 5),
    ("Ellesmere Port", "Cheshire West and Chester", "Stanlow & Wolverham", "CH65", 5),
    ("Stockton", "Stockton-on-Tees", "Stainsby Hill", "TS17", 6),
    ("Middlesbrough", "Middlesbrough", "Middlehaven", "TS1", 4),
    ("Birmingham", "Birmingham", "Aston", "B6", 7),
    ("Birmingham", "Birmingham", "Nechells", "B7", 5),
    ("Wolverhampton", "Wolverhampton", "St Peter's", "WV1", 4),
    ("Sandwell", "Sandwell", "Tipton Green", "DY4", 3),
]
# Claimants in the priority wards: 42% sick or disabled, 24% unemployed, 18% Income Support,
# 16% lone parents (domain digest, section 8).
BENEFITS = {"IB": 22, "ESA": 20, "JSA": 14, "UC": 10, "IS": 18, "IS_LP": 16}
AGE_BANDS = {"16-24": 20, "25-49": 55, "50+": 25}
EXTRA_GROUPS = {"bme": 0.20, "carer": 0.08, "ex_offender": 0.05, "refugee": 0.03}


def claimant(rng: random.Random, ref: str, today: date) -> dict[str, Any]:
    office, authority, ward, district, _ = rng.choices(AREAS, [a[4] for a in AREAS])[0]
    benefit = rng.choices(list(BENEFITS), list(BENEFITS.values()))[0]
    age_band = rng.choices(list(AGE_BANDS), list(AGE_BANDS.values()))[0]
    long_term = benefit in ("IB", "ESA") and rng.random() < 0.6
    days = rng.randint(400, 3000) if long_term else rng.randint(0, 400)
    claim_start = today - timedelta(days=days)
    groups: list[str] = []
    if benefit == "IS_LP":
        groups.append("lone_parent")
    if benefit in ("IB", "ESA"):
        groups.append("health_condition" if rng.random() < 0.7 else "disability")
    if age_band == "50+":
        groups.append("over_50")
    if age_band == "16-24" and rng.random() < 0.5:
        groups.append("young_neet")
    if (today - claim_start).days > 365:
        groups.append("long_term_unemployed")
    groups += [g for g, p in EXTRA_GROUPS.items() if rng.random() < p]
    return {
        "claimant_ref": ref,
        "benefit": benefit,
        "claim_start": claim_start.isoformat(),
        "jcp_office": office,
        "local_authority": authority,
        "ward": ward,
        "postcode_district": district,
        "age_band": age_band,
        "priority_groups": groups,
    }


def build_events(run: str, n: int) -> list[tuple[bytes, bytes]]:
    """(key, value) of N claimant registrations, each validated against the contract's model."""
    rng, today, records = random.Random(run), date.today(), []
    for i in range(n):
        data = claimant(rng, f"BNCH-{run}-{i}", today)
        jcp.ClaimantRegistered.model_validate(data)  # never publish poison by accident
        event = CloudEvent.create(
            type=jcp.ClaimantRegistered.event_type,
            source="/jcp/claimant-feed",
            subject=data["claimant_ref"],
            data=data,
        )
        records.append((event.subject.encode(), event.to_bytes()))
    return records


# --- Kafka observation -----------------------------------------------------------------------
Offsets = dict[TopicPartition, int]


class Probe:
    """Committed and end offsets of the platform's consumer groups, read without joining them."""

    def __init__(self, bootstrap: str, groups: list[str]) -> None:
        self.groups = groups
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-ingest")
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, client_id="bench-ingest")
        self._coordinators: dict[str, int] = {}
        self._partitions: dict[str, list[int]] = {}
        self.consumes: dict[str, set[str]] = {g: set() for g in groups}
        self.members: dict[str, int] = {g: 0 for g in groups}
        self.beginnings: Offsets = {}

    async def start(self) -> None:
        await self.admin.start()
        await self.consumer.start()

    async def close(self) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def partitions(self, topic: str) -> list[TopicPartition]:
        if topic not in self._partitions:
            described = await self.admin.describe_topics([topic])
            self._partitions[topic] = sorted(p["partition"] for p in described[0]["partitions"])
        return [TopicPartition(topic, p) for p in self._partitions[topic]]

    async def committed(self, group: str) -> Offsets:
        """The group's committed offsets ({} while it has none, or no coordinator yet)."""
        for _ in range(2):
            try:
                if group not in self._coordinators:
                    self._coordinators[group] = await self.admin.find_coordinator(group)
                offsets = await self.admin.list_consumer_group_offsets(
                    group, group_coordinator_id=self._coordinators[group]
                )
                return {tp: om.offset for tp, om in offsets.items() if om.offset >= 0}
            except KafkaError:
                self._coordinators.pop(group, None)  # moved, or not there yet: ask again
        return {}

    async def end_offsets(self, tps: Iterable[TopicPartition]) -> Offsets:
        tps = list(tps)
        return dict(await self.consumer.end_offsets(tps)) if tps else {}

    async def refresh_groups(self) -> None:
        """Which topics each group consumes, and how many members it has. The topics are its
        members' subscriptions and assignments; for a group without members, those it has
        committed offsets on (which may include a topic an older version consumed)."""
        for group in self.groups:
            topics: set[str] = set()
            members = 0
            with contextlib.suppress(KafkaError):
                for response in await self.admin.describe_consumer_groups([group]):
                    for described in response.to_object()["groups"]:
                        for member in described["members"]:
                            members += 1
                            with contextlib.suppress(Exception):
                                meta = ConsumerProtocolMemberMetadata.decode(
                                    member["member_metadata"]
                                )
                                topics.update(meta.subscription)
                            with contextlib.suppress(Exception):
                                assigned = ConsumerProtocolMemberAssignment.decode(
                                    member["member_assignment"]
                                )
                                topics.update(t for t, _ in assigned.assignment)
            if not members:
                topics = {tp.topic for tp in await self.committed(group)}
            self.consumes[group] = topics
            self.members[group] = members
        fresh = [tp for tp in await self.consumed_partitions() if tp not in self.beginnings]
        if fresh:
            self.beginnings.update(await self.consumer.beginning_offsets(fresh))

    async def consumed_partitions(self) -> list[TopicPartition]:
        topics = sorted(set().union(*self.consumes.values()))
        return [tp for topic in topics for tp in await self.partitions(topic)]

    async def lags(self) -> tuple[dict[str, int], Offsets, dict[str, Offsets]]:
        """Records each group has yet to commit, the end offsets, the committed offsets."""
        tps = await self.consumed_partitions()
        ends, *commits = await asyncio.gather(
            self.end_offsets(tps), *(self.committed(g) for g in self.groups)
        )
        committed = dict(zip(self.groups, commits, strict=True))
        lags = {}
        for group in self.groups:
            mine = [tp for tp in tps if tp.topic in self.consumes[group]]
            lags[group] = sum(
                max(0, ends[tp] - committed[group].get(tp, self.beginnings.get(tp, 0)))
                for tp in mine
            )
        return lags, ends, committed


# --- service memory ----------------------------------------------------------------------------
def service_pids(names: Iterable[str], groups: Iterable[str], kafka: str) -> dict[str, list[int]]:
    """Python processes started as `-m services.<name>` (replicas included), leaving out those
    whose environment names another broker or a consumer group not measured (a test's or a
    colleague's separate copy)."""
    ours = {"", *groups}
    wanted = {f"services.{n}".encode(): n for n in names}
    found: dict[str, list[int]] = {n: [] for n in wanted.values()}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not Path(args[0].decode(errors="replace")).name.startswith("python"):
            continue  # a wrapper such as `timeout` or a shell, not the service itself
        for flag, module in itertools.pairwise(args):
            if flag == b"-m" and module in wanted:
                env = _environment(entry)
                group = env.get("KAFKA_GROUP_ID", "")
                broker = env.get("KAFKA_BOOTSTRAP_SERVERS", kafka)
                if group in ours and broker in (kafka, ""):
                    found[wanted[module]].append(int(entry.name))
    return found


def _environment(proc: Path) -> dict[str, str]:
    """The environment a process was started with ({} when unreadable)."""
    with contextlib.suppress(OSError):
        pairs = (v.partition(b"=") for v in (proc / "environ").read_bytes().split(b"\0"))
        return {k.decode(errors="replace"): v.decode(errors="replace") for k, _, v in pairs}
    return {}


def rss_mb(pid: int) -> float:
    try:
        for line in (Path("/proc") / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# --- the run ------------------------------------------------------------------------------------
@dataclass
class Watch:
    """What the sampler saw, from the first publish (t = 0)."""

    n: int
    absent: set[str]  # groups without a member before the run
    t_first: float = 0.0
    # Where each of the run's records landed, as acknowledged: others may publish on the same
    # topic meanwhile, so progress is counted in the run's own offsets.
    mine: dict[TopicPartition, list[int]] = field(default_factory=dict)
    unsorted: bool = False
    published: asyncio.Event = field(default_factory=asyncio.Event)
    samples: list[tuple[float, int]] = field(default_factory=lambda: [(0.0, 0)])
    # Every record the group committed on the topic by each sample, the run's or not.
    totals: list[tuple[float, int]] = field(default_factory=list)
    caught_up_at: float | None = None
    gave_up: str = ""
    last_lags: dict[str, int] = field(default_factory=dict)
    peak_rss: dict[str, float] = field(default_factory=dict)
    memberless: set[str] = field(default_factory=set)
    # Each new client is announced on referrals.events.v1: until the run's N are there, an
    # outbox still holds some, whatever the offsets say.
    announced_from: Offsets = field(default_factory=dict)
    announced: int = 0

    def acked(self, future: asyncio.Future[Any]) -> None:
        if not future.cancelled() and future.exception() is None:
            meta = future.result()
            self.mine.setdefault(TopicPartition(meta.topic, meta.partition), []).append(meta.offset)
            self.unsorted = True

    def handled(self, committed: Offsets) -> int:
        """How many of the run's records lie below the committed offsets."""
        if self.unsorted:
            for offsets in self.mine.values():
                offsets.sort()
            self.unsorted = False
        return sum(bisect.bisect_left(o, committed.get(tp, 0)) for tp, o in self.mine.items())


def crossing(samples: list[tuple[float, int]], target: int) -> float | None:
    """When the committed count reached `target`, interpolated between two samples."""
    t0, c0 = samples[0]
    for t, c in samples:
        if c >= target:
            return t if c == c0 else t0 + (t - t0) * (target - c0) / (c - c0)
        t0, c0 = t, c
    return None


def progress(line: str) -> None:
    if sys.stderr.isatty():
        print(f"\r\033[K{line}", end="", file=sys.stderr, flush=True)


async def watch(probe: Probe, w: Watch, args: argparse.Namespace) -> None:
    """Sample every `--sample` s until every group has caught up, the timeout, or a stall."""
    last_change, last_state, streak_from = 0.0, None, None
    pids = service_pids(SERVICES, probe.groups, args.kafka)
    announcements = await probe.partitions(REFERRAL_EVENTS.name)
    next_describe = 0.0
    while True:
        now = time.monotonic() - w.t_first
        if now >= next_describe:  # a group may subscribe, or a service restart, mid-run
            await probe.refresh_groups()
            w.memberless.update(g for g, count in probe.members.items() if not count)
            next_describe = now + 5.0
        (lags, _, committed), announced = await asyncio.gather(
            probe.lags(), probe.end_offsets(announcements)
        )
        w.announced = sum(o - w.announced_from.get(tp, o) for tp, o in announced.items())
        done = w.handled(committed[args.referrals_group])
        now = time.monotonic() - w.t_first
        w.samples.append((now, min(done, w.n)))
        w.totals.append((now, sum(committed[args.referrals_group].values())))
        w.last_lags = lags
        for name, ids in pids.items():
            total = sum(rss_mb(p) for p in ids)
            w.peak_rss[name] = max(w.peak_rss.get(name, 0.0), total)
        # Progress: a commit by any group, or an announcement (not a topic merely growing).
        state = (done, w.announced, *(sum(committed[g].values()) for g in probe.groups))
        if state != last_state:
            last_change, last_state = now, state
        lagging = ", ".join(f"{g} {lag:,}" for g, lag in lags.items() if lag)
        progress(f"  {now:6.1f} s  referrals {min(done, w.n):,}/{w.n:,}  lag: {lagging or 'none'}")
        # Caught up: everything published and handled by referrals, every new client announced,
        # and no group lagging for `--settle` s (a relay may publish after the commit).
        if w.published.is_set() and done >= w.n and w.announced >= w.n and not any(lags.values()):
            streak_from = now if streak_from is None else streak_from
            if now - streak_from >= args.settle:
                w.caught_up_at = streak_from
                break
        else:
            streak_from = None
        if now > args.timeout:
            w.gave_up = f"timed out after {args.timeout:.0f} s"
            break
        if w.published.is_set() and now - last_change > args.stall:
            w.gave_up = f"no progress for {args.stall:.0f} s"
            break
        await asyncio.sleep(args.sample)
    progress("")


async def drain_first(probe: Probe, limit: float) -> dict[str, int]:
    """Wait (up to `limit` s) for a backlog from before this run, so it is not measured."""
    deadline = time.monotonic() + limit
    while True:
        lags, _, _ = await probe.lags()
        if not any(lags.values()) or time.monotonic() > deadline:
            progress("")
            return lags
        progress(f"  waiting for an earlier backlog to drain: {lags}")
        await asyncio.sleep(1.0)


def producer(bootstrap: str, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=10,
        max_batch_size=256 * 1024,
    )


async def send_all(prod: AIOKafkaProducer, records: list[tuple[bytes, bytes]], w: Watch) -> None:
    """Send everything without awaiting each ack, then await them all."""
    futures = []
    for i, (key, value) in enumerate(records):
        future = await prod.send(JCP_CLAIMANT_EVENTS.name, value=value, key=key, headers=HEADERS)
        future.add_done_callback(w.acked)
        futures.append(future)
        if i % 1000 == 999:
            await asyncio.sleep(0)  # let the sampler in
    await asyncio.gather(*futures)


async def floor(args: argparse.Namespace, run: str, w: Watch) -> tuple[float, int]:
    """The minimal loop over the run's records: consume a batch, store it, produce, commit."""
    scratch = f"bench.floor.{run}"
    admin = AIOKafkaAdminClient(bootstrap_servers=args.kafka, client_id="bench-floor")
    await admin.start()
    mongo = connect(args.mongo)
    db = mongo[f"bench_floor_{run}"]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=args.kafka,
        client_id="bench-floor",
        group_id=f"bench-floor-{run}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    prod = producer(args.kafka, "bench-floor")
    created = False
    try:
        await admin.create_topics(
            [NewTopic(name=scratch, num_partitions=3, replication_factor=REPLICATION)]
        )
        created = True
        await prod.start()
        await consumer.start()
        w.handled({})  # sorts the run's offsets
        end = {tp: offsets[-1] + 1 for tp, offsets in w.mine.items()}
        consumer.assign(list(end))
        for tp, offsets in w.mine.items():
            consumer.seek(tp, offsets[0])
        ours = f"BNCH-{run}-".encode()
        await db["records"].insert_one({"_id": "warm-up"})  # the collection exists, as in a service
        done, count = set(), 0
        t0 = time.perf_counter()
        while len(done) < len(end):
            batch = await consumer.getmany(timeout_ms=200, max_records=args.floor_batch)
            docs, sends, commits = [], [], {}
            for tp, msgs in batch.items():
                for m in msgs:
                    if m.offset >= end[tp]:
                        break
                    commits[tp] = m.offset + 1
                    if not (m.key or b"").startswith(ours):
                        continue  # another producer's record, amid the run's
                    event = json.loads(m.value)
                    data = event["data"]
                    ref = data["claimant_ref"]
                    docs.append({"_id": event["id"], "claimant_ref": ref, "ward": data["ward"]})
                    out = json.dumps({"id": event["id"], "claimant_ref": ref})
                    sends.append(await prod.send(scratch, value=out.encode(), key=m.key))
                if commits.get(tp, 0) >= end[tp]:
                    done.add(tp)
            if docs:
                await asyncio.gather(db["records"].insert_many(docs), *sends)
                count += len(docs)
            if commits:
                await consumer.commit(commits)
        elapsed = time.perf_counter() - t0
        return count / elapsed if elapsed else 0.0, count
    finally:
        await consumer.stop()
        await prod.stop()
        if created:
            with contextlib.suppress(KafkaError):
                await admin.delete_topics([scratch])
        await admin.close()
        await mongo.drop_database(db.name)
        await mongo.close()


async def watched_partitions(probe: Probe) -> list[TopicPartition]:
    """The partitions the groups consume, and those of their dead-letter twins."""
    consumed = await probe.consumed_partitions()
    topics = sorted({tp.topic for tp in consumed})
    dlqs = [f"{t}.dlq" for t in topics if not t.endswith(".dlq")]
    return consumed + [tp for dlq in dlqs for tp in await probe.partitions(dlq)]


def mark(ok: bool) -> str:
    return "met" if ok else "MISSED"


def row(label: str, figure: str, goal: str = "") -> None:
    """One figure: a label, the figure, and the goal beside it."""
    print(f"  {label:<34} {figure:<27} {goal}".rstrip())


def report_referrals(w: Watch) -> float | None:
    """The referrals stage tenth by tenth; its overall rate when it handled the whole run."""
    n = w.n
    print(
        "  referrals stage, by tenth of the run (the group's committed offsets on the JCP topic):"
    )
    marks = [round(n * k / 10) for k in range(11)]
    times = [0.0] + [crossing(w.samples, m) for m in marks[1:]]
    durations: list[float] = []
    for k in range(10):
        a, b = times[k], times[k + 1]
        label = f"  tenth {k + 1:2}  {marks[k]:>7,} to {marks[k + 1]:<7,}"
        if a is None or b is None:
            row(label, "not reached")
            continue
        d = max(b - a, 1e-9)
        durations.append(d)
        row(label, f"{(marks[k + 1] - marks[k]) / d:9,.0f} events/s  {d:7.2f} s")
    if times[10] is None:
        handled, at = w.samples[-1][1], w.samples[-1][0]
        rate = handled / at if at else 0.0
        row("referrals stage overall", f"{rate:9,.1f} events/s", f"{handled:,} of {n:,} so far")
        report_all_records(w)
        return None
    rate = n / times[10]
    row(
        "referrals stage overall",
        f"{rate:9,.0f} events/s  {times[10]:7.2f} s",
        f"goal >= {GOAL_REFERRALS_RATE:,.0f}/s: {mark(rate >= GOAL_REFERRALS_RATE)}",
    )
    report_all_records(w)
    # Commits come in batches; tenths inside one sampling interval are only interpolated.
    steps = sum(1 for (_, a), (_, b) in itertools.pairwise(w.samples) if b > a and a < n)
    if len(durations) == 10 and steps >= 10:
        ratio = durations[-1] / durations[0]
        row(
            "last tenth / first tenth",
            f"{ratio:9.2f} (duration)",
            f"goal <= {GOAL_LAST_OVER_FIRST}: {mark(ratio <= GOAL_LAST_OVER_FIRST)}",
        )
    elif len(durations) == 10:
        row("last tenth / first tenth", "      n/a", f"goal <= {GOAL_LAST_OVER_FIRST}")
        print(
            f"  note: the run's commits showed up in only {steps} sample(s), so the tenths are"
            " interpolated: use more events"
        )
    return rate


def report_all_records(w: Watch) -> None:
    """With other producers on the topic, or a backlog, the group handled more than the run:
    its rate over every record it committed until the run's last (or until now)."""
    t_all = next((t for t, c in w.samples[1:] if c >= w.n), w.samples[-1][0])
    reached = [total for t, total in w.totals if t <= t_all]
    if reached and t_all > 0 and reached[-1] - w.totals[0][1] > w.n:
        row(
            "  every record the group committed",
            f"{(reached[-1] - w.totals[0][1]) / t_all:9,.0f} events/s",
            "(the run's and others' records alike)",
        )


def report_catch_up(w: Watch, before: Offsets, after: Offsets) -> None:
    n = w.n
    pro_rata = GOAL_CATCH_UP_S * n / GOAL_CATCH_UP_EVENTS
    goal = f"goal <= {GOAL_CATCH_UP_S:.0f} s per {GOAL_CATCH_UP_EVENTS:,}"
    if n != GOAL_CATCH_UP_EVENTS:
        goal += f" ({pro_rata:.1f} s pro rata)"
    if w.caught_up_at is not None:
        row(
            "every group caught up after",
            f"{w.caught_up_at:9.2f} s",
            f"{goal}: {mark(w.caught_up_at <= pro_rata)}",
        )
        row("  i.e. end to end", f"{n / w.caught_up_at:9,.0f} events/s")
    else:
        lagging = ", ".join(f"{g} {lag:,}" for g, lag in w.last_lags.items() if lag)
        row("every group caught up after", "not yet", f"{w.gave_up}; to commit: {lagging or '-'}")
        if w.announced < n:
            print(
                f"  note: {REFERRAL_EVENTS.name} gained {w.announced:,} records, fewer than the"
                f" {n:,} new clients to announce: events are still in an outbox"
            )
    growth: dict[str, int] = {}
    for tp, offset in after.items():
        if offset > before.get(tp, 0):
            growth[tp.topic] = growth.get(tp.topic, 0) + offset - before.get(tp, 0)
    print("  records written during the run:")
    for topic, count in sorted(growth.items()):
        row(f"  {topic}", f"{count:9,}")
    dead = sum(c for t, c in growth.items() if t.endswith(".dlq"))
    if dead:
        print(f"  note: {dead:,} records were dead-lettered during the run")
    foreign = growth.get(JCP_CLAIMANT_EVENTS.name, 0) - n
    if foreign > 0:
        print(
            f"  note: {foreign:,} records from another producer arrived on"
            f" {JCP_CLAIMANT_EVENTS.name} during the run; the platform handled them too"
        )
    if w.memberless - w.absent:
        print(
            "  note: at some point during the run, no member in"
            f" {', '.join(sorted(w.memberless - w.absent))} (a service stopped or restarted?)"
        )


def report_memory(pids: dict[str, list[int]], rss: dict[str, float], w: Watch) -> None:
    print("  service memory (RSS at the end; the highest sampled during the run):")
    if not any(pids.values()):
        print("    no `python -m services.<name>` process found on this machine")
    for name, ids in pids.items():
        if not ids:
            row(f"  {name}", "not running here")
            continue
        row(
            f"  {name} x{len(ids)}",
            f"{rss[name]:9.1f} MB  ({w.peak_rss.get(name, 0):.1f})",
            f"goal <= {GOAL_RSS_MB:.0f} MB each: {mark(rss[name] / len(ids) <= GOAL_RSS_MB)}",
        )


async def run(args: argparse.Namespace) -> int:
    run_id = uuid.uuid4().hex[:8]
    n = args.events
    groups: list[str] = args.groups
    if args.referrals_group not in groups:
        groups = [args.referrals_group, *groups]
    probe = Probe(args.kafka, groups)
    await probe.start()
    try:
        await probe.refresh_groups()
        absent = [g for g in groups if not probe.members[g]]
        if args.referrals_group in absent:
            print(
                f"ingest: the consumer group {args.referrals_group!r} has no members on "
                f"{args.kafka}: is the platform running? (make run)",
                file=sys.stderr,
            )
            return 2
        backlog = await drain_first(probe, args.drain)
        before = await probe.end_offsets(await watched_partitions(probe))

        t = time.perf_counter()
        records = build_events(run_id, n)
        prepared = time.perf_counter() - t

        print(f"ingest: {n:,} jcp.claimant.registered events, run {run_id}")
        print(f"  consumer groups: {', '.join(groups)}")
        if absent:
            print(f"  warning: no running member in {', '.join(absent)}: it cannot catch up")
        if any(backlog.values()):
            print(f"  warning: an earlier backlog was still draining at the start: {backlog}")
        w = Watch(n=n, absent=set(absent))
        w.announced_from = await probe.end_offsets(await probe.partitions(REFERRAL_EVENTS.name))
        prod = producer(args.kafka, "bench-jcp-feed")
        await prod.start()
        sampler = None
        try:
            w.t_first = time.monotonic()
            sampler = asyncio.create_task(watch(probe, w, args))
            await send_all(prod, records, w)
            publish_s = time.monotonic() - w.t_first
            w.published.set()
        except BaseException:
            if sampler:
                sampler.cancel()
            raise
        finally:
            await prod.stop()
        del records
        row(
            "publish (acks=all, idempotent)",
            f"{n / publish_s:9,.0f} events/s  {publish_s:7.2f} s",
            f"(built and validated beforehand in {prepared:.2f} s)",
        )
        await sampler
        pids = service_pids(SERVICES, probe.groups, args.kafka)
        rss = {name: sum(rss_mb(p) for p in ids) for name, ids in pids.items()}
        for name, mb in rss.items():
            w.peak_rss[name] = max(w.peak_rss.get(name, 0.0), mb)
        after = await probe.end_offsets(await watched_partitions(probe))
    finally:
        await probe.close()

    referrals_rate = report_referrals(w)
    report_catch_up(w, before, after)
    report_memory(pids, rss, w)

    # The floor, once the platform is idle (both would otherwise share the machine's CPUs).
    if args.no_floor:
        return 0
    if w.caught_up_at is None:
        print("  note: the platform has not caught up, so the floor may share the CPUs with it")
    floor_rate, floor_count = await floor(args, run_id, w)
    row(
        "floor (raw aiokafka + insert_many)",
        f"{floor_rate:9,.0f} events/s",
        f"{floor_count:,} records, batches of {args.floor_batch}",
    )
    if referrals_rate is not None and floor_rate:
        share = referrals_rate / floor_rate
        row(
            "ratio referrals stage / floor",
            f"{share:9.2f}",
            f"goal >= {GOAL_FLOOR_SHARE:.2f}: {mark(share >= GOAL_FLOOR_SHARE)}",
        )
    return 0


def platform_up(host: str) -> list[str]:
    """The services that do not answer /healthz on their usual ports."""
    down = []
    for name, port in SERVICES.items():
        try:
            ok = httpx.get(f"http://{host}:{port}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            ok = False
        if not ok:
            down.append(f"{name} ({host}:{port})")
    return down


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, help="events to publish (default 100,000)")
    parser.add_argument(
        "--quick", action="store_true", help=f"a smoke run of {QUICK_EVENTS:,} events"
    )
    parser.add_argument("--kafka", default=KAFKA, help="Kafka (default: %(default)s)")
    parser.add_argument("--mongo", default=MONGO, help="the floor's store (default: %(default)s)")
    parser.add_argument(
        "--groups",
        default=",".join(SERVICES),
        type=lambda s: [g for g in s.split(",") if g],
        help="the platform's consumer groups, comma-separated (default: %(default)s)",
    )
    parser.add_argument(
        "--referrals-group", default="referrals", help="the group of the referrals stage"
    )
    parser.add_argument("--sample", type=float, default=0.5, help="seconds between samples")
    parser.add_argument(
        "--timeout", type=float, help="give up waiting after this many s (default 600; quick 300)"
    )
    parser.add_argument(
        "--stall", type=float, default=120.0, help="give up after this many s with no progress"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=2.0,
        help="s that every group must stay caught up to count as caught up",
    )
    parser.add_argument(
        "--drain", type=float, default=60.0, help="s to wait for an earlier backlog to drain"
    )
    parser.add_argument("--floor-batch", type=int, default=500, help="records per floor batch")
    parser.add_argument("--no-floor", action="store_true", help="skip the floor")
    parser.add_argument(
        "--check",
        action="store_true",
        help="only say whether the four services answer /healthz on 8101-8104; exit 0 if so",
    )
    parser.add_argument("--host", default="127.0.0.1", help="where the services listen (--check)")
    args = parser.parse_args(argv)
    if args.events is None:
        args.events = QUICK_EVENTS if args.quick else 100_000
    if args.timeout is None:
        args.timeout = 300.0 if args.quick else 600.0
    if args.events < 1:
        parser.error("--events must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    if args.check:
        down = platform_up(args.host)
        if down:
            print(f"the platform is not running: no answer from {', '.join(down)}")
        return 1 if down else 0
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
