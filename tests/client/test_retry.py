"""Retries: which failures are repeated, for which methods, and the waits requested."""

from __future__ import annotations

import httpx
import pytest

from chronodelta.client import (
    BadRequest,
    ClockingInput,
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    RetriableError,
    RetryPolicy,
    ServerError,
    TransportError,
)
from chronodelta.client._retry import parse_retry_after, retry_delay

from .fakes import PREFIX, FakeApi, Recorder, clocking, error, make_client

NEW = ClockingInput(person_id=1, date="2026-01-15", time_of_day_in_minutes=510, kind="InOut")
REQUEST = httpx.Request("GET", "https://x/")


def created(record_id: int = 7) -> httpx.Response:
    return httpx.Response(
        201, json=clocking(record_id), headers={"Location": f"{PREFIX}/clockings/{record_id}"}
    )


# ---- the policy -------------------------------------------------------------------


def test_backoff_doubles_with_equal_jitter_and_stops_at_the_cap() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0)
    assert [policy.backoff(n, 0.0) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 2.5, 2.5]
    assert [policy.backoff(n, 0.999) for n in (1, 2, 3)] == pytest.approx([1.0, 2.0, 4.0], 1e-3)


@pytest.mark.parametrize(
    ("policy", "problem"),
    [
        (dict(max_attempts=0), "max_attempts"),
        (dict(base_delay=5.0, max_delay=1.0), "delays"),
        (dict(base_delay=-1.0), "delays"),
        (dict(max_retry_after=-1.0), "max_retry_after"),
    ],
)
def test_policy_refuses_nonsense(policy: dict[str, float], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        RetryPolicy(**policy)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("3", 3.0), (" 1.5 ", 1.5), ("0", 0.0), ("-1", None), ("soon", None), ("nan", None),
     ("Wed, 21 Oct 2026 07:28:00 GMT", None), (None, None)],
)  # fmt: skip
def test_retry_after_is_read_as_seconds(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def outcome(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, request=REQUEST)


@pytest.mark.parametrize(
    ("method", "result", "retried"),
    [
        ("GET", outcome(500), True),
        ("GET", outcome(502), True),
        ("GET", outcome(503), True),
        ("GET", outcome(429), True),
        ("PUT", outcome(500), True),
        ("DELETE", outcome(504), True),
        ("POST", outcome(500), False),  # the clocking may exist: ambiguous
        ("POST", outcome(504), False),
        ("POST", outcome(503), True),  # refused without doing the work
        ("POST", outcome(429), True),
        ("GET", outcome(400), False),
        ("GET", outcome(401), False),
        ("GET", outcome(404), False),
        ("PUT", outcome(409), False),
        ("GET", outcome(410), False),
        ("GET", httpx.ReadTimeout("slow", request=REQUEST), True),
        ("GET", httpx.RemoteProtocolError("dropped", request=REQUEST), True),
        ("PUT", httpx.ReadError("reset", request=REQUEST), True),
        ("POST", httpx.ReadTimeout("slow", request=REQUEST), False),
        ("POST", httpx.RemoteProtocolError("dropped", request=REQUEST), False),
        ("POST", httpx.ConnectError("refused", request=REQUEST), True),  # never sent
        ("POST", httpx.ConnectTimeout("slow", request=REQUEST), True),
        ("GET", httpx.UnsupportedProtocol("ftp", request=REQUEST), False),
    ],
)
def test_what_is_retried(
    method: str, result: httpx.Response | httpx.TransportError, retried: bool
) -> None:
    delay = retry_delay(RetryPolicy(), attempt=1, method=method, outcome=result, random=0.0)
    assert (delay is not None) is retried


def test_no_delay_once_attempts_are_used_up() -> None:
    policy = RetryPolicy(max_attempts=3)
    kwargs = dict(method="GET", outcome=outcome(503), random=0.0)
    assert retry_delay(policy, attempt=2, **kwargs) is not None  # type: ignore[arg-type]
    assert retry_delay(policy, attempt=3, **kwargs) is None  # type: ignore[arg-type]


def test_retry_after_is_waited_exactly_unless_above_the_limit() -> None:
    policy = RetryPolicy(max_retry_after=60.0)
    for status in (429, 503, 500):
        slow = outcome(status, **{"Retry-After": "42"})
        assert retry_delay(policy, attempt=1, method="GET", outcome=slow, random=0.9) == 42.0
    too_slow = outcome(429, **{"Retry-After": "61"})
    assert retry_delay(policy, attempt=1, method="GET", outcome=too_slow, random=0.0) is None


# ---- the client follows it -------------------------------------------------------


def test_server_errors_are_retried_with_growing_waits() -> None:
    api = FakeApi().add(error(503, "ServiceUnavailable", "Maintenance"), error(500, "X", "y"))
    api.add(httpx.Response(200, json=clocking(5)))
    sleeps = Recorder()
    with make_client(api, sleeps=sleeps) as client:
        assert client.clockings.get(5).id == 5
    assert len(api.api_requests) == 3
    assert sleeps.sleeps == [0.375, 0.75]  # base 0.5, doubling, random() = 0.5


def test_retry_after_is_honoured() -> None:
    api = FakeApi().add(
        error(429, "TooManyRequests", "Too many requests", **{"Retry-After": "7"}),
        httpx.Response(200, json=clocking(5)),
    )
    sleeps = Recorder()
    with make_client(api, sleeps=sleeps) as client:
        client.clockings.get(5)
    assert sleeps.sleeps == [7.0]


def test_rate_limit_beyond_the_policy_is_raised_with_its_wait() -> None:
    api = FakeApi().add(error(429, "TooManyRequests", "Slow down", **{"Retry-After": "3600"}))
    sleeps = Recorder()
    with make_client(api, sleeps=sleeps) as client, pytest.raises(RateLimited) as caught:
        client.clockings.get(5)
    assert caught.value.retry_after == 3600.0
    assert isinstance(caught.value, RetriableError)
    assert sleeps.sleeps == [] and len(api.api_requests) == 1


def test_connection_errors_are_retried_then_raised_as_transport_errors() -> None:
    api = FakeApi()
    api.add(*(httpx.ConnectError("connection refused") for _ in range(4)))
    sleeps = Recorder()
    with make_client(api, sleeps=sleeps) as client, pytest.raises(TransportError) as caught:
        client.people.get(1)
    assert len(api.api_requests) == 4  # max_attempts
    assert sleeps.sleeps == [0.375, 0.75, 1.5]
    assert caught.value.maybe_applied is False
    assert "ConnectError" in str(caught.value) and f"{PREFIX}/people/1" in str(caught.value)


def test_a_recovering_server_is_reached_after_timeouts() -> None:
    api = FakeApi().add(httpx.ReadTimeout("timed out"), httpx.Response(200, json=clocking(5)))
    with make_client(api) as client:
        assert client.clockings.get(5).id == 5


def test_exhausted_server_errors_raise_server_error_with_the_body() -> None:
    api = FakeApi()
    api.add(*(error(500, "InternalServerError", "An unexpected error occurred") for _ in range(4)))
    with make_client(api) as client, pytest.raises(ServerError) as caught:
        client.clockings.get(5)
    assert (caught.value.status_code, caught.value.code) == (500, "InternalServerError")
    assert isinstance(caught.value, RetriableError)
    assert len(api.api_requests) == 4


@pytest.mark.parametrize(
    ("status", "kind"), [(400, BadRequest), (403, Forbidden), (404, NotFound), (409, Conflict)]
)
def test_client_errors_are_never_retried(status: int, kind: type[Exception]) -> None:
    api = FakeApi().add(error(status, "Code", "no"))
    sleeps = Recorder()
    with make_client(api, sleeps=sleeps) as client, pytest.raises(kind):
        client.clockings.get(5)
    assert len(api.api_requests) == 1 and sleeps.sleeps == []


def test_a_create_is_not_repeated_after_an_ambiguous_failure() -> None:
    for failure in (httpx.ReadTimeout("timed out"), error(500, "X", "boom"), error(504, "X", "gw")):
        api = FakeApi().add(failure, created())
        with make_client(api) as client, pytest.raises((TransportError, ServerError)) as caught:
            client.clockings.create(NEW)
        assert len(api.api_requests) == 1, failure
        if isinstance(caught.value, TransportError):
            assert caught.value.maybe_applied is True


def test_a_create_is_repeated_when_the_server_cannot_have_acted() -> None:
    api = FakeApi().add(
        httpx.ConnectError("refused"),
        error(503, "ServiceUnavailable", "Maintenance"),
        error(429, "TooManyRequests", "later", **{"Retry-After": "2"}),
        created(9),
    )
    sleeps = Recorder()
    with make_client(api, sleeps=sleeps) as client:
        assert client.clockings.create(NEW).id == 9
    assert len(api.api_requests) == 4
    assert sleeps.sleeps == [0.375, 0.75, 2.0]
    assert {r.content for r in api.api_requests} == {api.api_requests[0].content}


def test_updates_and_deletes_are_repeated_after_ambiguous_failures() -> None:
    api = FakeApi().add(
        httpx.ReadTimeout("timed out"),
        httpx.Response(200, json=clocking(5, 2)),
        httpx.RemoteProtocolError("dropped"),
        httpx.Response(204),
    )
    with make_client(api) as client:
        assert client.clockings.update(5, NEW) is not None
        client.clockings.delete(5)
    assert [r.method for r in api.api_requests] == ["PUT", "PUT", "DELETE", "DELETE"]


def test_one_attempt_means_no_retry() -> None:
    api = FakeApi().add(error(503, "ServiceUnavailable", "Maintenance"))
    with (
        make_client(api, retry=RetryPolicy(max_attempts=1)) as client,
        pytest.raises(ServerError),
    ):
        client.clockings.get(1)
    assert len(api.api_requests) == 1


def test_a_body_that_cannot_be_decoded_is_retried_as_a_broken_read() -> None:
    def corrupt() -> httpx.Response:  # decoded only when read, as from the network
        return httpx.Response(
            200, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
            stream=httpx.ByteStream(b"this is not gzip"),
        )  # fmt: skip

    api = FakeApi().add(corrupt(), httpx.Response(200, json=clocking(4)))
    with make_client(api) as client:
        assert client.clockings.get(4).id == 4
    assert len(api.api_requests) == 2
    api = FakeApi().add(corrupt(), corrupt())
    with (
        make_client(api, retry=RetryPolicy(max_attempts=2)) as client,
        pytest.raises(TransportError, match="could not be decoded"),
    ):
        client.clockings.get(4)
