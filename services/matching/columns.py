"""The rules of `rules.py` applied to many pairs at once: clients and vacancies as numpy columns.

The engine scores a vacancy against every client its index reaches (thousands at 100,000
clients) and a client against every vacancy in its reach; pair by pair in Python that is about
2 µs a pair, so 10,000 x 10,000 took minutes. Here one vacancy against n clients (or one client
against n vacancies) is a handful of array operations over n rows.

The columns hold what the gates and factors read, one row per client or vacancy: numbers as
they are, skills, sectors and wards as ids of one `Vocabulary` (0 is padding), priority groups
as a bit mask. Only rows that can match at all are ever put (the engine keeps job-ready,
consenting clients and open vacancies); rows are reused once freed.

`score_pairs` gives the same eligibility and score as `rules.score`, pair for pair (a unit test
holds them together), for one vacancy and the clients in its reach, one client and the vacancies
in its reach, or every pair near enough (`grid.pairs_within`) at once; `rules.py` stays the
reference and the only place that explains a score. Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import get_args

import numpy as np

from schemas.types import PriorityGroup
from services.matching.rules import MIN_SCORE, WEIGHTS, Client, Vacancy

_GROUP_BIT = {g: 1 << n for n, g in enumerate(get_args(PriorityGroup))}
_RAD = np.pi / 180
_EARTH_KM = 6371.0
_KM_PER_DEG_LAT = _EARTH_KM * np.pi / 180  # 111.19: one degree of latitude on the sphere


class Vocabulary:
    """Terms (skills, sectors, wards, partnerships) as small integers; 0 is no term."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}

    def id(self, term: str | None) -> int:
        if term is None:
            return 0
        found = self._ids.get(term)
        if found is None:
            found = self._ids[term] = len(self._ids) + 1
        return found

    def ids(self, terms: frozenset[str] | tuple[str, ...]) -> np.ndarray:
        return np.array(sorted(self.id(t) for t in terms), dtype=np.int32)

    def lookup(self, terms: frozenset[str]) -> np.ndarray:
        """A table `t[id]` that is True for these terms: membership as one gather."""
        ids = [self.id(t) for t in terms]  # first: an unknown term grows the vocabulary
        table = np.zeros(len(self._ids) + 1, dtype=bool)
        table[ids] = True
        return table

    def __len__(self) -> int:
        return len(self._ids) + 1


def groups_mask(groups: frozenset[str]) -> int:
    return sum(_GROUP_BIT.get(g, 0) for g in groups)


class _Rows:
    """Row allocation shared by both tables: ids to rows, freed rows reused, columns grown."""

    def __init__(self) -> None:
        self.row_of: dict[str, int] = {}
        self.id_at: list[str | None] = []
        self._free: list[int] = []
        self.size = 0  # rows in use or freed (the columns' used length)

    def _take(self, key: str) -> tuple[int, bool]:
        row = self.row_of.get(key)
        if row is not None:
            return row, False
        row = self._free.pop() if self._free else self.size
        if row == self.size:
            self.size += 1
            self.id_at.append(None)
        self.row_of[key] = row
        self.id_at[row] = key
        return row, True

    def remove(self, key: str) -> int | None:
        row = self.row_of.pop(key, None)
        if row is not None:
            self.id_at[row] = None
            self._free.append(row)
        return row


def _grow(arr: np.ndarray, rows: int, width: int | None = None) -> np.ndarray:
    """`arr` with at least `rows` rows (and `width` columns), doubling so appends stay cheap."""
    need_rows = rows > arr.shape[0]
    need_width = width is not None and width > arr.shape[1]
    if not (need_rows or need_width):
        return arr
    shape = list(arr.shape)
    if need_rows:
        shape[0] = max(rows, 2 * arr.shape[0], 64)
    if need_width:
        shape[1] = width  # type: ignore[assignment]
    grown = np.zeros(shape, dtype=arr.dtype)
    grown[tuple(slice(0, n) for n in arr.shape)] = arr
    return grown


def _put_ids(matrix: np.ndarray, row: int, ids: np.ndarray) -> np.ndarray:
    matrix = _grow(matrix, row + 1, max(len(ids), 1))
    matrix[row] = 0
    matrix[row, : len(ids)] = ids
    return matrix


def _haversine(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    p1, p2 = lat1 * _RAD, lat2 * _RAD
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((lon2 - lon1) * _RAD / 2) ** 2
    return 2 * _EARTH_KM * np.arcsin(np.sqrt(np.minimum(1.0, h)))


def _score(
    required: np.ndarray,
    desirable: np.ndarray,
    km: np.ndarray,
    max_km: np.ndarray,
    v_hours: np.ndarray,
    c_hours: np.ndarray,
    in_sector: np.ndarray,
) -> np.ndarray:
    """`rules._assess`'s sum, term by term in the same order (so the same floating point)."""
    total = (
        WEIGHTS["skills"] * required
        + WEIGHTS["desirable_skills"] * desirable
        + WEIGHTS["qualification"]
        + WEIGHTS["distance"] * (1 - km / max_km)
        + WEIGHTS["hours"] * (v_hours / c_hours)
        + WEIGHTS["sector"] * in_sector
    )
    return np.round(total, 4)


class ClientColumns(_Rows):
    def __init__(self, vocabulary: Vocabulary) -> None:
        super().__init__()
        self._vocab = vocabulary
        self.lat = np.zeros(0)
        self.lon = np.zeros(0)
        self.max_km = np.zeros(0)
        self.hours = np.zeros(0)
        self.qualification = np.zeros(0, dtype=np.int16)
        self.literacy = np.zeros(0, dtype=np.int16)
        self.numeracy = np.zeros(0, dtype=np.int16)
        self.partnership = np.zeros(0, dtype=np.int32)
        self.ward = np.zeros(0, dtype=np.int32)
        self.groups = np.zeros(0, dtype=np.int64)
        self.skills = np.zeros((0, 1), dtype=np.int32)
        self.sectors = np.zeros((0, 1), dtype=np.int32)

    def put(self, c: Client) -> int:
        row, _ = self._take(c.client_id)
        n = row + 1
        for name in (
            "lat",
            "lon",
            "max_km",
            "hours",
            "qualification",
            "literacy",
            "numeracy",
            "partnership",
            "ward",
            "groups",
        ):
            setattr(self, name, _grow(getattr(self, name), n))
        v = self._vocab
        self.lat[row], self.lon[row] = c.lat, c.lon
        self.max_km[row], self.hours[row] = c.max_travel_km, c.hours
        self.qualification[row] = c.qualification
        self.literacy[row], self.numeracy[row] = c.literacy, c.numeracy
        self.partnership[row] = v.id(c.partnership)
        self.ward[row] = v.id(c.ward)
        self.groups[row] = groups_mask(c.groups)
        self.skills = _put_ids(self.skills, row, v.ids(c.skills))
        self.sectors = _put_ids(self.sectors, row, v.ids(c.sectors))
        return row


class VacancyColumns(_Rows):
    def __init__(self, vocabulary: Vocabulary) -> None:
        super().__init__()
        self._vocab = vocabulary
        self.lat = np.zeros(0)
        self.lon = np.zeros(0)
        self.hours = np.zeros(0)
        self.min_qualification = np.zeros(0, dtype=np.int16)
        self.min_literacy = np.zeros(0, dtype=np.int16)
        self.min_numeracy = np.zeros(0, dtype=np.int16)
        self.partnership = np.zeros(0, dtype=np.int32)
        self.sector = np.zeros(0, dtype=np.int32)
        self.n_required = np.zeros(0, dtype=np.int16)
        self.n_desirable = np.zeros(0, dtype=np.int16)
        self.targeted = np.zeros(0, dtype=bool)
        self.target_groups = np.zeros(0, dtype=np.int64)
        self.required = np.zeros((0, 1), dtype=np.int32)
        self.desirable = np.zeros((0, 1), dtype=np.int32)
        self.wards: dict[int, np.ndarray] = {}  # row -> ward ids, for vacancies targeting wards

    def put(self, v: Vacancy) -> int:
        row, _ = self._take(v.vacancy_id)
        n = row + 1
        for name in (
            "lat",
            "lon",
            "hours",
            "min_qualification",
            "min_literacy",
            "min_numeracy",
            "partnership",
            "sector",
            "n_required",
            "n_desirable",
            "targeted",
            "target_groups",
        ):
            setattr(self, name, _grow(getattr(self, name), n))
        vocab = self._vocab
        self.lat[row], self.lon[row], self.hours[row] = v.lat, v.lon, v.hours
        self.min_qualification[row] = v.min_qualification
        self.min_literacy[row], self.min_numeracy[row] = v.min_literacy, v.min_numeracy
        self.partnership[row] = vocab.id(v.partnership)
        self.sector[row] = vocab.id(v.sector)
        self.n_required[row], self.n_desirable[row] = len(v.required), len(v.desirable)
        self.required = _put_ids(self.required, row, vocab.ids(v.required))
        self.desirable = _put_ids(self.desirable, row, vocab.ids(v.desirable))
        self.targeted[row] = bool(v.target_groups or v.target_wards)
        self.target_groups[row] = groups_mask(v.target_groups)
        if v.target_wards:
            self.wards[row] = vocab.ids(v.target_wards)
        else:
            self.wards.pop(row, None)
        return row

    def remove(self, key: str) -> int | None:
        row = super().remove(key)
        if row is not None:
            self.wards.pop(row, None)
        return row


def _hits(wanted: np.ndarray, have: np.ndarray) -> np.ndarray:
    """Per pair, how many of the wanted ids (0 is padding) are among the ids it has."""
    hits = np.zeros(len(wanted), dtype=np.int16)
    for r in range(wanted.shape[1]):
        term = wanted[:, r]
        found = np.zeros(len(wanted), dtype=bool)
        for k in range(have.shape[1]):
            found |= have[:, k] == term
        hits += found & (term != 0)
    return hits


def score_pairs(
    clients: ClientColumns, vacancies: VacancyColumns, c: np.ndarray, v: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The eligible pairs among (client row `c[i]`, vacancy row `v[i]`): their `c`, `v` and
    scores. The gates `rules._assess` checks on a pair, in bulk (client-only gates and
    `vacancy_open` hold for every row put here)."""
    # A box around the client first, in degrees: the cheapest test, and it removes most of
    # what a grid cell holds; the great-circle distance is computed only inside it.
    reach = clients.max_km[c] / _KM_PER_DEG_LAT
    dlat = np.abs(clients.lat[c] - vacancies.lat[v])
    near = dlat <= reach * 1.001
    c, v, reach = c[near], v[near], reach[near]
    wide = reach / np.maximum(np.cos(np.minimum(np.abs(clients.lat[c]) + reach, 89.0) * _RAD), 0.01)
    near = np.abs(clients.lon[c] - vacancies.lon[v]) <= wide * 1.001
    c, v = c[near], v[near]
    ok = (
        (clients.partnership[c] == vacancies.partnership[v])
        & (clients.qualification[c] >= vacancies.min_qualification[v])
        & (clients.literacy[c] >= vacancies.min_literacy[v])
        & (clients.numeracy[c] >= vacancies.min_numeracy[v])
        & (clients.hours[c] >= vacancies.hours[v])
    )
    c, v = c[ok], v[ok]
    targeted = vacancies.targeted[v]
    if targeted.any():
        admitted = (clients.groups[c] & vacancies.target_groups[v]) != 0
        for row, wards in vacancies.wards.items():
            at = v == row
            if at.any():
                admitted[at] |= np.isin(clients.ward[c[at]], wards)
        keep = ~targeted | admitted
        c, v = c[keep], v[keep]
    km = _haversine(clients.lat[c], clients.lon[c], vacancies.lat[v], vacancies.lon[v])
    near = km <= clients.max_km[c]
    c, v, km = c[near], v[near], km[near]
    skills = clients.skills[c]
    n_req = vacancies.n_required[v]
    n_des = vacancies.n_desirable[v]
    with np.errstate(divide="ignore", invalid="ignore"):
        required = np.where(n_req > 0, _hits(vacancies.required[v], skills) / n_req, 1.0)
        desirable = np.where(n_des > 0, _hits(vacancies.desirable[v], skills) / n_des, 1.0)
    in_sector = (clients.sectors[c] == vacancies.sector[v][:, None]).any(axis=1)
    s = _score(
        required, desirable, km, clients.max_km[c], vacancies.hours[v], clients.hours[c], in_sector
    )
    keep = s >= MIN_SCORE
    return c[keep], v[keep], s[keep]
