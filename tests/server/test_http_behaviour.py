"""The contract's HTTP behaviour: error shapes, limits, operations endpoints, the token endpoint."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from chronodelta.domain import KNOWN_SCOPES, SERVED_SCOPES, Scope
from chronodelta.server import Settings, create_app, create_client, create_tenant, seed_tenant
from chronodelta.server.auth._tokens import AUDIENCE

from .conftest import SEED_UNTIL, USER_AGENT, Api

CLOCKINGS = "/connector/protimeapi/api/v1/clockings"
JANUARY = {"filter": "date ge '2026-01-01' and date le '2026-01-31'"}
CLOCKING = {"person": {"id": 1}, "date": "2026-01-15", "timeOfDayInMinutes": 510, "kind": "InOut"}
SMALL_BODY_LIMIT = 1024
MAX_URI = 4096


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The contract's error body of ``response``, after checking its status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert error["code"] == code, body
    assert isinstance(error["message"], str) and error["message"], body
    assert set(error) <= {"code", "message", "reasons"}, body
    return error


def api_with(engine: Engine, settings: Settings) -> Iterator[Api]:
    """Like the ``api`` fixture, but served with ``settings``."""
    create_tenant(engine, "acme")
    seed_tenant(engine, "acme", people=3, days=5, seed=3, until=SEED_UNTIL)
    client = create_client(engine, "acme")
    with TestClient(create_app(settings), headers={"User-Agent": USER_AGENT}) as http:
        yield Api(http, engine, "acme", client.client_id, client.client_secret)


def token_request(api: Api, tenant: str | None = None, **form: str) -> httpx.Response:
    data = {
        "grant_type": "client_credentials",
        "client_id": api.client_id,
        "client_secret": api.client_secret,
        **form,
    }
    response: httpx.Response = api.http.post(
        f"/tenants/{tenant or api.tenant}/connect/token", data=data
    )
    return response


# ---- errors from routing and the request guard ----------------------------------------


@pytest.mark.parametrize("path", [f"{CLOCKINGS}-nope", "/connector/nope", "/nope"])
def test_an_unknown_route_is_a_404_error_body(api: Api, path: str) -> None:
    error_of(api.http.get(path, headers=api.auth(Scope.CLOCKINGS_READ)), 404, "NotFound")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PATCH", f"{CLOCKINGS}/1", {"GET", "PUT", "DELETE"}),
        ("POST", f"{CLOCKINGS}/1", {"GET", "PUT", "DELETE"}),
        ("PUT", CLOCKINGS, {"GET", "POST"}),
        ("DELETE", "/connector/protimeapi/api/v1/people/1", {"GET"}),
    ],
)
def test_a_wrong_method_is_a_405_error_body_that_lists_every_allowed_method(
    api: Api, method: str, path: str, allowed: set[str]
) -> None:
    response = api.http.request(method, path, headers=api.auth(*SERVED_SCOPES), json=CLOCKING)
    error_of(response, 405, "MethodNotAllowed")
    listed = {m.strip() for m in response.headers["allow"].split(",")}
    # HEAD may be listed too (it is GET without a body); nothing else may be.
    assert allowed <= listed <= allowed | {"HEAD"}


@pytest.mark.parametrize("user_agent", ["", "   "])
def test_an_api_request_without_a_user_agent_is_a_400_that_says_so(
    api: Api, user_agent: str
) -> None:
    headers = {**api.auth(Scope.CLOCKINGS_READ), "User-Agent": user_agent}
    error = error_of(api.http.get(f"{CLOCKINGS}/1", headers=headers), 400, "BadRequest")
    assert "User-Agent" in " ".join([error["message"], *error.get("reasons", [])])
    token = api.http.post(
        f"/tenants/{api.tenant}/connect/token",
        headers={"User-Agent": ""},
        data={"grant_type": "client_credentials"},
    )
    error = error_of(token, 400, "BadRequest")
    assert "User-Agent" in " ".join(error.get("reasons", []))
    # The same request with a User-Agent is served.
    assert api.http.get(f"{CLOCKINGS}/1", headers=api.auth(Scope.CLOCKINGS_READ)).status_code == 200


def test_a_uri_longer_than_4096_characters_is_a_414_error_body(api: Api) -> None:
    prefix = f"{CLOCKINGS}?x="
    at_limit = prefix + "a" * (MAX_URI - len(prefix))
    assert len(at_limit) == MAX_URI
    headers = api.auth(Scope.CLOCKINGS_READ)
    # At the limit the request goes through to the handler (which wants a filter).
    assert api.http.get(at_limit, headers=headers).status_code == 400
    error_of(api.http.get(at_limit + "a", headers=headers), 414, "UriTooLong")
    error_of(api.http.get(f"/{'x' * MAX_URI}", headers=headers), 414, "UriTooLong")


@pytest.fixture
def small_body_api(engine: Engine, database_url: str) -> Iterator[Api]:
    settings = Settings(database_url=database_url, max_body_bytes=SMALL_BODY_LIMIT)
    yield from api_with(engine, settings)


def padded_clocking(size: int) -> bytes:
    """A valid clocking body of exactly ``size`` bytes (JSON allows trailing spaces)."""
    body = json.dumps(CLOCKING).encode()
    assert len(body) <= size
    return body + b" " * (size - len(body))


def chunks(body: bytes, size: int = 100) -> Iterator[bytes]:
    """The body as a generator: httpx then sends it chunked, with no Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_a_body_over_the_limit_is_a_413_error_body(small_body_api: Api) -> None:
    api = small_body_api
    headers = {**api.auth(Scope.CLOCKINGS_WRITE), "Content-Type": "application/json"}
    at_limit = api.http.post(CLOCKINGS, content=padded_clocking(SMALL_BODY_LIMIT), headers=headers)
    assert at_limit.status_code == 201, at_limit.text
    over = api.http.post(CLOCKINGS, content=padded_clocking(SMALL_BODY_LIMIT + 1), headers=headers)
    error_of(over, 413, "PayloadTooLarge")


def test_a_chunked_body_over_the_limit_is_a_413_too(small_body_api: Api) -> None:
    api = small_body_api
    headers = {**api.auth(Scope.CLOCKINGS_WRITE), "Content-Type": "application/json"}
    over = api.http.post(
        CLOCKINGS, content=chunks(padded_clocking(SMALL_BODY_LIMIT + 1)), headers=headers
    )
    assert "content-length" not in over.request.headers
    error_of(over, 413, "PayloadTooLarge")
    # A chunked body within the limit is read whole and served as usual.
    within = api.http.post(
        CLOCKINGS, content=chunks(padded_clocking(SMALL_BODY_LIMIT)), headers=headers
    )
    assert within.status_code == 201, within.text
    assert within.json()["timeOfDayInMinutes"] == CLOCKING["timeOfDayInMinutes"]


# ---- operations endpoints --------------------------------------------------------------


def test_healthz_says_ok(api: Api) -> None:
    response = api.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def request_counts(api: Api) -> dict[tuple[str, str, str], float]:
    """chronodelta_http_requests_total by (method, route, status), from /metrics."""
    response = api.http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    counts = {}
    for line in response.text.splitlines():
        found = re.fullmatch(r"chronodelta_http_requests_total\{(.*)\} (\S+)", line)
        if found:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', found.group(1)))
            counts[(labels["method"], labels["route"], labels["status"])] = float(found.group(2))
    return counts


def test_metrics_count_requests_by_route_template_not_by_concrete_path(api: Api) -> None:
    template = ("GET", "/connector/protimeapi/api/v1/clockings/{clocking_id}", "404")
    before = request_counts(api).get(template, 0.0)
    for clocking_id in (987654321, 987654322):
        response = api.http.get(
            f"{CLOCKINGS}/{clocking_id}", headers=api.auth(Scope.CLOCKINGS_READ)
        )
        assert response.status_code == 404
    counts = request_counts(api)
    assert counts[template] == before + 2
    assert not [key for key in counts if "98765432" in key[1]]
    text = api.http.get("/metrics").text
    assert "# TYPE chronodelta_http_requests_total counter" in text
    assert "98765432" not in text


def test_openapi_is_3_1_and_documents_every_api_route_with_bearer_security(api: Api) -> None:
    document = api.http.get("/openapi.json").json()
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    schemes = document["components"]["securitySchemes"]
    bearer = {name for name, s in schemes.items() if s == {**s, "type": "http", "scheme": "bearer"}}
    assert bearer, schemes
    routes = [
        (method.lower(), context.path)
        for context in iter_route_contexts(api.http.app.routes)  # type: ignore[attr-defined]
        if isinstance(context.original_route, APIRoute)
        and context.path
        and context.path.startswith("/connector/")
        for method in context.methods or ()
    ]
    assert len(routes) >= 17
    for method, path in routes:
        operation = document["paths"].get(path, {}).get(method)
        assert operation is not None, f"{method.upper()} {path} is not documented"
        named = {name for requirement in operation.get("security", []) for name in requirement}
        assert named & bearer, f"{method.upper()} {path} has no bearer security"


# ---- the token endpoint ----------------------------------------------------------------


def test_wrong_secret_unknown_client_and_unknown_tenant_get_the_same_401(api: Api) -> None:
    create_tenant(api.engine, "globex")  # a tenant that exists, but is not the client's
    responses = {
        "wrong secret": token_request(api, client_secret="not-the-secret"),
        "unknown client": token_request(api, client_id="cd-nobody"),
        "unknown tenant": token_request(api, tenant="initech"),
        "another tenant": token_request(api, tenant="globex"),
    }
    bodies = {name: r.json() for name, r in responses.items()}
    for name, response in responses.items():
        error_of(response, 401, "Unauthorized")
        assert bodies[name] == bodies["wrong secret"], bodies
        assert "access_token" not in response.text


@pytest.mark.parametrize("grant_type", ["password", "authorization_code", ""])
def test_an_unsupported_grant_type_is_a_400(api: Api, grant_type: str) -> None:
    error = error_of(token_request(api, grant_type=grant_type), 400, "BadRequest")
    assert "grant_type" in " ".join(error.get("reasons", []))


def test_a_token_request_that_is_not_form_encoded_is_a_415(api: Api) -> None:
    response = api.http.post(
        f"/tenants/{api.tenant}/connect/token",
        json={
            "grant_type": "client_credentials",
            "client_id": api.client_id,
            "client_secret": api.client_secret,
        },
    )
    error_of(response, 415, "UnsupportedMediaType")


def test_a_scope_the_client_was_not_granted_is_a_400(api: Api) -> None:
    reader = create_client(api.engine, api.tenant, [Scope.CLOCKINGS_READ])
    wanted = f"{Scope.CLOCKINGS_READ.value} {Scope.CLOCKINGS_WRITE.value}"
    response = api.http.post(
        f"/tenants/{api.tenant}/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": reader.client_id,
            "client_secret": reader.client_secret,
            "scope": wanted,
        },
    )
    error = error_of(response, 400, "invalid_scope")  # RFC 6749, 5.2
    assert Scope.CLOCKINGS_WRITE.value in " ".join(error.get("reasons", []))
    granted = api.http.post(
        f"/tenants/{api.tenant}/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": reader.client_id,
            "client_secret": reader.client_secret,
            "scope": Scope.CLOCKINGS_READ.value,
        },
    )
    assert granted.status_code == 200
    assert granted.json()["scope"] == Scope.CLOCKINGS_READ.value


def test_http_basic_client_authentication_works(api: Api) -> None:
    basic = base64.b64encode(f"{api.client_id}:{api.client_secret}".encode()).decode()
    response = api.http.post(
        f"/tenants/{api.tenant}/connect/token",
        data={"grant_type": "client_credentials", "scope": Scope.CLOCKINGS_READ.value},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 1800
    assert body["scope"] == Scope.CLOCKINGS_READ.value
    used = api.http.get(
        f"{CLOCKINGS}/1", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert used.status_code == 200
    wrong = base64.b64encode(f"{api.client_id}:wrong".encode()).decode()
    refused = api.http.post(
        f"/tenants/{api.tenant}/connect/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {wrong}"},
    )
    error_of(refused, 401, "Unauthorized")


@pytest.fixture
def rate_limited_api(engine: Engine, database_url: str) -> Iterator[Api]:
    settings = Settings(database_url=database_url, token_requests_per_minute=3)
    yield from api_with(engine, settings)


def test_the_fourth_token_request_in_a_minute_is_a_429_with_retry_after(
    rate_limited_api: Api,
) -> None:
    api = rate_limited_api
    # The limit counts per client in fixed one-minute windows. Should a window turn
    # over during the four requests, try again with a new client in the next window
    # (four requests take far less than a minute, so the second try cannot straddle).
    for _attempt in range(2):
        client = create_client(api.engine, api.tenant)
        window = int(time.time() // 60)
        statuses = []
        for _ in range(4):
            response = api.http.post(
                f"/tenants/{api.tenant}/connect/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": client.client_id,
                    "client_secret": client.client_secret,
                },
            )
            statuses.append(response.status_code)
        if int(time.time() // 60) == window:
            break
    else:
        pytest.fail("two window turn-overs during eight requests")
    assert statuses == [200, 200, 200, 429]
    error_of(response, 429, "TooManyRequests")
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit() and 1 <= int(retry_after) <= 61, retry_after


def test_discovery_names_the_token_endpoint_and_its_jwks_verifies_issued_tokens(
    api: Api,
) -> None:
    response = api.http.get(f"/tenants/{api.tenant}/.well-known/openid-configuration")
    assert response.status_code == 200
    discovery = response.json()
    issuer = discovery["issuer"]
    assert issuer.endswith(f"/tenants/{api.tenant}")
    assert discovery["token_endpoint"] == f"{issuer}/connect/token"
    assert discovery["grant_types_supported"] == ["client_credentials"]
    assert {"client_secret_post", "client_secret_basic"} <= set(
        discovery["token_endpoint_auth_methods_supported"]
    )
    # Contract, "Fidelity", "Scopes": every scope the vendor documents is known.
    assert set(discovery["scopes_supported"]) == {s.value for s in KNOWN_SCOPES}
    assert "RS256" in discovery["id_token_signing_alg_values_supported"]

    jwks = api.http.get(discovery["jwks_uri"])
    assert jwks.status_code == 200
    keys = jwks.json()["keys"]
    assert len(keys) == 1 and not {"d", "p", "q", "dp", "dq", "qi"} & set(keys[0])
    key = jwt.PyJWK(keys[0])
    token = api.token(Scope.CLOCKINGS_READ)
    assert jwt.get_unverified_header(token)["kid"] == keys[0]["kid"]
    claims = jwt.decode(token, key, algorithms=["RS256"], audience=AUDIENCE, issuer=issuer)
    assert claims["tenant"] == api.tenant
    assert claims["scope"] == Scope.CLOCKINGS_READ.value
    assert claims["exp"] - claims["iat"] == 1800
    # A token whose payload was altered no longer verifies against the published key.
    header, _payload, signature = token.split(".")
    altered = (
        base64.urlsafe_b64encode(json.dumps({**claims, "tenant": "globex"}).encode())
        .rstrip(b"=")
        .decode()
    )
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(f"{header}.{altered}.{signature}", key, algorithms=["RS256"], audience=AUDIENCE)


def test_discovery_of_an_unknown_tenant_does_not_tell_it_is_unknown(api: Api) -> None:
    # Issue 10, item 7 (tests/server/auth/test_token_hardening.py has it over HTTP).
    known = api.http.get(f"/tenants/{api.tenant}/.well-known/openid-configuration/jwks")
    unknown = api.http.get("/tenants/initech/.well-known/openid-configuration/jwks")
    assert unknown.status_code == known.status_code == 200
    assert unknown.content == known.content
    response = api.http.get("/tenants/initech/.well-known/openid-configuration")
    assert response.json()["issuer"].endswith("/tenants/initech")


def test_a_tenant_host_refuses_another_tenants_token(api: Api) -> None:
    create_tenant(api.engine, "globex")
    headers = api.auth(Scope.CLOCKINGS_READ)
    own = api.http.get(f"{CLOCKINGS}/1", headers={**headers, "Host": "acme.myprotime.eu"})
    assert own.status_code == 200
    for path, params in ((f"{CLOCKINGS}/1", None), (CLOCKINGS, JANUARY)):
        response = api.http.get(
            path, params=params, headers={**headers, "Host": "globex.myprotime.eu"}
        )
        error_of(response, 401, "Unauthorized")
        assert own.json()["changeVersion"] not in response.text


def test_every_operation_that_takes_a_delta_token_documents_410(api: Api) -> None:
    """Seed 000: a delta unused for 72 hours answers 410 Gone, on a list's deltaToken too."""
    document = api.http.get("/openapi.json").json()
    taking = {
        (path, method): operation["responses"]
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if any(p["name"] == "deltaToken" for p in operation.get("parameters", ()))
    }
    assert len(taking) >= 11  # every delta collection's list, and GET /delta/{collection}
    assert [key for key, responses in taking.items() if "410" not in responses] == []
