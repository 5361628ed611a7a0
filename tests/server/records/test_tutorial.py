"""Seed 004, "Your First Clocking Integration", steps 1 to 3, over real HTTP.

The server is started exactly as ``make serve`` starts it (``chronodelta serve
--demo``) on an empty database; the client id and secret are the ones it prints.
Requests carry the tutorial's headers, including its tenant ``Host``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from chronodelta.testing import ServerProcess
from tests.conftest import new_database_url

SCOPES = "connector-protimeapi-clockings.read connector-protimeapi-clockings.write"
USER_AGENT = "Tutorial/1.0 (Acme)"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def demo_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    url = new_database_url(request, request.param, tmp_path_factory.mktemp("tutorial"))
    with ServerProcess(url, args=["--demo"]) as server:
        yield server


def printed(server: ServerProcess, label: str) -> str:
    match = re.search(rf"^\s*{label}:\s+(\S+)", server.output, re.MULTILINE)
    assert match, f"{label} not printed:\n{server.output}"
    return match.group(1)


def test_tutorial_steps_1_to_3(demo_server: ServerProcess) -> None:
    client_id, secret = printed(demo_server, "client_id"), printed(demo_server, "client_secret")
    with httpx.Client(base_url=demo_server.base_url, headers={"User-Agent": USER_AGENT}) as http:
        # Step 1: authenticate with read and write scopes (form-encoded).
        token_response = http.post(
            "/tenants/acme/connect/token",
            headers={
                "Host": "authentication.myprotime.eu",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            content=(
                f"grant_type=client_credentials&client_id={client_id}"
                f"&client_secret={secret}&scope={SCOPES}"
            ),
        )
        assert token_response.status_code == 200, token_response.text
        token = token_response.json()
        assert set(token) == {"access_token", "expires_in", "token_type", "scope"}
        assert (token["expires_in"], token["token_type"], token["scope"]) == (
            1800,
            "Bearer",
            SCOPES,
        )
        api = {"Host": "acme.myprotime.eu", "Authorization": f"Bearer {token['access_token']}"}

        # Step 2: create an InOut clocking for person 1 at 08:30 on 2026-01-15.
        created = http.post(
            "/connector/protimeapi/api/v1/clockings",
            headers={**api, "Content-Type": "application/json"},
            content=b'{"person": {"id": 1}, "date": "2026-01-15", '
            b'"timeOfDayInMinutes": 510, "kind": "InOut"}',
        )
        assert created.status_code == 201, created.text
        location = created.headers["Location"]
        match = re.fullmatch(r"/connector/protimeapi/api/v1/clockings/(\d+)", location)
        assert match, location

        # Step 3: retrieve it by the id from the Location header.
        fetched = http.get(location, headers=api)
        assert fetched.status_code == 200
        body = fetched.json()
        assert body == {
            "changeVersion": body["changeVersion"],
            "id": int(match.group(1)),
            "calculatedTimeOfDayInMinutes": 510,
            "isGenerated": False,
            "status": "Active",
            "person": {"id": 1},
            "date": "2026-01-15",
            "timeOfDayInMinutes": 510,
            "kind": "InOut",
        }
        assert re.fullmatch(r"[0-9A-F]{20}", body["changeVersion"])

        # Step 4: set up delta tracking, following every nextLink to the deltaLink.
        page = http.get(
            "/connector/protimeapi/api/v1/clockings?filter=date%20ge%20'2026-01-01'&delta",
            headers=api,
        ).json()
        assert body in page["value"] or "nextLink" in page
        while "nextLink" in page:
            assert "deltaLink" not in page
            assert "continuationToken=" in page["nextLink"] and "deltaToken=" in page["nextLink"]
            assert page["nextLink"].startswith(
                "/connector/protimeapi/api/v1/clockings?filter=date%20ge%20'2026-01-01'&"
            )
            page = http.get(page["nextLink"], headers=api).json()
        assert set(page) == {"value", "deltaLink"}
        assert page["deltaLink"].startswith(
            "/connector/protimeapi/api/v1/delta/clockings?deltaToken="
        )

        # Step 5: check for changes: the clocking of step 2 is repeated as InsertOrUpdate
        # with the changeVersion it already had, and a new deltaLink comes back.
        changes = http.get(page["deltaLink"], headers=api)
        assert changes.status_code == 200
        delta = changes.json()
        assert set(delta) == {"value", "deltaLink"}
        assert {"changeType": "InsertOrUpdate", "data": body} in delta["value"]
        assert delta["deltaLink"] != page["deltaLink"]
