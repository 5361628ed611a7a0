"""Webhook retention (issue 12: the delivery log and ended webhooks must not grow
without bound), over real HTTP against a running server, on SQLite and PostgreSQL.

The period's two sides are checked with ``run_retention`` at a chosen ``now`` (no
waiting for a clock); the count limit and the age limit also through the server's
own retention thread (``CHRONODELTA_RETENTION_INTERVAL_SECONDS=1``).
"""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.server import WebhookRetention, run_retention
from chronodelta.server._clock import as_utc
from chronodelta.storage import read_transaction, tables
from tests.server.webhooks.receiver import API, Receiver, post_clocking, provision, register
from tests.server.webhooks.test_delivery import FAST_RETRIES, until

HOUR = WebhookRetention(log_seconds=3600, max_attempts=1000)
SECOND = dt.timedelta(seconds=1)


def retain(engine: Engine, now: dt.datetime) -> Any:
    return run_retention(
        engine, ttl=dt.timedelta(hours=72), overlap=dt.timedelta(minutes=5), now=now, webhooks=HOUR
    )


def webhook_row(engine: Engine, webhook_id: str) -> Any:
    with read_transaction(engine) as connection:
        return connection.execute(
            sa.select(tables.webhooks).where(tables.webhooks.c.id == webhook_id)
        ).first()


def logged(engine: Engine, webhook_id: str) -> int:
    deliveries = tables.webhook_deliveries
    with read_transaction(engine) as connection:
        found = connection.scalar(
            sa.select(sa.func.count()).where(deliveries.c.webhook_id == webhook_id)
        )
    return int(found or 0)


def last_attempt(engine: Engine, webhook_id: str) -> dt.datetime:
    deliveries = tables.webhook_deliveries
    with read_transaction(engine) as connection:
        found = connection.scalar(
            sa.select(sa.func.max(deliveries.c.attempted_at)).where(
                deliveries.c.webhook_id == webhook_id
            )
        )
    return as_utc(found)


def deliveries(http: httpx.Client, webhook_id: str) -> httpx.Response:
    return http.get(f"{API}/webhooks/{webhook_id}/deliveries")


def test_a_deleted_webhooks_log_is_kept_for_the_period_then_forgotten(
    engine: Engine, database_url: str
) -> None:
    # Issue 12, item 1: the delivery log is "kept after delete"; retention: for the
    # retention period (CHRONODELTA_WEBHOOK_LOG_RETENTION_SECONDS), not for ever.
    tenant = provision(engine, database_url)
    with Receiver() as receiver, tenant.server() as server, tenant.http(server) as http:
        webhook = register(http, receiver.url)
        post_clocking(http)
        receiver.wait_for(lambda r: len(r) >= 1)
        until(lambda: len(deliveries(http, webhook["id"]).json()["value"]) == 1)
        assert http.delete(f"{API}/webhooks/{webhook['id']}").status_code == 204
        deleted_at = as_utc(webhook_row(engine, webhook["id"]).deleted_at)
        # The attempt itself is kept a period from when it was made (before the delete).
        report = retain(engine, last_attempt(engine, webhook["id"]) + HOUR.period - SECOND)
        assert report.webhooks == 0
        kept = deliveries(http, webhook["id"])
        assert kept.status_code == 200 and len(kept.json()["value"]) == 1
        report = retain(engine, deleted_at + HOUR.period + SECOND)
        assert (report.webhooks, report.webhook_deliveries) == (1, 1)
        assert deliveries(http, webhook["id"]).status_code == 404
    assert webhook_row(engine, webhook["id"]) is None and logged(engine, webhook["id"]) == 0


def test_a_disabled_webhook_is_forgotten_a_period_after_it_was_disabled(
    engine: Engine, database_url: str
) -> None:
    # Retention: "deleted/disabled webhooks must not grow without bound"; a disabled
    # one counts from when it was disabled (webhooks.disabled_at, migration 0013).
    tenant = provision(engine, database_url)
    with (
        Receiver(lambda _got, _all: 503) as receiver,
        tenant.server(FAST_RETRIES) as server,
        tenant.http(server) as http,
    ):
        webhook = register(http, receiver.url)
        live = register(http, receiver.url, "people")  # no event: stays enabled
        post_clocking(http)
        path = f"{API}/webhooks/{webhook['id']}"
        until(lambda: http.get(path).json()["status"] == "Disabled")
        disabled_at = as_utc(webhook_row(engine, webhook["id"]).disabled_at)
        assert retain(engine, disabled_at + HOUR.period - SECOND).webhooks == 0
        assert http.get(path).status_code == 200
        assert retain(engine, disabled_at + HOUR.period + SECOND).webhooks == 1
        assert http.get(path).status_code == 404
        assert http.get(f"{API}/webhooks/{live['id']}").json()["status"] == "Enabled"
    assert logged(engine, webhook["id"]) == 0


def test_the_server_keeps_the_latest_attempts_up_to_the_count(
    engine: Engine, database_url: str
) -> None:
    # Retention by count (CHRONODELTA_WEBHOOK_LOG_MAX_ATTEMPTS), run by the server's
    # retention thread: the latest attempts stay, in order.
    tenant = provision(engine, database_url)
    env = {
        "CHRONODELTA_RETENTION_INTERVAL_SECONDS": "1",
        "CHRONODELTA_WEBHOOK_LOG_MAX_ATTEMPTS": "3",
    }
    with Receiver() as receiver, tenant.server(env) as server, tenant.http(server) as http:
        webhook = register(http, receiver.url)
        versions = [post_clocking(http, minutes=500 + n)["changeVersion"] for n in range(6)]
        receiver.wait_for(lambda r: len(r) >= 6)
        until(
            lambda: (
                [d["changeVersion"] for d in deliveries(http, webhook["id"]).json()["value"]]
                == versions[-3:]
            )
        )


def test_the_server_forgets_attempts_older_than_the_period(
    engine: Engine, database_url: str
) -> None:
    # Retention by age (CHRONODELTA_WEBHOOK_LOG_RETENTION_SECONDS): old attempts go, a
    # live webhook stays.
    tenant = provision(engine, database_url)
    env = {
        "CHRONODELTA_RETENTION_INTERVAL_SECONDS": "1",
        "CHRONODELTA_WEBHOOK_LOG_RETENTION_SECONDS": "2",
    }
    with Receiver() as receiver, tenant.server(env) as server, tenant.http(server) as http:
        webhook = register(http, receiver.url)
        post_clocking(http)
        receiver.wait_for(lambda r: len(r) >= 1)
        until(lambda: logged(engine, webhook["id"]) == 1)
        until(lambda: logged(engine, webhook["id"]) == 0)
        assert http.get(f"{API}/webhooks/{webhook['id']}").json()["status"] == "Enabled"
        assert deliveries(http, webhook["id"]).json() == {"value": []}


def test_retention_while_writers_deliver_and_readers_read(
    engine: Engine, database_url: str
) -> None:
    # Guide, "Concurrency is correctness": retention every second trimming the log to
    # 5 attempts while 3 writers post clockings and a reader reads the log: no 5xx,
    # every acknowledged clocking delivered, the log never over the count for long.
    tenant = provision(engine, database_url)
    env = {
        "CHRONODELTA_RETENTION_INTERVAL_SECONDS": "1",
        "CHRONODELTA_WEBHOOK_LOG_MAX_ATTEMPTS": "5",
    }
    workers = 2 if "postgresql" in database_url else 1
    statuses: list[int] = []
    versions: list[str] = []
    done = threading.Event()
    with Receiver() as receiver, tenant.server(env, workers=workers) as server:
        with tenant.http(server) as http:
            webhook = register(http, receiver.url)

        def write(person: int) -> None:
            with tenant.http(server) as http:
                for n in range(25):
                    body: dict[str, Any] = {"person": {"id": person}, "date": "2026-01-16"}
                    body |= {"timeOfDayInMinutes": n, "kind": "InOut"}
                    response = http.post(f"{API}/clockings", json=body)
                    statuses.append(response.status_code)
                    if response.status_code == 201:
                        versions.append(response.json()["changeVersion"])

        def read() -> None:
            with tenant.http(server) as http:
                while not done.is_set():
                    statuses.append(deliveries(http, webhook["id"]).status_code)

        with ThreadPoolExecutor(4) as pool:
            reader = pool.submit(read)
            for future in [pool.submit(write, p) for p in (1, 2, 3)]:
                future.result()
            got = receiver.wait_for(lambda r: len(r) >= len(versions))
            done.set()
            reader.result()
        with tenant.http(server) as http:
            until(lambda: len(deliveries(http, webhook["id"]).json()["value"]) == 5)
    assert not [s for s in statuses if s >= 500], statuses
    assert len(versions) == 75
    assert sorted({r.event["data"]["changeVersion"] for r in got}) == sorted(versions)
