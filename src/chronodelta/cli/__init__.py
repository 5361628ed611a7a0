"""The ``chronodelta`` command: a thin shell over the library (see docs/cli.md)."""

from ._main import app, main

__all__ = ["app", "main"]
