"""Tokens: one request reused, renewed shortly before expiry, renewed once on a 401."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qs

import httpx
import pytest

from chronodelta.client import (
    BadRequest,
    InvalidResponse,
    TransportError,
    Unauthorized,
)
from chronodelta.client._auth import Credentials, TokenCache

from .fakes import (
    CLIENT_ID,
    SECRET,
    USER_AGENT,
    FakeApi,
    FakeClock,
    Recorder,
    clocking,
    error,
    make_async_client,
    make_client,
)


def ok(record_id: int = 1) -> httpx.Response:
    return httpx.Response(200, json=clocking(record_id))


def form(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.content.decode())


def test_one_token_serves_many_calls() -> None:
    api = FakeApi().add(ok(), ok(), ok())
    with make_client(api) as client:
        for _ in range(3):
            client.clockings.get(1)
    assert len(api.token_requests) == 1
    assert {api.bearer(i) for i in range(3)} == {"Bearer token-1"}


def test_the_token_request_is_form_encoded_client_credentials() -> None:
    api = FakeApi().add(ok())
    with make_client(api) as client:
        client.clockings.get(1)
    (request,) = api.token_requests
    assert request.method == "POST"
    assert str(request.url) == "https://acme.myprotime.eu/tenants/acme/connect/token"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["User-Agent"] == USER_AGENT
    assert form(request) == {
        "grant_type": ["client_credentials"],
        "client_id": [CLIENT_ID],
        "client_secret": [SECRET],
    }  # no scope: the server grants what the registration allows


def test_scopes_and_token_url_are_configurable() -> None:
    api = FakeApi().add(ok())
    scopes = ["connector-protimeapi-clockings.read", "connector-protimeapi-clockings.write"]
    token_url = "https://authentication.myprotime.eu/tenants/acme/connect/token"
    with make_client(api, scopes=scopes, token_url=token_url) as client:
        client.clockings.get(1)
    (request,) = api.token_requests
    assert str(request.url) == token_url
    assert form(request)["scope"] == [" ".join(scopes)]


def test_the_token_is_renewed_shortly_before_it_expires() -> None:
    api = FakeApi().add(ok(), ok(), ok())
    clock = FakeClock(1000.0)
    with make_client(api, clock=clock) as client:
        client.clockings.get(1)  # token-1 requested at 1000, lives 1800 s
        clock.now = 1000.0 + 1800 - 60 - 0.001  # just inside the 60 s margin
        client.clockings.get(1)
        clock.now = 1000.0 + 1800 - 60
        client.clockings.get(1)
    assert len(api.token_requests) == 2
    assert [api.bearer(i) for i in range(3)] == ["Bearer token-1"] * 2 + ["Bearer token-2"]


def test_a_short_lived_token_is_still_reused_for_half_its_life() -> None:
    api = FakeApi(expires_in=30).add(ok(), ok(), ok())
    clock = FakeClock(0.0)
    with make_client(api, clock=clock) as client:
        client.clockings.get(1)
        clock.now = 14.9
        client.clockings.get(1)
        clock.now = 15.0
        client.clockings.get(1)
    assert len(api.token_requests) == 2


def test_a_refused_token_is_renewed_once_and_the_call_repeated_once() -> None:
    api = FakeApi().add(error(401, "Unauthorized", "The token has expired"), ok(4))
    sleeps = Recorder()
    with make_client(api, sleeps=sleeps) as client:
        assert client.clockings.get(4).id == 4
    assert [api.bearer(0), api.bearer(1)] == ["Bearer token-1", "Bearer token-2"]
    assert len(api.token_requests) == 2 and sleeps.sleeps == []


def test_a_second_refusal_is_raised_without_more_token_requests() -> None:
    api = FakeApi().add(
        error(401, "Unauthorized", "The request is not authorized", "Missing scope x"),
        error(401, "Unauthorized", "The request is not authorized", "Missing scope x"),
    )
    with make_client(api) as client, pytest.raises(Unauthorized) as caught:
        client.clockings.get(4)
    assert len(api.token_requests) == 2 and len(api.api_requests) == 2
    assert caught.value.reasons == ("Missing scope x",)


def test_refused_credentials_raise_unauthorized_with_the_oauth_error() -> None:
    api = FakeApi(
        token_answers=[
            httpx.Response(
                401, json={"error": "invalid_client", "error_description": "Unknown client"}
            )
        ]
    )
    with make_client(api) as client, pytest.raises(Unauthorized) as caught:
        client.clockings.get(1)
    assert (caught.value.code, caught.value.message) == ("invalid_client", "Unknown client")
    assert api.api_requests == []  # nothing is sent without a token


def test_a_refused_scope_is_a_bad_request() -> None:
    api = FakeApi(token_answers=[error(400, "BadRequest", "Unknown scope", "nope.read")])
    with make_client(api, scopes=["nope.read"]) as client, pytest.raises(BadRequest):
        client.clockings.get(1)
    assert len(api.token_requests) == 1


def test_the_token_endpoint_is_retried_when_busy() -> None:
    api = FakeApi(
        token_answers=[error(429, "TooManyRequests", "Too many", **{"Retry-After": "5"})]
    ).add(ok())
    sleeps = Recorder()
    with make_client(api, sleeps=sleeps) as client:
        client.clockings.get(1)
    assert len(api.token_requests) == 2 and sleeps.sleeps == [5.0]


@pytest.mark.parametrize(
    "reply",
    [
        {"token_type": "Bearer", "expires_in": 1800},
        {"access_token": "x", "token_type": "MAC", "expires_in": 1800},
        {"access_token": "x", "token_type": "Bearer", "expires_in": 0},
        {"access_token": "x", "token_type": "Bearer", "expires_in": "1800"},
        ["not", "an", "object"],
    ],
)
def test_a_token_reply_outside_oauth2_is_an_invalid_response(reply: object) -> None:
    api = FakeApi(token_answers=[httpx.Response(200, json=reply)])
    with make_client(api) as client, pytest.raises(InvalidResponse):
        client.clockings.get(1)


def test_token_cache_turns_down_only_the_refused_token() -> None:
    cache = TokenCache(refresh_margin=60)
    cache.store({"access_token": "a", "token_type": "bearer", "expires_in": 1800}, 0.0)
    assert cache.usable(10.0) == "a"
    assert cache.usable(10.0, stale="older") == "a"  # someone already renewed it
    assert cache.usable(10.0, stale="a") is None
    assert cache.usable(1740.0) is None
    cache.clear()
    assert cache.usable(10.0) is None


def test_secrets_never_appear_in_repr_str_errors_or_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    api = FakeApi().add(
        error(401, "Unauthorized", "no"),
        error(401, "Unauthorized", "no"),
        error(503, "ServiceUnavailable", "Maintenance"),
        *(httpx.ReadTimeout("timed out") for _ in range(3)),
    )
    shown: list[str] = []
    with make_client(api) as client:
        shown += [repr(client), str(client), repr(client.clockings)]
        shown.append(repr(client._protocol.credentials))
        for _ in range(2):
            try:
                client.clockings.get(1)
            except (Unauthorized, TransportError) as exc:
                shown += [str(exc), repr(exc)]
        current = client._protocol.tokens.current
        assert current is not None
        shown.append(repr(current))
    assert len(shown) == 9
    shown += [record.getMessage() for record in caplog.records]
    for text in shown:
        assert SECRET not in text
        assert "token-1" not in text and "token-2" not in text
    assert CLIENT_ID in repr(client)


def test_credentials_are_required() -> None:
    with pytest.raises(ValueError):
        Credentials("", "x")
    with pytest.raises(ValueError):
        Credentials("x", "")


def test_concurrent_async_calls_share_one_token_request() -> None:
    api = FakeApi().add(*(ok(i) for i in range(1, 6)))

    async def scenario() -> list[int]:
        async with make_async_client(api) as client:
            found = await asyncio.gather(*(client.clockings.get(i) for i in range(1, 6)))
            return sorted(c.id for c in found)

    assert asyncio.run(scenario()) == [1, 2, 3, 4, 5]
    assert len(api.token_requests) == 1


def test_async_refused_token_is_renewed_once() -> None:
    api = FakeApi().add(error(401, "Unauthorized", "expired"), ok(3))

    async def scenario() -> int:
        async with make_async_client(api) as client:
            return (await client.clockings.get(3)).id

    assert asyncio.run(scenario()) == 3
    assert [api.bearer(0), api.bearer(1)] == ["Bearer token-1", "Bearer token-2"]
