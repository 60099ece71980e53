"""The kiosk assembled from a shop's parts (``lovemart.bootstrap``): ``build_kiosk`` and ``run_kiosk``.
Its screenshots and its benchmark (``lovemart_tools.kiosk_driver``) drive the app ``build_kiosk`` makes
offscreen, from fake parts.

``lovemart kiosk`` runs beside the POS on the same ledger file, read-only: it opens the store without the
POS lock. Kivy reads its environment and Config when first imported, so everything Kivy is imported inside
the functions, after the environment is set (lock-down Config before the window exists).

``[kiosk]`` in lovemart.toml (all optional; read and checked by ``lovemart.settings.KioskSection``)::

    timeout_s = 20              # household screen back to idle after this long without a touch
    error_timeout_s = 8
    speak_automatically = false # read name and points aloud after each scan (when there is sound)
    lockdown = true             # full screen, no exit but the maintenance gesture + manager PIN
    village = "V01"             # the ranking's village (default: the shop's own; required with server)
    ranking_size = 10
    server = "https://..."      # a kiosk away from the shop: figures from the central record, no shop ledger
    server_timeout_s = 3
    camera_preview = true       # show what the camera sees on the idle screen, to aim the passbook by

The kiosk token of a kiosk away from the shop (``lovemart central kiosk-token``) is kept in the file
``kiosk-token`` beside ``lovemart.toml``, readable by the kiosk's user only: ``lovemart kiosk
--set-kiosk-token`` writes it. It lets anyone who has it read every household's points, so it is not kept
in ``lovemart.toml``, which people copy and show around (a ``kiosk_token`` there still works).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from lovemart.bootstrap import ShopParts
from lovemart.settings import KioskSection
from lovemart.wiring import make_owner_only, read_secret

if TYPE_CHECKING:
    from kiosk.app import KioskApp, KioskSettings
    from kiosk.sources import KioskSource
    from lovemart.kiosk_remote import RemoteKioskSource

log = logging.getLogger(__name__)

KIOSK_TOKEN_FILE = "kiosk-token"
PIN_STATE_FILE = "kiosk-pin-tries.json"  # wrong manager PINs in a row and the end of the lock-out


# ----- a kiosk away from the shop -----------------------------------------------------------------------


def kiosk_token(parts: ShopParts) -> str | None:
    """The township's kiosk token: the file ``kiosk-token``, else ``[kiosk] kiosk_token`` of older kiosks."""
    return read_secret(parts.home / KIOSK_TOKEN_FILE) or parts.settings.kiosk.kiosk_token


def remote_source(parts: ShopParts) -> RemoteKioskSource:
    """The central record's kiosk endpoints as the kiosk's source; refuses settings that cannot work.

    The kiosk token reads every household's points: never sent unencrypted across a network. Plain
    ``http://`` is for the loopback only, unless ``[kiosk] allow_plain_http = true`` says the village accepts
    it (then logged as a warning), as ``[sync]`` does for the shop's device token.
    """
    from lovemart.kiosk_remote import KioskServerFault, RemoteKioskSource
    from sync.errors import SyncError
    from sync.http import check_transport

    section = parts.settings.kiosk
    token = kiosk_token(parts)
    wanted = (("kiosk_token (lovemart kiosk --set-kiosk-token)", token), ("village", section.village))
    missing = [key for key, value in wanted if not value]
    if missing or not section.server or not token or not section.village:
        raise KioskServerFault("kiosk_settings", missing=", ".join(missing) or "server")
    try:
        check_transport(section.server, section.allow_plain_http)
    except SyncError as refused:
        raise KioskServerFault("kiosk_plain_http", url=section.server) from refused
    return RemoteKioskSource(
        section.server,
        token,
        section.village,
        timeout=section.server_timeout_s,
        allow_plain_http=section.allow_plain_http,
    )


# ----- the app ------------------------------------------------------------------------------------------


def app_settings(section: KioskSection, locked: bool) -> KioskSettings:
    """The app's ``KioskSettings`` from ``[kiosk]``; a kiosk reading across the network looks scans up on a
    worker so that a slow link never freezes the screen."""
    from kiosk.app import KioskSettings

    return KioskSettings(
        timeout_s=section.timeout_s,
        error_timeout_s=section.error_timeout_s,
        speak_automatically=section.speak_automatically,
        lockdown=locked,
        fullscreen=locked,
        hide_cursor=locked,
        lookup_in_background=section.server is not None,
    )


def build_kiosk(
    parts: ShopParts,
    *,
    settings: KioskSettings | None = None,
    on_exit: Callable[[], None] | None = None,
    freeze_gc: bool = False,
) -> KioskApp:
    """A ``KioskApp`` on the shop's ledger (read-only, no POS lock), not yet started. Imports Kivy.

    With ``[kiosk] server`` set, the figures come from the central record instead and no ledger is needed;
    a ledger in the shop's folder (if any) still supplies the managers who may close the kiosk. ``settings``
    default to ``[kiosk]``'s (locked down as it says).
    """
    from kiosk.access import LedgerAccess, LockoutAccess, ManagerAccess, PinAccess
    from kiosk.app import KioskApp
    from kiosk.presenter import KioskPresenter
    from kiosk.sources import LocalSource

    section = parts.settings.kiosk
    source: KioskSource
    access: ManagerAccess | None
    if section.server is not None:
        source = remote_source(parts)
        # Who may close it: the shop's managers when a ledger is here, else the PIN in [kiosk] manager_pin.
        if parts.exists:
            access = LedgerAccess(parts.store())
        elif section.manager_pin:
            access = PinAccess(section.manager_pin)
        else:
            access = None
    else:
        store = parts.store()
        source = LocalSource(store, village_id=section.village)
        access = LedgerAccess(store)
    if access is not None:  # wrong PINs are limited, and the count survives switching the kiosk off and on
        access = LockoutAccess(access, parts.home / PIN_STATE_FILE)
    if section.manager_pin:  # its hash can be guessed offline: the settings file is this user's only
        make_owner_only(parts.settings.config_path)
    presenter = KioskPresenter(
        source, lang=parts.settings.language, ranking_size=section.ranking_size, pictures_of=parts.pictures.paths
    )
    scanners = parts.scanners()
    if scanners.wanted_camera and not scanners.devices:  # the wedge scanner keeps working; the idle screen says so
        for problem in scanners.problems:
            log.error("kiosk: no camera scanning: %s", problem.message("en"))
        presenter.camera_status("absent")
    return KioskApp(
        presenter,
        settings=settings if settings is not None else app_settings(section, section.lockdown),
        scanners=scanners.devices,
        wedge_factory=parts.wedge,
        speaker=parts.speaker(),
        access=access,
        on_exit=on_exit,
        freeze_gc=freeze_gc,
        preview=scanners.preview() if section.camera_preview else None,
    )


def run_kiosk(parts: ShopParts, *, windowed: bool = False) -> int:
    """``lovemart kiosk``: run until a manager closes it. ``windowed`` (development) turns the lock-down off.

    Refuses (``LedgerError``) when the folder has no ledger, unless ``[kiosk] server`` makes it a remote
    kiosk (then ``KioskServerFault`` for incomplete settings). Returns the exit status.
    """
    section = parts.settings.kiosk
    if section.server is not None:
        remote_source(parts).close()  # refuse incomplete settings before any window opens
    else:
        parts.store()  # refuse before any window opens: "not_configured" reads better on a terminal
    locked = section.lockdown and not windowed
    os.environ.setdefault("KIVY_NO_ARGS", "1")  # our command line is not Kivy's
    if locked:
        from ui.lockdown import configure_before_window

        configure_before_window()
    app = build_kiosk(parts, settings=app_settings(section, locked), freeze_gc=True)
    try:
        app.run()
    finally:
        close = getattr(app.speaker, "close", None)
        if callable(close):
            close()
        parts.close()
    return 0
