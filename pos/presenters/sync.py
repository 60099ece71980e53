"""Sync status in plain words: when sync last worked, what waits to go up, and why it failed.

The sync client (``SyncPort``) comes from ``lovemart``; until a shop is registered with the township's
central record there is none, and the POS says "未连接乡镇服务器" rather than pretending to sync.
``sync_now`` blocks on the network: screens run it off the UI thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.errors import DeviceFault, LedgerError
from ledger.messages import N_, Spoken
from ledger.ports import SyncPort, SyncStatus


@dataclass(frozen=True)
class SyncView:
    """What the sync screen and the header show: message keys and figures for the screen to say, and the
    failure itself (a refusal, said in the reader's language)."""

    configured: bool
    headline: str  # message key
    last_success: str | None  # "2026-11-22 18:03"
    waiting: int
    running: bool
    failure: Spoken | None

    def error(self, lang: str) -> str | None:
        return self.failure.message(lang) if self.failure is not None else None

    @property
    def can_sync(self) -> bool:
        return self.configured and not self.running

    @property
    def why_not(self) -> str:
        """Why 立即同步 cannot be pressed (a message key; "" when it can): a greyed button says why."""
        if not self.configured:
            return N_("pos.sync_why_standalone")
        if self.running:
            return N_("pos.sync_why_running")
        return ""


def _when(iso: str | None) -> str | None:
    return iso[:16].replace("T", " ") if iso else None


def view_of(status: SyncStatus | None) -> SyncView:
    if status is None or not status.configured:
        return SyncView(False, N_("pos.sync_not_connected"), None, status.waiting if status else 0, False, None)
    if status.running:
        headline = N_("pos.sync_running")
    elif status.error:
        headline = N_("pos.sync_failed")
    elif status.last_success is None:
        headline = N_("pos.sync_never")
    elif status.waiting:
        headline = N_("pos.sync_waiting")
    else:
        headline = N_("pos.sync_ok")
    return SyncView(True, headline, _when(status.last_success), status.waiting, status.running, status.error)


class SyncPresenter:
    def __init__(self, port: SyncPort | None) -> None:
        self.port = port

    def view(self) -> SyncView:
        """The current status; a client that cannot even say is shown as a failure, not a crash."""
        if self.port is None:
            return view_of(None)
        try:
            return view_of(self.port.status())
        except (LedgerError, DeviceFault) as error:
            return SyncView(True, N_("pos.sync_failed"), None, 0, False, error)

    def sync_now(self) -> SyncView:
        """Run one sync (blocking: off the UI thread). A failure comes back as a view with the error in words."""
        if self.port is None:
            return view_of(None)
        try:
            return view_of(self.port.sync_now())
        except (LedgerError, DeviceFault) as error:
            return SyncView(True, N_("pos.sync_failed"), None, 0, False, error)
