"""The Host header is normalised before the tenant check, and a request with more
than one, none or a malformed one is a 400 (issue 10, item 5; RFC 9112, section 3.2).

``host_tenant`` compared the raw header, so ``globex.myprotime.eu.`` (a trailing dot:
the same name in DNS) named no tenant and acme's token was served there; a second Host
header was never looked at (the first one was checked). Host names are
case-insensitive and may end in one dot; the port is no part of the name.
"""

from __future__ import annotations

from chronodelta.domain import API_PREFIX
from tests.server.conftest import USER_AGENT
from tests.server.edges.conftest import Served, error_reasons
from tests.server.edges.raw import RawResponse, connect, read_response, request

CLOCKING = f"{API_PREFIX}/clockings/1"


def raw_get(served: Served, path: str, hosts: list[str]) -> RawResponse:
    headers = [("Host", host) for host in hosts]
    headers += [("User-Agent", USER_AGENT), ("Authorization", f"Bearer {served.token}")]
    with connect(served.port) as sock:
        sock.sendall(request("GET", path, headers))
        return read_response(sock)


def test_another_tenants_host_refuses_acmes_token_however_it_is_written(served: Served) -> None:
    for host in (
        "globex.myprotime.eu.",
        "GLOBEX.MyProtime.EU.",
        "globex.myprotime.eu.:443",
        "globex.myprotime.eu:8000",
        "globex.localhost.",
    ):
        response = served.http.get(CLOCKING, headers={**served.auth, "Host": host})
        error_reasons(response, 401, "Unauthorized")
        own = served.http.get(
            CLOCKING, headers={**served.auth, "Host": host.lower().replace("globex", "acme")}
        )
        assert own.status_code == 200, (host, own.text)


def test_a_second_host_header_is_a_400_on_every_route(served: Served) -> None:
    for path in (CLOCKING, "/healthz", "/swagger", "/no-such-route"):
        for hosts in (
            ["acme.myprotime.eu", "globex.myprotime.eu"],
            ["acme.myprotime.eu", "acme.myprotime.eu"],
            ["127.0.0.1", "globex.myprotime.eu"],
        ):
            reasons = error_reasons(raw_get(served, path, hosts), 400, "BadRequest")
            assert any("Host" in reason for reason in reasons), (path, hosts, reasons)
    assert raw_get(served, CLOCKING, ["acme.myprotime.eu"]).status_code == 200


def test_a_missing_or_malformed_host_is_a_400(served: Served) -> None:
    for hosts in (
        [],  # HTTP/1.1 requires one
        ["globex.myprotime.eu.."],
        ["globex..myprotime.eu"],
        [".globex.myprotime.eu"],
        ["globex.myprotime.eu/connector"],
        ["globex.myprotime.eu:port"],
        ["globex.myprotime.eu:123456"],
        ["user@globex.myprotime.eu"],
        ["globex.myprotime.eu acme.myprotime.eu"],
        ["[::1"],
    ):
        reasons = error_reasons(raw_get(served, CLOCKING, hosts), 400, "BadRequest")
        assert any("Host" in reason for reason in reasons), (hosts, reasons)


def test_hosts_that_name_no_tenant_serve_the_tokens_tenant(served: Served) -> None:
    for host in ("127.0.0.1", "127.0.0.1:8000", "[::1]:8000", "localhost:8000", "api.example.com."):
        response = raw_get(served, CLOCKING, [host])
        assert response.status_code == 200, (host, response.text)


def test_an_absolute_form_target_names_the_host_instead_of_the_header(served: Served) -> None:
    """RFC 9112, 3.2.2: with ``GET http://host/path``, the target's host counts, not the
    Host header's (uvicorn kept the header, and the target's host went unchecked)."""
    for named, status in (("globex.myprotime.eu", 401), ("acme.myprotime.eu.:8000", 200)):
        for header in ("127.0.0.1", "acme.myprotime.eu"):
            headers = [
                ("Host", header),
                ("User-Agent", USER_AGENT),
                ("Authorization", f"Bearer {served.token}"),
            ]
            with connect(served.port) as sock:
                sock.sendall(request("GET", f"http://{named}{CLOCKING}", headers))
                response = read_response(sock)
            assert response.status_code == status, (named, header, response.text)
