"""Skills and sectors compared through one normalised vocabulary.

Free text from an assessment ("Customer Services", "till operation") and from a person
specification ("customer service", "cash handling") name the same skills differently. Both are
reduced to a canonical term: case folded, punctuation and spacing collapsed, each word made
singular, then looked up in a curated synonym table shipped as data
(`data/skill_synonyms.tsv`, seeded from ESCO; see `data/README.md` for its licence). A term the
table does not know stays as its normalised self, so an unknown skill still matches itself.

Pure and cached: the table is read once per process, and a term is normalised once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

TABLE = Path(__file__).resolve().parent / "data" / "skill_synonyms.tsv"

_NOT_WORD = re.compile(r"[^a-z0-9+&]+")
# Words whose final "s" is not a plural: singularising them would break the term.
_KEEP_S = frozenset({"cscs", "sss", "sssts", "smsts", "pts", "ms", "gcse", "gcses", "its", "haccp"})


def _clean(text: str) -> str:
    return " ".join(_NOT_WORD.sub(" ", text.casefold()).split())


def _singular(word: str) -> str:
    if word in _KEEP_S or len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _key(text: str) -> str:
    return " ".join(_singular(w) for w in _clean(text).split())


@cache
def _synonyms() -> dict[str, str]:
    table: dict[str, str] = {}
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        term, canonical, *_ = line.split("\t")
        table.setdefault(_key(term), _key(canonical))
    return table


@cache
def canonical(text: str) -> str:
    """The vocabulary's term for a skill or sector as written."""
    key = _key(text)
    return _synonyms().get(key, key)


def canonical_set(texts: Iterable[str]) -> frozenset[str]:
    return frozenset(t for t in map(canonical, texts) if t)


def table_size() -> int:
    return len(_synonyms())
