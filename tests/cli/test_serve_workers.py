"""``chronodelta serve --workers N`` on PostgreSQL: several processes, one consistent API."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from chronodelta.cli import app
from chronodelta.testing import ServerProcess
from tests.conftest import new_database_url

PATH = "/connector/protimeapi/api/v1/clockings"


@pytest.mark.postgresql
def test_several_workers_serve_concurrent_writers(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = new_database_url(request, "postgresql", tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["tenants", "create", "acme", "--database", url]).exit_code == 0
    assert (
        runner.invoke(
            app,
            [
                "seed",
                "--tenant",
                "acme",
                "--people",
                "3",
                "--days",
                "2",
                "--until",
                "2026-01-20",
                "--database",
                url,
            ],
        ).exit_code
        == 0
    )
    created = runner.invoke(
        app, ["clients", "create", "--tenant", "acme", "--json", "--database", url]
    )
    client = json.loads(created.output)

    with (
        ServerProcess(url, args=["--workers", "3"]) as server,
        httpx.Client(
            base_url=server.base_url, headers={"User-Agent": "workers-test/1.0 (chronodelta)"}
        ) as http,
    ):
        token = http.post(
            "/tenants/acme/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client["client_id"],
                "client_secret": client["client_secret"],
            },
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}

        def create(minute: int) -> dict[str, object]:
            body = {
                "person": {"id": 1},
                "date": "2026-01-19",
                "timeOfDayInMinutes": minute,
                "kind": "InOut",
            }
            response = http.post(PATH, json=body, headers=auth)
            assert response.status_code == 201, response.text
            record: dict[str, object] = response.json()
            return record

        with ThreadPoolExecutor(max_workers=8) as pool:
            records = list(pool.map(create, range(60)))
        assert len({r["id"] for r in records}) == 60
        assert len({r["changeVersion"] for r in records}) == 60
        listed = http.get(
            PATH, headers=auth, params={"filter": "date eq '2026-01-19' and person eq 1"}
        ).json()["value"]
        assert {r["id"] for r in records} <= {r["id"] for r in listed}
        metrics = http.get("/metrics").text
        assert 'route="/connector/protimeapi/api/v1/clockings"' in metrics
    assert server.output.count("Application startup complete") >= 3
