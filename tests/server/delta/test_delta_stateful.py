"""A stateful property test of delta: random writes interleaved with delta starts and reads.

A Hypothesis state machine creates clockings, changes their time, date (into and out of
the delta's filter) and kind (InOut <-> Reason), soft-deletes them (DELETE) and removes
them for good (``purge_clocking``: not an API operation), starts deltas with one of a
few filters, follows the live delta and replays older deltaLinks of it (links are
cursors: the client either kept its newer copy and dedupes by changeVersion, or restores
the copy it saved with that link). After every read (a start's page walk, a follow, a
replay) the client's copy must equal the server's data in the delta's filter, computed
independently by SQL on the ``clockings`` table: the same ids, each at its current
changeVersion, date, kind and status (soft-deleted clockings stay, with status Deleted;
purged ones are gone), and each record equal to the server's body of the clocking at
that version (GET by id; the seeded records from one list walk).

Each Hypothesis example works in a new tenant (seeded like ``acme``), with its own API
client, so examples never see each other's rows although they share one database.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from chronodelta.domain import Scope
from chronodelta.server import create_client, create_tenant, seed_tenant
from chronodelta.storage import tables
from tests.server.conftest import SEED_UNTIL, Api
from tests.server.delta_client import Mirror, follow, start

PATH = "/connector/protimeapi/api/v1/clockings"
RW = (Scope.CLOCKINGS_READ, Scope.CLOCKINGS_WRITE)
# 2026-01-05 .. 2026-01-25, straddling every filter's bounds; they shrink towards the
# middle, inside every filter, so that the simplest examples already write in scope.
MIDDLE_DAY = dt.date(2026, 1, 15)
DAYS = st.integers(min_value=-10, max_value=10).map(lambda n: MIDDLE_DAY + dt.timedelta(days=n))
WINDOW = [MIDDLE_DAY + dt.timedelta(days=n) for n in range(-10, 11)]
MINUTES = st.integers(min_value=0, max_value=1439)
PEOPLE = st.integers(min_value=1, max_value=6)
REASONS = st.integers(min_value=1, max_value=6)  # absence definitions 1..6 are seeded
WHOLE_WINDOW = "date ge '2026-01-01' and date le '2026-01-31'"  # every clocking of a tenant
SEEDED_IN_POOL = 6  # seeded clockings the rules may edit too, besides their own
TENANTS = itertools.count(1)

SETTINGS = settings(
    max_examples=25,
    stateful_step_count=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass(frozen=True)
class DeltaFilter:
    """A delta's filter, as sent and as the semantics the check applies by SQL."""

    text: str
    date_from: dt.date
    date_to: dt.date | None = None
    kinds: frozenset[str] | None = None

    def dates(self, *, inside: bool) -> list[dt.date]:
        """The dates of the window inside (or outside) the filter's date range."""
        return [d for d in WINDOW if (self.date_from <= d <= (self.date_to or d)) == inside]


FILTERS = [
    DeltaFilter("date ge '2026-01-10'", dt.date(2026, 1, 10)),
    DeltaFilter("date ge '2026-01-10' and date le '2026-01-18'", dt.date(2026, 1, 10),
                dt.date(2026, 1, 18)),
    DeltaFilter("date ge '2026-01-12' and kind eq 'InOut'", dt.date(2026, 1, 12),
                kinds=frozenset({"InOut"})),
]


@dataclass(frozen=True)
class Saved:
    """A deltaLink and the client's copy when it received it."""

    link: str
    records: dict[int, dict[str, Any]]
    versions: dict[int, str]

    @classmethod
    def of(cls, mirror: Mirror) -> Saved:
        assert mirror.delta_link is not None
        return cls(mirror.delta_link, dict(mirror.records), dict(mirror.versions))

    def restore(self) -> Mirror:
        """The copy saved with the link, ready to read it again."""
        return Mirror(dict(self.records), dict(self.versions), self.link)

    def onto(self, newer: Mirror) -> Mirror:
        """A newer copy, ready to read this older link again."""
        return Mirror(dict(newer.records), dict(newer.versions), self.link)


def new_tenant(api: Api) -> Api:
    """A fresh tenant like ``acme`` (6 people, clockings up to 2026-01-20) and its client."""
    name = f"stateful-{next(TENANTS)}"
    create_tenant(api.engine, name)
    seed_tenant(api.engine, name, people=6, days=10, seed=3, until=SEED_UNTIL)
    client = create_client(api.engine, name)
    return Api(api.http, api.engine, name, client.client_id, client.client_secret)


def with_kind(body: dict[str, Any], reason_id: int | None) -> dict[str, Any]:
    """``body`` turned into a Reason clocking (with ``reason_id``) or an InOut one."""
    changed = {k: v for k, v in body.items() if k not in ("reason", "isOpen", "activityLevels")}
    if reason_id is None:
        return {**changed, "kind": "InOut"}
    return {**changed, "kind": "Reason", "reason": {"id": reason_id}}


def server_scope(
    api: Api, tenant_id: int, delta_filter: DeltaFilter
) -> dict[int, tuple[str, str, str, str]]:
    """id -> (changeVersion, date, kind, status) of the tenant's clockings in the filter.

    Read straight from the table, so it shares nothing with the delta code: the filter's
    dates are inclusive, its kinds a set; soft-deleted clockings are in it like any.
    """
    c = tables.clockings.c
    query = sa.select(c.id, c.change_version, c.date, c.kind, c.status).where(
        c.tenant_id == tenant_id, c.date >= delta_filter.date_from
    )
    if delta_filter.date_to is not None:
        query = query.where(c.date <= delta_filter.date_to)
    if delta_filter.kinds is not None:
        query = query.where(c.kind.in_(sorted(delta_filter.kinds)))
    with api.engine.connect() as connection:
        rows = connection.execute(query).all()
    return {
        int(row.id): (f"{row.change_version:020X}", row.date.isoformat(), row.kind, row.status)
        for row in rows
    }


def test_delta_copy_always_equals_the_servers_filtered_data(api: Api) -> None:
    class DeltaMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.api = new_tenant(api)
            self.tenant_id = self.api.tenant_id
            self.headers = self.api.auth(*RW)
            # The server's body of each (id, changeVersion) seen so far: a version's body
            # never changes. The seeded records come from one list walk, later ones by GET.
            self.verified = self.list_all()
            seeded = sorted(record_id for record_id, _ in self.verified)
            spread = seeded[:: max(1, len(seeded) // SEEDED_IN_POOL)]
            # The live (not soft-deleted) clockings the rules touch, in their latest state:
            # their own creations and a spread of seeded ones.
            self.bodies = {i: b for (i, _), b in self.verified.items() if i in spread}
            self.deleted: set[int] = set()  # soft-deleted ones the rules may still purge
            self.touched: list[int] = []  # the clockings written, last last
            self.mirror = Mirror()
            self.filter = FILTERS[0]
            self.saved: list[Saved] = []  # the live delta's deltaLinks so far, oldest first

        # ---- helpers ----------------------------------------------------------------

        def list_all(self) -> dict[tuple[int, str], dict[str, Any]]:
            found: dict[tuple[int, str], dict[str, Any]] = {}
            url: str | None = PATH
            params: dict[str, str] | None = {"filter": WHOLE_WINDOW}
            while url is not None:
                response = self.api.http.get(url, params=params, headers=self.headers)
                assert response.status_code == 200, response.text
                page = response.json()
                found.update({(r["id"], r["changeVersion"]): r for r in page["value"]})
                url, params = page.get("nextLink"), None
            return found

        def get(self, record_id: int) -> dict[str, Any]:
            response = self.api.http.get(f"{PATH}/{record_id}", headers=self.headers)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        def put(self, record_id: int, body: dict[str, Any]) -> None:
            response = self.api.http.put(f"{PATH}/{record_id}", json=body, headers=self.headers)
            assert response.status_code == 200, response.text
            self.bodies[record_id] = response.json()

        def choose_live(self, data: st.DataObject) -> int:
            """A live clocking, often one of the last touched: records go in and out."""
            recent = [i for i in self.touched[-3:] if i in self.bodies]
            choices = st.sampled_from(sorted(self.bodies))
            if recent:
                choices = st.sampled_from(recent) | choices
            record_id = data.draw(choices, label="clocking")
            self.touched.append(record_id)
            return record_id

        def read(self, data: st.DataObject) -> None:
            """One delta call on the mirror's link, then the invariant.

            First, links being cursors, an older link of the live delta is read instead
            of the newest, by a client that kept its newer copy (and dedupes by
            changeVersion) and by one that restored the copy it had saved with that link:
            their copies must equal the server's data too.
            """
            assert self.mirror.delta_link is not None
            links = [saved.link for saved in self.saved]
            earlier = self.saved[: links.index(self.mirror.delta_link)]  # than the copy's link
            if earlier:
                # Often the oldest: the longer ago, the more changes to get right.
                index = st.just(0) | st.integers(0, len(earlier) - 1)
                older = earlier[data.draw(index, label="older")]
                for copy in (older.onto(self.mirror), older.restore()):
                    follow(self.api.http, copy, self.headers)
                    self.check(copy)
            follow(self.api.http, self.mirror, self.headers)
            self.saved.append(Saved.of(self.mirror))
            self.check(self.mirror)

        def check(self, mirror: Mirror) -> None:
            """The invariant: the client's copy is the server's data in the filter."""
            expected = server_scope(self.api, self.tenant_id, self.filter)
            copy = mirror.records
            assert set(copy) == set(expected), (
                f"filter {self.filter.text!r}: missing {sorted(set(expected) - set(copy))}, "
                f"extra {sorted(set(copy) - set(expected))}"
            )
            for record_id, (version, date, kind, status) in expected.items():
                record = copy[record_id]
                seen = (record["changeVersion"], record["date"], record["kind"], record["status"])
                assert seen == (version, date, kind, status), (record_id, seen, expected[record_id])
                key = (record_id, version)
                if key not in self.verified:
                    self.verified[key] = self.get(record_id)
                assert record == self.verified[key], record_id

        # ---- writes -----------------------------------------------------------------

        @rule(person=PEOPLE, date=DAYS, minute=MINUTES, reason=st.none() | REASONS)
        def create(self, person: int, date: dt.date, minute: int, reason: int | None) -> None:
            body = with_kind({"person": {"id": person}, "date": date.isoformat(),
                              "timeOfDayInMinutes": minute}, reason)
            response = self.api.http.post(PATH, json=body, headers=self.headers)
            assert response.status_code == 201, response.text
            created: dict[str, Any] = response.json()
            self.bodies[created["id"]] = created
            self.touched.append(created["id"])

        @precondition(lambda self: bool(self.bodies))
        @rule(data=st.data(), minute=MINUTES)
        def update_time(self, data: st.DataObject, minute: int) -> None:
            record_id = self.choose_live(data)
            self.put(record_id, {**self.bodies[record_id], "timeOfDayInMinutes": minute})

        @precondition(lambda self: bool(self.bodies))
        @rule(data=st.data(), date=DAYS)
        def change_date(self, data: st.DataObject, date: dt.date) -> None:
            record_id = self.choose_live(data)
            self.put(record_id, {**self.bodies[record_id], "date": date.isoformat()})

        @precondition(lambda self: bool(self.bodies))
        @rule(data=st.data())
        def move_across_the_filter(self, data: st.DataObject) -> None:
            """Out of the live delta's filter if the clocking is in it, else into it."""
            record_id = self.choose_live(data)
            body, kinds = self.bodies[record_id], self.filter.kinds
            in_dates = dt.date.fromisoformat(body["date"]) in self.filter.dates(inside=True)
            in_kinds = kinds is None or body["kind"] in kinds
            if in_dates and in_kinds:
                date = data.draw(st.sampled_from(self.filter.dates(inside=False)), label="date")
                body = {**body, "date": date.isoformat()}
            else:
                if not in_dates:
                    date = data.draw(st.sampled_from(self.filter.dates(inside=True)), label="date")
                    body = {**body, "date": date.isoformat()}
                if not in_kinds:
                    body = with_kind(body, None)  # InOut, the one kind the filters name
            self.put(record_id, body)

        @precondition(lambda self: bool(self.bodies))
        @rule(data=st.data(), reason=REASONS)
        def change_kind(self, data: st.DataObject, reason: int) -> None:
            """InOut (or a seeded Activity kind) becomes Reason; Reason becomes InOut."""
            record_id = self.choose_live(data)
            body = self.bodies[record_id]
            self.put(record_id, with_kind(body, None if body["kind"] == "Reason" else reason))

        @precondition(lambda self: bool(self.bodies))
        @rule(data=st.data())
        def soft_delete(self, data: st.DataObject) -> None:
            record_id = self.choose_live(data)
            response = self.api.http.delete(f"{PATH}/{record_id}", headers=self.headers)
            assert response.status_code == 204, response.text
            del self.bodies[record_id]
            self.deleted.add(record_id)

        @precondition(lambda self: bool(self.bodies) or bool(self.deleted))
        @rule(data=st.data())
        def hard_delete(self, data: st.DataObject) -> None:
            record_id = data.draw(st.sampled_from(sorted({*self.bodies, *self.deleted})),
                                  label="clocking")
            self.api.backend.purge_clocking(self.tenant_id, record_id)
            self.bodies.pop(record_id, None)
            self.deleted.discard(record_id)

        # ---- reads ------------------------------------------------------------------

        @initialize(delta_filter=st.sampled_from(FILTERS))
        def first_delta(self, delta_filter: DeltaFilter) -> None:
            self.start_delta(delta_filter)

        @rule(delta_filter=st.sampled_from(FILTERS))
        def start_delta(self, delta_filter: DeltaFilter) -> None:
            superseded = self.saved[-1].link if self.saved else None
            self.mirror = start(self.api.http, PATH, {"filter": delta_filter.text}, self.headers)
            self.filter = delta_filter
            self.saved = [Saved.of(self.mirror)]
            self.check(self.mirror)
            if superseded is not None:  # one delta per collection: the old one is gone
                assert self.api.http.get(superseded, headers=self.headers).status_code == 410

        @rule(data=st.data())
        def read_delta(self, data: st.DataObject) -> None:
            self.read(data)

        @precondition(lambda self: len(self.saved) >= 2)
        @rule(data=st.data(), kept_copy=st.booleans())
        def go_on_from_an_older_link(self, data: st.DataObject, kept_copy: bool) -> None:
            """A client that lost its newest deltaLink goes on from an older one.

            Either it kept its newer copy (and dedupes by changeVersion), or it saved the
            link together with its copy and restores both.
            """
            older = self.saved[data.draw(st.integers(0, len(self.saved) - 2), label="link")]
            self.mirror = older.onto(self.mirror) if kept_copy else older.restore()
            self.read(data)

    run_state_machine_as_test(DeltaMachine, settings=SETTINGS)
