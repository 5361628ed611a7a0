"""``sync --follow`` with webhooks (issue 12, item 7), over real HTTP against a running
server on SQLite and PostgreSQL: deliveries trigger delta reads, forged ones are
refused, webhooks are renewed before ``validUntil`` and replaced (with a full re-sync)
once disabled, and deleted on a clean exit.

The poll interval is 24 h in every test, so only a webhook trigger can explain a change
reaching the mirror while the sync follows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook as Signer
from typer.testing import CliRunner

from chronodelta.cli import app
from chronodelta.client import Client, ClockingInput, PaidPresence
from chronodelta.storage import create_engine, plain_write_transaction, read_transaction, tables
from chronodelta.sync import (
    MAX_INTERVAL_SECONDS,
    Mirror,
    Reporter,
    SyncConnection,
    SyncRequest,
    WebhookOptions,
    run_sync,
)
from chronodelta.sync._webhooks import (
    DeliveryListener,
    Subscription,
    TriggerState,
    due_for_renewal,
    registered,
)
from chronodelta.testing import ServerProcess, free_port
from tests.conftest import new_database_url
from tests.provisioning import provision_with_cli

from .conftest import SINCE, TODAY, USER_AGENT, empty_target
from .writes import mirror_state, random_writes, source_state

WAIT_SECONDS = 60.0


def until(check: Callable[[], bool], what: str, timeout: float = WAIT_SECONDS) -> None:
    """A bounded wait for a condition (never a sleep as synchronization)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


@dataclass
class Served:
    database_url: str
    server: ServerProcess
    credentials: dict[str, Any]
    target: str

    @property
    def connection(self) -> SyncConnection:
        c = self.credentials
        return SyncConnection(self.server.base_url, "acme", c["client_id"], c["client_secret"])

    def client(self) -> Client:
        c = self.credentials
        return Client(
            self.server.base_url,
            "acme",
            c["client_id"],
            c["client_secret"],
            user_agent=USER_AGENT,
        )

    def webhook_rows(self) -> list[Any]:
        engine = create_engine(self.database_url)
        try:
            with read_transaction(engine) as connection:
                return list(connection.execute(sa.select(tables.webhooks)).all())
        finally:
            engine.dispose()

    def mirrored(self, collection: str) -> dict[int, dict[str, Any]]:
        mirror = Mirror(self.target)
        try:
            return mirror.rows(collection)
        finally:
            mirror.close()

    def generation(self, collection: str) -> int:
        mirror = Mirror(self.target)
        try:
            state = mirror.state(collection)
        finally:
            mirror.close()
        return 0 if state is None else state.generation


@contextmanager
def served(
    request: pytest.FixtureRequest, kind: str, directory: Path, env: dict[str, str] | None = None
) -> Iterator[Served]:
    url = new_database_url(request, kind, directory)
    credentials = provision_with_cli(url, people=3, days=5, until=TODAY)
    settings = {"CHRONODELTA_TODAY": TODAY, **(env or {})}
    with ServerProcess(url, env=settings) as server:
        yield Served(url, server, credentials, empty_target(request, kind, directory))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Counting(Reporter):
    """Counts the delta responses committed, per collection."""

    def __init__(self) -> None:
        self.committed: dict[str, int] = {}

    def changes_committed(self, collection: str, counts: Any) -> None:
        self.committed[collection] = self.committed.get(collection, 0) + 1


@dataclass
class Following:
    options: WebhookOptions
    reporter: Counting
    stop: threading.Event
    errors: list[BaseException] = field(default_factory=list)


@contextmanager
def following(
    source: Served, collections: tuple[str, ...], check_seconds: float = 60.0
) -> Iterator[Following]:
    """``run_sync(follow=True, webhooks=...)`` in a thread, stopped (cleanly) at the end."""
    port = free_port()
    options = WebhookOptions(
        "127.0.0.1", port, f"http://127.0.0.1:{port}/hooks", check_seconds=check_seconds
    )
    run = Following(options, Counting(), threading.Event())
    mirror = Mirror(source.target)
    request = SyncRequest(collections, dt.date.fromisoformat(SINCE))

    def main() -> None:
        try:
            run_sync(
                source.connection,
                mirror,
                request,
                reporter=run.reporter,
                follow=True,
                interval=MAX_INTERVAL_SECONDS,
                stop=run.stop,
                webhooks=options,
            )
        except BaseException as exc:  # handed to the test
            run.errors.append(exc)

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    try:
        until(
            lambda: all(run.reporter.committed.get(c) for c in collections) or bool(run.errors),
            "the first pass",
        )
        assert not run.errors, run.errors
        yield run
    finally:
        run.stop.set()
        thread.join(WAIT_SECONDS)
        mirror.close()
    assert not thread.is_alive() and not run.errors, run.errors


def post_clocking(client: Client, minutes: int) -> int:
    made = client.clockings.create(ClockingInput(1, "2026-01-15", minutes, "InOut"))
    assert made.record is not None
    return made.record.id


def replaced(source: Served, collection: str, first_id: str) -> bool:
    """One live webhook of ``collection``, and not ``first_id``."""
    return [h.id != first_id for h in live_hooks(source, collection)] == [True]


def live_hooks(source: Served, collection: str) -> list[Any]:
    return [r for r in source.webhook_rows() if r.collection == collection and r.deleted_at is None]


def test_a_clocking_reaches_the_mirror_through_a_webhook_trigger(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    # Issue 12, item 7: "registers a webhook for each collection, listens, verifies each
    # delivery and uses it as a trigger to read the delta at once"; deleted on clean exit.
    collections = ("clockings", "paid-presences")
    with (
        served(request, backend, tmp_path) as source,
        source.client() as client,
    ):
        with following(source, collections) as run:
            for name in collections:
                (hook,) = live_hooks(source, name)
                assert hook.destination_url == run.options.url and hook.status == "Enabled"
            clocking_id = post_clocking(client, 611)
            until(lambda: clocking_id in source.mirrored("clockings"), "the clocking mirrored")
            # Its recalculated paid presence (person 1 on 2026-01-15) comes through its own
            # webhook's trigger too.
            presence = latest_paid_presence(client)
            until(
                lambda: (
                    source.mirrored("paid-presences").get(presence.id, {}).get("raw")
                    == presence.raw
                ),
                "the paid presence mirrored",
            )
        # A clean exit deletes the webhooks the sync registered.
        assert not live_hooks(source, "clockings") and not live_hooks(source, "paid-presences")


def latest_paid_presence(client: Client) -> PaidPresence:
    """Person 1's paid presence of 2026-01-15, as the server has it now."""
    day = "date ge '2026-01-15' and date le '2026-01-15'"
    (found,) = [p for p in client.paid_presences.list(day) if p.person.id == 1]
    return found


def test_a_forged_delivery_is_refused(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    # Item 7: "verifies each delivery": one that does not verify gets 401, and the
    # mirror does not take its body (the delta stays the source of truth).
    with served(request, backend, tmp_path) as source, following(source, ("clockings",)) as run:
        forged = b'{"webhookId": "x", "collectionName": "clockings", "changeType": "Delete",'
        forged += b' "data": {"id": 1, "changeVersion": "00000000000000000099"}}'
        headers = Signer("whsec_" + "QUFB" * 8).sign(
            "msg_forged", dt.datetime.now(dt.UTC), forged.decode()
        )
        sent = httpx.post(
            run.options.url,
            content=forged,
            headers={
                "webhook-id": "msg_forged",
                "webhook-timestamp": str(int(time.time())),
                "webhook-signature": headers,
            },
        )
        assert sent.status_code == 401
        unsigned = httpx.post(run.options.url, content=forged)
        assert unsigned.status_code == 401
        assert 1 in source.mirrored("clockings")


def test_the_listener_triggers_only_on_a_verified_delivery() -> None:
    # Item 7 ("bad signature: 401, not a trigger"): the listener notes a trigger before
    # it answers, so right after each answer what it holds is exact.
    key = "whsec_" + "S2V5" * 8
    listener = DeliveryListener("127.0.0.1", 0, lambda: [key], ["clockings"])
    listener.start()
    try:
        url = f"http://127.0.0.1:{listener.port}/hooks"
        body = b'{"webhookId": "w", "collectionName": "clockings", "changeType": "Delete",'
        body += b' "data": {"id": 1, "changeVersion": "00000000000000000001"}}'
        now = dt.datetime.now(dt.UTC)
        wrong = Signer("whsec_" + "QUFB" * 8).sign("msg_1", now, body.decode())
        right = Signer(key).sign("msg_1", now, body.decode())

        def send(signature: str) -> int:
            stamp = str(int(now.timestamp()))
            headers = {"webhook-id": "msg_1", "webhook-timestamp": stamp}
            return httpx.post(
                url, content=body, headers={**headers, "webhook-signature": signature}
            ).status_code

        assert send(wrong) == 401
        assert listener.take() == set() and listener.refused == 1
        assert send(right) == 204
        assert listener.take() == {"clockings"} and listener.accepted == 1
        # A malformed request is a 400, not an error in the listener.
        with socket.create_connection(("127.0.0.1", listener.port)) as raw:
            raw.sendall(b"POST /hooks HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
            assert raw.recv(64).startswith(b"HTTP/1.0 400")
        assert listener.take() == set()
    finally:
        listener.close()


def test_webhooks_are_renewed_before_valid_until(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    # Item 7: "renews the webhook before validUntil" (register a new one, delete the
    # old). A 6-second lifetime: the sync renews at half of it.
    env = {"CHRONODELTA_WEBHOOK_LIFETIME_SECONDS": "6"}
    with (
        served(request, backend, tmp_path, env) as source,
        source.client() as client,
        following(source, ("clockings",)),
    ):
        (first,) = live_hooks(source, "clockings")
        until(lambda: replaced(source, "clockings", first.id), "a new webhook")
        (old,) = [r for r in source.webhook_rows() if r.id == first.id]
        # Deleted while still enabled and valid: replaced, never left to expire.
        assert old.status == "Enabled" and old.deleted_at is not None
        assert old.deleted_at.replace(tzinfo=None) < old.valid_until.replace(tzinfo=None)
        # The renewed webhook triggers as the first did.
        clocking_id = post_clocking(client, 622)
        until(lambda: clocking_id in source.mirrored("clockings"), "the clocking mirrored")


def test_a_disabled_webhook_leads_to_a_resync_and_a_new_one(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    # Item 7: "on a disabled webhook re-initializes and registers a new one" (the
    # vendor's recovery: full re-sync, then a new webhook). The server disables a
    # webhook whose retries run out; here its row is set so directly.
    with (
        served(request, backend, tmp_path) as source,
        source.client() as client,
        following(source, ("clockings",), check_seconds=0.3),
    ):
        (first,) = live_hooks(source, "clockings")
        assert source.generation("clockings") == 1
        engine = create_engine(source.database_url)
        try:
            with plain_write_transaction(engine) as connection:
                connection.execute(
                    tables.webhooks.update()
                    .where(tables.webhooks.c.id == first.id)
                    .values(status="Disabled", disabled_reason="retries ran out (test)")
                )
        finally:
            engine.dispose()
        until(lambda: source.generation("clockings") == 2, "a full re-sync")
        until(lambda: replaced(source, "clockings", first.id), "a new webhook")
        (new,) = live_hooks(source, "clockings")
        assert new.status == "Enabled"
        clocking_id = post_clocking(client, 633)
        until(lambda: clocking_id in source.mirrored("clockings"), "the clocking mirrored")
    assert source.generation("clockings") == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--webhook-listen", "127.0.0.1:8800"], "go together"),
        (["--webhook-listen", "127.0.0.1:8800", "--webhook-url", "http://h/x"], "need --follow"),
        (
            ["--follow", "--webhook-listen", "8800", "--webhook-url", "http://h/x"],
            "HOST:PORT",
        ),
        (
            ["--follow", "--webhook-listen", "127.0.0.1:8800", "--webhook-url", "h/x"],
            "absolute http(s) URL",
        ),
    ],
)
def test_the_command_line_refuses_half_a_webhook_setting(args: list[str], message: str) -> None:
    # Item 7's options: both, with --follow, in their shapes; a usage error (exit 2) else.
    env = {
        "CHRONODELTA_BASE_URL": "http://127.0.0.1:9",
        "CHRONODELTA_TENANT": "acme",
        "CHRONODELTA_CLIENT_ID": "id",
        "CHRONODELTA_CLIENT_SECRET": "secret",
    }
    result = CliRunner().invoke(app, ["sync", "clockings", "--since", SINCE, *args], env=env)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_a_webhook_is_renewed_an_hour_before_valid_until_or_at_half_its_life() -> None:
    # Item 7: "renews the webhook before validUntil" (sync/_webhooks.py, RENEW_MARGIN).
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    month = Subscription("clockings", "a", "k1", start, start + dt.timedelta(days=30))
    short = Subscription("paid-presences", "b", "k2", start, start + dt.timedelta(seconds=6))
    assert month.renew_at == start + dt.timedelta(days=30, hours=-1)
    assert short.renew_at == start + dt.timedelta(seconds=3)
    state = registered(registered(TriggerState(), month), short)
    assert due_for_renewal(state, start + dt.timedelta(seconds=3)) == (short,)
    renewed = registered(state, dataclasses.replace(short, webhook_id="c", signing_key="k3"))
    # The replaced webhook's key still verifies a delivery in flight at the swap.
    assert renewed.of("paid-presences") is not None
    assert renewed.of("paid-presences").webhook_id == "c"  # type: ignore[union-attr]
    assert set(renewed.keys) == {"k1", "k2", "k3"}


def test_the_command_follows_by_webhook_and_deletes_them_on_sigterm(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # Item 7 through the command line: `chronodelta sync ... --follow --webhook-listen
    # HOST:PORT --webhook-url URL`; SIGTERM is a clean exit (status 0) that deletes the
    # webhooks it registered.
    with served(request, "sqlite", tmp_path) as source, source.client() as client:
        port = free_port()
        c = source.credentials
        env = {
            **os.environ,
            "CHRONODELTA_BASE_URL": source.server.base_url,
            "CHRONODELTA_TENANT": "acme",
            "CHRONODELTA_CLIENT_ID": c["client_id"],
            "CHRONODELTA_CLIENT_SECRET": c["client_secret"],
        }
        args = ["clockings", "--since", SINCE, "--target", source.target, "--follow"]
        args += ["--interval", str(MAX_INTERVAL_SECONDS), "--webhook-listen", f"127.0.0.1:{port}"]
        args += ["--webhook-url", f"http://127.0.0.1:{port}/hooks", "-v"]
        command = [sys.executable, "-m", "chronodelta", "sync", *args]
        log = tmp_path / "sync.log"
        with open(log, "w") as output:
            process = subprocess.Popen(command, env=env, stdout=output, stderr=output)
        try:
            until(lambda: bool(live_hooks(source, "clockings")), "a webhook registered")
            until(
                lambda: source.generation("clockings") == 1 and 1 in source.mirrored("clockings"),
                "the first pass",
            )
            until(
                lambda: "committed delta" in log.read_text() or process.poll() is not None,
                "the first delta read",
            )
            clocking_id = post_clocking(client, 644)
            until(lambda: clocking_id in source.mirrored("clockings"), "the clocking mirrored")
            process.send_signal(signal.SIGTERM)
            assert process.wait(WAIT_SECONDS) == 0, log.read_text()
        finally:
            if process.poll() is None:
                process.kill()
        assert not live_hooks(source, "clockings"), log.read_text()


def test_concurrent_writers_reach_the_mirror_by_triggers_alone(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    # Guide, "Concurrency is correctness": 3 writers of random creates, moves and
    # deletes while the sync follows by webhook (the poll is 24 h away); once they stop,
    # the mirror becomes exactly the server's state, with nothing lost or left over.
    collections = ("clockings", "paid-presences")
    with served(request, backend, tmp_path) as source, following(source, collections):

        def write(seed: int) -> None:
            with source.client() as client:
                # Each writer changes only the clockings it created (``known`` its own).
                random_writes(client, random.Random(seed), 15, people=3, known=[])

        with ThreadPoolExecutor(3) as pool:
            for future in [pool.submit(write, seed) for seed in (1, 2, 3)]:
                future.result()
        with source.client() as client:
            until(
                lambda: all(
                    mirror_state(source.target, c) == source_state(client, c) for c in collections
                ),
                "the mirror equal to the server",
            )
