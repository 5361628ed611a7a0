"""A mixed HTTP load on a running server: clocking writers, delta pollers, a list walker.

Issue 9: under writers and delta followers at once, the embedded SQLite database answered
500s ("database is locked") and cut delta bodies. This driver reproduces that load and
records what a client needs to prove it gone: every response's status, every connection
cut or body that arrived incomplete or as invalid JSON, every acknowledged write, and each
poller's delta mirror, to be compared with a final list.

It talks to the server over HTTP only (httpx, one ``httpx.Client`` per thread), so it
runs unchanged against any version of the server, the code before a fix included.

* **Writers** (``LoadConfig.writers``, each ``writes_per_writer`` writes) create, update
  (PUT of the whole resource: a new time, a new date inside the filter, or a move out of
  the filter and back) and soft-delete clockings. Each writer touches only the clockings
  it created, so "the last acknowledged write" of an id is well defined. A write is
  acknowledged when its 2xx response arrived; the resulting state is kept.
* **Pollers** (one per ``poller_clients`` entry: one active delta per collection and API
  client, so each needs its own client) start a delta on the clockings, walk its pages to
  the deltaLink, then follow deltaLinks until the writers are done, keeping a mirror keyed
  by id (InsertOrUpdate stores unless older than held; Delete removes).
* **A walker** lists the whole filtered range (following nextLink) again and again.

The load is bounded by counts: writers stop after their writes, readers when the writers
are done (and at ``max_reads`` at most). Readers read back to back, or, paced by counts
too, once per ``poll_every_writes`` / ``walk_every_writes`` acknowledged writes. Then a
final drain: each poller follows its deltaLink once more and the walker lists once more;
that list is what the mirrors and the acknowledged writes are compared with.

A planned restart (``restart_after_writes`` + ``restart``) stops the world at a point
counted in acknowledged writes, not time: the callback kills the server and starts a new
one, and returns its base URL. Failures on the old server are then expected ("planned"):
reads are sent again to the new one (links are cursors, so that is safe); a write whose
response was lost is not: the writer re-reads the clocking to learn what happened.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import quote

import httpx
import orjson

USER_AGENT = "LoadTest/1.0 (chronodelta)"
CLOCKINGS_PATH = "/connector/protimeapi/api/v1/clockings"
PEOPLE_PATH = "/connector/protimeapi/api/v1/people"
Record = dict[str, Any]
# A write body holds only the writable fields: the server refuses unknown ones and
# ignores read-only ones, so sending those would test nothing.
WRITABLE = (
    "person",
    "date",
    "timeOfDayInMinutes",
    "kind",
    "terminal",
    "geolocation",
    "reason",
    "isOpen",
    "activityLevels",
)
TOKEN_ATTEMPTS = 5
# How many times a read is sent again after a failure that no planned restart explains
# (each failure is recorded, and a test fails on any of them).
READ_RETRIES = 2
EXAMPLES = 5


class LoadError(RuntimeError):
    """The load could not run as planned (no token, no final list, no new server)."""


class RequestKind(StrEnum):
    """What a request was for; latencies and rates are reported per kind."""

    TOKEN = "token"
    SETUP = "setup"
    WRITE = "write"
    READ = "read"
    SNAPSHOT = "snapshot"
    DELTA = "delta"
    LIST = "list"


@dataclass(frozen=True)
class ApiClient:
    """The credentials of one API client of the tenant."""

    client_id: str
    client_secret: str


@dataclass(frozen=True)
class LoadConfig:
    """What to run against ``base_url``. ``first_day``..``last_day`` is the filter of
    the pollers and the walker (a list range needs both ends; a delta's start must lie
    in the server's past, not before January 1st of the previous year); writers write
    clockings on those days, and up to three days after them when moving one out."""

    base_url: str
    tenant: str
    writer_client: ApiClient
    poller_clients: Sequence[ApiClient]
    first_day: dt.date
    last_day: dt.date
    writers: int = 4
    writes_per_writer: int = 60
    readers: bool = True
    people: Sequence[int] = ()
    seed: int = 0
    max_reads: int = 1_000_000
    poll_every_writes: int = 0
    walk_every_writes: int = 0
    # Each list walk starts with a new token request (token requests write their
    # rate-limit count, so they join the writers at the database's locks).
    token_per_walk: bool = False
    restart_after_writes: int | None = None
    restart: Callable[[], str] | None = None
    timeout: float = 60.0
    outage_timeout: float = 180.0

    @property
    def filter_text(self) -> str:
        return f"date ge '{self.first_day.isoformat()}' and date le '{self.last_day.isoformat()}'"

    def in_filter(self, day: str) -> bool:
        return self.first_day <= dt.date.fromisoformat(day) <= self.last_day


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request and what came back. ``status`` is None when no response arrived;
    ``failure`` says why a response was unusable ("refused", "cut", "timeout",
    "invalid JSON", "incomplete body"); ``planned`` marks a failure on a server that
    was killed on purpose. ``epoch`` counts the servers (0, then 1 after a restart)."""

    kind: RequestKind
    method: str
    url: str
    epoch: int
    started: float
    seconds: float
    status: int | None = None
    failure: str | None = None
    planned: bool = False
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.failure is None and self.status is not None and 200 <= self.status < 300

    def __str__(self) -> str:
        outcome = self.failure or str(self.status)
        return f"{self.kind} {self.method} {self.url[:90]} -> {outcome} {self.detail[:160]}"


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    location: str | None
    epoch: int


@dataclass(frozen=True)
class Acknowledged:
    """What the last acknowledged write of a clocking (or a re-read after a write whose
    response was lost) says it is. A DELETE answers no body: ``record`` is then the
    state before it, and the clocking must be that with status Deleted and a newer
    changeVersion."""

    record: Record
    deleted: bool = False

    @property
    def date(self) -> str:
        day: str = self.record["date"]
        return day

    def matches(self, listed: Record) -> bool:
        if not self.deleted:
            return listed == self.record
        before = {**_without_version(self.record), "status": "Deleted"}
        newer: bool = listed["changeVersion"] > self.record["changeVersion"]
        return _without_version(listed) == before and newer


def _without_version(record: Record) -> Record:
    return {key: value for key, value in record.items() if key != "changeVersion"}


# --- shared state between the threads ------------------------------------------------


class Endpoint:
    """The server's base URL; a planned restart replaces it. Each URL is an epoch."""

    def __init__(self, base_url: str) -> None:
        self._changed = threading.Condition()
        self._urls = [base_url]
        self._planned: set[int] = set()
        self._abandoned = False

    def current(self) -> tuple[int, str]:
        with self._changed:
            return len(self._urls) - 1, self._urls[-1]

    @property
    def restarts(self) -> int:
        with self._changed:
            return len(self._urls) - 1

    def plan_outage(self) -> None:
        """Called before the server is killed: failures in this epoch are expected."""
        with self._changed:
            self._planned.add(len(self._urls) - 1)

    def is_planned(self, epoch: int) -> bool:
        with self._changed:
            return epoch in self._planned

    def replace(self, base_url: str) -> None:
        with self._changed:
            self._urls.append(base_url)
            self._changed.notify_all()

    def abandon(self) -> None:
        """No new server will come: wake every thread waiting for one."""
        with self._changed:
            self._abandoned = True
            self._changed.notify_all()

    def wait_past(self, epoch: int, timeout: float) -> None:
        """Block until a server newer than ``epoch`` is up (woken by ``replace``)."""
        with self._changed:
            arrived = self._changed.wait_for(
                lambda: self._abandoned or len(self._urls) - 1 > epoch, timeout
            )
            if self._abandoned or not arrived:
                raise LoadError(f"no server came up after epoch {epoch}")


class Progress:
    """Acknowledged writes and pollers holding a deltaLink; a planned restart waits on it."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._acknowledged = 0
        self._ready = 0
        self._over = False

    def acknowledge(self) -> None:
        with self._changed:
            self._acknowledged += 1
            self._changed.notify_all()

    def poller_ready(self) -> None:
        with self._changed:
            self._ready += 1
            self._changed.notify_all()

    def finish(self) -> None:
        with self._changed:
            self._over = True
            self._changed.notify_all()

    def wait_writes(self, writes: int) -> int:
        """Block until ``writes`` are acknowledged (or the writers finished); the count."""
        with self._changed:
            self._changed.wait_for(lambda: self._over or self._acknowledged >= writes)
            return self._acknowledged

    def wait_for(self, writes: int, pollers: int) -> bool:
        """Block until ``writes`` are acknowledged and ``pollers`` are ready; False if
        the writers finished first."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._over or (self._acknowledged >= writes and self._ready >= pollers)
            )
            return not self._over


class Pace:
    """When a reader reads next: back to back (``every`` 0), or after each ``every``
    further acknowledged writes."""

    def __init__(self, progress: Progress, every: int) -> None:
        self._progress = progress
        self._every = every
        self._next = every

    def wait(self) -> None:
        if self._every:
            self._next = self._progress.wait_writes(self._next) + self._every


class ExchangeLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Exchange] = []

    def add(self, exchange: Exchange) -> None:
        with self._lock:
            self._items.append(exchange)

    def items(self) -> list[Exchange]:
        with self._lock:
            return list(self._items)


# --- one thread's connection -----------------------------------------------------------


def _failure(error: httpx.TransportError) -> str:
    if isinstance(error, httpx.ConnectError):
        return "refused"
    if isinstance(error, httpx.TimeoutException):
        return "timeout"
    return "cut"  # RemoteProtocolError, ReadError, WriteError: the connection broke


def _shape_problem(kind: RequestKind, body: Any) -> str | None:
    """A 200 body of a list, snapshot or delta call must be a whole response."""
    if kind not in (RequestKind.LIST, RequestKind.SNAPSHOT, RequestKind.DELTA):
        return None
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        return "incomplete body"
    links = [name for name in ("nextLink", "deltaLink") if isinstance(body.get(name), str)]
    if kind is RequestKind.DELTA and links != ["deltaLink"]:
        return "incomplete body"
    if kind is RequestKind.SNAPSHOT and len(links) != 1:
        return "incomplete body"
    return None


def _decode(kind: RequestKind, response: httpx.Response) -> tuple[Any, str | None]:
    """The body as JSON, and why a success body is unusable (None if it is fine)."""
    if not response.content:
        return None, None
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        # An error page need not be JSON; a success body must be.
        return None, "invalid JSON" if response.is_success else None
    return body, _shape_problem(kind, body) if response.status_code == 200 else None


class Session:
    """One thread's connection to the server (its own ``httpx.Client``) and token.

    Not shared between threads. Every request and its outcome goes to ``log``.
    """

    def __init__(
        self, endpoint: Endpoint, config: LoadConfig, client: ApiClient, log: ExchangeLog
    ) -> None:
        self._endpoint = endpoint
        self._config = config
        self._client = client
        self._log = log
        self._http: httpx.Client | None = None
        self._base = ""
        self._token: str | None = None

    def forget_token(self) -> None:
        """The next request first asks for a new token."""
        self._token = None

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def read(self, kind: RequestKind, url: str) -> Reply | None:
        """A GET; sent again after a failure or a 5xx (at most ``READ_RETRIES`` times
        unless a planned restart explains it). The last reply, or None if none came."""
        reply: Reply | None = None
        for _ in range(READ_RETRIES + 1):
            reply = self.call(kind, "GET", url, retries=READ_RETRIES)
            if reply is not None and reply.status < 500:
                return reply
        return reply

    def call(
        self,
        kind: RequestKind,
        method: str,
        url: str,
        body: Record | None = None,
        *,
        retries: int = 0,
    ) -> Reply | None:
        """Send until a response arrives; None if none did.

        A failure on a server killed on purpose waits for the new one; a read is then
        sent again, a write is not (it may have happened; the caller finds out). Any
        other failure is retried ``retries`` times. A 401 gets a new token once (a
        restarted server, at a new address, may refuse the old server's token).
        """
        renewed = False
        while True:
            epoch, base = self._endpoint.current()
            headers = self._authorization()
            reply = self._send(kind, epoch, base, method, url, headers=headers, json_body=body)
            if reply is not None:
                if reply.status != 401 or renewed:
                    return reply
                self._token, renewed = None, True
                continue
            if self._endpoint.is_planned(epoch):
                self._endpoint.wait_past(epoch, self._config.outage_timeout)
                if kind is RequestKind.WRITE:
                    return None
                continue
            if retries <= 0:
                return None
            retries -= 1

    def _authorization(self) -> dict[str, str]:
        for _ in range(TOKEN_ATTEMPTS):
            if self._token is not None:
                return {"Authorization": f"Bearer {self._token}"}
            epoch, base = self._endpoint.current()
            reply = self._send(
                RequestKind.TOKEN,
                epoch,
                base,
                "POST",
                f"/tenants/{self._config.tenant}/connect/token",
                form={
                    "grant_type": "client_credentials",
                    "client_id": self._client.client_id,
                    "client_secret": self._client.client_secret,
                },
            )
            if reply is not None and reply.status == 200:
                self._token = reply.body["access_token"]
            elif reply is None and self._endpoint.is_planned(epoch):
                self._endpoint.wait_past(epoch, self._config.outage_timeout)
        if self._token is None:
            raise LoadError(f"no token for {self._client.client_id} in {TOKEN_ATTEMPTS} tries")
        return {"Authorization": f"Bearer {self._token}"}

    def _connection(self, base: str) -> httpx.Client:
        if self._http is None or self._base != base:
            self.close()  # a restarted server is at a new address
            self._http = httpx.Client(
                base_url=base, headers={"User-Agent": USER_AGENT}, timeout=self._config.timeout
            )
            self._base = base
        return self._http

    def _send(
        self,
        kind: RequestKind,
        epoch: int,
        base: str,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        json_body: Record | None = None,
        form: dict[str, str] | None = None,
    ) -> Reply | None:
        """One request; recorded whatever happens. None if no usable response came."""
        http = self._connection(base)
        content = orjson.dumps(json_body) if json_body is not None else None
        if content is not None:
            headers = {**(headers or {}), "Content-Type": "application/json"}
        started = time.perf_counter()
        try:
            response = http.request(method, url, headers=headers, content=content, data=form)
        except httpx.TransportError as error:
            self._record(kind, method, url, epoch, started, failure=_failure(error), error=error)
            return None
        body, problem = _decode(kind, response)
        self._record(kind, method, url, epoch, started, status=response.status_code,
                     failure=problem)  # fmt: skip
        if problem is not None:
            return None
        return Reply(response.status_code, body, response.headers.get("location"), epoch)

    def _record(
        self,
        kind: RequestKind,
        method: str,
        url: str,
        epoch: int,
        started: float,
        *,
        status: int | None = None,
        failure: str | None = None,
        error: Exception | None = None,
    ) -> None:
        seconds = time.perf_counter() - started
        planned = failure is not None and self._endpoint.is_planned(epoch)
        detail = repr(error) if error is not None else ""
        self._log.add(
            Exchange(kind, method, url, epoch, started, seconds, status, failure, planned, detail)
        )


# --- the roles ---------------------------------------------------------------------------


def walk_pages(
    session: Session, kind: RequestKind, url: str, take: Callable[[list[Record]], None]
) -> Reply | None:
    """Follow nextLink from ``url``, handing each page's records to ``take``; the last
    page's reply, or None if a page failed."""
    while True:
        reply = session.read(kind, url)
        if reply is None or reply.status != 200:
            return None
        take(reply.body["value"])
        next_link = reply.body.get("nextLink")
        if next_link is None:
            return reply
        url = next_link


class Walker:
    """Lists the whole filtered range, following nextLink."""

    def __init__(self, session: Session, config: LoadConfig) -> None:
        self.session = session
        self._url = f"{CLOCKINGS_PATH}?filter={quote(config.filter_text)}"
        self._token_per_walk = config.token_per_walk

    def walk(self) -> dict[int, Record] | None:
        records: dict[int, Record] = {}

        def take(page: list[Record]) -> None:
            records.update((record["id"], record) for record in page)

        return records if walk_pages(self.session, RequestKind.LIST, self._url, take) else None

    def run(self, stop: threading.Event, max_walks: int, pace: Pace) -> None:
        for _ in range(max_walks):
            pace.wait()
            if stop.is_set():
                return
            if self._token_per_walk:
                self.session.forget_token()
            self.walk()


class Poller:
    """Follows one delta of the clockings and keeps a mirror of it."""

    def __init__(self, session: Session, config: LoadConfig, progress: Progress) -> None:
        self.session = session
        self._start_url = f"{CLOCKINGS_PATH}?filter={quote(config.filter_text)}&delta"
        self._progress = progress
        self.mirror: dict[int, Record] = {}
        self.link: str | None = None
        self._link_epoch = 0
        self._announced = False
        # The status of every delta call made with a link from an earlier server.
        self.after_restart: list[int] = []
        self.anomalies: list[str] = []
        self.unknown_deletes: list[int] = []

    def run(self, stop: threading.Event, max_reads: int, pace: Pace) -> None:
        for _ in range(max_reads):
            if self.link is not None:
                pace.wait()  # the snapshot is walked at once, as a client does
            if stop.is_set():
                return
            if self.link is None:
                self.start()
            else:
                self.follow()

    def start(self) -> bool:
        """A new delta: its snapshot pages become the mirror, its deltaLink the link."""
        self.mirror = {}
        last = walk_pages(self.session, RequestKind.SNAPSHOT, self._start_url, self._store_all)
        if last is None:
            return False
        self.link, self._link_epoch = last.body["deltaLink"], last.epoch
        if not self._announced:
            self._announced = True
            self._progress.poller_ready()
        return True

    def follow(self) -> bool:
        """One deltaLink call, applied to the mirror."""
        assert self.link is not None
        reply = self.session.read(RequestKind.DELTA, self.link)
        if reply is not None and reply.epoch > self._link_epoch:
            self.after_restart.append(reply.status)
        if reply is None or reply.status != 200:
            if reply is not None and reply.status == 410:
                self.anomalies.append(f"deltaLink answered 410: {reply.body}")
                self.link = None  # gone: the next round starts a new delta
            return False
        self._apply(reply.body["value"])
        self.link, self._link_epoch = reply.body["deltaLink"], reply.epoch
        return True

    def _store_all(self, records: list[Record]) -> None:
        for record in records:
            self.mirror[record["id"]] = record

    def _apply(self, changes: list[Any]) -> None:
        seen: set[int] = set()
        previous = ""
        for change in changes:
            data = change["data"]
            ident, version = data["id"], data["changeVersion"]
            # Contract: each record once, in its latest state, in changeVersion order.
            if ident in seen:
                self.anomalies.append(f"clocking {ident} twice in one delta response")
            if version <= previous:
                self.anomalies.append(f"delta response out of order at clocking {ident}")
            seen.add(ident)
            previous = version
            self._apply_one(change["changeType"], ident, data)

    def _apply_one(self, change_type: str, ident: int, data: Record) -> None:
        held = self.mirror.get(ident)
        if held is not None and data["changeVersion"] < held["changeVersion"]:
            self.anomalies.append(f"clocking {ident}: delta sent an older version than held")
            return
        if change_type == "Delete":
            if held is None:
                # Harmless (nothing to delete), so not an anomaly, but counted: a record
                # in the filter at the snapshot's version and changed before its page
                # was read is left out of the pages, and its Delete comes anyway.
                self.unknown_deletes.append(ident)
            self.mirror.pop(ident, None)
        else:
            self.mirror[ident] = data


class Writer:
    """Creates, updates and soft-deletes its own clockings; remembers what was acknowledged."""

    def __init__(
        self,
        session: Session,
        config: LoadConfig,
        people: Sequence[int],
        progress: Progress,
        seed: int,
    ) -> None:
        self.session = session
        self._config = config
        self._people = people
        self._progress = progress
        self._rng = random.Random(seed)
        self._live: dict[int, Record] = {}  # own clockings not deleted, as last known
        self.acknowledged: dict[int, Acknowledged] = {}
        self.uncertain: set[int] = set()  # a lost write and a failed re-read: unknown
        self.lost_creates = 0  # a POST whose response was lost: it may have happened
        self.refused = 0  # a 4xx: the write did not happen

    def run(self, writes: int) -> None:
        for _ in range(writes):
            roll = self._rng.random()
            if not self._live or roll < 0.4:
                self._create()
            elif roll < 0.8:
                self._update(self._rng.choice(list(self._live)))
            else:
                self._delete(self._rng.choice(list(self._live)))

    def _day(self, inside: bool) -> str:
        if inside:
            span = (self._config.last_day - self._config.first_day).days
            day = self._config.first_day + dt.timedelta(days=self._rng.randint(0, span))
        else:
            day = self._config.last_day + dt.timedelta(days=self._rng.randint(1, 3))
        return day.isoformat()

    def _create(self) -> None:
        body = {
            "person": {"id": self._rng.choice(self._people)},
            "date": self._day(inside=True),
            "timeOfDayInMinutes": self._rng.randint(300, 1300),
            "kind": "InOut",
        }
        reply = self.session.call(RequestKind.WRITE, "POST", CLOCKINGS_PATH, body)
        if reply is not None and reply.status == 201:
            record: Record = reply.body
            if not reply.location or reply.location.rsplit("/", 1)[-1] != str(record["id"]):
                raise LoadError(f"201 with Location {reply.location} for {record}")
            self._acknowledge(record["id"], Acknowledged(record))
        elif reply is not None and reply.status < 500:
            self.refused += 1
        else:
            self.lost_creates += 1

    def _changed(self, record: Record) -> Record:
        body = {key: record[key] for key in WRITABLE if key in record}
        roll = self._rng.random()
        if roll < 0.6:
            body["timeOfDayInMinutes"] = self._rng.randint(300, 1300)
        else:
            # A move out of the filter is a Delete for a delta; back in, an InsertOrUpdate.
            inside = roll < 0.8 or not self._config.in_filter(record["date"])
            body["date"] = self._day(inside)
        return body

    def _update(self, ident: int) -> None:
        body = self._changed(self._live[ident])
        reply = self.session.call(RequestKind.WRITE, "PUT", f"{CLOCKINGS_PATH}/{ident}", body)
        if reply is not None and reply.status == 200:
            self._acknowledge(ident, Acknowledged(reply.body))
        else:
            self._unacknowledged(ident, reply)

    def _delete(self, ident: int) -> None:
        reply = self.session.call(RequestKind.WRITE, "DELETE", f"{CLOCKINGS_PATH}/{ident}")
        if reply is not None and reply.status in (200, 204):
            self._acknowledge(ident, Acknowledged(self._live[ident], deleted=True))
        else:
            self._unacknowledged(ident, reply)

    def _acknowledge(self, ident: int, outcome: Acknowledged) -> None:
        self.acknowledged[ident] = outcome
        if outcome.deleted:
            self._live.pop(ident, None)
        else:
            self._live[ident] = outcome.record
        self._progress.acknowledge()

    def _unacknowledged(self, ident: int, reply: Reply | None) -> None:
        if reply is not None and reply.status < 500:
            self.refused += 1  # refused: the clocking is as it was
            return
        # The write may or may not have happened: the clocking itself says which.
        found = self.session.read(RequestKind.READ, f"{CLOCKINGS_PATH}/{ident}")
        self._live.pop(ident, None)
        if found is None or found.status != 200:
            self.acknowledged.pop(ident, None)
            self.uncertain.add(ident)
            return
        self.acknowledged[ident] = Acknowledged(found.body)
        if found.body["status"] != "Deleted":
            self._live[ident] = found.body


# --- the run -------------------------------------------------------------------------------


@dataclass
class LoadResult:
    """Everything a test or a benchmark asserts on or reports."""

    config: LoadConfig
    exchanges: list[Exchange]
    acknowledged: dict[int, Acknowledged]
    uncertain: set[int]
    lost_creates: int
    refused_writes: int
    baseline: dict[int, Record]
    final: dict[int, Record]
    mirrors: list[dict[int, Record]]
    after_restart: list[list[int]]
    anomalies: list[str]
    unknown_deletes: list[int]
    window: tuple[float, float]
    restarts: int
    acknowledged_writes: int = 0
    _by_kind: dict[RequestKind, list[Exchange]] = field(default_factory=dict, repr=False)

    @property
    def write_seconds(self) -> float:
        """From the writers' start until the last of them finished."""
        return self.window[1] - self.window[0]

    def of_kind(self, kind: RequestKind) -> list[Exchange]:
        if not self._by_kind:
            for exchange in self.exchanges:
                self._by_kind.setdefault(exchange.kind, []).append(exchange)
        return self._by_kind.get(kind, [])

    def server_errors(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.status is not None and e.status >= 500]

    def broken(self) -> list[Exchange]:
        """Cut connections, refused connections, incomplete or invalid bodies that no
        planned restart explains."""
        return [e for e in self.exchanges if e.failure is not None and not e.planned]

    def latencies(self, kind: RequestKind) -> list[float]:
        """Seconds of each successful request of ``kind`` (body read and parsed)."""
        return [e.seconds for e in self.of_kind(kind) if e.ok]

    def rate(self, kind: RequestKind) -> float:
        """Successful requests of ``kind`` per second while the writers ran."""
        begin, end = self.window
        done = [e for e in self.of_kind(kind) if e.ok and begin <= e.started <= end]
        return len(done) / (end - begin)

    def state_problems(self) -> list[str]:
        """Acknowledged writes not in the final list as acknowledged; seeded clockings
        that changed; listed clockings that nobody may have created."""
        problems = [p for ident, ack in self.acknowledged.items() if (p := self._check(ident, ack))]
        for ident, record in self.baseline.items():
            if self.final.get(ident) != record:  # writers never touch what was there
                problems.append(f"clocking {ident}: was {record}, listed {self.final.get(ident)}")
        known = self.baseline.keys() | self.acknowledged.keys() | self.uncertain
        unknown = sorted(self.final.keys() - known)
        if len(unknown) > self.lost_creates:
            problems.append(
                f"{len(unknown)} listed clockings nobody created as far as the writers know, "
                f"only {self.lost_creates} creates went unanswered: {unknown[:EXAMPLES]}"
            )
        return problems

    def _check(self, ident: int, ack: Acknowledged) -> str | None:
        listed = self.final.get(ident)
        if not self.config.in_filter(ack.date):
            return f"clocking {ident}: moved out of the filter, still listed" if listed else None
        if listed is None:
            return f"clocking {ident}: acknowledged {ack}, not listed"
        return None if ack.matches(listed) else f"clocking {ident}: {ack}, listed {listed}"

    def mirror_problems(self) -> list[str]:
        """How each poller's mirror differs from the final list (empty: identical)."""
        problems = []
        for index, mirror in enumerate(self.mirrors):
            missing = sorted(self.final.keys() - mirror.keys())
            extra = sorted(mirror.keys() - self.final.keys())
            common = self.final.keys() & mirror.keys()
            differ = sorted(i for i in common if mirror[i] != self.final[i])
            if missing or extra or differ:
                problems.append(
                    f"poller {index}: {len(missing)} missing {missing[:EXAMPLES]}, "
                    f"{len(extra)} extra {extra[:EXAMPLES]}, {len(differ)} differ "
                    + "; ".join(f"{mirror[i]} != {self.final[i]}" for i in differ[:2])
                )
        return problems

    def summary(self) -> str:
        """Requests per kind and outcome, e.g. ``delta: 200 x 410, 500 x 12, cut x 1``."""
        lines = []
        for kind in RequestKind:
            outcomes = Counter(e.failure or str(e.status) for e in self.of_kind(kind))
            if outcomes:
                text = ", ".join(f"{name} x {count}" for name, count in sorted(outcomes.items()))
                lines.append(f"{kind}: {text}")
        return "\n".join(lines)


def describe_exchanges(exchanges: Iterable[Exchange], limit: int = EXAMPLES) -> str:
    """A count and the first few, for an assertion message."""
    items = list(exchanges)
    return f"{len(items)}: " + "; ".join(str(e) for e in items[:limit])


@dataclass
class _Roles:
    walker: Walker
    writers: list[Writer]
    pollers: list[Poller]
    walkers: list[Walker]
    sessions: list[Session]


def _person_ids(session: Session) -> list[int]:
    reply = session.read(RequestKind.SETUP, PEOPLE_PATH)
    if reply is None or reply.status != 200 or not reply.body["value"]:
        raise LoadError(f"could not list the people: {reply}")
    return [person["id"] for person in reply.body["value"]]


def _roles(config: LoadConfig, endpoint: Endpoint, log: ExchangeLog, progress: Progress) -> _Roles:
    sessions: list[Session] = []

    def session(client: ApiClient) -> Session:
        sessions.append(Session(endpoint, config, client, log))
        return sessions[-1]

    walker = Walker(session(config.writer_client), config)
    people = list(config.people) or _person_ids(walker.session)
    writers = [
        Writer(session(config.writer_client), config, people, progress, config.seed * 1000 + n)
        for n in range(config.writers)
    ]
    pollers = [Poller(session(client), config, progress) for client in config.poller_clients]
    if not config.readers:
        pollers = []
    return _Roles(walker, writers, pollers, [walker] if config.readers else [], sessions)


def _restart_when_due(
    config: LoadConfig, endpoint: Endpoint, progress: Progress, pollers: int
) -> None:
    assert config.restart is not None and config.restart_after_writes is not None
    if not progress.wait_for(config.restart_after_writes, pollers):
        return
    endpoint.plan_outage()
    try:
        base_url = config.restart()
    except BaseException:
        endpoint.abandon()
        raise
    endpoint.replace(base_url)


def _run_threads(
    config: LoadConfig, endpoint: Endpoint, progress: Progress, roles: _Roles
) -> tuple[float, float]:
    """Readers first, then the writers; readers stop when the writers are done."""
    stop = threading.Event()
    count = len(roles.writers) + len(roles.pollers) + len(roles.walkers) + 1
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="load") as pool:
        readers: list[Future[None]] = [
            pool.submit(p.run, stop, config.max_reads, Pace(progress, config.poll_every_writes))
            for p in roles.pollers
        ]
        readers += [
            pool.submit(w.run, stop, config.max_reads, Pace(progress, config.walk_every_writes))
            for w in roles.walkers
        ]
        if config.restart is not None:
            readers.append(
                pool.submit(_restart_when_due, config, endpoint, progress, len(roles.pollers))
            )
        begin = time.perf_counter()
        jobs = [pool.submit(writer.run, config.writes_per_writer) for writer in roles.writers]
        try:
            for job in jobs:
                job.result()
        finally:
            end = time.perf_counter()
            stop.set()
            progress.finish()
        for reader in readers:
            reader.result()
    return begin, end


def _drain(pollers: Sequence[Poller]) -> None:
    """Each poller follows its deltaLink once more, after the last write."""
    for poller in pollers:
        if poller.link is None:
            poller.anomalies.append("no deltaLink at the end of the load")
        elif not poller.follow():
            poller.anomalies.append("the final deltaLink call failed")


def run_load(config: LoadConfig) -> LoadResult:
    """Run the load against ``config.base_url`` and return what happened.

    Raises :class:`LoadError` if the baseline or the final list cannot be read, or a
    token cannot be had; every other failure is recorded in the result.
    """
    if config.readers and len({c.client_id for c in config.poller_clients}) < len(
        config.poller_clients
    ):
        raise ValueError("each poller needs its own API client (one delta per client)")
    endpoint, log, progress = Endpoint(config.base_url), ExchangeLog(), Progress()
    roles = _roles(config, endpoint, log, progress)
    try:
        baseline = roles.walker.walk()
        if baseline is None:
            raise LoadError("the list before the load failed")
        window = _run_threads(config, endpoint, progress, roles)
        _drain(roles.pollers)
        final = roles.walker.walk()
        if final is None:
            raise LoadError("the final list failed")
    finally:
        for session in roles.sessions:
            session.close()
    return _result(config, log, roles, baseline, final, window, endpoint.restarts)


def _result(
    config: LoadConfig,
    log: ExchangeLog,
    roles: _Roles,
    baseline: dict[int, Record],
    final: dict[int, Record],
    window: tuple[float, float],
    restarts: int,
) -> LoadResult:
    acknowledged: dict[int, Acknowledged] = {}
    uncertain: set[int] = set()
    for writer in roles.writers:
        acknowledged.update(writer.acknowledged)
        uncertain |= writer.uncertain
    writes = [e for e in log.items() if e.kind is RequestKind.WRITE and e.ok]
    return LoadResult(
        config=config,
        exchanges=log.items(),
        acknowledged=acknowledged,
        uncertain=uncertain,
        lost_creates=sum(w.lost_creates for w in roles.writers),
        refused_writes=sum(w.refused for w in roles.writers),
        baseline=baseline,
        final=final,
        mirrors=[poller.mirror for poller in roles.pollers],
        after_restart=[poller.after_restart for poller in roles.pollers],
        anomalies=[a for poller in roles.pollers for a in poller.anomalies],
        unknown_deletes=[i for poller in roles.pollers for i in poller.unknown_deletes],
        window=window,
        restarts=restarts,
        acknowledged_writes=len(writes),
    )
