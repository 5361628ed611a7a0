"""The load driver's own checks (chronodelta.testing._load): each one must catch what the
load tests rely on it to catch, or a broken server would pass them."""

from __future__ import annotations

import datetime as dt
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from chronodelta.testing import Acknowledged, ApiClient, LoadConfig, LoadResult, RequestKind
from chronodelta.testing._load import Endpoint, ExchangeLog, Poller, Progress, Session, _decode

CONFIG = LoadConfig(
    base_url="http://127.0.0.1:9",
    tenant="acme",
    writer_client=ApiClient("writer", "secret"),
    poller_clients=(),
    first_day=dt.date(2026, 1, 1),
    last_day=dt.date(2026, 1, 31),
)


def clocking(ident: int, version: int, **fields: Any) -> dict[str, Any]:
    return {
        "changeVersion": f"{version:020X}",
        "id": ident,
        "status": "Active",
        "person": {"id": 1},
        "date": "2026-01-15",
        "timeOfDayInMinutes": 500,
        "kind": "InOut",
        **fields,
    }


def result(
    final: dict[int, dict[str, Any]],
    acknowledged: dict[int, Acknowledged] | None = None,
    *,
    baseline: dict[int, dict[str, Any]] | None = None,
    mirrors: list[dict[int, dict[str, Any]]] | None = None,
    lost_creates: int = 0,
) -> LoadResult:
    return LoadResult(
        config=CONFIG,
        exchanges=[],
        acknowledged=acknowledged or {},
        uncertain=set(),
        lost_creates=lost_creates,
        refused_writes=0,
        baseline=baseline or {},
        final=final,
        mirrors=mirrors or [],
        after_restart=[],
        anomalies=[],
        unknown_deletes=[],
        window=(0.0, 1.0),
        restarts=0,
    )


# --- acknowledged writes against the final list ----------------------------------------


def test_an_acknowledged_state_that_is_listed_passes() -> None:
    record = clocking(7, 10)
    assert result({7: record}, {7: Acknowledged(record)}).state_problems() == []


@pytest.mark.parametrize(
    "listed",
    [
        {},  # lost
        {7: clocking(7, 9, timeOfDayInMinutes=400)},  # an older state
        {7: clocking(7, 11, timeOfDayInMinutes=600)},  # a state nobody acknowledged
    ],
)
def test_an_acknowledged_write_not_listed_as_acknowledged_is_a_problem(
    listed: dict[int, dict[str, Any]],
) -> None:
    acknowledged = {7: Acknowledged(clocking(7, 10))}
    assert len(result(listed, acknowledged).state_problems()) == 1


def test_an_acknowledged_delete_must_be_listed_deleted_with_a_newer_version() -> None:
    before = clocking(7, 10)
    acknowledged = {7: Acknowledged(before, deleted=True)}
    deleted = clocking(7, 12, status="Deleted")
    assert result({7: deleted}, acknowledged).state_problems() == []
    assert len(result({7: before}, acknowledged).state_problems()) == 1  # still Active
    stale = clocking(7, 10, status="Deleted")
    assert len(result({7: stale}, acknowledged).state_problems()) == 1  # no new version


def test_a_clocking_moved_out_of_the_filter_must_not_be_listed() -> None:
    moved = clocking(7, 10, date="2026-02-02")
    assert result({}, {7: Acknowledged(moved)}).state_problems() == []
    assert len(result({7: moved}, {7: Acknowledged(moved)}).state_problems()) == 1


def test_seeded_clockings_nobody_wrote_must_stay_as_they_were() -> None:
    seeded = clocking(1, 3)
    assert result({1: seeded}, baseline={1: seeded}).state_problems() == []
    changed = clocking(1, 4, timeOfDayInMinutes=1)
    assert len(result({1: changed}, baseline={1: seeded}).state_problems()) == 1


def test_unexplained_clockings_are_allowed_only_up_to_the_unanswered_creates() -> None:
    final = {8: clocking(8, 5), 9: clocking(9, 6)}
    assert result(final, lost_creates=2).state_problems() == []
    assert len(result(final, lost_creates=1).state_problems()) == 1


# --- mirrors against the final list ------------------------------------------------------


def test_a_mirror_must_equal_the_final_list_record_for_record() -> None:
    final = {1: clocking(1, 3), 2: clocking(2, 4)}
    assert result(final, mirrors=[dict(final)]).mirror_problems() == []
    for mirror in ({1: final[1]}, {**final, 3: clocking(3, 5)}, {**final, 2: clocking(2, 3)}):
        assert len(result(final, mirrors=[mirror]).mirror_problems()) == 1


# --- applying delta responses ------------------------------------------------------------


def poller() -> Poller:
    session = Session(Endpoint(CONFIG.base_url), CONFIG, CONFIG.writer_client, ExchangeLog())
    return Poller(session, CONFIG, Progress())


def upsert(record: dict[str, Any]) -> dict[str, Any]:
    return {"changeType": "InsertOrUpdate", "data": record}


def delete(ident: int, version: int) -> dict[str, Any]:
    return {"changeType": "Delete", "data": {"id": ident, "changeVersion": f"{version:020X}"}}


def test_changes_are_applied_by_change_version() -> None:
    follower = poller()
    follower.mirror = {1: clocking(1, 5), 2: clocking(2, 6)}
    follower._apply([upsert(clocking(1, 7, timeOfDayInMinutes=9)), delete(2, 8)])
    assert follower.mirror == {1: clocking(1, 7, timeOfDayInMinutes=9)}
    assert follower.anomalies == []


@pytest.mark.parametrize(
    "changes",
    [
        [upsert(clocking(1, 7)), upsert(clocking(1, 8))],  # one record twice
        [upsert(clocking(2, 8)), upsert(clocking(1, 7))],  # out of changeVersion order
        [upsert(clocking(1, 4))],  # older than the one held
    ],
)
def test_a_delta_response_breaking_the_contract_is_an_anomaly(
    changes: list[dict[str, Any]],
) -> None:
    follower = poller()
    follower.mirror = {1: clocking(1, 5)}
    follower._apply(changes)
    assert follower.anomalies
    assert follower.mirror[1]["changeVersion"] >= clocking(1, 5)["changeVersion"]


# --- what counts as a broken response ------------------------------------------------------


def response(status: int, content: bytes) -> httpx.Response:
    return httpx.Response(status, content=content, request=httpx.Request("GET", "http://x/"))


def test_a_delta_body_without_its_delta_link_is_incomplete() -> None:
    whole = {"value": [], "deltaLink": "/d"}
    assert _decode(RequestKind.DELTA, response(200, orjson.dumps(whole))) == (whole, None)
    assert _decode(RequestKind.DELTA, response(200, b'{"value": []}'))[1] == "incomplete body"
    assert _decode(RequestKind.DELTA, response(200, b'{"value": [{"chan'))[1] == "invalid JSON"
    assert _decode(RequestKind.DELTA, response(500, b"Internal Server Error"))[1] is None


@pytest.fixture
def cutting_server() -> Iterator[str]:
    """A loopback server that promises 100 bytes of body, sends 10 and hangs up."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b'{"value":[')

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    thread.join(timeout=10)
    listener.close()


def test_a_body_cut_mid_way_is_recorded_as_cut(cutting_server: str) -> None:
    log = ExchangeLog()
    session = Session(Endpoint(cutting_server), CONFIG, CONFIG.writer_client, log)
    session._token = "token"  # the server only answers the one request
    try:
        assert session.call(RequestKind.DELTA, "GET", "/delta") is None
    finally:
        session.close()
    (exchange,) = log.items()
    assert (exchange.status, exchange.failure, exchange.planned) == (None, "cut", False)
