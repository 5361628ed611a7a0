"""Delivery over real HTTP from ``chronodelta serve`` to a loopback receiver (issue 12,
"Must hold"), on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from standardwebhooks.webhooks import Webhook

from chronodelta.storage import tables
from tests.server.webhooks.receiver import (
    API,
    Received,
    Receiver,
    of_webhook,
    post_clocking,
    provision,
    register,
)

FAST_RETRIES = {"CHRONODELTA_WEBHOOK_RETRIES": "2", "CHRONODELTA_WEBHOOK_BACKOFF_SECONDS": "0.05"}


def until(check: Callable[[], bool], timeout: float = 60.0) -> None:
    """A bounded wait for state the server commits right after answering the receiver."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)


def test_a_clocking_and_its_paid_presence_arrive_signed(engine: Engine, database_url: str) -> None:
    # Must hold: "a clocking POST and its recalculated paid presence each arrive as
    # events; the signature verifies with the standardwebhooks library".
    tenant = provision(engine, database_url)
    with Receiver() as receiver, tenant.server() as server, tenant.http(server) as http:
        clockings = register(http, receiver.url, "clockings")
        totals = register(http, receiver.url, "paid-presences")
        created = post_clocking(http)
        got = receiver.wait_for(
            lambda r: bool(of_webhook(r, clockings["id"]) and of_webhook(r, totals["id"]))
        )
    (clocking,) = of_webhook(got, clockings["id"])
    assert Webhook(clockings["signingKey"]).verify(clocking.body, clocking.headers)
    # Contract: "An event has the shape of a delta item" (seed 004, step 5's item).
    assert clocking.event["changeType"] == "InsertOrUpdate"
    assert clocking.event["collectionName"] == "clockings"
    assert clocking.event["data"] == created
    (total,) = of_webhook(got, totals["id"])
    assert Webhook(totals["signingKey"]).verify(total.body, total.headers)
    assert total.event["data"]["person"]["id"] == 1
    assert total.event["data"]["date"] == "2026-01-15"
    with pytest.raises(Exception, match="signature"):
        Webhook(totals["signingKey"]).verify(clocking.body, clocking.headers)


def test_a_failing_receiver_gets_the_same_event_again(engine: Engine, database_url: str) -> None:
    # Must hold: "a receiver failing twice gets the event a third time with the same
    # webhook-id"; the delivery log shows each attempt.
    tenant = provision(engine, database_url)

    def fail_twice(got: Received, received: list[Received]) -> int:
        tries = sum(1 for r in received if r.webhook_id == got.webhook_id)
        return 500 if tries <= 2 else 204

    with (
        Receiver(fail_twice) as receiver,
        tenant.server(FAST_RETRIES) as server,
        tenant.http(server) as http,
    ):
        webhook = register(http, receiver.url)
        post_clocking(http)
        got = receiver.wait_for(lambda r: len(r) >= 3)
        assert len({r.webhook_id for r in got}) == 1
        assert len({r.headers["webhook-signature"] for r in got}) >= 1
        log_path = f"{API}/webhooks/{webhook['id']}/deliveries"

        def logged() -> list[int | None]:
            return [d["responseStatus"] for d in http.get(log_path).json()["value"]]

        until(lambda: len(logged()) == 3)
        log = http.get(log_path).json()["value"]
        assert [d["attempt"] for d in log] == [1, 2, 3]
        assert logged() == [500, 500, 204]
        assert log[0]["error"] == "the receiver answered 500" and log[2]["error"] is None
        assert http.get(f"{API}/webhooks/{webhook['id']}").json()["status"] == "Enabled"


def test_a_receiver_that_always_fails_ends_disabled(engine: Engine, database_url: str) -> None:
    # Must hold: "one always failing ends Disabled" (after the first attempt and
    # CHRONODELTA_WEBHOOK_RETRIES more); contract: never re-enabled.
    tenant = provision(engine, database_url)
    with (
        Receiver(lambda _got, _all: 503) as receiver,
        tenant.server(FAST_RETRIES) as server,
        tenant.http(server) as http,
    ):
        webhook = register(http, receiver.url)
        post_clocking(http)
        receiver.wait_for(lambda r: len(r) >= 3)
        path = f"{API}/webhooks/{webhook['id']}"
        until(lambda: http.get(path).json()["status"] == "Disabled")
        assert "3 attempts" in http.get(path).json()["disabledReason"]
        disabled = http.get(f"{API}/webhooks", params={"filter": "status eq 'Disabled'"})
        assert [w["id"] for w in disabled.json()["value"]] == [webhook["id"]]
        post_clocking(http, minutes=600)  # no event for a disabled webhook
    assert len(receiver.received) == 3
    with engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(tables.webhook_outbox)) == 0


def test_delete_stops_deliveries(engine: Engine, database_url: str) -> None:
    # Contract: DELETE is a soft delete; issue 12: "DELETE stops deliveries".
    tenant = provision(engine, database_url)
    with Receiver() as receiver, tenant.server() as server, tenant.http(server) as http:
        deleted = register(http, receiver.url)
        kept = register(http, receiver.url)
        assert http.delete(f"{API}/webhooks/{deleted['id']}").status_code == 204
        post_clocking(http)
        got = receiver.wait_for(lambda r: bool(of_webhook(r, kept["id"])))
        assert of_webhook(got, deleted["id"]) == []
        log = http.get(f"{API}/webhooks/{deleted['id']}/deliveries")
        assert log.status_code == 200 and log.json() == {"value": []}
    outbox = tables.webhook_outbox
    with engine.connect() as connection:
        rows = connection.execute(sa.select(outbox).where(outbox.c.webhook_id == deleted["id"]))
        assert rows.all() == []


def test_an_event_committed_before_a_crash_is_delivered_after_restart(
    engine: Engine, database_url: str
) -> None:
    # Must hold: "SIGKILL of the server after the write's commit and before delivery,
    # then a restart, still delivers it". The first server writes the outbox but does
    # not deliver (CHRONODELTA_WEBHOOK_DELIVERY=false), so the kill surely comes first.
    tenant = provision(engine, database_url)
    with Receiver() as receiver:
        first = tenant.server({"CHRONODELTA_WEBHOOK_DELIVERY": "false"})
        with first, tenant.http(first) as http:
            webhook = register(http, receiver.url)
            created = post_clocking(http)
            os.killpg(first.pid, signal.SIGKILL)
        assert receiver.received == []
        with tenant.server():
            got = receiver.wait_for(lambda r: bool(of_webhook(r, webhook["id"])))
    assert [r.event["data"] for r in got] == [created]
    assert Webhook(webhook["signingKey"]).verify(got[0].body, got[0].headers)


@pytest.mark.postgresql
def test_two_workers_deliver_each_event_once_in_order(
    postgres_engine_url: tuple[Engine, str],
) -> None:
    # Must hold: "on PostgreSQL with 2 workers and a receiver that always answers 204,
    # no event is delivered twice over 500 events"; in changeVersion order per webhook.
    engine, database_url = postgres_engine_url
    tenant = provision(engine, database_url)
    events = 500
    with Receiver() as receiver, tenant.server(workers=2) as server, tenant.http(server) as http:
        first = register(http, receiver.url)
        second = register(http, receiver.url)
        for minute in range(events // 2):
            post_clocking(http, minutes=minute)
        got = receiver.wait_for(lambda r: len(r) >= 2 * (events // 2))
    ids = [r.webhook_id for r in got]
    assert len(ids) == len(set(ids)) == events
    for webhook in (first, second):
        versions = [r.event["data"]["changeVersion"] for r in of_webhook(got, webhook["id"])]
        assert versions == sorted(versions) and len(versions) == events // 2


def test_concurrent_writers_readers_and_registrations(engine: Engine, database_url: str) -> None:
    # Guide, "Concurrency is correctness": clocking writers, webhook readers and a thread
    # registering and deleting webhooks at once; no 5xx, and every acknowledged clocking
    # reaches the webhook that stayed, once, in changeVersion order.
    tenant = provision(engine, database_url)
    workers = 2 if "postgresql" in database_url else 1
    writes, writers = 30, 3
    with Receiver() as receiver, tenant.server(workers=workers) as server:
        with tenant.http(server) as http:
            kept = register(http, receiver.url)
        statuses: list[int] = []
        versions: list[str] = []
        done = threading.Event()

        def write(offset: int) -> None:
            with tenant.http(server) as http:
                for n in range(writes):
                    response = http.post(
                        f"{API}/clockings",
                        json={
                            "person": {"id": 1 + offset},
                            "date": "2026-01-16",
                            "timeOfDayInMinutes": n,
                            "kind": "InOut",
                        },
                    )
                    statuses.append(response.status_code)
                    if response.status_code == 201:
                        versions.append(response.json()["changeVersion"])

        def read() -> None:
            with tenant.http(server) as http:
                while not done.is_set():
                    statuses.append(http.get(f"{API}/webhooks").status_code)
                    statuses.append(http.get(f"{API}/webhooks/{kept['id']}/deliveries").status_code)

        def churn() -> None:
            with tenant.http(server) as http:
                while not done.is_set():
                    created = register(http, receiver.url)
                    statuses.append(http.delete(f"{API}/webhooks/{created['id']}").status_code)

        with ThreadPoolExecutor(writers + 2) as pool:
            background = [pool.submit(read), pool.submit(churn)]
            for future in [pool.submit(write, n) for n in range(writers)]:
                future.result()
            done.set()
            for future in background:
                future.result()
        got = receiver.wait_for(lambda r: len(of_webhook(r, kept["id"])) >= len(versions))
    assert not [s for s in statuses if s >= 500], statuses
    assert len(versions) == writes * writers
    delivered = [r.event["data"]["changeVersion"] for r in of_webhook(got, kept["id"])]
    assert delivered == sorted(versions)
