"""Sync for one shop: the client, the apps' sync port, provisioning and the nightly hour.

The server address lives in ``lovemart.toml`` (``[sync] server``, which a technician may edit) with a
copy in the ledger's ``meta server_url``; the device token lives in ``<home>/device-token`` with mode
0600 and never in ``lovemart.toml``, which gets copied around and pasted into chats.

``[sync]`` also takes ``hour`` (the in-app nightly sync, default 2), ``attempts``, ``backoff`` (seconds
before the first retry; doubles each time), ``timeout`` and ``allow_plain_http`` (``lovemart.settings``).
Everything here takes the shop's checked ``Settings`` and its ``Ledger`` (``lovemart.bootstrap``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.errors import LedgerError
from ledger.messages import CodedError, Message
from ledger.ports import SyncStatus
from lovemart import settings as settings_mod
from lovemart.settings import Settings
from lovemart.wiring import read_secret, write_secret

if TYPE_CHECKING:
    import httpx

    from lovemart.bootstrap import Ledger
    from sync.client import Hook, ProgressFn, SyncClient, SyncSummary

TOKEN_FILE = "device-token"
BUNDLE_KEY_FILE = "bundle-key"  # signs USB-stick bundles; sent once at enrolment (issue 11)
Sleep = Callable[[float], None]


class SetupRefused(CodedError):
    """A refusal of ``lovemart provision`` itself: a code (its message key) and parameters (exit status 1)."""


# ----- the device token and the server address ---------------------------------------------------------


def token_path(home: Path) -> Path:
    return home / TOKEN_FILE


def read_device_token(home: Path) -> str | None:
    return read_secret(token_path(home))


def write_device_token(home: Path, token: str) -> None:
    write_secret(token_path(home), token)


def read_bundle_key(home: Path) -> str | None:
    """The key the township sent at enrolment to sign USB-stick bundles; None for a PC enrolled before
    keys were sent (it derives its key from the device token)."""
    return read_secret(home / BUNDLE_KEY_FILE)


def server_url(settings: Settings, ledger: Ledger) -> str | None:
    """``[sync] server`` from lovemart.toml, else the address the ledger was provisioned from."""
    if settings.sync.server:
        return settings.sync.server
    if not ledger.exists:
        return None
    with ledger().read() as unit:
        return unit.meta("server_url") or None


def plain_http_warning(settings: Settings, url: str | None) -> Message | None:
    """Words for the operator when ``url`` is plain HTTP to another machine that the settings allow."""
    from sync.http import check_transport

    if not url or not check_transport(url, settings.sync.allow_plain_http):
        return None
    return Message("cli.sync.plain_http", url=url)


def is_provisioned(settings: Settings, ledger: Ledger) -> bool:
    return read_device_token(settings.home) is not None and server_url(settings, ledger) is not None


def _ledger_identity(ledger: Ledger) -> tuple[str, str] | None:
    if not ledger.exists:
        return None
    with ledger().read() as unit:
        shop_id, device_id = unit.meta("shop_id"), unit.meta("device_id")
    return (shop_id, device_id) if shop_id and device_id else None


# ----- the client ---------------------------------------------------------------------------------------


def build_client(
    settings: Settings,
    ledger: Ledger,
    *,
    http: httpx.Client | None = None,
    progress: ProgressFn | None = None,
    hook: Hook | None = None,
    sleep: Sleep | None = None,
) -> SyncClient:
    """The sync client of the shop; refuses with ``not_provisioned`` when this PC was never enrolled."""
    from sync.client import SyncClient
    from sync.errors import SyncError

    token = read_device_token(settings.home)
    url = server_url(settings, ledger) if token is not None else None
    if token is None or url is None:
        raise SyncError("not_provisioned")
    options = settings.sync
    return SyncClient(
        ledger(create=True),
        url,
        token,
        http=http,
        progress=progress,
        hook=hook,
        sleep=sleep or time.sleep,
        max_attempts=options.attempts,
        backoff=options.backoff,
        timeout=options.timeout,
        allow_plain_http=options.allow_plain_http,
    )


def run_sync(client: SyncClient, settings: Settings, ledger: Ledger) -> SyncSummary:
    """One sync; a shop whose provisioning stopped before its ledger was set up is finished first."""
    if _ledger_identity(ledger) is None:
        if not settings.shop.id or not settings.shop.device:
            from sync.errors import SyncError

            raise SyncError("not_provisioned")
        return client.bootstrap(settings.shop.id, settings.shop.device)
    return client.sync()


# ----- provisioning --------------------------------------------------------------------------------------


def provision(
    settings: Settings,
    ledger: Ledger,
    server: str,
    enrol_token: str,
    *,
    http: httpx.Client | None = None,
    progress: ProgressFn | None = None,
    sleep: Sleep | None = None,
) -> tuple[str, str, SyncSummary]:
    """Enrol this PC and build its ledger from the central record: (shop id, device id, the first sync).

    Order matters because the enrolment token works once: the device token and the settings are saved
    as soon as the server gives them, before the ledger is built, so if the pull fails half-way a
    plain ``lovemart sync`` finishes the job instead of needing a new token.
    """
    from sync.client import enrol

    identity = _ledger_identity(ledger)
    if identity is not None:
        shop_id, device_id = identity
        raise SetupRefused("already_provisioned", home=str(settings.home), shop_id=shop_id, device_id=device_id)
    url = server.strip().rstrip("/")
    enrolment = enrol(
        url, enrol_token.strip(), http=http, sleep=sleep or time.sleep, allow_plain_http=settings.sync.allow_plain_http
    )
    write_device_token(settings.home, enrolment.device_token)
    if enrolment.bundle_key:
        write_secret(settings.home / BUNDLE_KEY_FILE, enrolment.bundle_key)
    else:  # a replacement PC in a folder that held an older one's key must not sign with it
        (settings.home / BUNDLE_KEY_FILE).unlink(missing_ok=True)
    settings = settings_mod.update(
        settings, {"shop": {"id": enrolment.shop_id, "device": enrolment.device_id}, "sync": {"server": url}}
    )
    client = build_client(settings, ledger, http=http, progress=progress, sleep=sleep)
    try:
        summary = client.bootstrap(enrolment.shop_id, enrolment.device_id)
    finally:
        client.close()
    return enrolment.shop_id, enrolment.device_id, summary


# ----- the apps' port and the nightly timer ---------------------------------------------------------------


class HomeSyncPort:
    """The ``SyncPort`` the POS and kiosk get: a client made on first use, or "not connected".

    A standalone shop (never provisioned) is shown as such, without an error; a provisioned one gets
    one long-lived client, so that "one sync at a time" holds between the button and the nightly timer.
    """

    def __init__(
        self, settings: Settings, ledger: Ledger, *, http: httpx.Client | None = None, sleep: Sleep | None = None
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.http = http
        self.sleep = sleep
        self._client: SyncClient | None = None

    def _get(self) -> SyncClient | None:
        if self._client is None and is_provisioned(self.settings, self.ledger):
            self._client = build_client(self.settings, self.ledger, http=self.http, sleep=self.sleep)
        return self._client

    def status(self) -> SyncStatus:
        client = self._get()
        if client is None:
            return SyncStatus(configured=False)
        return client.status()

    def sync_now(self) -> SyncStatus:
        client = self._get()
        if client is None:
            return SyncStatus(configured=False)
        if _ledger_identity(self.ledger) is None:  # provisioning stopped half-way: finish it
            from sync.errors import SyncError

            try:
                run_sync(client, self.settings, self.ledger)
            except (LedgerError, SyncError) as error:
                return SyncStatus(True, error=error)
            return client.status()
        return client.sync_now()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def nightly_schedule(settings: Settings, ledger: Ledger) -> Callable[[datetime], datetime] | None:
    """When the POS's next nightly sync is due after a given time (``[sync] hour``), or None when the shop has
    no township server."""
    if not is_provisioned(settings, ledger):
        return None
    hour = settings.sync.hour
    return lambda now: next_sync_at(now, hour)


def next_sync_at(now: datetime, hour: int) -> datetime:
    """The next nightly sync after ``now``: today at ``hour``:00 if that is still ahead, else tomorrow.

    Computed on the wall clock of ``now`` (its time zone kept), so the sync stays at the same hour
    across daylight-saving changes instead of drifting by an hour.
    """
    if not 0 <= hour <= 23:
        raise ValueError(f"hour must be 0-23, not {hour}")
    today = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if today > now:
        return today
    tomorrow = (now + timedelta(days=1)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return tomorrow
