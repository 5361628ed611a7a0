"""Where the sync's connection and credentials come from.

For each setting, the first that has it wins: the command line (``--base-url``,
``--tenant``, ``--client-id``, ``--client-secret``), the environment
(``CHRONODELTA_BASE_URL``, ``CHRONODELTA_TENANT``, ``CHRONODELTA_CLIENT_ID``,
``CHRONODELTA_CLIENT_SECRET``), then a TOML config file (``--config PATH``)::

    base_url = "http://127.0.0.1:8000"
    tenant = "acme"
    client_id = "..."
    client_secret = "..."
    target = "sqlite:///var/mirror.db"     # optional, like --target

The secret is never echoed: ``SyncConnection`` leaves it out of ``repr``, and no
message names its value.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import chronodelta

ENV = {
    "base_url": "CHRONODELTA_BASE_URL",
    "tenant": "CHRONODELTA_TENANT",
    "client_id": "CHRONODELTA_CLIENT_ID",
    "client_secret": "CHRONODELTA_CLIENT_SECRET",
}
OPTION = {
    "base_url": "--base-url",
    "tenant": "--tenant",
    "client_id": "--client-id",
    "client_secret": "--client-secret",
}
USER_AGENT = f"chronodelta-sync/{chronodelta.__version__} (chronodelta)"


class ConfigError(ValueError):
    """A setting is missing or the config file is unusable (never shows a secret)."""


@dataclass(frozen=True)
class SyncConnection:
    """The API to mirror from and the credentials to use."""

    base_url: str
    tenant: str
    client_id: str
    client_secret: str = field(repr=False)
    user_agent: str = USER_AGENT

    @property
    def source(self) -> str:
        """What a mirror is a copy of: the API origin and the tenant."""
        return f"{self.base_url.rstrip('/')}#{self.tenant}"


def read_config_file(path: str | Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        with open(path, "rb") as file:
            loaded = tomllib.load(file)
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the config file {path} is not valid TOML: {exc}") from None
    unknown = set(loaded) - {*ENV, "target"}
    if unknown:
        raise ConfigError(f"unknown key(s) in {path}: {', '.join(sorted(unknown))}")
    for key, value in loaded.items():
        if not isinstance(value, str):
            raise ConfigError(f"{key} in {path} must be a string")
    return loaded


def resolve_connection(
    *,
    base_url: str | None = None,
    tenant: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    config: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> SyncConnection:
    """The connection from options, else the environment, else the config file."""
    environ = os.environ if environ is None else environ
    config = config or {}
    given = {
        "base_url": base_url,
        "tenant": tenant,
        "client_id": client_id,
        "client_secret": client_secret,
    }
    values: dict[str, str] = {}
    missing = []
    for key, value in given.items():
        chosen = value or environ.get(ENV[key]) or config.get(key)
        if not chosen:
            missing.append(f"{OPTION[key]} (or {ENV[key]}, or {key} in the config file)")
        else:
            values[key] = chosen
    if missing:
        raise ConfigError("missing " + "; ".join(missing))
    return SyncConnection(**values)
