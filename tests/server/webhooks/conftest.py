"""A PostgreSQL database alone, for the tests that need several workers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from chronodelta.storage import create_engine
from tests.conftest import new_database_url


@pytest.fixture
def postgres_engine_url(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Engine, str]]:
    url = new_database_url(request, "postgresql", tmp_path)
    created = create_engine(url)
    yield created, url
    created.dispose()
