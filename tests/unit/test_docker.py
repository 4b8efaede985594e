"""docker/compose.yaml and docker/Dockerfile name only settings and commands that exist.

No container engine is needed: the compose file is read as YAML, its variables are checked by
the real settings loader and its commands by the real `clearway` argument parser.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.__main__ import _parser
from gateway.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
# Values compose would interpolate from the operator's .env or shell.
OPERATOR = {"POSTGRES_PASSWORD": "example", "CLEARWAY_CRYPTO_KEYS": "k1:" + "A" * 43 + "="}


def interpolate(value: str) -> str:
    """Compose's ${NAME}, ${NAME:?message} and ${NAME:-default} with the operator's values."""

    def one(match: re.Match[str]) -> str:
        name, op, rest = match.group(1), match.group(2) or "", match.group(3) or ""
        if name in OPERATOR:
            return OPERATOR[name]
        assert op != ":?", f"${{{name}}} is required but the test supplies no value"
        return rest if op == ":-" else ""

    return re.sub(r"\$\{(\w+)(?:(:[?-])([^}]*))?\}", one, value)


def compose() -> dict[str, Any]:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def clearway_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose()["services"].items() if "command" in s}


def test_compose_has_the_documented_services() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "migrate", "api", "worker", "simulator"}
    assert re.fullmatch(r"postgres:\d+\.\d+\S*", services["postgres"]["image"])
    assert services["postgres"]["volumes"]
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
    # A fixed host port or container name would stop `--scale worker=N`.
    assert "ports" not in services["worker"]
    assert "container_name" not in services["worker"]


@pytest.mark.parametrize("name", sorted(clearway_services()))
def test_every_variable_is_a_real_setting(name: str) -> None:
    service = clearway_services()[name]
    environ = {k: interpolate(str(v)) for k, v in service["environment"].items()}
    assert all(k.startswith("CLEARWAY_") for k in environ), sorted(environ)
    settings = load_settings(environ)  # raises on any unknown CLEARWAY_* variable
    assert settings.database.url.startswith("postgresql://")
    assert settings.crypto.keys
    assert settings.worker.in_process is False
    assert settings.simulator.in_process is False
    assert settings.simulator.url == "http://simulator:8090/simulator"


@pytest.mark.parametrize("name", sorted(clearway_services()))
def test_every_command_is_a_real_subcommand(name: str) -> None:
    command = clearway_services()[name]["command"]
    assert command[0] == "clearway"
    args = _parser().parse_args(command[1:])  # exits (SystemExit) on an unknown command
    assert callable(args.run)


def test_listeners_face_the_container_network() -> None:
    services = clearway_services()
    api = load_settings({k: interpolate(str(v)) for k, v in services["api"]["environment"].items()})
    assert api.server.host == "0.0.0.0"
    simulator = services["simulator"]["environment"]
    assert load_settings({k: interpolate(str(v)) for k, v in simulator.items()}).simulator.host == (
        "0.0.0.0"
    )


def test_dockerfile_is_pinned_non_root_and_serves_by_default() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    bases = re.findall(r"(?m)^FROM (\S+)", text)
    assert bases
    assert all(re.fullmatch(r"python:3\.11\.\d+-slim\S*", b) for b in bases), bases
    assert re.search(r"(?m)^USER (?!root)\w+", text)
    assert re.search(r'(?m)^CMD \["clearway", "serve"\]', text)
    copied = set(re.findall(r"(?m)^COPY (?!--)(\w+) ", text))
    for folder in copied:
        assert (ROOT / folder).exists(), folder


WORKDIR = Path("/srv/clearway")  # the image's WORKDIR: relative settings paths start here


def settings_of(name: str) -> Any:
    service = clearway_services()[name]
    return load_settings({k: interpolate(str(v)) for k, v in service["environment"].items()})


def mounted(name: str, path: str) -> str | None:
    """The named volume that holds `path` (relative to the working directory) in `name`."""
    target = WORKDIR / path
    for volume in clearway_services()[name].get("volumes", []):
        source, _, mount = volume.partition(":")
        if target == Path(mount) or Path(mount) in target.parents:
            return source
    return None


def test_what_two_services_exchange_is_on_one_shared_volume() -> None:
    """Workers write answer files into the SFTP folders the API's SFTP server serves."""
    api, worker = settings_of("api"), settings_of("worker")
    assert api.sftp.root == worker.sftp.root
    shared = mounted("api", api.sftp.root)
    assert shared is not None and shared == mounted("worker", worker.sftp.root)
    assert shared in compose()["volumes"]


def test_what_must_outlive_a_container_is_on_a_volume() -> None:
    api = settings_of("api")
    # The SFTP host key: a new one on every re-create would break clients' known_hosts.
    assert mounted("api", api.sftp.host_key_file)
    assert mounted("api", api.x12.upload_dir)  # large uploads resume after a re-create
    assert mounted("simulator", settings_of("simulator").simulator.data_dir)


def test_what_clients_reach_is_listened_for_and_published() -> None:
    api = settings_of("api")
    published = {p.rsplit(":", 1)[-1] for p in clearway_services()["api"]["ports"]}
    assert str(api.server.port) in published
    assert api.sftp.enabled and api.sftp.host == "0.0.0.0" and str(api.sftp.port) in published


def test_the_image_is_built_once() -> None:
    built = [name for name, s in compose()["services"].items() if "build" in s]
    assert built == ["migrate"]
    for name, service in clearway_services().items():
        assert service["image"] == clearway_services()["migrate"]["image"], name
        if name != "migrate":
            assert service["pull_policy"] == "never", name


def test_the_simulator_health_check_names_no_payer_and_needs_no_token() -> None:
    check = " ".join(compose()["services"]["simulator"]["healthcheck"]["test"])
    assert "/simulator/healthz" in check
    assert not re.search(r"SIM[A-Z]{2,3}\d\d", check)


def test_operators_secrets_stay_out_of_git() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "docker/.env"], cwd=ROOT, capture_output=True
    )
    assert ignored.returncode == 0, "docker/.env is not in .gitignore"
