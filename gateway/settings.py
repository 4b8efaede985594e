"""Settings: config/default.toml, then config/<CLEARWAY_ENV>.toml, then CLEARWAY_* variables.

The only module that reads the environment. Unknown keys, in a file or the environment, are an
error naming the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

ENV_PREFIX = "CLEARWAY_"
# Variables that choose where settings come from rather than being settings themselves.
_SELECTORS = {"CLEARWAY_ENV"}


class SettingsError(Exception):
    """A settings file or variable is unknown or has a value of the wrong type."""


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 5_242_880
    max_batch_claims: int = 1000  # claims in one POST /v1/claims/batch
    # Refused bodies (invalid JSON, unreadable X12) are kept whole up to this many bytes per
    # submitter; past it, the first 64 KB of each with its size and sha256.
    refused_kept_bytes: int = 104_857_600


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite:///var/clearway.db"
    auto_migrate: bool = True
    connect_timeout_seconds: float = 5.0
    pool_size: int = 10


@dataclass(frozen=True)
class CryptoSettings:
    keys: str = field(default="", repr=False)
    key_file: str = "var/data-keys"


@dataclass(frozen=True)
class LoggingSettings:
    level: str = "info"
    format: str = "json"


@dataclass(frozen=True)
class X12Settings:
    sender_id: str = "CLEARWAY"  # ISA06/GS02: this gateway's id with its trading partners
    sender_qualifier: str = "ZZ"  # ISA05
    max_file_bytes: int = 104_857_600  # largest 837 taken by POST /v1/x12
    answer_within_bytes: int = 1_048_576  # POST /v1/x12 up to this size is answered with its 999
    upload_dir: str = "var/x12-uploads"  # larger uploads wait here while processed in background
    claims_per_transaction: int = 500  # claims admitted per commit; the file's counts move each


@dataclass(frozen=True)
class SimulatorSettings:
    in_process: bool = True  # serve the payer simulator at /simulator under `clearway serve`
    # What the gateway shows the simulator (Authorization: Bearer); empty: derived from the
    # data keys, so every process holding them agrees without another secret to share.
    token: str = field(default="", repr=False)
    url: str = ""  # where a separately run simulator is (empty: the in-process one)
    data_dir: str = "var/simulator"  # its mailboxes and what it has received
    host: str = "127.0.0.1"  # `clearway simulate-payer` listens here
    port: int = 8090
    validate: str = "all"  # pyx12 on received 837s: all, sample or none (for load tests)
    validate_sample_percent: int = 10
    chaos_percent: int = 0  # share of requests answered with an outage, a drop or a stall
    stall_seconds: float = 45.0  # how long a stalled answer waits (past the client's timeout)


@dataclass(frozen=True)
class PayersSettings:
    profiles_dir: str = ""  # empty: the simulated payers bundled in payers/profiles


@dataclass(frozen=True)
class CredentialsSettings:
    # TOML file of secrets for reaching payers, one table per credential id named by payer
    # profiles ([delivery] credential). Empty: no payer needs credentials.
    file: str = ""


@dataclass(frozen=True)
class WorkerSettings:
    in_process: bool = True
    concurrency: int = 4
    batch_size: int = 20
    group_size: int = 100  # jobs leased at once when they are a grouped step's (scrub)
    poll_interval_seconds: float = 0.5
    lease_seconds: float = 30.0  # renewed every third of it while the job runs
    max_job_seconds: float = 900.0  # a job running longer is taken to be stuck: not renewed
    max_attempts: int = 8
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 600.0
    keep_done_jobs_hours: int = 168  # finished jobs are deleted after this long


@dataclass(frozen=True)
class SftpSettings:
    enabled: bool = True  # serve the SFTP drop inside `clearway serve`
    host: str = "127.0.0.1"
    port: int = 2222
    root: str = "var/sftp"  # <root>/<submitter name>/inbound|outbound
    host_key_file: str = "var/sftp-host-key"  # generated on first run when missing
    max_file_bytes: int = 104_857_600  # a larger upload is refused while it is written


@dataclass(frozen=True)
class DropSettings:
    root: str = ""  # empty: no drop folders; else <root>/<submitter name>/inbound|outbound
    poll_interval_seconds: float = 2.0


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    crypto: CryptoSettings = CryptoSettings()
    logging: LoggingSettings = LoggingSettings()
    worker: WorkerSettings = WorkerSettings()
    payers: PayersSettings = PayersSettings()
    credentials: CredentialsSettings = CredentialsSettings()
    x12: X12Settings = X12Settings()
    simulator: SimulatorSettings = SimulatorSettings()
    sftp: SftpSettings = SftpSettings()
    drop: DropSettings = DropSettings()


_SECTIONS: dict[str, type] = typing.get_type_hints(Settings)


def load_settings(
    environ: Mapping[str, str] | None = None, *, config_dir: Path | None = None
) -> Settings:
    """Read the layered settings; raises SettingsError naming the offending file or variable."""
    environ = os.environ if environ is None else environ
    config_dir = config_dir or Path(str(resources.files("config")))
    merged: dict[str, dict[str, Any]] = {}
    files = [config_dir / "default.toml"]
    env_name = environ.get("CLEARWAY_ENV")
    if env_name:
        files.append(config_dir / f"{env_name}.toml")
        if not files[-1].is_file():
            raise SettingsError(f"CLEARWAY_ENV={env_name}: no file {files[-1].name} in config/")
    for path in files:
        with path.open("rb") as f:
            _merge(merged, tomllib.load(f), source=path.name)
    _merge(merged, _from_environ(environ), source="environment")
    return _build(merged)


def _merge(into: dict[str, dict[str, Any]], data: dict[str, Any], *, source: str) -> None:
    for section, values in data.items():
        if section not in _SECTIONS or not isinstance(values, dict):
            raise SettingsError(f"{source}: unknown section [{section}]")
        known = {f.name for f in dataclasses.fields(_SECTIONS[section])}
        for key, value in values.items():
            if key not in known:
                raise SettingsError(f"{source}: unknown key {key!r} in [{section}]")
            into.setdefault(section, {})[key] = value


def _from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    names = {
        f"{ENV_PREFIX}{section}_{f.name}".upper(): (section, f.name)
        for section, cls in _SECTIONS.items()
        for f in dataclasses.fields(cls)
    }
    out: dict[str, dict[str, Any]] = {}
    for var, value in environ.items():
        if not var.startswith(ENV_PREFIX) or var in _SELECTORS:
            continue
        if var not in names:
            raise SettingsError(f"unknown environment variable {var}")
        section, key = names[var]
        out.setdefault(section, {})[key] = value
    return out


def _build(merged: dict[str, dict[str, Any]]) -> Settings:
    sections = {}
    for section, cls in _SECTIONS.items():
        hints = typing.get_type_hints(cls)
        values = {
            key: _coerce(hints[key], value, f"{section}.{key}")
            for key, value in merged.get(section, {}).items()
        }
        sections[section] = cls(**values)
    return Settings(**sections)


def _coerce(tp: type, value: Any, name: str) -> Any:
    try:
        if tp is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if tp is int and isinstance(value, bool):
            raise ValueError(value)
        return tp(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name}: {value!r} is not a valid {tp.__name__}") from None
