"""The token endpoint against hostile callers (issue 10, items 1, 2, 3, 6 and 7).

Over real HTTP against ``chronodelta serve``, on SQLite and PostgreSQL. What holds:
control characters are refused with 400 before any database work; argon2 work is
bounded per worker (memory, and 429 when no slot frees in time); failures count per
source address in the database; an unknown client and a wrong secret get the same
answer; a right secret gets its token whatever others sent; a client that drops its
request mid-body is no server error; discovery and JWKS do not tell which tenants exist.
"""

from __future__ import annotations

import base64
import re
import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import httpx
from sqlalchemy.engine import Engine

from chronodelta.server import NewClient, create_client
from chronodelta.testing import ServerProcess
from tests.server.conftest import USER_AGENT

from .conftest import (
    JANUARY,
    LIST_PATH,
    TOKEN_PATH,
    Serve,
    assert_retry_after,
    caller,
    error_of,
    in_one_window,
    made_up_id,
    request_token,
)

CONTROL_CHARACTERS = ("\x00", "\x01", "\x1f", "\x7f", "\x85")
MIB = 1024 * 1024


def test_control_characters_in_the_token_endpoints_inputs_are_400(serve: Serve) -> None:
    """Item 1: a NUL reached PostgreSQL (500, 15 kB of traceback); SQLite answered 401."""
    server = serve()
    with caller(server) as http:
        for char in CONTROL_CHARACTERS:
            posted = request_token(http, f"cd-{char}1", "secret")
            assert "client_id" in error_of(posted, 400)["reasons"][0]
            for credentials in (f"cd-{char}1:secret", f"cd-{quote(char)}1:secret"):
                basic = base64.b64encode(credentials.encode()).decode()
                response = http.post(
                    TOKEN_PATH,
                    data={"grant_type": "client_credentials"},
                    headers={"Authorization": f"Basic {basic}"},
                )
                assert error_of(response, 400)["code"] == "BadRequest"
            tenant = f"ac{quote(char)}me"
            for path in (
                f"/tenants/{tenant}/connect/token",
                f"/tenants/{tenant}/.well-known/openid-configuration",
                f"/tenants/{tenant}/.well-known/openid-configuration/jwks",
            ):
                form = {"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"}
                response = http.post(path, data=form) if "token" in path else http.get(path)
                assert error_of(response, 400)["code"] == "BadRequest", path
    assert "Traceback" not in server.output


def peak_rss(pid: int) -> int:
    """The process's peak resident memory (VmHWM), in bytes."""
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"^VmHWM:\s+(\d+) kB$", status, re.MULTILINE)
    assert found is not None
    return int(found.group(1)) * 1024


def flood(
    server: ServerProcess, callers: int, requests: int, *, sources: bool
) -> list[httpx.Response]:
    """``callers`` concurrent callers, ``requests`` token requests each with made-up
    client ids; ``sources``: each from its own address (else all from 127.0.0.1)."""
    start = threading.Barrier(callers)

    def one_caller(number: int) -> list[httpx.Response]:
        source = f"127.0.1.{number + 1}" if sources else "127.0.0.1"
        with caller(server, source) as http:
            start.wait()
            return [
                request_token(http, made_up_id(number * requests + i), "guess")
                for i in range(requests)
            ]

    with ThreadPoolExecutor(callers) as pool:
        return [answer for answers in pool.map(one_caller, range(callers)) for answer in answers]


def test_a_flood_of_made_up_client_ids_does_not_grow_the_worker(
    serve: Serve, acme: NewClient
) -> None:
    """Item 2: 40 concurrent callers took a worker from about 110 MiB to 1.1 GiB."""
    server = serve()
    with caller(server) as http:
        assert request_token(http, acme.client_id, acme.client_secret).status_code == 200
    before = peak_rss(server.pid)
    # From 40 addresses, so that no per-source limit stops the work: only the bound does.
    statuses = Counter(answer.status_code for answer in flood(server, 40, 3, sources=True))
    assert set(statuses) <= {401, 429}, statuses
    # Bounded, it grew about 21 MiB here; the old server grew 700-930 MiB.
    assert peak_rss(server.pid) - before < 100 * MIB


def test_a_token_request_that_finds_no_free_argon2_slot_gets_429(serve: Serve) -> None:
    """Item 2: with one slot and no wait, concurrent requests beyond it are refused."""
    server = serve(
        CHRONODELTA_TOKEN_VERIFY_CONCURRENCY="1",
        CHRONODELTA_TOKEN_VERIFY_WAIT_MS="0",
        CHRONODELTA_TOKEN_FAILURES_PER_MINUTE="100000",
    )
    # 40 callers at once, each verification about 16 ms: they cannot all find the slot
    # free (and the old server, which had no slots, never answered 429).
    answers = flood(server, 40, 5, sources=False)
    assert {answer.status_code for answer in answers} == {401, 429}
    for busy in (answer for answer in answers if answer.status_code == 429):
        assert_retry_after(busy)
        assert busy.headers["retry-after"] == "1"
        assert "busy" in busy.json()["error"]["message"]


def test_failures_count_per_source_address_in_the_database(serve: Serve, acme: NewClient) -> None:
    """Item 2: past the limit a source's failures get 429 in every worker (here: two
    servers on one database), other sources do not, and a right secret still wins."""
    first, second = (
        serve(CHRONODELTA_TOKEN_FAILURES_PER_MINUTE="3"),
        serve(CHRONODELTA_TOKEN_FAILURES_PER_MINUTE="3"),
    )

    def attempt(number: int) -> tuple[list[int], httpx.Response, int, int]:
        source, other = f"127.0.2.{2 * number + 1}", f"127.0.2.{2 * number + 2}"
        with caller(first, source) as one, caller(second, source) as two:
            statuses = [request_token(one, made_up_id(i), "guess").status_code for i in range(3)]
            refused = request_token(two, made_up_id(3), "guess")
            right = request_token(two, acme.client_id, acme.client_secret).status_code
        with caller(second, other) as elsewhere:
            unblocked = request_token(elsewhere, made_up_id(4), "guess").status_code
        return statuses, refused, right, unblocked

    statuses, refused, right, unblocked = in_one_window(attempt)
    assert statuses == [401, 401, 401]
    assert_retry_after(refused)
    assert right == 200
    assert unblocked == 401


def comparable(response: httpx.Response, *varying: str) -> tuple[int, bytes, list[tuple[str, str]]]:
    headers = [(k, v) for k, v in response.headers.items() if k not in {"date", *varying}]
    return response.status_code, response.content, headers


def test_an_unknown_client_and_a_wrong_secret_get_the_same_answer(
    serve: Serve, acme: NewClient
) -> None:
    """Item 2: below the failure limit (401) and above it (429), byte for byte."""
    server = serve(CHRONODELTA_TOKEN_FAILURES_PER_MINUTE="2")

    def attempt(number: int) -> list[httpx.Response]:
        with caller(server, f"127.0.3.{number + 1}") as http:
            return [
                request_token(http, client_id, "guess")
                for client_id in (made_up_id(1), acme.client_id) * 2
            ]

    unknown, wrong, unknown_over, wrong_over = in_one_window(attempt)
    assert unknown.status_code == 401
    assert comparable(unknown) == comparable(wrong)
    assert_retry_after(unknown_over)
    assert comparable(unknown_over, "retry-after") == comparable(wrong_over, "retry-after")


def test_a_right_secret_gets_its_token_whatever_others_sent(serve: Serve, acme: NewClient) -> None:
    """Item 3: 61 wrong secrets a minute kept the real client at 429, right secret too."""
    server = serve()

    def flood(attempt: int) -> tuple[str, Counter[int]]:
        source = f"127.0.5.{attempt + 1}"  # a fresh source: nothing counted yet

        def wrong(number: int) -> int:
            with caller(server, source) as http:
                return request_token(http, acme.client_id, f"wrong-{number}").status_code

        # 16 at a time: past the failure limit each answer takes a second (the delay).
        with ThreadPoolExecutor(16) as pool:
            return source, Counter(pool.map(wrong, range(61)))

    # The limit counts in one-minute windows: a flood split by a turn-over stays under it.
    source, statuses = in_one_window(flood)
    assert set(statuses) == {401, 429}, statuses  # the source went over its failure limit
    with caller(server, source) as http:  # the right secret, from the flooding source
        response = request_token(http, acme.client_id, acme.client_secret)
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        listed = http.get(LIST_PATH, params=JANUARY, headers={"Authorization": f"Bearer {token}"})
        assert listed.status_code == 200


def test_only_right_secrets_count_towards_the_tokens_a_client_gets(
    serve: Serve, engine: Engine
) -> None:
    """Item 3: issuance is limited per client, and wrong secrets do not use it up."""
    server = serve(CHRONODELTA_TOKEN_REQUESTS_PER_MINUTE="3")

    def attempt(number: int) -> tuple[list[int], list[httpx.Response]]:
        client = create_client(engine, "acme")  # a fresh one: nothing counted yet
        with caller(server, f"127.0.4.{number + 1}") as http:
            wrong = [request_token(http, client.client_id, f"no-{i}").status_code for i in range(5)]
            right = [request_token(http, client.client_id, client.client_secret) for _ in range(4)]
        return wrong, right

    wrong, (*issued, refused) = in_one_window(attempt)
    assert wrong == [401] * 5
    assert [response.status_code for response in issued] == [200, 200, 200]
    assert_retry_after(refused)


def metric_lines(http: httpx.Client, route: str) -> list[str]:
    """The request counter's lines of ``route``, from ``/metrics``."""
    text = http.get("/metrics").text
    return [
        line
        for line in text.splitlines()
        if line.startswith("chronodelta_http_requests_total{") and f'route="{route}"' in line
    ]


def test_a_client_that_drops_a_token_request_mid_body_is_no_server_error(serve: Serve) -> None:
    """Item 6: it was logged as an unhandled error and counted as a 500."""
    server = serve()
    head = (
        f"POST {TOKEN_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: {USER_AGENT}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port)) as raw:
        raw.sendall(head.encode() + b"grant_type=client_credentials&client_id=cd-")
    route = "/tenants/{tenant}/connect/token"
    deadline = time.monotonic() + 60
    with caller(server) as http:
        # The server counts the request once it has seen the disconnect: wait for that.
        while not (counted := metric_lines(http, route)):
            assert time.monotonic() < deadline, "the dropped request was never counted"
    assert len(counted) == 1 and counted[0].endswith(" 1.0"), counted
    assert 'status="500"' not in counted[0]
    assert "Traceback" not in server.output
    assert "unhandled error" not in server.output


def test_discovery_and_jwks_do_not_tell_which_tenants_exist(serve: Serve) -> None:
    """Item 7: they answered 404 for an unknown tenant, the token endpoint 401 for all."""
    server = serve()
    well_known = "/tenants/{}/.well-known/openid-configuration"
    with caller(server) as http:
        known, unknown = (http.get(well_known.format(t)) for t in ("acme", "initech"))
        assert known.status_code == unknown.status_code == 200
        assert unknown.text == known.text.replace("/tenants/acme", "/tenants/initech")
        keys = [http.get(well_known.format(t) + "/jwks") for t in ("acme", "initech")]
        assert keys[0].status_code == keys[1].status_code == 200
        assert keys[0].content == keys[1].content
        for name in ("Acme", "ac_me", "-acme", "acme-", "a" * 64):
            for path in (well_known.format(name), well_known.format(name) + "/jwks"):
                assert error_of(http.get(path), 400)["code"] == "BadRequest", path
        unknown_tenant = http.post(
            "/tenants/initech/connect/token",
            data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
        )
        assert error_of(unknown_tenant, 401)["message"] == "Invalid client credentials"
