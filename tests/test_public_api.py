"""Each part's public surface is exactly its ``__all__`` (httpx's guard, derived).

The expected names are derived, not copied: whatever a package binds at its top that
is not private and not a submodule must be listed in ``__all__``, everything listed
must exist, and what it lists must come from the package's own private modules (so a
stray import does not become API by accident). Ruff (RUF022) keeps ``__all__`` sorted.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types

import pytest

import chronodelta

PARTS = sorted(
    f"chronodelta.{info.name}"
    for info in pkgutil.iter_modules(chronodelta.__path__)
    if info.ispkg and not info.name.startswith("_")
)


def test_every_part_is_checked() -> None:
    assert {"chronodelta.client", "chronodelta.server", "chronodelta.storage"} <= set(PARTS)


@pytest.mark.parametrize("part", PARTS)
def test_all_lists_exactly_the_public_names(part: str) -> None:
    module = importlib.import_module(part)
    exported = getattr(module, "__all__", [])
    bound = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"
    }
    assert set(exported) == bound


@pytest.mark.parametrize("part", PARTS)
def test_exports_are_defined_inside_the_part(part: str) -> None:
    module = importlib.import_module(part)
    foreign = [
        name
        for name in getattr(module, "__all__", [])
        if (inspect.isclass(obj := getattr(module, name)) or inspect.isfunction(obj))
        and not obj.__module__.startswith(part + ".")
    ]
    assert foreign == []
