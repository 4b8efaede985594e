"""Layered settings: defaults, environment file, CLEARWAY_* variables, unknown keys refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import SettingsError, load_settings


def test_defaults_are_the_embedded_setup() -> None:
    settings = load_settings({})
    assert settings.server.host == "127.0.0.1"
    assert settings.server.port == 8080
    assert settings.database.url.startswith("sqlite:///var/")
    assert settings.database.auto_migrate is True


def test_environment_overrides_with_types() -> None:
    settings = load_settings(
        {
            "CLEARWAY_SERVER_PORT": "9090",
            "CLEARWAY_DATABASE_URL": "postgresql://db/clearway",
            "CLEARWAY_DATABASE_AUTO_MIGRATE": "false",
            "CLEARWAY_DATABASE_CONNECT_TIMEOUT_SECONDS": "1.5",
            "UNRELATED": "ignored",
        }
    )
    assert settings.server.port == 9090
    assert settings.database.url == "postgresql://db/clearway"
    assert settings.database.auto_migrate is False
    assert settings.database.connect_timeout_seconds == 1.5


def test_environment_file_layers_on_defaults() -> None:
    settings = load_settings({"CLEARWAY_ENV": "test"})
    assert settings.logging.level == "warning"
    assert settings.server.port == 8080


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"CLEARWAY_SERVER_PROT": "1"}, "unknown environment variable CLEARWAY_SERVER_PROT"),
        ({"CLEARWAY_SERVER_PORT": "eighty"}, "server.port: 'eighty' is not a valid int"),
        ({"CLEARWAY_DATABASE_AUTO_MIGRATE": "maybe"}, "database.auto_migrate"),
        ({"CLEARWAY_ENV": "nowhere"}, "no file nowhere.toml"),
    ],
)
def test_bad_environment_is_named(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environ)


def test_unknown_key_in_a_file_names_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "default.toml").write_text("[server]\nhost = 'x'\nprot = 1\n")
    with pytest.raises(SettingsError, match=r"default.toml: unknown key 'prot' in \[server\]"):
        load_settings({}, config_dir=tmp_path)
    (tmp_path / "default.toml").write_text("[sever]\nhost = 'x'\n")
    with pytest.raises(SettingsError, match=r"unknown section \[sever\]"):
        load_settings({}, config_dir=tmp_path)


def test_only_settings_module_reads_the_environment() -> None:
    root = Path(__file__).resolve().parents[2]
    readers = [
        path.relative_to(root).as_posix()
        for folder in ("gateway", "edi", "payers")
        for path in (root / folder).rglob("*.py")
        if "os.environ" in path.read_text() or "getenv" in path.read_text()
    ]
    assert readers == ["gateway/settings.py"]
