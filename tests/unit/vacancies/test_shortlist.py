"""The shortlist read model: ranked by (priority, score), within its size, re-proposals re-rank,
withdrawn matches leave, and it is read by `_id` only."""

from __future__ import annotations

import copy
from typing import Any

from runtime.store_profile import StoreProfile
from schemas import matching
from schemas.envelope import CloudEvent
from services.vacancies import handlers
from services.vacancies.store import VacanciesStore, ranked_shortlist


class IdOnlyCollection:
    """A collection that answers only `{_id: ...}` (as FerretDB's index does): anything else
    would be a scan, and fails the test."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    async def find_one(self, query: dict[str, Any], projection: Any = None) -> Any:
        assert set(query) == {"_id"} and isinstance(query["_id"], str), query
        doc = self.docs.get(query["_id"])
        return copy.deepcopy(doc) if doc else None

    async def update_one(self, query: dict[str, Any], update: dict[str, Any], upsert=False) -> None:
        assert set(query) == {"_id"}, query
        doc = self.docs.get(query["_id"])
        if doc is None:
            if not upsert:
                return
            doc = self.docs[query["_id"]] = {"_id": query["_id"]}
        for path, value in update.get("$set", {}).items():
            *parents, leaf = path.split(".")
            at = doc
            for p in parents:
                at = at.setdefault(p, {})
            at[leaf] = copy.deepcopy(value)
        for path in update.get("$unset", {}):
            *parents, leaf = path.split(".")
            at = doc
            for p in parents:
                at = at.get(p, {})
            at.pop(leaf, None)


class FakeDb(dict):
    def __missing__(self, name: str) -> IdOnlyCollection:
        self[name] = IdOnlyCollection()
        return self[name]


class FakePersistence:
    def __init__(self) -> None:
        self.db = FakeDb()
        self.profile = StoreProfile()  # FerretDB's: lookups one `_id` at a time

    def documents(self, *_: Any, **__: Any) -> None:
        return None


def _proposed(client: str, score: float, *, priority: bool = False, size: int = 2) -> dict:
    return {
        "match_id": f"MT-{client}",
        "vacancy_id": "VAC-1",
        "client_id": client,
        "employer_id": "E-1",
        "brokerage_id": "EB-01",
        "score": score,
        "reasons": [],
        "rules_version": "engine-test",
        "rank": 1,
        "priority": priority,
        "shortlist_size": size,
    }


async def _send(store: VacanciesStore, model: type, data: dict[str, Any]) -> None:
    event = CloudEvent.create(type=model.event_type, source="/t", subject="VAC-1", data=data)
    await handlers.HANDLERS[model](event, model(**data), store=store)


async def test_ranked_by_priority_then_score_within_the_size() -> None:
    store = VacanciesStore(FakePersistence())  # type: ignore[arg-type]
    for client, score in (("A", 0.7), ("B", 0.9), ("C", 0.8)):
        await _send(store, matching.MatchProposed, _proposed(client, score, size=3))
    await _send(store, matching.MatchProposed, _proposed("D", 0.6, priority=True, size=3))
    shortlist = await store.shortlist("VAC-1")
    # Size 3 and four live: the routeway graduate first, then the best two by score.
    assert [(m["client_id"], m["rank"]) for m in shortlist] == [("D", 1), ("B", 2), ("C", 3)]


async def test_a_re_proposal_rescores_and_a_withdrawal_leaves() -> None:
    store = VacanciesStore(FakePersistence())  # type: ignore[arg-type]
    await _send(store, matching.MatchProposed, _proposed("A", 0.9))
    await _send(store, matching.MatchProposed, _proposed("B", 0.8))
    await _send(store, matching.MatchProposed, _proposed("B", 0.95))  # re-scored
    shortlist = await store.shortlist("VAC-1")
    assert [(m["client_id"], m["rank"], m["score"]) for m in shortlist] == [
        ("B", 1, 0.95),
        ("A", 2, 0.9),
    ]
    withdrawn = {
        "match_id": "MT-B",
        "vacancy_id": "VAC-1",
        "client_id": "B",
        "brokerage_id": "EB-01",
        "reason": "placed",
    }
    await _send(store, matching.MatchWithdrawn, withdrawn)
    await _send(store, matching.MatchWithdrawn, withdrawn)  # a redelivery changes nothing
    assert [(m["client_id"], m["rank"]) for m in await store.shortlist("VAC-1")] == [("A", 1)]
    # The withdrawn match is still readable by id (a submission names it), as withdrawn.
    assert (await store.match("MT-B"))["status"] == "withdrawn"  # type: ignore[index]
    # Proposed again after its withdrawal: back on the list.
    await _send(store, matching.MatchProposed, _proposed("B", 0.85))
    assert [m["client_id"] for m in await store.shortlist("VAC-1")] == ["A", "B"]


def test_ranking_ignores_withdrawn_and_breaks_ties_by_match_id() -> None:
    docs = [
        {"_id": "MT-2", "match_id": "MT-2", "score": 0.8, "status": "proposed"},
        {"_id": "MT-1", "match_id": "MT-1", "score": 0.8, "status": "proposed"},
        {"_id": "MT-3", "match_id": "MT-3", "score": 0.99, "status": "withdrawn"},
    ]
    ranked = ranked_shortlist(docs, None)
    assert [(m["match_id"], m["rank"]) for m in ranked] == [("MT-1", 1), ("MT-2", 2)]
    assert all("_id" not in m for m in ranked)
