"""Every endpoint refuses: no token, expired, forged, another tenant's, without the scope.

The endpoints are read from the app's routes (everything under /connector/), so a
newly added endpoint joins the matrix by itself. Every refusal is a 401 with the
contract's error body, and the body is the same whatever the reason (only a missing
scope may say which scope), so that a caller learns nothing, in particular not
whether another tenant exists.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from chronodelta.demo import generate_reference_data
from chronodelta.domain import API_PREFIX, KNOWN_SCOPES, SERVED_SCOPES, Scope
from chronodelta.server import Settings, create_app, create_client, create_tenant, seed_tenant
from chronodelta.server.auth._keys import SigningKey, load_or_create_signing_key
from chronodelta.storage import create_engine
from tests.conftest import new_database_url

from .conftest import SEED_UNTIL, USER_AGENT

ACME_HOST = "acme.myprotime.eu"
EXISTING_ID = "1"
SEED = 3
# Seed 003 and the contract's "Fidelity": activity definitions and structure versions
# have GUID ids; those of acme's demo data (the seed decides them).
ACTIVITY = generate_reference_data(people=0, seed=SEED, today=SEED_UNTIL).activity_definitions[0]
ACTIVITY_PATHS = (f"{API_PREFIX}/activity-definitions/", f"{API_PREFIX}/activity-structure-")
# Path parameters that are not ids (e.g. /delta/{collection}); any other one gets EXISTING_ID.
PATH_VALUES = {
    "collection": "clockings",
    "name": "HRMID",
    "webhook_id": "a7d853ea-89eb-4735-83d1-b891c6fde398",  # the contract's example GUID
}
ACTIVITY_VALUES = {
    "record_id": ACTIVITY.id,
    "structureVersionId": ACTIVITY.structure_version,
    "activityDefinitionReference": ACTIVITY.id,
}
JANUARY = "date ge '2026-01-01' and date le '2026-01-31'"
CLOCKING = {"person": {"id": 1}, "date": "2026-01-15", "timeOfDayInMinutes": 510, "kind": "InOut"}
# What a request needs, besides access, to succeed (for the positive control).
QUERIES: dict[str, dict[str, str]] = {
    f"{API_PREFIX}/{name}": {"filter": JANUARY}
    for name in ("clockings", "paid-presences", "activity-durations", "calculated-totals")
}
BODIES: dict[str, dict[str, Any]] = {
    f"{API_PREFIX}/clockings": CLOCKING,
    f"{API_PREFIX}/clockings/{{clocking_id}}": CLOCKING,
}
# Collections whose scope is named differently (contract, "Authentication and scopes").
SCOPE_NAMES = {"paid-presences": "calculated-totals"}
REFERENCE_COLLECTIONS = (
    "people",
    "terminals",
    "activity-definitions",
    "absence-definitions",
    "counter-definitions",
    "shift-definitions",
)
BODIES.update(
    {
        f"{API_PREFIX}/{name}/{{record_id}}/external-references/{{name}}": {"value": "X-1"}
        for name in REFERENCE_COLLECTIONS
    }
)


@dataclass(frozen=True)
class Endpoint:
    method: str
    template: str
    status_code: int | None
    # Query parameters the route requires: sent with a dummy value, so that the
    # request is well-formed and only access decides (e.g. a deltaLink's deltaToken).
    required_query: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        values = PATH_VALUES
        if self.template.startswith(ACTIVITY_PATHS):
            values = {**PATH_VALUES, **ACTIVITY_VALUES}
        return re.sub(
            r"\{([^}:]+)[^}]*\}", lambda m: values.get(m.group(1), EXISTING_ID), self.template
        )

    @property
    def query(self) -> dict[str, str]:
        return {**{name: "x" for name in self.required_query}, **QUERIES.get(self.template, {})}

    @property
    def required_scope(self) -> Scope:
        parts = self.path.removeprefix(API_PREFIX + "/").split("/")
        collection = parts[1] if parts[0] == "delta" and len(parts) > 1 else parts[0]
        if collection == "activity-structure-versions":  # .../levels/{n}/activity-definitions
            collection = "activity-definitions"
        access = "read" if self.method == "GET" else "write"
        if "/external-references" in self.path and access == "write":
            return Scope.EXTERNAL_REFERENCES_WRITE
        name = f"connector-protimeapi-{SCOPE_NAMES.get(collection, collection)}.{access}"
        try:
            return Scope(name)
        except ValueError:
            raise AssertionError(
                f"{self}: no scope {name}; teach SCOPE_NAMES this endpoint's scope"
            ) from None

    @property
    def covering_scopes(self) -> tuple[Scope, ...]:
        """Every scope that grants this endpoint: its own, and for webhook reads each
        collection's read scope (contract, "Fidelity": "A collection's .read also covers
        its webhooks' reads")."""
        if self.method == "GET" and self.path.startswith(f"{API_PREFIX}/webhooks"):
            return (self.required_scope, *(s for s in KNOWN_SCOPES if s.value.endswith(".read")))
        return (self.required_scope,)

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def api_endpoints(app: FastAPI) -> list[Endpoint]:
    """Every (method, path) the app serves under /connector/, from its routes."""
    found = set()
    # iter_route_contexts flattens FastAPI's included routers into their routes.
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path
        if isinstance(route, APIRoute) and path and path.startswith("/connector/"):
            required = tuple(
                field.alias
                for field in route.dependant.query_params
                if field.field_info.is_required()
            )
            for method in context.methods or ():
                if method not in ("HEAD", "OPTIONS"):
                    found.add(Endpoint(method, path, route.status_code, required))
    order = {"GET": 0, "POST": 1, "PUT": 2, "DELETE": 3}
    return sorted(found, key=lambda e: (e.template, order.get(e.method, 9), e.method))


def send(http: TestClient, endpoint: Endpoint, headers: dict[str, str]) -> httpx.Response:
    body = BODIES.get(endpoint.template) if endpoint.method in ("POST", "PUT") else None
    response: httpx.Response = http.request(
        endpoint.method,
        endpoint.path,
        params=endpoint.query,
        json=body,
        headers=headers,
    )
    return response


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


@dataclass
class Matrix:
    """One app on one database (per backend), with every token the cases need."""

    http: TestClient
    endpoints: list[Endpoint]
    acme_token: Callable[[tuple[Scope, ...]], str]
    globex_token: str
    forged: dict[str, str] = field(default_factory=dict)


def issue(
    http: TestClient, tenant: str, client_id: str, secret: str, scopes: tuple[Scope, ...]
) -> str:
    response = http.post(
        f"/tenants/{tenant}/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": " ".join(s.value for s in scopes),
        },
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
)
def matrix(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Matrix]:
    directory: Path = tmp_path_factory.mktemp("refusals")
    url = new_database_url(request, request.param, directory)
    engine = create_engine(url)
    create_tenant(engine, "acme")
    seed_tenant(engine, "acme", people=3, days=5, seed=SEED, until=SEED_UNTIL)
    # Every known scope, so that "without the scope" holds all the others, served or not.
    acme = create_client(engine, "acme", KNOWN_SCOPES)
    create_tenant(engine, "globex")  # no data: acme's ids exist only in acme
    globex = create_client(engine, "globex")
    app = create_app(Settings(database_url=url, token_requests_per_minute=10_000))
    with TestClient(app, headers={"User-Agent": USER_AGENT}) as http:
        cache: dict[tuple[Scope, ...], str] = {}

        def acme_token(scopes: tuple[Scope, ...]) -> str:
            if scopes not in cache:
                cache[scopes] = issue(http, "acme", acme.client_id, acme.client_secret, scopes)
            return cache[scopes]

        found = Matrix(
            http,
            api_endpoints(app),
            acme_token,
            issue(http, "globex", globex.client_id, globex.client_secret, SERVED_SCOPES),
        )
        found.forged = forged_tokens(
            engine_key=load_or_create_signing_key(engine),
            real=acme_token(KNOWN_SCOPES),
            unrelated=acme_token((Scope.WEBHOOKS_READ,)),
        )
        yield found
    engine.dispose()


def forged_tokens(engine_key: SigningKey, real: str, unrelated: str) -> dict[str, str]:
    """Tokens an attacker could make, each carrying a real all-scopes token's claims."""
    claims: dict[str, Any] = jwt.decode(real, options={"verify_signature": False})
    kid = engine_key.kid
    now = int(time.time())
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = engine_key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs_header = b64url_json({"alg": "HS256", "typ": "JWT", "kid": kid})
    hs_input = f"{hs_header}.{b64url_json(claims)}".encode()
    unrelated_header, _, unrelated_signature = unrelated.split(".")
    return {
        # The server's own key, but the token's time is up.
        "expired": jwt.encode(
            {**claims, "iat": now - 7200, "nbf": now - 7200, "exp": now - 1800},
            engine_key.private_key,
            "RS256",
            headers={"kid": kid},
        ),
        # The server's own key, but made out for another audience.
        "wrong audience": jwt.encode(
            {**claims, "aud": "some-other-api"},
            engine_key.private_key,
            "RS256",
            headers={"kid": kid},
        ),
        # Another key that claims the server key's kid.
        "signed by another key": jwt.encode(claims, other_key, "RS256", headers={"kid": kid}),
        "alg none": f"{b64url_json({'alg': 'none', 'typ': 'JWT', 'kid': kid})}"
        f".{b64url_json(claims)}.",
        # Key confusion: HMAC keyed with the (public) RSA key.
        "HS256 keyed with the public key": f"{hs_input.decode()}."
        + b64url(hmac.new(public_pem, hs_input, hashlib.sha256).digest()),
        # A real token of one harmless scope, its payload swapped for an all-scopes one.
        "tampered payload": f"{unrelated_header}.{b64url_json(claims)}.{unrelated_signature}",
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def at(host: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    return {**(headers or {}), "Host": host}


# A case gives the headers for one endpoint; all are sent to acme's host unless they say.
Case = Callable[[Matrix, Endpoint], dict[str, str]]
CASES: dict[str, Case] = {
    "no token": lambda m, e: at(ACME_HOST),
    "empty bearer": lambda m, e: at(ACME_HOST, {"Authorization": "Bearer"}),
    "not a JWT": lambda m, e: at(ACME_HOST, bearer("not-a-jwt")),
    "client credentials as Basic": lambda m, e: at(
        ACME_HOST, {"Authorization": "Basic " + b64url(b"client:secret")}
    ),
    "token of acme without the scheme": lambda m, e: at(
        ACME_HOST, {"Authorization": m.acme_token(KNOWN_SCOPES)}
    ),
    **{
        name: (lambda n: lambda m, e: at(ACME_HOST, bearer(m.forged[n])))(name)
        for name in (
            "expired",
            "wrong audience",
            "signed by another key",
            "alg none",
            "HS256 keyed with the public key",
            "tampered payload",
        )
    },
    "token of another tenant": lambda m, e: at(ACME_HOST, bearer(m.globex_token)),
    "acme token at another tenant's host": lambda m, e: at(
        "globex.myprotime.eu", bearer(m.acme_token(KNOWN_SCOPES))
    ),
    "acme token at an unknown tenant's host": lambda m, e: at(
        "initech.myprotime.eu", bearer(m.acme_token(KNOWN_SCOPES))
    ),
    # Every scope there is, except the ones that grant this endpoint.
    "without the scope": lambda m, e: at(
        ACME_HOST,
        bearer(m.acme_token(tuple(s for s in KNOWN_SCOPES if s not in e.covering_scopes))),
    ),
}
MISSING_SCOPE = "without the scope"


def test_the_matrix_covers_the_api(matrix: Matrix) -> None:
    served = {str(e) for e in matrix.endpoints}
    clockings = f"{API_PREFIX}/clockings"
    expected = {
        f"GET {clockings}",
        f"POST {clockings}",
        f"GET {clockings}/{{clocking_id}}",
        f"PUT {clockings}/{{clocking_id}}",
        f"DELETE {clockings}/{{clocking_id}}",
    }
    totals = ("paid-presences", "activity-durations", "calculated-totals")
    for name in (*totals, *REFERENCE_COLLECTIONS):
        expected |= {f"GET {API_PREFIX}/{name}", f"GET {API_PREFIX}/{name}/{{record_id}}"}
    structure = f"{API_PREFIX}/activity-structure-versions/{{structureVersionId}}/levels/{{level}}"
    expected |= {  # contract, "Fidelity"
        f"GET {structure}/activity-definitions",
        f"GET {structure}/activity-definitions/{{activityDefinitionReference}}",
    }
    for name in REFERENCE_COLLECTIONS:
        references = f"{API_PREFIX}/{name}/{{record_id}}/external-references"
        expected |= {
            f"GET {references}",
            f"PUT {references}/{{name}}",
            f"DELETE {references}/{{name}}",
        }
    assert expected <= served, sorted(expected - served)


def test_the_served_scopes_are_those_the_endpoints_require(matrix: Matrix) -> None:
    """SERVED_SCOPES (what a client registered without scopes gets) is exactly what
    some endpoint requires; the other known scopes guard nothing here yet (contract,
    "Fidelity", "Scopes")."""
    required = {endpoint.required_scope for endpoint in matrix.endpoints}
    assert required == set(SERVED_SCOPES)
    assert required < set(KNOWN_SCOPES)


def test_each_endpoints_own_scope_lets_the_request_through(matrix: Matrix) -> None:
    """The positive control: the same requests, with the right token, are served."""
    problems = []
    for endpoint in matrix.endpoints:
        response = send(
            matrix.http,
            endpoint,
            at(ACME_HOST, bearer(matrix.acme_token((endpoint.required_scope,)))),
        )
        # Where this file knows a valid request (the ids exist, no dummy query values),
        # the status must be the route's success status; elsewhere, only not refused.
        ids_only = not any(name in endpoint.template for name in PATH_VALUES)
        known = (
            ids_only
            and not endpoint.required_query
            and (endpoint.method not in ("POST", "PUT") or endpoint.template in BODIES)
        )
        expected = endpoint.status_code or 200
        if (
            response.status_code == 401
            or response.status_code >= 500
            or (known and response.status_code != expected)
        ):
            problems.append(f"{endpoint}: {response.status_code} {response.text[:200]}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("case", list(CASES))
def test_every_endpoint_refuses(matrix: Matrix, case: str) -> None:
    problems = []
    generic: dict[str, Any] | None = None
    for endpoint in matrix.endpoints:
        response = send(matrix.http, endpoint, CASES[case](matrix, endpoint))
        where = f"{endpoint}: {response.status_code} {response.text[:200]}"
        if response.status_code != 401:
            problems.append(where)
            continue
        body = response.json()
        if (
            set(body) != {"error"}
            or body["error"].get("code") != "Unauthorized"
            or not (isinstance(body["error"].get("message"), str) and body["error"]["message"])
        ):
            problems.append(f"{where} (not the contract's error body)")
        if not response.headers.get("www-authenticate", "").startswith("Bearer"):
            problems.append(f"{where} (no WWW-Authenticate: Bearer)")
        if case == MISSING_SCOPE:
            continue
        generic = generic or body
        if body != generic:
            problems.append(f"{where} (differs from {generic})")
    assert not problems, "\n".join(problems)


def test_all_refusals_but_the_missing_scope_say_the_same(matrix: Matrix) -> None:
    """Nothing tells a forged token from another tenant's, or a known tenant from none."""
    endpoint = next(e for e in matrix.endpoints if e.method == "GET" and "{" in e.template)
    bodies = {
        case: send(matrix.http, endpoint, headers(matrix, endpoint)).json()
        for case, headers in CASES.items()
        if case != MISSING_SCOPE
    }
    assert len({json.dumps(b, sort_keys=True) for b in bodies.values()}) == 1, bodies
    assert "reasons" not in next(iter(bodies.values()))["error"]
    scope_body = send(matrix.http, endpoint, CASES[MISSING_SCOPE](matrix, endpoint)).json()
    assert scope_body["error"]["code"] == "Unauthorized"
    assert "acme" not in json.dumps(scope_body) and "globex" not in json.dumps(scope_body)


def test_another_tenants_token_is_refused_at_acmes_host_for_an_existing_record(
    matrix: Matrix,
) -> None:
    path = f"{API_PREFIX}/clockings/{EXISTING_ID}"
    own = matrix.http.get(path, headers=at(ACME_HOST, bearer(matrix.acme_token(KNOWN_SCOPES))))
    assert own.status_code == 200
    refused = matrix.http.get(path, headers=at(ACME_HOST, bearer(matrix.globex_token)))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "Unauthorized"
    assert own.json()["changeVersion"] not in refused.text


def test_another_tenants_token_never_reads_acmes_data_without_a_tenant_host(
    matrix: Matrix,
) -> None:
    """With no tenant in the Host, the token's tenant (globex) decides: acme's ids are 404."""
    acme = bearer(matrix.acme_token(KNOWN_SCOPES))
    globex = bearer(matrix.globex_token)
    for collection in ("clockings", *REFERENCE_COLLECTIONS):
        path = f"{API_PREFIX}/{collection}"
        existing = ACTIVITY.id if collection == "activity-definitions" else EXISTING_ID
        record = matrix.http.get(f"{path}/{existing}", headers=acme)
        assert record.status_code == 200, (collection, record.text)
        other = matrix.http.get(f"{path}/{existing}", headers=globex)
        assert other.status_code == 404, (collection, other.text)
        assert set(other.json()) == {"error"}
        assert record.json()["changeVersion"] not in other.text
        params = QUERIES.get(path)
        assert matrix.http.get(path, params=params, headers=acme).json()["value"], collection
        listed = matrix.http.get(path, params=params, headers=globex)
        assert listed.status_code == 200 and listed.json()["value"] == [], collection
