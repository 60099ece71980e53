"""The kiosk's composition root: the shop's ledger, scanners, speaker and settings wired into ``KioskApp``.
Its screenshots and its benchmark (``lovemart_tools.kiosk_driver``) drive the app ``build_kiosk`` makes
offscreen.

``lovemart kiosk`` runs beside the POS on the same ledger file, read-only: it opens the store without the
POS lock. Kivy reads its environment and Config when first imported, so everything Kivy is imported inside
the functions, after the environment is set (lock-down Config before the window exists).

``[kiosk]`` in lovemart.toml (all optional)::

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

``[scanner]``: ``decoder`` ("zxing", default, or "zbar"), ``camera`` (device number or path; default 0;
``-1`` or "none" for no camera: the USB keyboard-wedge scanner still works).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lovemart.wiring import ShopHome, camera_device, camera_preview, make_owner_only, read_secret

if TYPE_CHECKING:
    from hardware.speech import Speaker
    from kiosk.app import KioskApp, KioskSettings, ScannerLike
    from kiosk.sources import KioskSource
    from lovemart.kiosk_remote import RemoteKioskSource

log = logging.getLogger(__name__)

DEFAULT_DECODER = "zxing"


# ----- settings ---------------------------------------------------------------------------------------


def _as_bool(value: object, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _as_float(value: object, default: float) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        log.warning("kiosk: %r is not a number of seconds; using %s", value, default)
        return default
    return number if number > 0 else default


KIOSK_TOKEN_FILE = "kiosk-token"
PIN_STATE_FILE = "kiosk-pin-tries.json"  # wrong manager PINs in a row and the end of the lock-out


@dataclass(frozen=True)
class KioskConfig:
    """``[kiosk]`` and ``[scanner]`` of lovemart.toml, read once and checked (a typo falls back to the default)."""

    timeout_s: float = 20.0
    error_timeout_s: float = 8.0
    speak_automatically: bool = False
    lockdown: bool = True
    village: str | None = None
    ranking_size: int = 10
    decoder: str = DEFAULT_DECODER
    camera: int | str | None = 0
    server: str | None = None  # the central record's URL: a remote kiosk (lovemart.kiosk_remote)
    kiosk_token: str | None = None
    server_timeout_s: float = 3.0
    manager_pin: str | None = None  # "<salt>:<hash>" (lovemart kiosk --set-manager-pin) for a kiosk with no ledger
    camera_preview: bool = True
    allow_plain_http: bool = False  # [kiosk] allow_plain_http = true: an unencrypted server on the network

    @property
    def remote(self) -> bool:
        return self.server is not None

    @classmethod
    def of(cls, home: ShopHome) -> KioskConfig:
        kiosk = dict(home.settings.extra.get("kiosk") or {})
        scanner = dict(home.settings.extra.get("scanner") or {})
        village = kiosk.get("village")
        try:
            ranking_size = max(1, min(50, int(kiosk.get("ranking_size", 10))))
        except (TypeError, ValueError):
            ranking_size = 10
        return cls(
            timeout_s=_as_float(kiosk.get("timeout_s", 20), 20.0),
            error_timeout_s=_as_float(kiosk.get("error_timeout_s", 8), 8.0),
            speak_automatically=_as_bool(kiosk.get("speak_automatically"), False),
            lockdown=_as_bool(kiosk.get("lockdown"), True),
            village=str(village) if village else None,
            ranking_size=ranking_size,
            decoder=str(scanner.get("decoder") or DEFAULT_DECODER),
            camera=camera_device(scanner.get("camera", 0)),
            server=str(kiosk["server"]).strip() or None if kiosk.get("server") else None,
            kiosk_token=read_secret(home.home / KIOSK_TOKEN_FILE)
            or (str(kiosk["kiosk_token"]).strip() or None if kiosk.get("kiosk_token") else None),
            server_timeout_s=_as_float(kiosk.get("server_timeout_s", 3), 3.0),
            manager_pin=str(kiosk["manager_pin"]) if kiosk.get("manager_pin") else None,
            camera_preview=_as_bool(kiosk.get("camera_preview"), True),
            allow_plain_http=kiosk.get("allow_plain_http") is True,
        )

    def _check_transport(self) -> None:
        """The kiosk token reads every household's points: never send it unencrypted across a network.

        Plain ``http://`` is for the loopback only, unless ``[kiosk] allow_plain_http = true`` says the
        village accepts it (then logged as a warning), as ``[sync]`` does for the shop's device token.
        """
        from lovemart.kiosk_remote import KioskServerFault
        from sync.client import check_transport
        from sync.errors import SyncError

        try:
            check_transport(self.server or "", self.allow_plain_http)
        except SyncError as refused:
            raise KioskServerFault("kiosk_plain_http", url=self.server or "") from refused

    def remote_source(self) -> RemoteKioskSource:
        """The central record's kiosk endpoints as the kiosk's source; refuses settings that cannot work."""
        from lovemart.kiosk_remote import KioskServerFault, RemoteKioskSource

        wanted = (("kiosk_token (lovemart kiosk --set-kiosk-token)", self.kiosk_token), ("village", self.village))
        missing = [key for key, value in wanted if not value]
        if missing or not self.server:
            raise KioskServerFault("kiosk_settings", missing=", ".join(missing) or "server")
        if not self.server.startswith(("http://", "https://")):
            raise KioskServerFault("kiosk_settings", missing='server = "https://..."')
        self._check_transport()
        return RemoteKioskSource(
            self.server,
            self.kiosk_token or "",
            self.village or "",
            timeout=self.server_timeout_s,
            allow_plain_http=self.allow_plain_http,
        )


# ----- wiring -----------------------------------------------------------------------------------------


def _camera_scanners(config: KioskConfig) -> list[ScannerLike]:
    """The camera scanner from settings; none when disabled, or when its decoder cannot load (logged: the
    wedge scanner keeps working and the idle screen says there is no camera)."""
    if config.camera is None:
        return []
    from hardware.camera import CameraScanner
    from hardware.decode import make_decoder
    from hardware.errors import HardwareError

    try:
        decoder = make_decoder(config.decoder)
    except HardwareError as error:
        log.error("kiosk: no camera scanning: %s", error.message("en"))
        return []
    return [CameraScanner(decoder, config.camera)]


def build_kiosk(
    home: ShopHome,
    *,
    settings: KioskSettings | None = None,
    scanners: Sequence[ScannerLike] | None = None,
    speaker: Speaker | None = None,
    config: KioskConfig | None = None,
    on_exit: Callable[[], None] | None = None,
    freeze_gc: bool = False,
) -> KioskApp:
    """A ``KioskApp`` on the shop's ledger (read-only, no POS lock), not yet started. Imports Kivy.

    With ``[kiosk] server`` set, the figures come from the central record instead and no ledger is needed;
    a ledger in ``home`` (if any) still supplies the managers who may close the kiosk.
    """
    from hardware.speech import EspeakSpeaker
    from hardware.wedge import KeyboardWedge
    from kiosk.access import LedgerAccess, LockoutAccess, ManagerAccess, PinAccess
    from kiosk.app import KioskApp
    from kiosk.presenter import KioskPresenter
    from kiosk.sources import LocalSource

    config = config or KioskConfig.of(home)
    source: KioskSource
    access: ManagerAccess | None
    if config.remote:
        source = config.remote_source()
        # Who may close it: the shop's managers when a ledger is here, else the PIN in [kiosk] manager_pin.
        if home.exists:
            access = LedgerAccess(home.store())
        elif config.manager_pin:
            access = PinAccess(config.manager_pin)
        else:
            access = None
    else:
        store = home.store()
        source = LocalSource(store, village_id=config.village)
        access = LedgerAccess(store)
    if access is not None:  # wrong PINs are limited, and the count survives switching the kiosk off and on
        access = LockoutAccess(access, home.home / PIN_STATE_FILE)
    if config.manager_pin:  # its hash can be guessed offline: the settings file is this user's only
        make_owner_only(home.settings.config_path)
    presenter = KioskPresenter(source, lang=home.settings.language, ranking_size=config.ranking_size)
    settings = settings or _app_settings(config, config.lockdown)
    if scanners is None:
        scanners = _camera_scanners(config)
        if config.camera is not None and not scanners:
            presenter.camera_status("absent")
    return KioskApp(
        presenter,
        settings=settings,
        scanners=scanners,
        wedge_factory=lambda on_scan: KeyboardWedge(on_scan=on_scan),
        speaker=speaker if speaker is not None else EspeakSpeaker(),
        access=access,
        on_exit=on_exit,
        freeze_gc=freeze_gc,
        preview=camera_preview(scanners) if config.camera_preview else None,
    )


def _app_settings(config: KioskConfig, locked: bool) -> Any:
    """The app's ``KioskSettings`` from ``[kiosk]``; a kiosk reading across the network looks scans up on a
    worker so that a slow link never freezes the screen."""
    from kiosk.app import KioskSettings

    return KioskSettings(
        timeout_s=config.timeout_s,
        error_timeout_s=config.error_timeout_s,
        speak_automatically=config.speak_automatically,
        lockdown=locked,
        fullscreen=locked,
        hide_cursor=locked,
        lookup_in_background=config.remote,
    )


def run_kiosk(
    home: ShopHome,
    *,
    windowed: bool = False,
    scanners: Sequence[ScannerLike] | None = None,
    speaker: Speaker | None = None,
) -> int:
    """``lovemart kiosk``: run until a manager closes it. ``windowed`` (development) turns the lock-down off.

    Refuses (``LedgerError``) when the home has no ledger, unless ``[kiosk] server`` makes it a remote
    kiosk (then ``KioskServerFault`` for incomplete settings). Returns the exit status.
    """
    config = KioskConfig.of(home)
    if config.remote:
        config.remote_source().close()  # refuse incomplete settings before any window opens
    else:
        home.store()  # refuse before any window opens: "not_configured" reads better on a terminal
    locked = config.lockdown and not windowed
    os.environ.setdefault("KIVY_NO_ARGS", "1")  # our command line is not Kivy's
    if locked:
        from ui.lockdown import configure_before_window

        configure_before_window()
    settings = _app_settings(config, locked)
    app = build_kiosk(home, settings=settings, scanners=scanners, speaker=speaker, config=config, freeze_gc=True)
    try:
        app.run()
    finally:
        close = getattr(app.speaker, "close", None)
        if callable(close):
            close()
    return 0
