"""The README walkthrough as a user runs it: `clearway` processes, real HTTP, on both databases."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES, TEST_KEYS

CLEARWAY = str(Path(sys.executable).with_name("clearway"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLEARWAY, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def http(method: str, url: str, body: bytes | None = None, **headers: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def workdir(tmp_path: Path, database_url: str) -> Iterator[tuple[Path, dict[str, str]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARWAY_")}
    if not database_url.startswith("sqlite"):
        env["CLEARWAY_DATABASE_URL"] = database_url
        env["CLEARWAY_CRYPTO_KEYS"] = TEST_KEYS  # a server database needs keys given
    env["CLEARWAY_SFTP_PORT"] = str(free_port())  # `serve` also runs the SFTP drop
    yield tmp_path, env


def test_serve_submit_and_read_back(workdir: tuple[Path, dict[str, str]]) -> None:
    cwd, env = workdir
    created = run(["submitters", "create", "Sunrise Billing"], cwd, env)
    assert created.returncode == 0, created.stderr
    api_key = next(
        line.split()[-1] for line in created.stdout.splitlines() if line.startswith("api key")
    )
    assert run(["submitters", "create", "Sunrise Billing"], cwd, env).returncode == 1
    assert "Sunrise Billing" in run(["submitters", "list"], cwd, env).stdout

    port = free_port()
    server = subprocess.Popen(
        [CLEARWAY, "serve", "--port", str(port)],
        cwd=cwd,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if http("GET", f"{base}/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.2)
        body = (EXAMPLES / "professional-office-visit.json").read_bytes()
        status, claim = http(
            "POST",
            f"{base}/v1/claims",
            body,
            Authorization=f"Bearer {api_key}",
            **{"Content-Type": "application/json"},
        )
        assert status == 202 and claim["status"] == "received"
        status, detail = http(
            "GET", f"{base}/v1/claims/{claim['id']}", Authorization=f"Bearer {api_key}"
        )
        assert status == 200 and detail["claim"]["patient_control_number"] == "PCN-2026-0004"
        status, events = http(
            "GET", f"{base}/v1/claims/{claim['id']}/events", Authorization=f"Bearer {api_key}"
        )
        # The worker inside serve may already have moved it on; its history starts here.
        assert next(e["kind"] for e in events["items"]) == "received"
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=20)
    if "sqlite" in env.get("CLEARWAY_DATABASE_URL", "sqlite"):
        assert (cwd / "var" / "clearway.db").exists()
        assert "development_key_generated" in created.stderr + stderr
    assert "TESTPATIENT" not in stderr  # the example's patient name never reaches the log
    assert "Traceback" not in stderr


def test_migrate_command(workdir: tuple[Path, dict[str, str]]) -> None:
    cwd, env = workdir
    result = run(["migrate"], cwd, env)
    assert result.returncode == 0, result.stderr
    assert "head" in result.stdout


def test_bad_settings_are_reported_not_raised(tmp_path: Path) -> None:
    env = {**os.environ, "CLEARWAY_SERVER_PROT": "1"}
    result = run(["serve"], tmp_path, env)
    assert result.returncode == 2
    assert "unknown environment variable CLEARWAY_SERVER_PROT" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_credentials_file_is_reported_not_raised(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials.toml"
    credentials.write_text('[simcom01]\nusername = "u"\npasword = "hunter2-secret"\n')
    env = {**os.environ, "CLEARWAY_CREDENTIALS_FILE": str(credentials)}
    result = run(["worker"], tmp_path, env)
    assert result.returncode == 2
    assert f"{credentials}: simcom01.pasword: unknown key" in result.stderr
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr


def ssh_key(folder: Path) -> Path:
    """A new key pair in `folder`; returns the private key's path (the public one adds .pub)."""
    key = folder / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key


def test_submitters_add_key(workdir: tuple[Path, dict[str, str]]) -> None:
    cwd, env = workdir
    key = ssh_key(cwd)
    assert run(["submitters", "create", "sunrise-billing"], cwd, env).returncode == 0
    added = run(["submitters", "add-key", "sunrise-billing", f"{key}.pub"], cwd, env)
    assert added.returncode == 0, added.stderr
    assert "SHA256:" in added.stdout and "sunrise-billing@127.0.0.1" in added.stdout
    again = run(["submitters", "add-key", "sunrise-billing", f"{key}.pub"], cwd, env)
    assert again.returncode == 1 and "already registered" in again.stderr
    unknown = run(["submitters", "add-key", "nobody", f"{key}.pub"], cwd, env)
    assert unknown.returncode == 1 and "no active submitter named 'nobody'" in unknown.stderr
    private = run(["submitters", "add-key", "sunrise-billing", str(key)], cwd, env)
    assert private.returncode == 1 and "private key" in private.stderr
    (cwd / "junk.pub").write_text("not a key")
    junk = run(["submitters", "add-key", "sunrise-billing", str(cwd / "junk.pub")], cwd, env)
    assert junk.returncode == 1 and "not a public key" in junk.stderr


def api_key_of(output: str) -> str:
    return next(line.split()[-1] for line in output.splitlines() if line.startswith("api key"))


def test_submitters_keys_rotate_and_revoke(workdir: tuple[Path, dict[str, str]]) -> None:
    cwd, env = workdir
    created = run(["submitters", "create", "sunrise-billing"], cwd, env)
    first = api_key_of(created.stdout)
    issued = run(["submitters", "new-api-key", "sunrise-billing"], cwd, env)
    assert issued.returncode == 0, issued.stderr
    second = api_key_of(issued.stdout)
    key = ssh_key(cwd)
    added = run(["submitters", "add-key", "sunrise-billing", f"{key}.pub"], cwd, env)
    fingerprint = next(w for w in added.stdout.split() if w.startswith("SHA256:"))

    listed = run(["submitters", "keys", "sunrise-billing"], cwd, env).stdout.splitlines()
    assert len(listed) == 3 and all(line.endswith("live") for line in listed)
    assert first[:10] in listed[0] and second[:10] in listed[1] and fingerprint in listed[2]
    assert first not in "\n".join(listed)  # only the prefix is ever shown

    revoked = run(["submitters", "revoke-key", "sunrise-billing", first[:10]], cwd, env)
    assert revoked.returncode == 0 and f"api key {first[:10]}" in revoked.stdout
    revoked = run(["submitters", "revoke-key", "sunrise-billing", fingerprint], cwd, env)
    assert revoked.returncode == 0 and f"sftp key {fingerprint}" in revoked.stdout
    listed = run(["submitters", "keys", "sunrise-billing"], cwd, env).stdout.splitlines()
    assert ["revoked" in line for line in listed] == [True, False, True]

    again = run(["submitters", "revoke-key", "sunrise-billing", first], cwd, env)
    assert again.returncode == 1 and "has no live key" in again.stderr
    nobody = run(["submitters", "keys", "nobody"], cwd, env)
    assert nobody.returncode == 1 and "no active submitter named 'nobody'" in nobody.stderr
    restored = run(["submitters", "add-key", "sunrise-billing", f"{key}.pub"], cwd, env)
    assert restored.returncode == 0 and "restored" in restored.stdout


def test_submitters_create_says_where_and_refuses_blank_names(
    workdir: tuple[Path, dict[str, str]],
) -> None:
    cwd, env = workdir
    created = run(["submitters", "create", "Sunrise Billing"], cwd, env)
    assert created.returncode == 0, created.stderr
    assert "sftp user: sunrise-billing" in created.stdout
    where = next(line for line in created.stdout.splitlines() if line.startswith("database:"))
    if "CLEARWAY_DATABASE_URL" in env:
        assert env["CLEARWAY_DATABASE_URL"].split("@")[-1] in where
    else:
        assert str(cwd / "var" / "clearway.db") in where
    for blank in ("", "   "):
        refused = run(["submitters", "create", blank], cwd, env)
        assert refused.returncode == 1 and "cannot be blank" in refused.stderr
    # Another name with the same SFTP user name would share its folder: refused.
    clash = run(["submitters", "create", "sunrise-billing"], cwd, env)
    assert clash.returncode == 1 and "'sunrise-billing'" in clash.stderr
    listed = run(["submitters", "list"], cwd, env).stdout.splitlines()
    assert len(listed) == 1 and listed[0].endswith("Sunrise Billing  sftp user: sunrise-billing")


def test_a_name_with_spaces_gets_an_sftp_key(workdir: tuple[Path, dict[str, str]]) -> None:
    cwd, env = workdir
    key = ssh_key(cwd)
    assert run(["submitters", "create", "Sunrise Billing"], cwd, env).returncode == 0
    added = run(["submitters", "add-key", "Sunrise Billing", f"{key}.pub"], cwd, env)
    assert added.returncode == 0, added.stderr
    assert "sunrise-billing@127.0.0.1" in added.stdout
    assert run(["submitters", "create", "!!!"], cwd, env).returncode == 0
    nameless = run(["submitters", "add-key", "!!!", f"{key}.pub"], cwd, env)
    assert nameless.returncode == 1 and "no letter or digit" in nameless.stderr
    assert "lower-cased" in nameless.stderr  # says how user names are made


def test_submitters_commands_elsewhere_name_the_database_and_create_nothing(
    tmp_path: Path,
) -> None:
    # Run from a directory without the server's ./var, on the default SQLite database.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARWAY_")}
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    commands = [
        ["list"],
        ["keys", "Sunrise Billing"],
        ["add-key", "Sunrise Billing", f"{key}.pub"],
        ["new-api-key", "Sunrise Billing"],
        ["revoke-key", "Sunrise Billing", "cw_abcdefgh"],
    ]
    for command in commands:
        result = run(["submitters", *command], elsewhere, env)
        assert result.returncode != 0, command
        assert "Traceback" not in result.stderr, command
        assert str(elsewhere / "var" / "clearway.db") in result.stderr, command
        assert "clearway serve" in result.stderr and "CLEARWAY_DATABASE_URL" in result.stderr
        assert not list(elsewhere.iterdir()), command
    # An empty database file (as an earlier version left behind) is not migrated either.
    (elsewhere / "var").mkdir()
    (elsewhere / "var" / "clearway.db").touch()
    result = run(["submitters", "list"], elsewhere, env)
    assert result.returncode != 0 and "has no Clearway tables" in result.stderr
    with contextlib.closing(sqlite3.connect(elsewhere / "var" / "clearway.db")) as file:
        assert file.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)


def test_an_unreachable_database_is_reported_with_its_password_masked(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARWAY_")}
    env["CLEARWAY_DATABASE_URL"] = f"postgresql://clearway:hunter2@127.0.0.1:{free_port()}/x"
    env["CLEARWAY_DATABASE_CONNECT_TIMEOUT_SECONDS"] = "2"
    result = run(["submitters", "list"], tmp_path, env)
    assert result.returncode != 0
    assert "clearway:***@127.0.0.1" in result.stderr and "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr


def test_simulate_payer_predicts_outcomes(workdir: tuple[Path, dict[str, str]]) -> None:
    from payers.profile import load_profiles
    from payers.simulator.adjudication import outcome_for

    cwd, env = workdir
    result = run(["simulate-payer", "--predict", "PCN-2026-0004", "SIMT-0024"], cwd, env)
    assert result.returncode == 0, result.stderr
    header, *rows = [line.split() for line in result.stdout.splitlines()]
    profiles = load_profiles()
    assert header == ["CLM01", *sorted(profiles)]
    for pcn, *outcomes in rows:
        assert outcomes == [outcome_for(pcn, profiles[p].simulator) for p in header[1:]]
    assert [row[0] for row in rows] == ["PCN-2026-0004", "SIMT-0024"]
    assert not (cwd / "var").exists()  # a question, not a server: nothing is made


def test_a_server_database_without_keys_refuses_to_start(tmp_path: Path) -> None:
    """Two processes that each made up a development key could not open each other's rows."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARWAY_")}
    env["CLEARWAY_DATABASE_URL"] = f"postgresql://clearway@127.0.0.1:{free_port()}/x"
    for command in (["serve", "--port", str(free_port())], ["worker"]):
        result = run(command, tmp_path, env)
        assert result.returncode == 2, result.stderr
        assert "CLEARWAY_CRYPTO_KEYS" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "var" / "data-keys").exists()
    new_key = run(["keys", "new"], tmp_path, env)
    assert new_key.returncode == 0 and new_key.stdout.count(":") == 1


def test_commands_print_only_their_own_output(workdir: tuple[Path, dict[str, str]]) -> None:
    """No library warnings before a command's output; the output ends its last line."""
    cwd, env = workdir
    created = run(["submitters", "create", "Dawn Clinic"], cwd, env)
    assert created.returncode == 0, created.stderr
    assert "Warning" not in created.stderr, created.stderr
    assert created.stdout.endswith(
        "Keep the API key now: it is stored only as a hash and cannot be shown again.\n"
    )
    listed = run(["submitters", "list"], cwd, env)
    assert "Warning" not in listed.stderr and listed.stdout.endswith("\n")


def test_submitters_sender_ids(workdir: tuple[Path, dict[str, str]]) -> None:
    cwd, env = workdir
    for name in ("Sender One", "Sender Two"):
        assert run(["submitters", "create", name], cwd, env).returncode == 0
    listed = run(["submitters", "sender-ids", "Sender One"], cwd, env)
    assert listed.returncode == 0 and "none yet" in listed.stdout
    added = run(
        ["submitters", "sender-ids", "Sender One", "--add", "ONE01", "--add", "ONE02"], cwd, env
    )
    assert added.stdout.splitlines() == ["sender id: ONE01", "sender id: ONE02"]
    taken = run(["submitters", "sender-ids", "Sender Two", "--add", "ONE01"], cwd, env)
    assert taken.returncode == 1 and "another submitter's" in taken.stderr
    bad = run(["submitters", "sender-ids", "Sender Two", "--add", "X" * 16], cwd, env)
    assert bad.returncode == 1 and "ISA06" in bad.stderr
    removed = run(["submitters", "sender-ids", "Sender One", "--remove", "ONE01"], cwd, env)
    assert removed.stdout.splitlines() == ["sender id: ONE02"]


def test_everything_under_var_is_its_owners_alone(workdir: tuple[Path, dict[str, str]]) -> None:
    """After a whole run as the README gives it (claims in by JSON and as an 837 file, answered
    by the simulator into the SFTP outbox), every file under var/ is 600 and every folder 700:
    the database, keys, uploads, answer files and the simulator's records hold PHI."""
    import stat

    cwd, env = workdir
    created = run(["submitters", "create", "Sunrise Billing"], cwd, env)
    api_key = api_key_of(created.stdout)
    port = free_port()
    server = subprocess.Popen(
        [CLEARWAY, "serve", "--port", str(port)], cwd=cwd, env=env, stderr=subprocess.PIPE
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError):
                if http("GET", f"{base}/readyz")[0] == 200:
                    break
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.2)
        headers = {"Authorization": f"Bearer {api_key}"}
        status, claim = http(
            "POST",
            f"{base}/v1/claims",
            (EXAMPLES / "professional-office-visit.json").read_bytes(),
            **headers,
            **{"Content-Type": "application/json"},
        )
        assert status == 202
        status, answer = http(
            "POST",
            f"{base}/v1/x12?name=professional-batch.x12",
            (EXAMPLES / "professional-batch.x12").read_bytes(),
            **headers,
            **{"Content-Type": "application/edi-x12"},
        )
        assert status == 200 and answer["claims"]["accepted"] == 3, answer
        outbound = cwd / "var" / "sftp" / "sunrise-billing" / "outbound"
        deadline = time.monotonic() + 120
        while True:  # the 999, our 277CA, and the payers' 277CAs and 835s, forwarded
            kinds = {p.name.split("-")[0] for p in outbound.glob("*.x12")}
            status, view = http("GET", f"{base}/v1/claims/{claim['id']}", **headers)
            if {"999", "277CA", "835"} <= kinds and view["status"] == "paid":
                break
            assert time.monotonic() < deadline, f"answers did not arrive: {kinds}"
            time.sleep(0.5)
    finally:
        server.terminate()
        server.communicate(timeout=20)
    loose = []
    for path in [cwd / "var", *(cwd / "var").rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        wanted = 0o700 if path.is_dir() else 0o600
        if mode != wanted:
            loose.append(f"{path.relative_to(cwd)} {mode:o}")
    assert not loose, loose
    assert any((cwd / "var" / "simulator").rglob("adjudicated.jsonl"))
