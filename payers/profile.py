"""Payer profiles: what one payer accepts and requires, loaded from payers/profiles/*.toml.

A profile is data: identity and delivery facts at the top level, rule parameters in [rules].
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import types
import typing
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from edi.claim import ClaimType

PayerKind = Literal["medicare", "medicaid", "commercial", "workers_comp"]
Usage = Literal["test", "production"]


class ProfileError(ValueError):
    """A payer profile file that cannot be used; names the file and, where known, the key."""

    def __init__(self, file: str, key: str | None, problem: str) -> None:
        self.file = file
        self.key = key
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True, slots=True)
class PayerRules:
    """The [rules] table: parameters of the payer-specific (SNIP 7) edits. Empty means no edit."""

    claim_filing_indicators: tuple[str, ...] = ()  # SBR09 values accepted; empty = any
    member_id_pattern: re.Pattern[str] | None = None  # whole member id must match
    max_lines: int | None = None  # below the 837's own 50 / 999
    prior_authorization_codes: frozenset[str] = frozenset()  # need REF*G1
    referring_provider_codes: frozenset[str] = frozenset()  # need a referring provider
    places_of_service: frozenset[str] = frozenset()  # allowed; empty = any
    rendering_taxonomy_required: bool = False  # professional: rendering (or billing) PRV03
    not_covered_codes: frozenset[str] = frozenset()  # procedures the plan never pays
    group_number_required: bool = False  # SBR03
    accident_causes_required: tuple[str, ...] = ()  # CLM11: at least one of these
    duplicate_lookback_days: int = 90  # window for the likely-duplicate warning


@dataclass(frozen=True, slots=True)
class Delivery:
    """The [delivery] table: how this payer's 837s are sent and its answers collected."""

    # simulator: the bundled payer simulator (in-process under `clearway serve`, or at url);
    # http: Clearway's mailbox protocol at url; directory: drop/pick-up folders under path;
    # sftp: upload to inbound_dir and collect from outbound_dir on host.
    transport: Literal["simulator", "http", "directory", "sftp"] = "simulator"
    url: str | None = None  # base URL for http (and a separately run simulator)
    path: str | None = None  # directory transport: base folder with to-payer/ and from-payer/
    credential: str | None = None  # id of the secrets in the credentials file (never secrets)
    host: str | None = None  # sftp: the payer's SFTP server
    port: int = 22  # sftp: its port
    inbound_dir: str = "inbound"  # sftp: where 837s are uploaded (relative to the login folder)
    outbound_dir: str = "outbound"  # sftp: where the payer leaves 999/277CA/835 files
    batch_max_claims: int = 500  # claims per 837 interchange
    batch_max_wait_seconds: int = 0  # hold scrubbed claims up to this long to fill a batch
    max_attempts: int = 8  # sends of one interchange before it is dead-lettered
    timeout_seconds: int = 30  # one request (HTTP, or SFTP connect/operation), start to finish
    poll_interval_seconds: int = 15  # how often the payer's mailbox is checked
    validate_outbound: Literal["all", "sample", "none"] = "all"  # pyx12 before sending
    validate_sample_percent: int = 10  # with "sample": share of interchanges checked
    breaker_failures: int = 5  # consecutive failed sends that open the circuit
    breaker_reset_seconds: int = 60  # open circuit: wait this long, then probe with one send


@dataclass(frozen=True, slots=True)
class Simulation:
    """The [simulator] table: how the bundled payer simulator answers this payer's claims.

    Shares are whole percents of claims, chosen deterministically from the patient control
    number, applied in the order below; the rest is paid.
    """

    reject_percent: int = 5  # 277CA A7 (rejected for invalid information)
    reject_status_codes: tuple[str, ...] = ("21",)  # STC01-2 codes with the rejection
    pend_percent: int = 5  # 277CA P1 pended, then adjudicated later
    deny_percent: int = 10  # 835 CLP02 4, charge fully adjusted
    deny_carc: str = "50"  # reason for denials: not medically necessary
    deny_rarc: str = "N130"  # remark code with denials
    patient_share_percent: int = 40  # paid with deductible and coinsurance (group PR)
    reverse_percent: int = 5  # paid, then reversed (CLP02 22) and paid again
    partial_percent: int = 5  # the first line paid, the others denied (deny_carc)
    allowed_percent: int = 80  # allowed amount as a share of the charge; CO-45 the rest
    coinsurance_percent: int = 20  # PR-2 on the allowed amount
    deductible: str = "25.00"  # PR-1 taken first from the allowed amount
    ack_delay_seconds: int = 1  # 999 at once; 277CA after this
    remit_delay_seconds: int = 2  # 835 after this (after the 277CA)
    # 277CA 2200B TRN02: the sender's batch reference (its BHT03), or a trace of the payer's
    # own, as some payers send
    echo_batch_reference: bool = True


@dataclass(frozen=True, slots=True)
class PayerProfile:
    """One payer: who it is, which claims it takes, and the parameters of its rules."""

    payer_id: str  # 2010BB NM109; also the profile id and the file name
    name: str
    kind: PayerKind
    usage: Usage  # ISA15 T or P for this payer's files
    claim_types: tuple[ClaimType, ...]
    timely_filing_days: int  # days from the last date of service
    aliases: tuple[str, ...] = ()  # other payer ids billers use for this payer
    rules: PayerRules = field(default_factory=PayerRules)
    delivery: Delivery = field(default_factory=Delivery)
    simulator: Simulation = field(default_factory=Simulation)

    @property
    def profile_id(self) -> str:
        return self.payer_id


# Tables a profile file may hold, by name. A later section (e.g. [transport]) is one entry here
# plus one field of that name on PayerProfile; anything not listed is rejected at load.
_SECTIONS: dict[str, type] = {"rules": PayerRules, "delivery": Delivery, "simulator": Simulation}


class PayerDirectory(Mapping[str, PayerProfile]):
    """Profiles by payer id, also answering to each profile's aliases."""

    def __init__(self, profiles: Iterable[PayerProfile]) -> None:
        self._by_id: dict[str, PayerProfile] = {}
        self._by_any: dict[str, PayerProfile] = {}
        for profile in profiles:
            self._by_id[profile.payer_id] = profile
            for key in (profile.payer_id, *profile.aliases):
                if key in self._by_any:
                    raise ProfileError(profile.payer_id, None, f"payer id {key!r} used twice")
                self._by_any[key] = profile

    def __getitem__(self, payer_id: str) -> PayerProfile:
        return self._by_any[payer_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)


def bundled_profiles_dir() -> Path:
    """The folder of profiles shipped with the package."""
    return Path(str(resources.files("payers") / "profiles"))


def load_profiles(directory: Path | None = None) -> PayerDirectory:
    """Every *.toml profile in a folder (the bundled ones by default), keyed by payer id."""
    folder = directory if directory is not None else bundled_profiles_dir()
    return PayerDirectory(load_profile(path) for path in sorted(folder.glob("*.toml")))


def load_profile(path: Path) -> PayerProfile:
    """One profile file; ProfileError names the file and key of anything unknown or malformed."""
    name = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(name, None, f"cannot read: {exc}") from exc
    profile = parse_profile(data, source=name)
    if path.stem != profile.payer_id:
        raise ProfileError(name, "payer_id", f"must equal the file name {path.stem!r}")
    return profile


def parse_profile(data: Mapping[str, Any], *, source: str) -> PayerProfile:
    """A profile from already-parsed TOML; source names the file in errors."""
    kwargs = _parse_table(PayerProfile, data, source=source, prefix="", sections=_SECTIONS)
    for section, cls in _SECTIONS.items():
        if section in data:
            table = data[section]
            if not isinstance(table, dict):
                raise ProfileError(source, section, "must be a table")
            kwargs[section] = cls(**_parse_table(cls, table, source=source, prefix=f"{section}."))
    profile = PayerProfile(**kwargs)
    if profile.timely_filing_days <= 0:
        raise ProfileError(source, "timely_filing_days", "must be a positive number of days")
    if profile.rules.max_lines is not None and profile.rules.max_lines < 1:
        raise ProfileError(source, "rules.max_lines", "must be at least 1")
    if not profile.claim_types:
        raise ProfileError(source, "claim_types", "must name at least one claim type")
    delivery = profile.delivery
    if delivery.transport == "http" and not delivery.url:
        raise ProfileError(source, "delivery.url", 'required with transport "http"')
    if delivery.transport == "sftp":
        for key in ("host", "credential"):
            if getattr(delivery, key) is None:
                raise ProfileError(source, f"delivery.{key}", 'required with transport "sftp"')
        if not 0 < delivery.port < 65536:
            raise ProfileError(source, "delivery.port", "must be a port number (1-65535)")
    return profile


def _parse_table(
    cls: type,
    table: Mapping[str, Any],
    *,
    source: str,
    prefix: str,
    sections: Mapping[str, type] | None = None,
) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    sections = sections or {}
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key in sections:
            continue
        if key not in known:
            raise ProfileError(source, prefix + key, "unknown key")
        out[key] = _convert(hints[key], value, source=source, key=prefix + key)
    for name, f in known.items():
        if name in sections:
            continue
        no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if no_default and name not in out:
            raise ProfileError(source, prefix + name, "required key missing")
    return out


def _convert(tp: Any, value: Any, *, source: str, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [arg for arg in args if arg is not type(None)]
        return _convert(inner, value, source=source, key=key)
    if origin is Literal:
        if value not in args:
            allowed = ", ".join(repr(a) for a in args)
            raise ProfileError(source, key, f"must be one of {allowed}, not {value!r}")
        return value
    if origin in (tuple, frozenset):
        if not isinstance(value, list):
            raise ProfileError(source, key, "must be a list")
        items = [_convert(args[0], item, source=source, key=key) for item in value]
        return tuple(items) if origin is tuple else frozenset(items)
    if origin is re.Pattern:
        if not isinstance(value, str):
            raise ProfileError(source, key, "must be a string (a regular expression)")
        try:
            return re.compile(value)
        except re.error as exc:
            raise ProfileError(source, key, f"not a valid regular expression: {exc}") from exc
    # bool is a subclass of int: check it first so `true` is not taken for 1.
    if tp is bool or tp is int:
        if type(value) is not tp:
            raise ProfileError(source, key, f"must be {tp.__name__}, not {value!r}")
        if tp is int and value < 0:
            raise ProfileError(source, key, f"must not be negative, not {value}")
        return value
    if tp is str:
        if not isinstance(value, str) or not value:
            raise ProfileError(source, key, "must be a non-empty string")
        return value
    raise ProfileError(source, key, f"unsupported type {tp!r}")  # a programming error


def describe_profiles(profiles: PayerDirectory) -> list[dict[str, Any]]:
    """Every profile's description, ordered by payer id."""
    return [describe_profile(profiles[payer_id]) for payer_id in sorted(profiles)]


def describe_profile(profile: PayerProfile) -> dict[str, Any]:
    """What a payer requires, as JSON-able data (for listing payers to submitters)."""
    rules = profile.rules
    pattern = rules.member_id_pattern.pattern if rules.member_id_pattern else None
    return {
        "payer_id": profile.payer_id,
        "aliases": list(profile.aliases),
        "name": profile.name,
        "kind": profile.kind,
        "usage": profile.usage,
        "claim_types": list(profile.claim_types),
        "timely_filing_days": profile.timely_filing_days,
        "requirements": {
            "claim_filing_indicators": list(rules.claim_filing_indicators),
            "member_id_pattern": pattern,
            "max_lines": rules.max_lines,
            "prior_authorization_codes": sorted(rules.prior_authorization_codes),
            "referring_provider_codes": sorted(rules.referring_provider_codes),
            "places_of_service": sorted(rules.places_of_service),
            "rendering_taxonomy_required": rules.rendering_taxonomy_required,
            "not_covered_codes": sorted(rules.not_covered_codes),
            "group_number_required": rules.group_number_required,
            "accident_causes_required": list(rules.accident_causes_required),
            "duplicate_lookback_days": rules.duplicate_lookback_days,
        },
    }
