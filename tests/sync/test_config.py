"""Where the sync's connection comes from: options, then the environment, then the
config file; what is refused, with which message; the secret never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from chronodelta.sync import ConfigError, SyncConnection, read_config_file, resolve_connection

FULL_ENV = {
    "CHRONODELTA_BASE_URL": "http://env:8000",
    "CHRONODELTA_TENANT": "envtenant",
    "CHRONODELTA_CLIENT_ID": "env-id",
    "CHRONODELTA_CLIENT_SECRET": "env-secret",
}


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sync.toml"
    path.write_text(text)
    return path


def test_options_win_over_the_environment_which_wins_over_the_file(tmp_path: Path) -> None:
    config = read_config_file(
        write_config(
            tmp_path,
            'base_url = "http://file:8000"\ntenant = "filetenant"\nclient_id = "file-id"\n'
            'client_secret = "file-secret"\n'
            'token_url = "https://authentication.example/tenants/filetenant/connect/token"\n',
        )
    )
    environ = {"CHRONODELTA_TENANT": "envtenant", "CHRONODELTA_CLIENT_ID": "env-id"}
    found = resolve_connection(client_id="option-id", config=config, environ=environ)
    assert (found.base_url, found.tenant, found.client_id, found.client_secret) == (
        "http://file:8000",
        "envtenant",
        "option-id",
        "file-secret",
    )
    assert found.token_url == "https://authentication.example/tenants/filetenant/connect/token"


def test_the_token_url_is_optional_and_read_from_the_environment() -> None:
    assert resolve_connection(environ=FULL_ENV).token_url is None
    environ = {**FULL_ENV, "CHRONODELTA_TOKEN_URL": "https://auth.example/t/connect/token"}
    assert resolve_connection(environ=environ).token_url == "https://auth.example/t/connect/token"


def test_every_missing_setting_is_named_with_where_to_give_it() -> None:
    with pytest.raises(ConfigError) as raised:
        resolve_connection(environ={"CHRONODELTA_TENANT": "acme"})
    message = str(raised.value)
    for option, env in (
        ("--base-url", "CHRONODELTA_BASE_URL"),
        ("--client-id", "CHRONODELTA_CLIENT_ID"),
        ("--client-secret", "CHRONODELTA_CLIENT_SECRET"),
    ):
        assert option in message and env in message
    assert "--tenant" not in message and "--token-url" not in message


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"base_url": "127.0.0.1:8000"}, "--base-url must be an absolute http"),
        ({"base_url": "ftp://host/"}, "--base-url must be an absolute http"),
        ({"tenant": "a/b"}, "--tenant must be a tenant name"),
        ({"token_url": "/tenants/acme/connect/token"}, "--token-url must be an absolute"),
    ],
)
def test_urls_and_tenants_that_cannot_work_are_refused_up_front(
    settings: dict[str, str], complaint: str
) -> None:
    environ = {**FULL_ENV, **{f"CHRONODELTA_{k.upper()}": v for k, v in settings.items()}}
    with pytest.raises(ConfigError, match=complaint):
        resolve_connection(environ=environ)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('base_url = "http://x"\nwebhook = "y"\n', "unknown key"),
        ("tenant = 7\n", "tenant in .* must be a string"),
        ("tenant = \n", "not valid TOML"),
    ],
)
def test_a_config_file_is_checked(tmp_path: Path, text: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        read_config_file(write_config(tmp_path, text))
    with pytest.raises(ConfigError, match="cannot read the config file"):
        read_config_file(tmp_path / "missing.toml")


def test_the_secret_is_never_in_the_repr_or_a_message() -> None:
    connection = SyncConnection("http://h:1", "acme", "id-1", "s3cr3t-value")
    assert "s3cr3t-value" not in repr(connection)
    with pytest.raises(ConfigError) as raised:
        SyncConnection("not a url", "acme", "id-1", "s3cr3t-value")
    assert "s3cr3t-value" not in str(raised.value)
