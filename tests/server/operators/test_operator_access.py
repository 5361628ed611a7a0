"""The /admin API is operator-only (issue 13: "never reachable with an API access token")."""

from __future__ import annotations

import base64

import pytest

from chronodelta.domain import SERVED_SCOPES
from chronodelta.server import list_operators, set_operator_password
from tests.server.conftest import Api


def _basic(name: str, password: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{name}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def test_an_operator_password_opens_the_admin_api(api: Api) -> None:
    operator = set_operator_password(api.engine, "ops")
    response = api.http.get("/admin/tenants", headers=_basic("ops", operator.password))
    assert response.status_code == 200, response.text
    assert [t["name"] for t in response.json()["value"]] == ["acme"]
    assert api.http.get("/admin/whoami", headers=_basic("ops", operator.password)).json() == {
        "operator": "ops"
    }
    assert list_operators(api.engine) == ["ops"]


@pytest.mark.parametrize("path", ["/admin/tenants", "/admin/whoami", "/admin", "/admin/x/y"])
def test_an_api_access_token_gets_401_on_every_admin_path(api: Api, path: str) -> None:
    every_scope = api.auth(*sorted(SERVED_SCOPES, key=lambda s: s.value))
    for method in ("GET", "POST", "DELETE"):
        response = api.http.request(method, path, headers=every_scope)
        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["error"]["code"] == "Unauthorized"
        assert response.headers["www-authenticate"].startswith("Basic")


def test_a_wrong_or_reset_password_gets_401(api: Api) -> None:
    first = set_operator_password(api.engine, "ops")
    assert api.http.get("/admin/whoami", headers=_basic("ops", "wrong")).status_code == 401
    assert api.http.get("/admin/whoami", headers=_basic("nobody", "x")).status_code == 401
    second = set_operator_password(api.engine, "ops")
    assert first.password != second.password
    assert api.http.get("/admin/whoami", headers=_basic("ops", second.password)).status_code == 200


@pytest.mark.parametrize(
    "header", ["Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode(), "Digest x"]
)
def test_malformed_credentials_get_401_not_500(api: Api, header: str) -> None:
    response = api.http.get("/admin/tenants", headers={"Authorization": header})
    assert response.status_code == 401
