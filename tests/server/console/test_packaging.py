"""The console's templates and assets ship in the package (issue 13, item 5: "assets
shipped in the package"): every file of them is matched by pyproject.toml's package
data, so a wheel (a non-editable install) has them. A new file in a new folder would
be left out of the wheel silently; this fails instead."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import chronodelta

ROOT = Path(__file__).resolve().parents[3]


def test_every_console_template_and_asset_is_package_data() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = data["tool"]["setuptools"]["package-data"]["chronodelta"]
    package = Path(chronodelta.__file__).parent
    shipped = [
        path.relative_to(package).as_posix()
        for folder in ("templates", "static")
        for path in (package / "server" / "console" / folder).rglob("*")
        if path.is_file()
    ]
    assert {"server/console/templates/base.html", "server/console/static/console.js"} <= set(
        shipped
    )
    missing = [f for f in shipped if not any(fnmatch.fnmatchcase(f, p) for p in patterns)]
    assert not missing, f"not in [tool.setuptools.package-data]: {missing}"
