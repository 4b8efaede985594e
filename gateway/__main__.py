"""The `clearway` command: serve the gateway, migrate the database, manage submitters."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import errno
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

import structlog
from aiohttp import web
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway import access_keys, db, store
from gateway.app import create_app, make_sealer
from gateway.credentials import CredentialsError
from gateway.crypto import SealError
from gateway.logs import configure_logging
from gateway.outbox import usable_folder_name
from gateway.pipeline import (
    load_payers,
    make_delivery,
    run_worker,
    simulator_config,
    step_handlers,
)
from gateway.settings import Settings, SettingsError, load_settings
from gateway.sftp_server import KeyFileError, parse_public_key
from gateway.worker import Worker
from payers import icd10
from payers.profile import ProfileError
from payers.simulator.app import create_simulator_app

log = structlog.get_logger("gateway.cli")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"clearway: settings: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.logging)
    try:
        return int(args.run(settings, args) or 0)
    except (ProfileError, SealError, CredentialsError) as error:
        print(f"clearway: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        # Say which setting to change instead of a traceback from deep in asyncio.
        print(
            f"clearway: {error.strerror or error}. Another program listens there: change "
            "server.port or sftp.port (CLEARWAY_SERVER_PORT, CLEARWAY_SFTP_PORT), or turn the "
            "SFTP drop off with CLEARWAY_SFTP_ENABLED=false.",
            file=sys.stderr,
        )
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clearway", description="Clearway medical claims clearinghouse gateway."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the API (migrating an embedded database)")
    serve.add_argument("--host", help="listen address (default: server.host)")
    serve.add_argument("--port", type=int, help="listen port (default: server.port)")
    serve.set_defaults(run=_serve)

    worker = commands.add_parser("worker", help="run pipeline workers only (scale out with more)")
    worker.set_defaults(run=_worker)

    simulate = commands.add_parser(
        "simulate-payer", help="run the payer simulator alone (settings: [simulator])"
    )
    simulate.add_argument("--host", help="listen address (default: simulator.host)")
    simulate.add_argument("--port", type=int, help="listen port (default: simulator.port)")
    simulate.set_defaults(run=_simulate_payer)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("revision", nargs="?", default="head", help="target (default: head)")
    migrate.set_defaults(run=_migrate)

    submitters = commands.add_parser("submitters", help="manage submitters (tenants)")
    sub = submitters.add_subparsers(required=True, metavar="ACTION")
    create = sub.add_parser("create", help="create a submitter and print its API key once")
    create.add_argument("name")
    create.add_argument(
        "--operator",
        action="store_true",
        help="also see files that belong to no submitter (unmatched responses, dead letters)",
    )
    create.set_defaults(run=_submitters_create)
    listing = sub.add_parser("list", help="list submitters")
    listing.set_defaults(run=_submitters_list)
    add_key = sub.add_parser(
        "add-key", help="let a submitter log in to the SFTP drop (user name: the submitter name)"
    )
    add_key.add_argument("name", help="the submitter's name")
    add_key.add_argument("public_key_file", help="an OpenSSH public key file (e.g. id_ed25519.pub)")
    add_key.set_defaults(run=_submitters_add_key)
    keys = sub.add_parser("keys", help="list a submitter's API keys and SFTP keys")
    keys.add_argument("name", help="the submitter's name")
    keys.set_defaults(run=_submitters_keys)
    new_api_key = sub.add_parser(
        "new-api-key", help="issue another API key (to rotate: issue, switch, revoke the old)"
    )
    new_api_key.add_argument("name", help="the submitter's name")
    new_api_key.set_defaults(run=_submitters_new_api_key)
    revoke_key = sub.add_parser("revoke-key", help="revoke an API key or an SFTP key at once")
    revoke_key.add_argument("name", help="the submitter's name")
    revoke_key.add_argument(
        "key", help="as `keys` lists it: an API key's prefix (or the key) or an SFTP fingerprint"
    )
    revoke_key.set_defaults(run=_submitters_revoke_key)
    return parser


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    server = dataclasses.replace(
        settings.server,
        host=args.host or settings.server.host,
        port=args.port or settings.server.port,
    )
    settings = dataclasses.replace(settings, server=server)
    app = create_app(settings)
    log.info("serving", url=f"http://{server.host}:{server.port}")
    web.run_app(app, host=server.host, port=server.port, access_log=None, print=None)
    return 0


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    payers = load_payers(settings.payers)
    icd10.warm_up()

    async def work() -> None:
        engine = db.create_engine(settings.database)
        delivery = make_delivery(settings, payers)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            handlers = step_handlers(settings, payers, delivery)
            worker = Worker(engine, make_sealer(settings.crypto), handlers, settings.worker)
            await run_worker(worker, payers, stop)
        finally:
            await delivery.close()
            await engine.dispose()

    asyncio.run(work())
    return 0


def _simulate_payer(settings: Settings, args: argparse.Namespace) -> int:
    payers = load_payers(settings.payers)
    host = args.host or settings.simulator.host
    port = args.port or settings.simulator.port
    root = web.Application()
    root.add_subapp("/simulator", create_simulator_app(simulator_config(settings, payers)))
    log.info("simulating_payers", url=f"http://{host}:{port}/simulator", payers=sorted(payers))
    web.run_app(root, host=host, port=port, access_log=None, print=None)
    return 0


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    db.migrate_blocking(settings.database, args.revision)
    print(f"database at revision {args.revision}")
    return 0


def _submitters_create(settings: Settings, args: argparse.Namespace) -> int:
    async def create() -> tuple[store.Submitter, str]:
        engine = db.create_engine(settings.database)
        try:
            if settings.database.auto_migrate:
                await db.migrate(engine)
            async with engine.begin() as conn:
                return await store.create_submitter(conn, args.name, operator=args.operator)
        finally:
            await engine.dispose()

    try:
        submitter, api_key = asyncio.run(create())
    except IntegrityError:
        print(f"clearway: a submitter named {args.name!r} already exists", file=sys.stderr)
        return 1
    role = ", operator" if submitter.operator else ""
    print(f"submitter: {submitter.id} ({submitter.name}{role})")
    print(f"api key:   {api_key}")
    print("Keep the API key now: it is stored only as a hash and cannot be shown again.")
    return 0


def _submitters_list(settings: Settings, args: argparse.Namespace) -> int:
    async def listing() -> list[store.Submitter]:
        engine = db.create_engine(settings.database)
        try:
            async with engine.connect() as conn:
                return await store.list_submitters(conn)
        finally:
            await engine.dispose()

    for submitter in asyncio.run(listing()):
        print(f"{submitter.id}  {submitter.name}{'  (operator)' if submitter.operator else ''}")
    return 0


def _submitters_add_key(settings: Settings, args: argparse.Namespace) -> int:
    try:
        public_key, fingerprint = parse_public_key(Path(args.public_key_file).read_text())
    except OSError as error:
        print(f"clearway: cannot read {args.public_key_file}: {error.strerror}", file=sys.stderr)
        return 1
    except KeyFileError as error:
        print(f"clearway: {args.public_key_file}: {error}", file=sys.stderr)
        return 1
    if not usable_folder_name(args.name):
        print(
            f"clearway: the submitter name {args.name!r} cannot be an SFTP user name "
            "(letters, digits, dot, dash and underscore, starting with a letter or digit)",
            file=sys.stderr,
        )
        return 1

    async def add(conn: AsyncConnection, submitter: store.Submitter) -> str:
        await store.add_sftp_key(conn, submitter.id, public_key=public_key, fingerprint=fingerprint)
        return submitter.id

    try:
        submitter_id = _with_submitter(settings, args.name, add)
    except IntegrityError:
        if _with_submitter(
            settings, args.name, lambda c, s: access_keys.restore_sftp_key(c, s.id, fingerprint)
        ):
            print(f"sftp key:  {fingerprint} for {args.name} restored (it had been revoked)")
            return 0
        print(f"clearway: the key {fingerprint} is already registered", file=sys.stderr)
        return 1
    if submitter_id is None:
        return _no_submitter(args.name)
    print(f"sftp key:  {fingerprint} for {args.name} ({submitter_id})")
    print(f"log in as: sftp -P {settings.sftp.port} {args.name}@{settings.sftp.host}")
    return 0


T = TypeVar("T")


def _with_submitter(
    settings: Settings,
    name: str,
    act: Callable[[AsyncConnection, store.Submitter], Awaitable[T]],
) -> T | None:
    """Run `act` in one transaction for the active submitter called `name` (None if none)."""

    async def run() -> T | None:
        engine = db.create_engine(settings.database)
        try:
            if settings.database.auto_migrate:
                await db.migrate(engine)
            async with engine.begin() as conn:
                submitter = await store.submitter_by_name(conn, name)
                return None if submitter is None else await act(conn, submitter)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _no_submitter(name: str) -> int:
    print(f"clearway: no active submitter named {name!r}", file=sys.stderr)
    return 1


def _submitters_keys(settings: Settings, args: argparse.Namespace) -> int:
    found = _with_submitter(settings, args.name, lambda c, s: access_keys.keys_of(c, s.id))
    if found is None:
        return _no_submitter(args.name)
    for key in found:
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "live"
        print(f"{key.kind:<4}  {key.label:<50}  added {key.created_at:%Y-%m-%d %H:%M}  {state}")
    return 0


def _submitters_new_api_key(settings: Settings, args: argparse.Namespace) -> int:
    api_key = _with_submitter(settings, args.name, lambda c, s: store.add_api_key(c, s.id))
    if api_key is None:
        return _no_submitter(args.name)
    print(f"api key:   {api_key}")
    print("Keep the API key now: it is stored only as a hash and cannot be shown again.")
    return 0


def _submitters_revoke_key(settings: Settings, args: argparse.Namespace) -> int:
    revoked = _with_submitter(
        settings, args.name, lambda c, s: access_keys.revoke(c, s.id, args.key.strip())
    )
    if revoked is None:
        return _no_submitter(args.name)
    if not revoked:
        print(
            f"clearway: {args.name} has no live key {args.key!r} "
            "(`clearway submitters keys` lists them)",
            file=sys.stderr,
        )
        return 1
    for key in revoked:
        print(f"revoked:   {key.kind} key {key.label} of {args.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
