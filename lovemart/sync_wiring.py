"""Wiring of sync for one shop home: the client, the apps' sync port, provisioning and the nightly hour.

The server address lives in ``lovemart.toml`` (``[sync] server``, which a technician may edit) with a
copy in the ledger's ``meta server_url``; the device token lives in ``<home>/device-token`` with mode
0600 and never in ``lovemart.toml``, which gets copied around and pasted into chats.

``[sync]`` also takes ``hour`` (the in-app nightly sync, default 2), ``attempts`` and ``backoff``
(seconds before the first retry; doubles each time).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.errors import LedgerError
from ledger.messages import CodedError, Message
from ledger.ports import SyncStatus
from lovemart import settings as settings_mod
from lovemart.wiring import ShopHome, read_secret, write_secret

if TYPE_CHECKING:
    import httpx

    from sync.client import Hook, ProgressFn, SyncClient, SyncSummary

TOKEN_FILE = "device-token"
BUNDLE_KEY_FILE = "bundle-key"  # signs USB-stick bundles; sent once at enrolment (issue 11)
DEFAULT_HOUR = 2


class SetupRefused(CodedError):
    """A refusal of ``lovemart provision`` itself: a code (its message key) and parameters (exit status 1)."""


# ----- the device token and the server address ---------------------------------------------------------


def token_path(home: ShopHome) -> Path:
    return home.home / TOKEN_FILE


def read_device_token(home: ShopHome) -> str | None:
    return read_secret(token_path(home))


def write_device_token(home: ShopHome, token: str) -> None:
    write_secret(token_path(home), token)


def read_bundle_key(home: ShopHome) -> str | None:
    """The key the township sent at enrolment to sign USB-stick bundles; None for a PC enrolled before
    keys were sent (it derives its key from the device token)."""
    return read_secret(home.home / BUNDLE_KEY_FILE)


def sync_section(home: ShopHome) -> dict[str, Any]:
    section = home.settings.extra.get("sync")
    return dict(section) if isinstance(section, dict) else {}


def server_url(home: ShopHome) -> str | None:
    """``[sync] server`` from lovemart.toml, else the address the ledger was provisioned from."""
    configured = str(sync_section(home).get("server") or "").strip()
    if configured:
        return configured
    if not home.exists:
        return None
    with home.store().read() as unit:
        return unit.meta("server_url") or None


def allow_plain_http(home: ShopHome) -> bool:
    """``[sync] allow_plain_http = true``: the shop accepts an unencrypted server address (and is warned)."""
    return sync_section(home).get("allow_plain_http") is True


def plain_http_warning(home: ShopHome, url: str | None) -> Message | None:
    """Words for the operator when ``url`` is plain HTTP to another machine that the settings allow."""
    from sync.client import check_transport

    if not url or not check_transport(url, allow_plain_http(home)):
        return None
    return Message("cli.sync.plain_http", url=url)


def sync_hour(home: ShopHome) -> int:
    try:
        hour = int(sync_section(home).get("hour", DEFAULT_HOUR))
    except (TypeError, ValueError):
        return DEFAULT_HOUR
    return hour if 0 <= hour <= 23 else DEFAULT_HOUR


def is_provisioned(home: ShopHome) -> bool:
    return read_device_token(home) is not None and server_url(home) is not None


def _ledger_identity(home: ShopHome) -> tuple[str, str] | None:
    if not home.exists:
        return None
    with home.store().read() as unit:
        shop_id, device_id = unit.meta("shop_id"), unit.meta("device_id")
    return (shop_id, device_id) if shop_id and device_id else None


# ----- the client ---------------------------------------------------------------------------------------


def build_client(
    home: ShopHome,
    *,
    http: httpx.Client | None = None,
    progress: ProgressFn | None = None,
    hook: Hook | None = None,
    sleep: Callable[[float], None] | None = None,
) -> SyncClient:
    """The sync client of ``home``; refuses with ``not_provisioned`` when this PC was never enrolled."""
    from sync.client import SyncClient
    from sync.errors import SyncError

    token = read_device_token(home)
    url = server_url(home) if token is not None else None
    if token is None or url is None:
        raise SyncError("not_provisioned")
    section = sync_section(home)
    options: dict[str, Any] = {}
    if "attempts" in section:
        options["max_attempts"] = int(section["attempts"])
    if "backoff" in section:
        options["backoff"] = float(section["backoff"])
    if "timeout" in section:
        options["timeout"] = float(section["timeout"])
    if sleep is not None:
        options["sleep"] = sleep
    options["allow_plain_http"] = allow_plain_http(home)
    return SyncClient(home.store(create=True), url, token, http=http, progress=progress, hook=hook, **options)


def run_sync(client: SyncClient, home: ShopHome) -> SyncSummary:
    """One sync; a home whose provisioning stopped before its ledger was set up is finished first."""
    if _ledger_identity(home) is None:
        settings = home.settings
        if not settings.shop_id or not settings.device_id:
            from sync.errors import SyncError

            raise SyncError("not_provisioned")
        return client.bootstrap(settings.shop_id, settings.device_id)
    return client.sync()


# ----- provisioning --------------------------------------------------------------------------------------


def provision(
    home: ShopHome,
    server: str,
    enrol_token: str,
    *,
    http: httpx.Client | None = None,
    progress: ProgressFn | None = None,
    sleep: Callable[[float], None] | None = None,
) -> tuple[str, str, SyncSummary]:
    """Enrol this PC and build its ledger from the central record: (shop id, device id, the first sync).

    Order matters because the enrolment token works once: the device token and the settings are saved
    as soon as the server gives them, before the ledger is built, so if the pull fails half-way a
    plain ``lovemart sync`` finishes the job instead of needing a new token.
    """
    from sync.client import enrol

    identity = _ledger_identity(home)
    if identity is not None:
        shop_id, device_id = identity
        raise SetupRefused("already_provisioned", home=str(home.home), shop_id=shop_id, device_id=device_id)
    url = server.strip().rstrip("/")
    enrolment = enrol(
        url, enrol_token.strip(), http=http, sleep=sleep or time.sleep, allow_plain_http=allow_plain_http(home)
    )
    write_device_token(home, enrolment.device_token)
    if enrolment.bundle_key:
        write_secret(home.home / BUNDLE_KEY_FILE, enrolment.bundle_key)
    else:  # a replacement PC in a folder that held an older one's key must not sign with it
        (home.home / BUNDLE_KEY_FILE).unlink(missing_ok=True)
    settings = home.settings
    settings.shop_id, settings.device_id = enrolment.shop_id, enrolment.device_id
    section = sync_section(home)
    section["server"] = url
    settings.extra["sync"] = section
    settings_mod.save(settings)
    client = build_client(home, http=http, progress=progress, sleep=sleep)
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

    def __init__(self, home: ShopHome, **client_options: Any) -> None:
        self.home = home
        self.client_options = client_options
        self._client: SyncClient | None = None

    def _get(self) -> SyncClient | None:
        if self._client is None and is_provisioned(self.home):
            self._client = build_client(self.home, **self.client_options)
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
        if _ledger_identity(self.home) is None:  # provisioning stopped half-way: finish it
            from sync.errors import SyncError

            try:
                run_sync(client, self.home)
            except (LedgerError, SyncError) as error:
                return SyncStatus(True, error=error)
            return client.status()
        return client.sync_now()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def sync_port(home: ShopHome) -> HomeSyncPort:
    return HomeSyncPort(home)


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
