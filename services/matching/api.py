"""HTTP routes of the matching service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from runtime.errors import Invalid
from runtime.principal import Principal
from schemas.visibility import employer_view_of_match
from services.matching.access import Caller
from services.matching.domain import Match, may_see_match
from services.matching.rules import RULES_VERSION, WEIGHTS
from services.matching.store import MatchingStore

IdQuery = Annotated[str | None, Query(max_length=64)]


def build_router(store: MatchingStore) -> APIRouter:
    router = APIRouter(tags=["matches"])

    @router.get("/matches")
    async def list_matches(
        principal: Caller, vacancy_id: IdQuery = None, client_id: IdQuery = None
    ) -> list[dict[str, Any]]:
        """Proposed and withdrawn matches with their reasons, best first.

        An employer brokerage sees only its vacancies' matches, reduced as in the shortlist.
        """
        if not (vacancy_id or client_id):
            raise Invalid("give vacancy_id or client_id", field="vacancy_id")
        matches = (await store.matches_of(vacancy_id=vacancy_id, client_id=client_id))[:500]
        clients = await store.client_docs(sorted({m.client_id for m in matches}))
        views: list[dict[str, Any]] = []
        for match in matches:
            client = clients.get(match.client_id)
            if not may_see_match(principal, match, store.providers_of(client)):
                continue
            views.append(_view(principal, match, client))
        return views

    @router.get("/rules", tags=["rules"])
    async def rules(_: Caller) -> dict[str, Any]:
        """The weights every score is made of, and the version they belong to."""
        return {"rules_version": RULES_VERSION, "weights": WEIGHTS}

    return router


def _view(principal: Principal, match: Match, client: dict[str, Any] | None) -> dict[str, Any]:
    full = match.model_dump(mode="json")
    if not principal.is_("employer_brokerage"):
        return full
    client = client or {}
    return employer_view_of_match(
        full,
        employers_consent="employers" in client.get("consent_scopes", []),
        profile=client,
    )
