"""The operator's deltas (issue 13, item 1: "deltas list --tenant T [--json] (client,
collection, last use, time left) and deltas expire --tenant T --id ID for a single
delta"), and the admin paths' refusals, over real HTTP on both databases.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from chronodelta.server import advance_clock, create_client, expire_delta, list_deltas
from tests.server.clock.conftest import API, CLOCKINGS, Sandbox, start_delta, this_year

TTL = dt.timedelta(hours=72)


def test_deltas_list_shows_client_collection_last_use_and_time_left(sandbox: Sandbox) -> None:
    token = sandbox.token()
    start_delta(sandbox, token)
    start_delta(sandbox, token, f"{API}/people")
    response = sandbox.admin("GET", f"/tenants/{sandbox.tenant}/deltas")
    assert response.status_code == 200, response.text
    listed = response.json()["value"]
    assert {(d["clientId"], d["collection"], d["status"]) for d in listed} == {
        (sandbox.client_id, "clockings", "active"),
        (sandbox.client_id, "people", "active"),
    }
    for delta in listed:
        # Contract: 72 hours after the last request (and the recorded use's slack).
        assert 71.9 * 3600 < delta["secondsLeft"] <= 72 * 3600 + 60
        assert dt.datetime.fromisoformat(delta["lastUsedAt"]) <= dt.datetime.now(dt.UTC)
    advance_clock(sandbox.engine, sandbox.tenant, dt.timedelta(hours=70))
    (clockings,) = [
        d
        for d in list_deltas(sandbox.engine, sandbox.tenant, ttl=TTL)
        if d.collection == "clockings"
    ]
    assert 1.9 * 3600 < clockings.seconds_left <= 2 * 3600 + 60  # in tenant time


@pytest.mark.parametrize("how", ["library", "post-expire", "delete"])
def test_expiring_one_delta_makes_exactly_that_one_410(sandbox: Sandbox, how: str) -> None:
    other = create_client(sandbox.engine, sandbox.tenant)
    mine, theirs = sandbox.token(), sandbox.token(other.client_id, other.client_secret)
    expired_link, kept_link = start_delta(sandbox, mine), start_delta(sandbox, theirs)
    people_link = start_delta(sandbox, mine, f"{API}/people")
    (target,) = [
        d
        for d in list_deltas(sandbox.engine, sandbox.tenant, ttl=TTL)
        if d.client_id == sandbox.client_id and d.collection == "clockings"
    ]
    assert sandbox.statuses(expired_link, mine) == {200}
    if how == "library":
        expire_delta(sandbox.engine, sandbox.tenant, target.id)
    else:
        method, suffix = ("POST", "/expire") if how == "post-expire" else ("DELETE", "")
        path = f"/tenants/{sandbox.tenant}/deltas/{target.id}{suffix}"
        assert sandbox.admin(method, path).status_code == 204
    assert sandbox.statuses(expired_link, mine) == {410}
    assert sandbox.statuses(kept_link, theirs) == {200}
    assert sandbox.statuses(people_link, mine) == {200}
    assert target.id not in {d.id for d in list_deltas(sandbox.engine, sandbox.tenant, ttl=TTL)}
    # The client starts again from the list, as after any expiry.
    assert sandbox.statuses(start_delta(sandbox, mine), mine) == {200}


def test_admin_refusals_are_400_and_404_in_the_error_format(sandbox: Sandbox) -> None:
    clock = f"/tenants/{sandbox.tenant}/clock"
    cases: list[tuple[str, str, dict[str, Any], int, str | None]] = [
        ("POST", f"{clock}/advance", {"json": {"by": "-5h"}}, 400, "negative"),
        ("POST", f"{clock}/advance", {"json": {"by": "soon"}}, 400, "duration"),
        ("POST", f"{clock}/advance", {"content": b"{not json"}, 400, None),
        ("POST", f"{clock}/advance", {"json": {"by": 5}}, 400, None),
        ("PUT", clock, {"json": {"time": "2027-01-01T00:00:00"}}, 400, "offset"),
        ("PUT", clock, {"json": {"time": "yesterday"}}, 400, "ISO 8601"),
        ("GET", "/tenants/nobody/clock", {}, 404, "nobody"),
        ("POST", "/tenants/nobody/clock/advance", {"json": {"by": "1h"}}, 404, "nobody"),
        ("GET", "/tenants/nobody/deltas", {}, 404, "nobody"),
        ("DELETE", f"/tenants/{sandbox.tenant}/deltas/999999", {}, 404, "999999"),
        ("POST", f"/tenants/{sandbox.tenant}/deltas/x/expire", {}, 400, None),
    ]
    for method, path, kwargs, status, word in cases:
        response = sandbox.admin(method, path, **kwargs)
        assert response.status_code == status, (method, path, response.text)
        error = response.json()["error"]
        assert isinstance(error["message"], str)
        if word is not None:
            assert word in error["message"] + " ".join(error.get("reasons", [])), error
    # Nothing was changed by the refused requests.
    assert sandbox.admin("GET", clock).json()["offsetSeconds"] == 0


def test_an_api_access_token_gets_401_on_the_clock_and_deltas_paths(sandbox: Sandbox) -> None:
    # Issue 13: the controls are "operator-only, never reachable with an API access
    # token"; a malformed body changes nothing (the operator check comes first).
    token = sandbox.token()
    base = f"/admin/tenants/{sandbox.tenant}"
    requests = [
        ("GET", f"{base}/clock", None),
        ("PUT", f"{base}/clock", b'{"time": "2027-01-01T00:00:00Z"}'),
        ("PUT", f"{base}/clock", b"{not json"),
        ("DELETE", f"{base}/clock", None),
        ("POST", f"{base}/clock/advance", b'{"by": "73h"}'),
        ("POST", f"{base}/clock/advance", b"{not json"),
        ("POST", f"{base}/clock/reset", None),
        ("GET", f"{base}/deltas", None),
        ("POST", f"{base}/deltas/1/expire", None),
        ("DELETE", f"{base}/deltas/1", None),
        ("POST", f"{base}/deltas/x/expire", None),
    ]
    with sandbox.http() as http:
        for method, path, body in requests:
            headers = {**token, "Content-Type": "application/json"}
            response = http.request(method, path, content=body, headers=headers)
            assert response.status_code == 401, (method, path, response.text)
            assert response.headers["www-authenticate"].startswith("Basic")
    # The token still works where it belongs, and the clock did not move.
    assert sandbox.statuses(CLOCKINGS, token, {"filter": this_year()}) == {200}
    assert sandbox.admin("GET", f"{base.removeprefix('/admin')}/clock").json()["offsetSeconds"] == 0
