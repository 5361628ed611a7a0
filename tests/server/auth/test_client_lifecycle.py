"""Revoking a client, rotating its secret and rotating the signing keys on a running
server (issue 10, items 9 and 11), over real HTTP on both databases; on PostgreSQL
with two worker processes, so that "every worker" is tested, caches included.

The servers read the revoked clients and the keys on every request here
(``CHRONODELTA_*_REFRESH_SECONDS=0``): what is tested is that they are read and
obeyed, not how long a copy may be kept (tests/server/auth/test_keyring.py).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator

import httpx
import jwt
import pytest
from sqlalchemy.engine import Engine

from chronodelta.server import (
    NewClient,
    create_client,
    list_signing_keys,
    revoke_client,
    rotate_client_secret,
    rotate_signing_key,
)
from chronodelta.storage import is_postgresql
from chronodelta.testing import ServerProcess

from .conftest import JANUARY, LIST_PATH, caller, error_of, request_token

JWKS_PATH = "/tenants/acme/.well-known/openid-configuration/jwks"
# Requests per check: with two workers, each gets some of them (fresh connections).
SPREAD = 12


@pytest.fixture
def server(database_url: str, engine: Engine, acme: NewClient) -> Iterator[ServerProcess]:
    workers = "2" if is_postgresql(engine) else "1"
    env = {
        "CHRONODELTA_REVOCATION_REFRESH_SECONDS": "0",
        "CHRONODELTA_KEY_REFRESH_SECONDS": "0",
        # first_token_signed_with asks for tokens until one has the new key.
        "CHRONODELTA_TOKEN_REQUESTS_PER_MINUTE": "100000",
    }
    with ServerProcess(database_url, args=["--workers", workers], env=env) as running:
        yield running


def token_of(server: ServerProcess, client: NewClient) -> str:
    with caller(server) as http:
        response = request_token(http, client.client_id, client.client_secret)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def list_statuses(server: ServerProcess, token: str) -> list[int]:
    """The list's status for ``token``, asked ``SPREAD`` times on fresh connections."""
    statuses = []
    for _ in range(SPREAD):
        with caller(server) as http:
            response = http.get(LIST_PATH, params=JANUARY, headers=bearer(token))
            statuses.append(response.status_code)
    return statuses


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_revoked_client_is_refused_its_tokens_and_its_secret(
    server: ServerProcess, engine: Engine, acme: NewClient
) -> None:
    other = create_client(engine, "acme")
    token, others_token = token_of(server, acme), token_of(server, other)
    assert set(list_statuses(server, token)) == {200}  # verified and cached in each worker
    revoke_client(engine, "acme", acme.client_id)
    assert set(list_statuses(server, token)) == {401}
    with caller(server) as http:
        refused = request_token(http, acme.client_id, acme.client_secret)
        unknown = request_token(http, "cd-00000000000000000000", acme.client_secret)
    # The right secret of a revoked client is answered as an unknown client.
    assert error_of(refused, 401) == error_of(unknown, 401)
    assert set(list_statuses(server, others_token)) == {200}  # other clients untouched


def test_a_rotated_secret_works_and_the_old_one_still_does_during_the_grace(
    server: ServerProcess, engine: Engine, acme: NewClient
) -> None:
    rotated = rotate_client_secret(engine, "acme", acme.client_id)
    assert rotated.client_secret != acme.client_secret
    with caller(server) as http:
        for secret in (rotated.client_secret, acme.client_secret):
            assert request_token(http, acme.client_id, secret).status_code == 200
        assert request_token(http, acme.client_id, "not-the-secret").status_code == 401


def test_without_a_grace_the_old_secret_is_refused_at_once(
    server: ServerProcess, engine: Engine, acme: NewClient
) -> None:
    rotated = rotate_client_secret(engine, "acme", acme.client_id, grace=dt.timedelta(0))
    with caller(server) as http:
        assert request_token(http, acme.client_id, rotated.client_secret).status_code == 200
        assert error_of(request_token(http, acme.client_id, acme.client_secret), 401)


def kid_of(token: str) -> str:
    kid: str = jwt.get_unverified_header(token)["kid"]
    return kid


def published_kids(server: ServerProcess) -> set[str]:
    kids = set()
    for _ in range(SPREAD):
        with caller(server) as http:
            kids |= {key["kid"] for key in http.get(JWKS_PATH).json()["keys"]}
    return kids


def test_a_rotated_key_signs_new_tokens_and_old_tokens_stay_valid(
    server: ServerProcess, engine: Engine, acme: NewClient
) -> None:
    old_token = token_of(server, acme)
    (old_kid,) = published_kids(server)
    assert kid_of(old_token) == old_kid
    new_kid = rotate_signing_key(engine)
    # Every worker publishes both keys at once: the old one's tokens are still valid.
    assert published_kids(server) == {old_kid, new_kid}
    assert set(list_statuses(server, old_token)) == {200}
    new_token = first_token_signed_with(server, acme, new_kid)
    assert set(list_statuses(server, new_token)) == {200}  # in every worker
    assert [k.kid for k in list_signing_keys(engine)] == [old_kid, new_kid]


def first_token_signed_with(server: ServerProcess, client: NewClient, kid: str) -> str:
    """A token signed with ``kid``: a new key signs once past its activation delay
    (``auth._keyring.ACTIVATION_DELAY``, two seconds), so tokens are asked for until one
    is, within a deadline far beyond that delay."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        token = token_of(server, client)
        if kid_of(token) == kid:
            return token
    pytest.fail(f"no token was signed with the new key {kid} within a minute")


def test_a_token_naming_no_published_key_is_refused(
    server: ServerProcess, acme: NewClient
) -> None:
    token = token_of(server, acme)
    _, payload, signature = token.split(".")
    forged_header = jwt.utils.base64url_encode(
        b'{"alg":"RS256","typ":"JWT","kid":"no-such-key"}'
    ).decode()
    with caller(server) as http:
        response = http.get(
            LIST_PATH, params=JANUARY, headers=bearer(f"{forged_header}.{payload}.{signature}")
        )
    assert error_of(response, 401)["code"] == "Unauthorized"


def test_revoking_while_readers_and_token_requests_run(
    server: ServerProcess, engine: Engine, acme: NewClient
) -> None:
    """Concurrent lists and token requests while the client is revoked: never a 5xx,
    every request sent after the revocation committed is refused, and the requests
    before it were served. Each reader runs on through the revocation: it has made ten
    requests when it is revoked, and makes ten more after."""
    token = token_of(server, acme)
    warmed, revoked = threading.Barrier(5), threading.Event()
    results: list[tuple[bool, int]] = []

    def one(http: httpx.Client, number: int) -> int:
        if number % 5 == 0:
            return request_token(http, acme.client_id, acme.client_secret).status_code
        return http.get(LIST_PATH, params=JANUARY, headers=bearer(token)).status_code

    def reader() -> None:
        with caller(server) as http:
            for number in range(10):
                results.append((False, one(http, number)))
            warmed.wait(timeout=120)
            after = 0
            while after < 10:
                sent_after = revoked.is_set()
                status = one(http, after)
                results.append((sent_after, status))
                after += sent_after

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    warmed.wait(timeout=120)
    revoke_client(engine, "acme", acme.client_id)
    revoked.set()
    for thread in threads:
        thread.join()
    assert {status for _, status in results} <= {200, 401}
    assert [status for after, status in results if after] == [401] * 40
    assert len([status for after, status in results[:40] if status == 200]) == 40
