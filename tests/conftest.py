"""Fixtures shared by every test: the two databases every storage and API test runs on.

PostgreSQL is a real, throwaway cluster started once per test session (see
``chronodelta.testing``). Under ``CI=true`` a missing PostgreSQL fails the run
instead of skipping it. Each test gets its own database, cloned from a migrated
template, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest
from sqlalchemy.engine import Engine

from chronodelta.storage import create_engine, upgrade
from chronodelta.testing import PostgresUnavailable, ThrowawayPostgres

IN_CI = os.environ.get("CI") == "true"

# Hypothesis's per-example deadline is a timing assertion, and the suite makes none:
# on a loaded 2-core machine a correct example can take a second.
hypothesis.settings.register_profile("chronodelta", deadline=None)
hypothesis.settings.load_profile("chronodelta")
PG_TEMPLATE = "migrated_template"


@pytest.fixture(scope="session")
def postgres() -> Iterator[ThrowawayPostgres]:
    cluster = ThrowawayPostgres()
    try:
        cluster.start()
    except PostgresUnavailable as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true: {exc}")
        pytest.skip(str(exc))
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres: ThrowawayPostgres) -> str:
    engine = create_engine(postgres.create_database(PG_TEMPLATE))
    upgrade(engine)
    engine.dispose()
    return PG_TEMPLATE


def new_database_url(request: pytest.FixtureRequest, kind: str, directory: Path) -> str:
    """A fresh, migrated database of ``kind`` for one test."""
    if kind == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = directory / f"chronodelta-{uuid.uuid4().hex[:8]}.db"
        shutil.copy(template, target)
        return f"sqlite:///{target}"
    cluster: ThrowawayPostgres = request.getfixturevalue("postgres")
    template_name: str = request.getfixturevalue("postgres_template")
    name = f"t_{uuid.uuid4().hex[:16]}"
    request.addfinalizer(lambda: cluster.drop_database(name))
    return cluster.create_database(name, template=template_name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return new_database_url(request, request.param, tmp_path)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    created = create_engine(database_url)
    yield created
    created.dispose()
