"""Who gets into the console (issue 13, item 5: "its own login ... CSRF-protected forms"),
over real HTTP on both databases (PostgreSQL with two workers, so a session made by
one worker is honoured by the other).

"Must hold": "an API access token gets 401 on every /admin and /console path": every
console route the app has is asked with a bearer token, with and without a session.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from chronodelta.server import Settings, create_app, set_operator_password
from chronodelta.testing import ServerProcess
from tests.conftest import new_database_url

from .conftest import API, Console, Sandbox, csrf_of

# A value for each path parameter of a console route.
PATH_VALUES = {
    "tenant": "acme",
    "client_id": "cd-00000000000000000000",
    "clocking_id": "1",
    "delta_id": "1",
    "webhook_id": str(uuid.UUID(int=1)),
    "name": "console.css",
    "rest": "no/such/page",
}


def console_paths(tmp_path: Path, request: pytest.FixtureRequest) -> list[tuple[str, str]]:
    """Every (method, path) the console serves, read from the app itself, so that a
    page added later is covered without editing this test."""
    app = create_app(Settings(database_url=new_database_url(request, "sqlite", tmp_path)))
    found = []
    # iter_route_contexts flattens FastAPI's included routers into their routes.
    for route in iter_route_contexts(app.routes):
        template, methods = getattr(route, "path", ""), getattr(route, "methods", None)
        if template.startswith("/console") and methods:
            path = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: PATH_VALUES[m.group(1)], template)
            found += [(method, path) for method in sorted(methods)]
    assert len(found) >= 15, found
    return found


def test_an_api_access_token_gets_401_on_every_console_path(
    sandbox: Sandbox, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    paths = console_paths(tmp_path, request)
    console = sandbox.console()
    with sandbox.api() as api:
        bearer = {"Authorization": api.headers["Authorization"]}
        assert api.get(f"{API}/people").status_code == 200  # a token that works on the API
        for method, path in [*paths, ("GET", "/console"), ("POST", "/console/x")]:
            for cookies in (None, console.http.cookies):  # without and with a session
                response = httpx.request(
                    method, sandbox.server.base_url + path, headers=bearer, cookies=cookies
                )
                assert response.status_code == 401, (method, path, response.text)
                if method != "HEAD":  # a HEAD answer has no body
                    assert response.json()["error"]["code"] == "Unauthorized", (method, path)
    console.close()


def test_a_browser_without_a_session_is_sent_to_the_login_page(sandbox: Sandbox) -> None:
    anonymous = sandbox.console(logged_in=False)
    for path in ("/console", "/console/tenants/acme/day?person=1", "/console/nowhere"):
        response = anonymous.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/console/login?next=%2Fconsole")
    posted = anonymous.http.post("/console/tenants/acme/clockings", data={"time": "09:00"})
    assert posted.status_code == 303  # a form's target is no page to come back to
    assert posted.headers["location"] == "/console/login?next=%2Fconsole"
    page = anonymous.get("/console/login")
    assert page.status_code == 200 and "Operator login" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    # The login form is a form too: without its CSRF cookie and token it is refused.
    refused = anonymous.http.post(
        "/console/login",
        data={"name": "ops", "password": sandbox.operator.password, "csrf": "forged"},
    )
    assert refused.status_code == 403 and "CSRF" in refused.text
    anonymous.close()


def test_a_wrong_password_is_refused_and_sets_no_session(sandbox: Sandbox) -> None:
    browser = sandbox.console(logged_in=False)
    for name, password in (("ops", "wrong"), ("nobody", sandbox.operator.password), ("", "")):
        response = browser.log_in(name, password)
        assert response.status_code == 401, response.text
        assert "Wrong operator name or password" in response.text
        assert "chronodelta_console=" not in response.headers.get("set-cookie", "")
    assert browser.get("/console").status_code == 303
    browser.close()


def test_login_sets_a_strict_httponly_session_that_every_worker_honours(
    sandbox: Sandbox,
) -> None:
    browser = Console(sandbox.server.base_url)
    response = browser.log_in("ops", sandbox.operator.password)
    assert response.status_code == 303
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("chronodelta_console=")
    )
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "max-age"} <= attributes, cookie
    assert "samesite=strict" in cookie.lower() and "path=/console" in cookie.lower()
    assert "secure" not in attributes  # served over http here; over https it is Secure
    for _ in range(12):  # fresh connections: on PostgreSQL both workers answer some
        with httpx.Client(base_url=sandbox.server.base_url, cookies=browser.http.cookies) as one:
            page = one.get("/console")
            assert page.status_code == 200 and "ops" in page.text and "acme" in page.text
    browser.close()


def test_logout_ends_the_session(sandbox: Sandbox) -> None:
    browser = sandbox.console()
    home = browser.get("/console")
    assert home.status_code == 200
    response = browser.http.post("/console/logout", data={"csrf": csrf_of(home.text)})
    assert response.status_code == 303 and response.headers["location"] == "/console/login"
    assert browser.get("/console").status_code == 303  # the cookie is gone
    browser.close()


def test_a_tampered_cookie_or_a_new_password_ends_the_session(sandbox: Sandbox) -> None:
    browser = sandbox.console()
    cookie = browser.http.cookies["chronodelta_console"]
    version, payload, signature = cookie.split(".")
    forged = f"{version}.{payload}.{signature[::-1]}"
    with httpx.Client(base_url=sandbox.server.base_url) as other:
        other.cookies.set("chronodelta_console", forged)
        assert other.get("/console").status_code == 303
    assert browser.get("/console").status_code == 200
    # A new password for the operator ends every session it had, in every worker.
    fresh = set_operator_password(sandbox.engine, "ops")
    try:
        assert browser.get("/console").status_code == 303
        assert browser.log_in("ops", fresh.password).status_code == 303
        assert browser.get("/console").status_code == 200
    finally:
        sandbox.operator = fresh
    browser.close()


def test_a_form_without_the_session_csrf_token_is_refused_with_403(
    sandbox: Sandbox, console: Console
) -> None:
    with sandbox.api() as api:
        before = api.get(f"{API}/clockings", params={"filter": "date eq '2026-01-02'"}).json()
    clocking = {"person": "1", "date": "2026-01-02", "time": "09:00", "kind": "InOut"}
    other = sandbox.console()  # another session: its token is not this one's
    other_token = csrf_of(other.get("/console").text)
    for token in (None, "", "forged", other_token):
        data = clocking if token is None else {**clocking, "csrf": token}
        response = console.http.post("/console/tenants/acme/clockings", data=data)
        assert response.status_code == 403, (token, response.text)
        assert "CSRF check failed" in response.text and "Nothing was changed" in response.text
    logout = console.http.post("/console/logout", data={"csrf": "forged"})
    assert logout.status_code == 403
    assert console.get("/console").status_code == 200  # still logged in
    with sandbox.api() as api:
        after = api.get(f"{API}/clockings", params={"filter": "date eq '2026-01-02'"}).json()
    assert after == before  # nothing was written
    other.close()


def test_no_console_serves_none_of_it(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """``serve --no-console`` and ``CHRONODELTA_CONSOLE=false``: 404 on every /console path."""
    url = new_database_url(request, "sqlite", tmp_path)
    for args, env in ((["--no-console"], {}), ([], {"CHRONODELTA_CONSOLE": "false"})):
        with ServerProcess(url, args=args, env=env) as server:
            for path in ("/console", "/console/login", "/console/static/console.css"):
                response = httpx.get(server.base_url + path)
                assert response.status_code == 404, (args, env, path)
                assert response.json()["error"]["code"] == "NotFound"
            assert "/console" not in server.output


def test_serve_demo_prints_the_console_and_its_login_works(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """``make serve`` (``serve --demo``) prints the operator's credential with the
    console's URL; logging in with it opens the console."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    with ServerProcess(url, args=["--demo"]) as server:
        printed = re.search(
            rf"and the console at {re.escape(server.base_url)}/console\): (\S+) / (\S+)",
            server.output,
        )
        assert printed, server.output
        assert f"console: {server.base_url}/console" in server.output
        browser = Console(server.base_url)
        assert browser.log_in(printed.group(1), printed.group(2)).status_code == 303
        assert "acme" in browser.get("/console").text
        browser.close()
