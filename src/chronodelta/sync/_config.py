"""Where the sync's connection and credentials come from.

For each setting, the first that has it wins: the command line (``--base-url``,
``--tenant``, ``--client-id``, ``--client-secret``, ``--token-url``), the environment
(``CHRONODELTA_BASE_URL``, ``CHRONODELTA_TENANT``, ``CHRONODELTA_CLIENT_ID``,
``CHRONODELTA_CLIENT_SECRET``, ``CHRONODELTA_TOKEN_URL``), then a TOML config file
(``--config PATH``)::

    base_url = "https://acme.myprotime.eu"
    tenant = "acme"
    client_id = "..."
    client_secret = "..."
    token_url = "https://authentication.myprotime.eu/tenants/acme/connect/token"
    target = "sqlite:///var/mirror.db"     # optional, like --target

``token_url`` is optional: without it the token endpoint is
``{base_url}/tenants/{tenant}/connect/token``, where chronodelta's server has it; the
vendor's is on its authentication host, so a mirror of the vendor's API sets it.

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
from urllib.parse import urlsplit

import chronodelta

from ._exceptions import ConfigError

ENV = {
    "base_url": "CHRONODELTA_BASE_URL",
    "tenant": "CHRONODELTA_TENANT",
    "client_id": "CHRONODELTA_CLIENT_ID",
    "client_secret": "CHRONODELTA_CLIENT_SECRET",
    "token_url": "CHRONODELTA_TOKEN_URL",
}
OPTION = {
    "base_url": "--base-url",
    "tenant": "--tenant",
    "client_id": "--client-id",
    "client_secret": "--client-secret",
    "token_url": "--token-url",
}
OPTIONAL = frozenset({"token_url"})
USER_AGENT = f"chronodelta-sync/{chronodelta.__version__} (chronodelta)"


@dataclass(frozen=True)
class SyncConnection:
    """The API to mirror from and the credentials to use."""

    base_url: str
    tenant: str
    client_id: str
    client_secret: str = field(repr=False)
    token_url: str | None = None
    user_agent: str = USER_AGENT

    def __post_init__(self) -> None:
        for name in ("base_url", "token_url"):
            url = getattr(self, name)
            if url is not None and not _is_http_url(url):
                raise ConfigError(
                    f"{OPTION[name]} must be an absolute http(s) URL, like "
                    f"https://acme.myprotime.eu: {url!r}"
                )
        if "/" in self.tenant or not self.tenant.strip():
            raise ConfigError(f"--tenant must be a tenant name, like acme: {self.tenant!r}")

    @property
    def source(self) -> str:
        """What a mirror is a copy of: the API origin and the tenant."""
        return f"{self.base_url.rstrip('/')}#{self.tenant}"


def _is_http_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


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
    token_url: str | None = None,
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
        "token_url": token_url,
    }
    values: dict[str, str] = {}
    missing = []
    for key, value in given.items():
        chosen = value or environ.get(ENV[key]) or config.get(key)
        if not chosen and key in OPTIONAL:
            continue
        if not chosen:
            missing.append(f"{OPTION[key]} (or {ENV[key]}, or {key} in the config file)")
        else:
            values[key] = chosen
    if missing:
        raise ConfigError("missing " + "; ".join(missing))
    return SyncConnection(**values)
