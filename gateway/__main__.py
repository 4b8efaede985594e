"""The `clearway` command: serve the gateway, migrate the database, manage submitters."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import errno
import os
import re
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import structlog
from aiohttp import web
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.app import create_app, make_sealer
from gateway.crypto import SealError, new_key_entry
from gateway.delivery.credentials import CredentialsError
from gateway.intake.sftp_server import KeyFileError, parse_public_key
from gateway.logs import configure_logging
from gateway.pipeline.steps import (
    load_payers,
    make_delivery,
    run_worker,
    simulator_config,
    simulator_token,
    step_handlers,
)
from gateway.pipeline.worker import Worker
from gateway.settings import Settings, SettingsError, load_settings
from gateway.storage import claims as store
from gateway.storage import db
from gateway.storage import submitters as access_keys
from gateway.storage.folders import sftp_user_name, sftp_user_names
from payers import icd10
from payers.profile import PayerDirectory, ProfileError
from payers.simulator.adjudication import outcome_for
from payers.simulator.app import create_simulator_app

log = structlog.get_logger("gateway.cli")

T = TypeVar("T")


class DatabaseUnusable(Exception):
    """The database a `submitters` command is pointed at cannot be used; names it (password
    masked) and says how to point at the right one."""


def main(argv: Sequence[str] | None = None) -> int:
    # Everything this process creates on disk (the SQLite database and its journals, uploads,
    # answer files, keys) is its owner's alone: files 600, folders 700.
    os.umask(0o077)
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
    except (ProfileError, SealError, CredentialsError, DatabaseUnusable) as error:
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
    simulate.add_argument(
        "--predict",
        nargs="+",
        metavar="PCN",
        help="print how each payer will answer claims with these patient control numbers "
        "(CLM01), and exit (partial: the first line paid, the others denied, so a one-line "
        "claim is paid)",
    )
    simulate.set_defaults(run=_simulate_payer)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("revision", nargs="?", default="head", help="target (default: head)")
    migrate.set_defaults(run=_migrate)

    keys = commands.add_parser("keys", help="data-encryption keys (crypto.keys)")
    key_actions = keys.add_subparsers(required=True, metavar="ACTION")
    new_key = key_actions.add_parser(
        "new", help="print a new data key, as an entry for CLEARWAY_CRYPTO_KEYS"
    )
    new_key.set_defaults(run=_keys_new)

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
        "add-key", help="let a submitter log in to the SFTP drop (user name: as `list` shows it)"
    )
    add_key.add_argument("name", help="the submitter's name")
    add_key.add_argument("public_key_file", help="an OpenSSH public key file (e.g. id_ed25519.pub)")
    add_key.set_defaults(run=_submitters_add_key)
    submitter_keys = sub.add_parser("keys", help="list a submitter's API keys and SFTP keys")
    submitter_keys.add_argument("name", help="the submitter's name")
    submitter_keys.set_defaults(run=_submitters_keys)
    new_api_key = sub.add_parser(
        "new-api-key", help="issue another API key (to rotate: issue, switch, revoke the old)"
    )
    new_api_key.add_argument("name", help="the submitter's name")
    new_api_key.set_defaults(run=_submitters_new_api_key)
    senders = sub.add_parser(
        "sender-ids",
        help="list, add or remove the interchange sender ids (ISA06/GS02) a submitter's X12 "
        "files may come from (none set: the first file's ISA06 is taken)",
    )
    senders.add_argument("name", help="the submitter's name")
    senders.add_argument("--add", action="append", default=[], metavar="ID")
    senders.add_argument("--remove", action="append", default=[], metavar="ID")
    senders.set_defaults(run=_submitters_sender_ids)
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
    url = f"http://{server.host}:{server.port}"
    # run_app "prints" once the site listens, after start-up (migrations) is done.
    web.run_app(
        app,
        host=server.host,
        port=server.port,
        access_log=None,
        print=lambda _: log.info("serving", url=url),
    )
    return 0


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    payers = load_payers(settings.payers)
    sealer = make_sealer(settings.crypto, settings.database)
    icd10.warm_up()

    async def work() -> None:
        engine = db.create_engine(settings.database)
        delivery = make_delivery(settings, payers, sealer)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            handlers = step_handlers(settings, payers, delivery)
            worker = Worker(engine, sealer, handlers, settings.worker)
            await run_worker(worker, payers, stop)
        finally:
            await delivery.close()
            await engine.dispose()

    asyncio.run(work())
    return 0


def _simulate_payer(settings: Settings, args: argparse.Namespace) -> int:
    payers = load_payers(settings.payers)
    if args.predict:
        _print_predictions(payers, args.predict)
        return 0
    host = args.host or settings.simulator.host
    port = args.port or settings.simulator.port
    root = web.Application()
    token = simulator_token(settings, make_sealer(settings.crypto, settings.database))
    config = simulator_config(settings, payers, token)
    root.add_subapp("/simulator", create_simulator_app(config))
    log.info("simulating_payers", url=f"http://{host}:{port}/simulator", payers=sorted(payers))
    web.run_app(root, host=host, port=port, access_log=None, print=None)
    return 0


def _print_predictions(payers: PayerDirectory, pcns: list[str]) -> None:
    """The simulator's outcome for each patient control number at each payer: a table."""
    ids = sorted(payers)
    width = max(len("CLM01"), *map(len, pcns))
    column = max(len("patient_share"), *map(len, ids))  # the longest outcome name
    print((f"{'CLM01':<{width}}  " + "  ".join(f"{p:<{column}}" for p in ids)).rstrip())
    for pcn in pcns:
        outcomes = (outcome_for(pcn, payers[payer_id].simulator) for payer_id in ids)
        print((f"{pcn:<{width}}  " + "  ".join(f"{o:<{column}}" for o in outcomes)).rstrip())


def _keys_new(settings: Settings, args: argparse.Namespace) -> int:
    print(new_key_entry())
    return 0


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    db.migrate_blocking(settings.database, args.revision)
    print(f"database at revision {args.revision}")
    return 0


# Where a `submitters` command that finds no database sends the user: a relative SQLite path
# (the default, ./var) is taken from the current directory, so the usual mistake is running
# the command somewhere else than the server.
_POINT_AT = (
    "Run the command in the directory `clearway serve` runs in (a relative SQLite path is "
    "taken from the current directory), or set CLEARWAY_DATABASE_URL (setting database.url) "
    "to the server's database."
)


def _sqlite_file(settings: Settings) -> Path | None:
    """The SQLite database file, or None for PostgreSQL or an in-memory database."""
    url = make_url(settings.database.url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def _where(settings: Settings) -> str:
    """The database URL with any password masked, and the full path of a SQLite file."""
    try:
        shown = make_url(settings.database.url).render_as_string(hide_password=True)
        path = _sqlite_file(settings)
    except ArgumentError:
        return "database.url (not a database URL)"
    return f"{shown} ({path.resolve()})" if path else shown


async def _require_tables(engine: AsyncEngine, settings: Settings, advice: str) -> None:
    async with engine.connect() as conn:
        found = await conn.run_sync(lambda sync: inspect(sync).has_table("submitters"))
    if not found:
        raise DatabaseUnusable(f"the database {_where(settings)} has no Clearway tables. {advice}")


async def _existing_engine(settings: Settings) -> AsyncEngine:
    """An engine on a database that already holds Clearway's tables (migrated to head when
    database.auto_migrate is on); DatabaseUnusable, having created nothing, when there is none.
    Commands that only read or change existing submitters must not make an empty database in
    the wrong directory and then fail on its missing tables."""
    path = _sqlite_file(settings)
    if path is not None and not path.is_file():
        raise DatabaseUnusable(f"no database at {_where(settings)}. {_POINT_AT}")
    engine = db.create_engine(settings.database)
    try:
        await _require_tables(engine, settings, _POINT_AT)
        if settings.database.auto_migrate:
            await db.migrate(engine)
    except BaseException:
        await engine.dispose()
        raise
    return engine


def _on_database(settings: Settings, work: Coroutine[Any, Any, T]) -> T:
    """asyncio.run(work), a database that cannot be reached or read being reported by name
    instead of as a traceback. IntegrityError is left to the caller: it means a duplicate."""
    try:
        return asyncio.run(work)
    except IntegrityError:
        raise
    except (OSError, TimeoutError, DBAPIError, ArgumentError, ValueError) as error:
        cause = getattr(error, "orig", None) or error
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        raise DatabaseUnusable(f"cannot use the database {_where(settings)}: {reason}") from None


def _submitters_create(settings: Settings, args: argparse.Namespace) -> int:
    # Surrounding blanks would make a name that looks like another, or like nothing.
    name = args.name.strip()
    if not name:
        print("clearway: a submitter name cannot be blank", file=sys.stderr)
        return 1
    user = sftp_user_name(name)

    async def create() -> tuple[store.Submitter, str] | str:
        """The new submitter and its API key, or the name of the submitter whose SFTP user name
        the new one would have too."""
        # Unlike the other commands this one may start a database: it is the first step on a
        # new machine, before `clearway serve` has run. It says which database it wrote to.
        engine = db.create_engine(settings.database)
        try:
            if settings.database.auto_migrate:
                await db.migrate(engine)
            await _require_tables(engine, settings, "Run `clearway migrate` first.")
            async with engine.begin() as conn:
                for other in await store.list_submitters(conn):
                    # The same name is refused by the database, with its own message.
                    if user and other.name != name and sftp_user_name(other.name) == user:
                        return other.name
                return await store.create_submitter(conn, name, operator=args.operator)
        finally:
            await engine.dispose()

    try:
        created = _on_database(settings, create())
    except IntegrityError:
        print(
            f"clearway: a submitter named {name!r} already exists in {_where(settings)}",
            file=sys.stderr,
        )
        return 1
    if isinstance(created, str):
        print(
            f"clearway: {name!r} would log in to SFTP as {user!r}, the user name of the "
            f"submitter {created!r}; choose a name that differs in its letters or digits",
            file=sys.stderr,
        )
        return 1
    submitter, api_key = created
    role = ", operator" if submitter.operator else ""
    print(f"submitter: {submitter.id} ({submitter.name}{role})")
    print(f"sftp user: {user or 'none (the name has no letter or digit to make one of)'}")
    print(f"database:  {_where(settings)}")
    print(f"api key:   {api_key}")
    print("Keep the API key now: it is stored only as a hash and cannot be shown again.")
    return 0


def _submitters_list(settings: Settings, args: argparse.Namespace) -> int:
    async def listing() -> list[store.Submitter]:
        engine = await _existing_engine(settings)
        try:
            async with engine.connect() as conn:
                return await store.list_submitters(conn)
        finally:
            await engine.dispose()

    found = _on_database(settings, listing())
    users = sftp_user_names((s.id, s.name) for s in found)
    for submitter in found:
        role = "  (operator)" if submitter.operator else ""
        user = users.get(submitter.id, "none")
        print(f"{submitter.id}  {submitter.name}{role}  sftp user: {user}")
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

    async def add(conn: AsyncConnection, submitter: store.Submitter) -> tuple[str, str | None]:
        """(the submitter's id, its SFTP user name); the key is added only if it has one."""
        everyone = await store.list_submitters(conn)
        user = sftp_user_names((s.id, s.name) for s in everyone).get(submitter.id)
        if user is not None:
            await store.add_sftp_key(
                conn, submitter.id, public_key=public_key, fingerprint=fingerprint
            )
        return submitter.id, user

    try:
        added = _with_submitter(settings, args.name, add)
    except IntegrityError:
        if _with_submitter(
            settings, args.name, lambda c, s: access_keys.restore_sftp_key(c, s.id, fingerprint)
        ):
            print(f"sftp key:  {fingerprint} for {args.name} restored (it had been revoked)")
            return 0
        print(f"clearway: the key {fingerprint} is already registered", file=sys.stderr)
        return 1
    if added is None:
        return _no_submitter(args.name)
    submitter_id, user = added
    if user is None:
        return _no_sftp_user(args.name)
    print(f"sftp key:  {fingerprint} for {args.name} ({submitter_id})")
    print(f"log in as: sftp -P {settings.sftp.port} {user}@{settings.sftp.host}")
    return 0


def _no_sftp_user(name: str) -> int:
    made = sftp_user_name(name)
    why = (
        f"its SFTP user name {made!r} is also another submitter's"
        if made
        else "it has no letter or digit to make an SFTP user name of"
    )
    print(
        f"clearway: {name!r} cannot have SFTP keys: {why}. A submitter name made of letters, "
        "digits, '.', '-' and '_' (starting with a letter or digit) is its own user name; any "
        "other is lower-cased with each run of other characters turned into '-'.",
        file=sys.stderr,
    )
    return 1


def _with_submitter(
    settings: Settings,
    name: str,
    act: Callable[[AsyncConnection, store.Submitter], Awaitable[T]],
) -> T | None:
    """Run `act` in one transaction for the active submitter called `name` (None if none)."""

    async def run() -> T | None:
        engine = await _existing_engine(settings)
        try:
            async with engine.begin() as conn:
                submitter = await store.submitter_by_name(conn, name)
                return None if submitter is None else await act(conn, submitter)
        finally:
            await engine.dispose()

    return _on_database(settings, run())


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


def _submitters_sender_ids(settings: Settings, args: argparse.Namespace) -> int:
    for sender_id in args.add:
        if not _SENDER_ID.fullmatch(sender_id):
            print(
                f"clearway: {sender_id!r} cannot be an interchange sender id (ISA06): 1 to 15 "
                "letters, digits, spaces or . - _ , not starting with a space",
                file=sys.stderr,
            )
            return 1

    async def change(conn: AsyncConnection, submitter: store.Submitter) -> list[str] | str:
        """The submitter's ids after the change, or an id another submitter has."""
        owners = await store.owners_of_sender_ids(conn, args.add)
        for sender_id in args.add:
            if owners.get(sender_id, submitter.id) != submitter.id:
                return sender_id
            if sender_id not in owners:
                await store.add_sender_id(conn, submitter.id, sender_id)
        for sender_id in args.remove:
            await store.remove_sender_id(conn, submitter.id, sender_id)
        return await store.sender_ids_of(conn, submitter.id)

    result = _with_submitter(settings, args.name, change)
    if result is None:
        return _no_submitter(args.name)
    if isinstance(result, str):
        print(f"clearway: {result!r} is another submitter's sender id", file=sys.stderr)
        return 1
    for sender_id in result:
        print(f"sender id: {sender_id}")
    if not result:
        print("sender ids: none yet (the ISA06 of the first X12 file will be taken)")
    return 0


_SENDER_ID = re.compile(r"[A-Za-z0-9._-][A-Za-z0-9 ._-]{0,14}")


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
