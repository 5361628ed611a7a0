"""The issuer and the discovery URLs (issue 10, item 10), over real HTTP on both databases.

They were built from the Host header, whatever a client sent, and a token's ``iss``
was never checked. ``CHRONODELTA_PUBLIC_URL`` now fixes them, and a token must carry
this server's issuer: exactly ``<public URL>/tenants/<tenant>`` when it is set;
otherwise any ``<base>/tenants/<the token's own tenant>``, because one installation
answers on several hosts and ports (and a restarted server keeps its tokens valid).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import jwt
from sqlalchemy.engine import Engine

from chronodelta.server import NewClient
from chronodelta.server.auth._keys import load_or_create_signing_key

from .conftest import JANUARY, LIST_PATH, Serve, caller, request_token

PUBLIC_URL = "https://api.example.test/protime"


def token_of(http: httpx.Client, client: NewClient, host: str | None = None) -> str:
    headers = {"Host": host} if host else {}
    response = http.post(
        "/tenants/acme/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def issuer_of(token: str) -> str:
    issuer: str = jwt.decode(token, options={"verify_signature": False})["iss"]
    return issuer


def listing_status(http: httpx.Client, token: str) -> int:
    return http.get(
        LIST_PATH, params=JANUARY, headers={"Authorization": f"Bearer {token}"}
    ).status_code


def forged(engine: Engine, real: str, **changes: Any) -> str:
    """``real``'s claims with ``changes`` (None: drop the claim), signed with the server's key."""
    key = load_or_create_signing_key(engine)
    claims = {**jwt.decode(real, options={"verify_signature": False}), **changes}
    claims = {name: value for name, value in claims.items() if value is not None}
    claims["jti"] = uuid.uuid4().hex  # a token of its own, not one the server has cached
    # Signed as raw JSON: PyJWT's encode would refuse some of the claims tried here.
    payload = json.dumps(claims).encode()
    return jwt.PyJWS().encode(payload, key.private_key, "RS256", headers={"kid": key.kid})


def test_a_public_url_fixes_the_issuer_whatever_the_host(serve: Serve, acme: NewClient) -> None:
    server = serve(CHRONODELTA_PUBLIC_URL=PUBLIC_URL + "/")
    issuer = f"{PUBLIC_URL}/tenants/acme"
    with caller(server) as http:
        found = http.get(
            "/tenants/acme/.well-known/openid-configuration", headers={"Host": "evil.example"}
        ).json()
        assert found["issuer"] == issuer
        assert found["token_endpoint"] == f"{issuer}/connect/token"
        assert found["jwks_uri"] == f"{issuer}/.well-known/openid-configuration/jwks"
        token = token_of(http, acme, host="evil.example")
        assert issuer_of(token) == issuer
        assert listing_status(http, token) == 200


def test_with_a_public_url_only_its_issuer_is_accepted(
    serve: Serve, acme: NewClient, engine: Engine
) -> None:
    plain, public = serve(), serve(CHRONODELTA_PUBLIC_URL=PUBLIC_URL)
    with caller(plain) as at_plain, caller(public) as at_public:
        from_plain, from_public = token_of(at_plain, acme), token_of(at_public, acme)
        assert issuer_of(from_plain) == f"{plain.base_url}/tenants/acme"
        assert listing_status(at_public, from_public) == 200
        assert listing_status(at_public, from_plain) == 401  # not this server's issuer
        assert listing_status(at_plain, from_public) == 200  # any base, its own tenant
        elsewhere = forged(engine, from_public, iss="https://elsewhere.example/tenants/acme")
        assert listing_status(at_public, elsewhere) == 401


def test_without_a_public_url_the_issuer_must_name_the_tokens_tenant(
    serve: Serve, acme: NewClient, engine: Engine
) -> None:
    server = serve()
    with caller(server) as http:
        real = token_of(http, acme)
        assert listing_status(http, forged(engine, real)) == 200  # the control
        refused = {
            "another tenant's issuer": forged(
                engine, real, iss=f"{server.base_url}/tenants/globex"
            ),
            "no issuer": forged(engine, real, iss=None),
            "not a URL": forged(engine, real, iss="acme"),
            "not a string": forged(engine, real, iss=7),
            "a tenant suffix": forged(engine, real, iss=f"{server.base_url}/tenants/notacme"),
        }
        for what, token in refused.items():
            assert listing_status(http, token) == 401, what


def test_a_token_stays_valid_on_other_hosts_and_after_a_restart_on_another_port(
    serve: Serve, acme: NewClient
) -> None:
    first = serve()
    with caller(first) as http:
        tokens = [
            token_of(http, acme, host=f"localhost:{first.port}"),
            token_of(http, acme, host="acme.myprotime.eu"),
            token_of(http, acme),
        ]
    first.stop()
    second = serve()  # a new port (ServerProcess takes a free one)
    with caller(second) as http:
        for token in tokens:
            assert listing_status(http, token) == 200, issuer_of(token)
        assert request_token(http, acme.client_id, acme.client_secret).status_code == 200
