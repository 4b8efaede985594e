"""Per-process delivery state: one HTTP client session, one SSH connection per SFTP payer,
a transport and a breaker per payer, and the credentials the profiles name.

The circuit breaker stops sending to a payer after `breaker_failures` consecutive failures,
waits `breaker_reset_seconds`, then lets one probe through; a success closes it again. Each
process keeps its own breakers: a payer that is down is found out by each worker within a few
sends, which costs less than sharing state through the database.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import structlog

from gateway.delivery.credentials import Credential, authorization, require, tls_context
from gateway.delivery.sftp import SftpMailbox, SftpTarget, check_credential
from gateway.delivery.transports import DirectoryMailbox, HttpMailbox, Transport
from payers.profile import PayerProfile

log = structlog.get_logger("gateway.delivery")


@dataclass
class Breaker:
    failures_to_open: int
    reset_seconds: float
    consecutive_failures: int = 0
    opened_at: float | None = None
    probing: bool = False
    last_error: str | None = None
    last_success_at: float | None = None

    def retry_in(self, now: float) -> float:
        """0 when a send may go ahead now; otherwise seconds until the next probe."""
        if self.opened_at is None:
            return 0.0
        wait = self.opened_at + self.reset_seconds - now
        if wait > 0 or self.probing:
            return max(wait, 1.0)
        self.probing = True  # half-open: exactly one probe
        return 0.0

    def succeeded(self, now: float) -> None:
        self.consecutive_failures = 0
        self.opened_at = None
        self.probing = False
        self.last_success_at = now

    def failed(self, now: float, error: str) -> None:
        self.consecutive_failures += 1
        self.last_error = error
        if self.probing or self.consecutive_failures >= self.failures_to_open:
            self.opened_at = now
        self.probing = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.probing else "open"


@dataclass
class Delivery:
    """Transports and breakers, created on first use inside the running event loop."""

    simulator_url: str
    credentials: Mapping[str, Credential] = field(default_factory=dict)
    simulator_token: str = field(default="", repr=False)  # shown to the payer simulator
    _session: aiohttp.ClientSession | None = None
    _breakers: dict[str, Breaker] = field(default_factory=dict)
    _sftp: dict[str, SftpMailbox] = field(default_factory=dict)
    _tls: dict[str, ssl.SSLContext | None] = field(default_factory=dict)

    def check(self, payers: Iterable[PayerProfile]) -> None:
        """At start-up: every credential a profile names exists and suits its transport, so
        a missing secret is found before the first claim waits on it."""
        for profile in payers:
            delivery = profile.delivery
            credential = require(self.credentials, delivery.credential, payer_id=profile.payer_id)
            if delivery.transport == "sftp" and credential is not None:
                check_credential(credential, payer_id=profile.payer_id)
            elif delivery.transport in ("http", "simulator"):
                self._tls_for(credential)  # load the certificate files now, to fail early
                url = delivery.url or self.simulator_url
                if authorization(credential) and not url.startswith("https:"):
                    log.warning(
                        "credential_without_tls",
                        payer_id=profile.payer_id,
                        advice="the payer's password or token crosses the network in clear; "
                        "use an https url",
                    )

    def transport(self, profile: PayerProfile) -> Transport:
        delivery = profile.delivery
        if delivery.transport == "directory":
            return DirectoryMailbox(Path(delivery.path or f"var/payers/{profile.payer_id}"))
        credential = require(self.credentials, delivery.credential, payer_id=profile.payer_id)
        if delivery.transport == "sftp":
            return self._sftp_mailbox(profile, credential)
        if self._session is None:
            self._session = aiohttp.ClientSession()
        url = delivery.url or f"{self.simulator_url.rstrip('/')}/{profile.payer_id}"
        headers = authorization(credential)
        if delivery.transport == "simulator" and not headers and self.simulator_token:
            headers = {"Authorization": f"Bearer {self.simulator_token}"}
        return HttpMailbox(
            self._session,
            url,
            timeout=float(delivery.timeout_seconds),
            headers=headers,
            tls=self._tls_for(credential) if url.startswith("https:") else None,
        )

    def _tls_for(self, credential: Credential | None) -> ssl.SSLContext | None:
        # Built once per credential: loading certificates on every send would read files
        # (and parse keys) thousands of times a minute under load.
        if credential is None:
            return None
        if credential.id not in self._tls:
            self._tls[credential.id] = tls_context(credential)
        return self._tls[credential.id]

    def _sftp_mailbox(self, profile: PayerProfile, credential: Credential | None) -> SftpMailbox:
        mailbox = self._sftp.get(profile.payer_id)
        if mailbox is None:
            delivery = profile.delivery
            assert delivery.host is not None and credential is not None  # checked at load
            mailbox = SftpMailbox(
                SftpTarget(
                    payer_id=profile.payer_id,
                    host=delivery.host,
                    port=delivery.port,
                    inbound_dir=delivery.inbound_dir,
                    outbound_dir=delivery.outbound_dir,
                    credential=credential,
                    timeout=float(delivery.timeout_seconds),
                )
            )
            self._sftp[profile.payer_id] = mailbox
        return mailbox

    def breaker(self, profile: PayerProfile) -> Breaker:
        if profile.payer_id not in self._breakers:
            delivery = profile.delivery
            self._breakers[profile.payer_id] = Breaker(
                delivery.breaker_failures, float(delivery.breaker_reset_seconds)
            )
        return self._breakers[profile.payer_id]

    def health(self) -> dict[str, dict[str, Any]]:
        now = time.monotonic()
        return {
            payer_id: {
                "circuit": b.state,
                "consecutive_failures": b.consecutive_failures,
                "last_error": b.last_error,
                "seconds_since_success": None
                if b.last_success_at is None
                else round(now - b.last_success_at, 1),
            }
            for payer_id, b in self._breakers.items()
        }

    async def close(self) -> None:
        for mailbox in self._sftp.values():
            await mailbox.close()
        self._sftp.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
