"""The Swagger UI at /swagger renders with no network: its assets ship in the package.

Test A reads the page and its assets through the app. Test B serves the app on a real
socket and renders the page in headless Chromium, with every host but 127.0.0.1
made unresolvable, so that anything fetched from a CDN would leave the page blank.
Without Chromium, B fails under CI=true and is skipped elsewhere
(``make test`` installs Chromium; scripts/check-swagger-offline.sh is the same check by hand).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from chronodelta.server import Settings, create_app
from tests.conftest import new_database_url

from .conftest import USER_AGENT

IN_CI = os.environ.get("CI") == "true"
ASSET_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}
# What only a rendered Swagger UI shows: an operation's summary in an operation block.
RENDERED = ("Retrieve a list of clockings", "opblock")


@pytest.fixture(scope="module")
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    return new_database_url(request, "sqlite", tmp_path_factory.mktemp("swagger"))


@pytest.fixture
def app(database_url: str) -> FastAPI:
    # One app per test: each test runs the app's lifespan once (TestClient, uvicorn).
    return create_app(Settings(database_url=database_url))


def referenced_urls(html: str) -> list[str]:
    """Every URL the page loads: src and href attributes, and the spec's ``url:``."""
    attributes = re.findall(r"""\b(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    spec = re.findall(r"""\burl\s*:\s*["']([^"']+)["']""", html)
    return attributes + spec


def test_the_swagger_page_loads_only_local_assets_and_they_are_served(app: FastAPI) -> None:
    with TestClient(app, headers={"User-Agent": USER_AGENT}) as http:
        page = http.get("/swagger")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        html = page.text
        assert not re.search(r"https?://", html), "the page names another host"
        assert "//cdn" not in html and "cdn." not in html
        urls = referenced_urls(html)
        assets = [u for u in urls if u.startswith("/swagger/assets/")]
        assert {Path(u).suffix for u in assets} >= {".js", ".css"}, urls
        for url in urls:
            parts = urlsplit(url)
            assert not parts.scheme and not parts.netloc and url.startswith("/"), url
            response = http.get(url)
            assert response.status_code == 200, url
            assert response.content, url
            suffix = Path(parts.path).suffix
            if suffix in ASSET_TYPES:
                assert ASSET_TYPES[suffix] in response.headers["content-type"], url
        assert "/openapi.json" in urls


def find_chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    return found


@dataclass
class LiveServer:
    port: int
    requested: list[str] = field(default_factory=list)


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    """The app on a real 127.0.0.1 socket, served by uvicorn in a thread."""
    # The socket listens before uvicorn starts, so connections made early wait in the
    # backlog until it serves: no readiness race, no waiting loop.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    live = LiveServer(listener.getsockname()[1])

    async def recording(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            live.requested.append(scope["path"])
        await app(scope, receive, send)

    server = uvicorn.Server(uvicorn.Config(recording, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        # Bounded: each attempt blocks until uvicorn answers or 1 s passes; a server
        # that died starting up (its thread ended) fails at once.
        for _attempt in range(30):
            assert thread.is_alive(), "uvicorn exited while starting (see its log above)"
            try:
                ready = httpx.get(f"http://127.0.0.1:{live.port}/healthz", timeout=1)
            except httpx.TimeoutException:
                continue
            assert ready.status_code == 200, ready.text
            break
        else:
            pytest.fail("uvicorn did not answer within 30 attempts")
        yield live
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()


def test_chromium_renders_the_swagger_page_with_no_network(
    live_server: LiveServer, tmp_path: Path
) -> None:
    chromium = find_chromium()
    if chromium is None:
        if IN_CI:
            pytest.fail("Chromium is required under CI=true (make test installs it)")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    page = f"http://127.0.0.1:{live_server.port}/swagger"
    result = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            f"--user-data-dir={tmp_path / 'profile'}",
            # No network: every host but the server's own address fails to resolve.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=15000",
            "--dump-dom",
            page,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    dom = result.stdout
    for text in RENDERED:
        assert text in dom, f"{text!r} not in the rendered page:\n{dom[:3000]}"
    assert 'class="swagger-ui' in dom
    # Everything the page needed came from this server.
    for path in (
        "/swagger",
        "/swagger/assets/swagger-ui-bundle.js",
        "/swagger/assets/swagger-ui.css",
        "/openapi.json",
    ):
        assert path in live_server.requested, live_server.requested
