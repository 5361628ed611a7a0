"""Signing keys: rotation on a running installation (issue 10, item 11), and the
revoked-client list every worker keeps (item 9). The clocks are injected: no sleeps.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine

from chronodelta.server import create_client, create_tenant, list_signing_keys, revoke_client
from chronodelta.server.auth._keyring import ACTIVATION_DELAY, KeyRing, rotate_signing_key
from chronodelta.server.auth._revocations import RevokedClients
from chronodelta.storage import plain_write_transaction, tables

LIFETIME = dt.timedelta(seconds=1800)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class WallClock:
    """The wall clock, moved on by hand."""

    def __init__(self) -> None:
        self.ahead = dt.timedelta(0)

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.ahead


def kids(ring: KeyRing) -> list[str]:
    return [key["kid"] for key in ring.jwks()["keys"]]


def test_a_rotated_key_signs_after_the_next_refresh_and_the_old_stays_valid(
    engine: Engine,
) -> None:
    clock, wall = Clock(), WallClock()
    ring = KeyRing(engine, LIFETIME, refresh_seconds=30, clock=clock, now=wall)
    first = ring.signing_key().kid
    second = rotate_signing_key(engine)
    assert ring.signing_key().kid == first  # not read again yet
    # A token signed elsewhere with the new key is accepted at once (unknown kid).
    clock.now = 2
    assert ring.public_key(second) is not None
    clock.now = 40
    assert ring.signing_key().kid == first  # read, but younger than the activation delay
    wall.ahead = ACTIVATION_DELAY
    assert ring.signing_key().kid == second
    assert kids(ring) == [first, second]  # the old key's tokens may still be valid
    assert ring.public_key(first) is not None


def test_a_key_superseded_longer_than_a_token_lifetime_ago_is_dropped(engine: Engine) -> None:
    clock = Clock()
    ring = KeyRing(engine, LIFETIME, refresh_seconds=30, clock=clock)
    first = ring.signing_key().kid
    second = rotate_signing_key(engine)
    # Move the rotation back in time past a token lifetime and the margin.
    past = dt.datetime.now(dt.UTC) - LIFETIME - dt.timedelta(minutes=2)
    with plain_write_transaction(engine) as connection:
        keys = tables.signing_keys
        connection.execute(keys.update().where(keys.c.kid == second).values(created_at=past))
        earlier = past - dt.timedelta(hours=1)
        connection.execute(keys.update().where(keys.c.kid == first).values(created_at=earlier))
    clock.now = 40
    assert kids(ring) == [second]
    assert ring.public_key(first) is None
    assert [k.kid for k in list_signing_keys(engine)] == [first, second]


def test_an_unknown_kid_reads_the_keys_at_most_once_a_second(engine: Engine) -> None:
    clock = Clock()
    ring = KeyRing(engine, LIFETIME, refresh_seconds=30, clock=clock)
    assert ring.public_key("no-such-kid") is None
    added = rotate_signing_key(engine)
    assert ring.public_key(added) is None  # read less than a second ago
    clock.now = 1.5
    assert ring.public_key(added) is not None


def test_revoked_clients_are_seen_after_the_refresh_interval(engine: Engine) -> None:
    create_tenant(engine, "acme")
    client = create_client(engine, "acme")
    clock = Clock()
    revoked = RevokedClients(engine, refresh_seconds=2, clock=clock)
    assert not revoked.is_revoked(client.client_id)
    revoke_client(engine, "acme", client.client_id)
    clock.now = 1
    assert not revoked.is_revoked(client.client_id)  # this worker has not read it yet
    clock.now = 2
    assert revoked.is_revoked(client.client_id)
