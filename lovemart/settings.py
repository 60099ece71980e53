"""Where a shop keeps its things (``--home``) and what ``lovemart.toml`` says, as typed settings.

``load`` reads the file once, checks every value and gives a frozen ``Settings``. A value of the wrong kind or
out of range is refused with the key and the file named (``settings_value``, ``settings_missing``): guessing
a default would print to the wrong printer or lock the till at the wrong time, and nobody would know why.
Keys this version does not know are left in the file and reported (``Settings.unknown``, ``settings_unknown``;
``lovemart doctor`` says them), never a reason to refuse: a newer version's setting must not close a shop.

``update`` sets keys and writes the file back through tomlkit, so a technician's comments and order stay,
and through ``replace_file`` (a synced temporary file renamed over the old one), so a crash never leaves
half a file. The file is this user's only: it may hold the kiosk's manager PIN hash.

Every section, its keys and their defaults are in README.md, section Configuration.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar

from ledger.errors import LedgerError
from ledger.messages import DEFAULT_LANG, pick_language

CONFIG_NAME = "lovemart.toml"
LEDGER_NAME = "ledger.sqlite3"
LOCK_NAME = "pos.lock"
HEADER = "Love Supermarket (爱心超市) shop settings. See README.md, section Configuration."
DECODERS = ("zxing", "zbar")  # hardware.decode's backends; zxing measured better (lovemart bench scan)
PRINTER_CONNECTIONS = ("usb", "serial", "network", "file", "dummy", "memory", "none")
PAPER_WIDTHS = (58, 80)


def default_home() -> Path:
    env = os.environ.get("LOVEMART_HOME")
    if env:
        return Path(env).expanduser()
    return Path("~/.local/share/lovemart").expanduser()


# ----- the model ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShopSection:
    """``[shop]``: who this shop and this PC are, as the township registered them."""

    id: str = ""
    device: str = ""


@dataclass(frozen=True)
class UsbConnection:
    kind: ClassVar[str] = "usb"
    vendor_id: int
    product_id: int
    timeout_ms: int = 3000  # never python-escpos' default of "wait for ever" (a printer with its cover open)
    in_ep: int | None = None
    out_ep: int | None = None


@dataclass(frozen=True)
class SerialConnection:
    kind: ClassVar[str] = "serial"
    port: str
    baudrate: int = 9600
    timeout_s: float = 5.0
    dsrdtr: bool | None = None
    xonxoff: bool | None = None


@dataclass(frozen=True)
class NetworkConnection:
    kind: ClassVar[str] = "network"
    host: str
    port: int = 9100
    timeout_s: float = 5.0


@dataclass(frozen=True)
class FileConnection:
    kind: ClassVar[str] = "file"
    path: Path  # absolute: a relative path in the file is taken from the shop's folder


@dataclass(frozen=True)
class DummyConnection:
    """python-escpos' ``Dummy``: the bytes are kept in memory (trying the layout)."""

    kind: ClassVar[str] = "dummy"


@dataclass(frozen=True)
class MemoryConnection:
    """``hardware.printers.MemoryPrinter``: demos and training; nothing leaves the PC."""

    kind: ClassVar[str] = "memory"


PrinterConnection = (
    UsbConnection | SerialConnection | NetworkConnection | FileConnection | DummyConnection | MemoryConnection
)


@dataclass(frozen=True)
class PrinterSection:
    """``[printer]``; ``connection`` None when there is no printer (no section, or ``connection = "none"``)."""

    connection: PrinterConnection | None = None
    width: int = 58  # mm: 58 (32 columns) or 80 (48 columns)
    cutter: bool | None = None  # None: as the paper width's profile says

    @property
    def kind(self) -> str:
        """``connection`` as written: "usb", "serial", "network", "file", "dummy", "memory" or "none"."""
        return self.connection.kind if self.connection is not None else "none"


@dataclass(frozen=True)
class ScannerSection:
    """``[scanner]``: the decoder and the camera (None: no camera, a USB scanner only)."""

    decoder: str = "zxing"
    camera: int | str | None = 0


@dataclass(frozen=True)
class PosSection:
    idle_lock_s: float = 300.0  # 0: never
    lockdown: bool = False
    low_stock: int = 10
    camera_preview: bool = True


@dataclass(frozen=True)
class KioskSection:
    timeout_s: float = 20.0
    error_timeout_s: float = 8.0
    speak_automatically: bool = False
    lockdown: bool = True
    village: str | None = None  # the ranking's village (default: the shop's own; required with server)
    ranking_size: int = 10
    server: str | None = None  # the central record: a kiosk away from the shop (lovemart.kiosk_remote)
    server_timeout_s: float = 3.0
    camera_preview: bool = True
    allow_plain_http: bool = False
    manager_pin: str | None = None  # "<salt>:<hash>" (lovemart kiosk --set-manager-pin), for a kiosk with no ledger
    kiosk_token: str | None = None  # older kiosks kept it here; the file kiosk-token is preferred


@dataclass(frozen=True)
class SyncSection:
    server: str | None = None  # the central record (lovemart provision writes it)
    hour: int = 2  # the POS's nightly sync
    attempts: int = 5
    backoff: float = 1.0  # seconds before the first retry; doubles each time
    timeout: float = 60.0
    allow_plain_http: bool = False


@dataclass(frozen=True)
class BackupSection:
    """``[backup]``: where the shop's automatic copies go (``lovemart.backups``)."""

    folder: str = "backups"  # relative to the shop's folder, like [ledger] path
    # Where USB sticks appear; a stick with a lovemart-backup folder at its top gets a copy of each backup.
    usb_roots: tuple[str, ...] = ("/media", "/run/media", "/mnt")


@dataclass(frozen=True)
class Settings:
    """``lovemart.toml`` of one shop folder, checked. Change it with ``update``, never in place."""

    home: Path
    language: str = DEFAULT_LANG  # "zh" or "en", whatever the spelling in the file (ledger.messages.pick_language)
    shop: ShopSection = ShopSection()
    ledger: str = LEDGER_NAME  # [ledger] path, as written (relative to the shop's folder)
    printer: PrinterSection = PrinterSection()
    scanner: ScannerSection = ScannerSection()
    pos: PosSection = PosSection()
    kiosk: KioskSection = KioskSection()
    sync: SyncSection = SyncSection()
    backup: BackupSection = BackupSection()
    unknown: tuple[str, ...] = field(default=())  # keys this version does not know, as "[section] key"

    @property
    def config_path(self) -> Path:
        return self.home / CONFIG_NAME

    @property
    def ledger_path(self) -> Path:
        path = Path(self.ledger).expanduser()
        return path if path.is_absolute() else self.home / path

    @property
    def lock_path(self) -> Path:
        return self.home / LOCK_NAME

    @property
    def backup_dir(self) -> Path:
        path = Path(self.backup.folder).expanduser()
        return path if path.is_absolute() else self.home / path

    def unknown_report(self) -> LedgerError | None:
        """The report of keys this version does not know (a typo, or a newer version's), or None."""
        if not self.unknown:
            return None
        return LedgerError("settings_unknown", path=str(self.config_path), keys=", ".join(self.unknown))


# ----- reading -----------------------------------------------------------------------------------------------


def load(home: Path) -> Settings:
    """The settings in ``home``; a missing file means the defaults.

    A file that cannot be read or is not valid TOML is refused (``settings_unreadable``, ``settings_malformed``)
    with its path and the line of the mistake, a section that is not a table (``settings_section``) and a wrong
    value (``settings_value``, ``settings_missing``) with the key: a raw ``TOMLDecodeError`` or ``ValueError``
    means nothing to a technician on the phone.
    """
    path = home / CONFIG_NAME
    text = _read_text(path)
    if text is None:
        return Settings(home=home)
    return _checked(home, _parsed(path, text))


def _read_text(path: Path) -> str | None:
    """The file's text, or None when there is no file (a folder we may not enter is not "no file")."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise LedgerError("settings_unreadable", path=str(path), detail="it is a folder") from None
    except OSError as exc:
        raise LedgerError("settings_unreadable", path=str(path), detail=exc.strerror or type(exc).__name__) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise LedgerError("settings_malformed", path=str(path), line=line, detail="not UTF-8 text") from None


def _parsed(path: Path, text: str) -> dict[str, object]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # The parser's words end with "(at line L, column C)": keep the words, show the line ourselves.
        match = re.search(r"\(at line (\d+), column \d+\)|\(at end of document\)", str(exc))
        words = str(exc)[: match.start()].strip() if match else str(exc)
        line = int(match.group(1)) if match and match.group(1) else text.count("\n") + 1
        raise LedgerError("settings_malformed", path=str(path), line=line, detail=words) from None


SECTIONS = ("shop", "ledger", "printer", "scanner", "pos", "kiosk", "sync", "backup")


def _checked(home: Path, data: Mapping[str, object]) -> Settings:
    path = home / CONFIG_NAME
    top = _Table(path, None, data)
    sections: dict[str, _Table] = {}
    for name in SECTIONS:
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise LedgerError("settings_section", path=str(path), key=name)
        top.seen.add(name)
        sections[name] = _Table(path, name, value)
    language = pick_language(top.string("language", DEFAULT_LANG))  # any spelling: zh, zh_CN, en_US.UTF-8
    shop, ledger = sections["shop"], sections["ledger"]
    settings = Settings(
        home=home,
        language=language,
        shop=ShopSection(id=shop.string("id", ""), device=shop.string("device", "")),
        ledger=ledger.string("path", LEDGER_NAME, empty=False),
        printer=_printer(home, sections["printer"]),
        scanner=_scanner(sections["scanner"]),
        pos=_pos(sections["pos"]),
        kiosk=_kiosk(sections["kiosk"]),
        sync=_sync(sections["sync"]),
        backup=_backup(sections["backup"]),
    )
    unknown = top.unknown() + [key for table in sections.values() for key in table.unknown()]
    return replace(settings, unknown=tuple(unknown)) if unknown else settings


def _printer(home: Path, t: _Table) -> PrinterSection:
    kind = t.choice("connection", PRINTER_CONNECTIONS + ("",), "none")
    width = t.paper_width("width")
    cutter = t.optional_flag("cutter")
    connection: PrinterConnection | None
    if kind == "usb":
        connection = UsbConnection(
            vendor_id=t.usb_id("vendor_id"),
            product_id=t.usb_id("product_id"),
            timeout_ms=t.integer("timeout_ms", 3000, 100, 600_000),
            in_ep=t.optional_integer("in_ep", 0, 0xFF),
            out_ep=t.optional_integer("out_ep", 0, 0xFF),
        )
    elif kind == "serial":
        connection = SerialConnection(
            port=t.required_text("port", '"/dev/ttyUSB0"'),
            baudrate=t.integer("baudrate", 9600, 300, 4_000_000),
            timeout_s=t.number("timeout_s", 5.0, 0.1, 600),
            dsrdtr=t.optional_flag("dsrdtr"),
            xonxoff=t.optional_flag("xonxoff"),
        )
    elif kind == "network":
        connection = NetworkConnection(
            host=t.required_text("host", '"192.168.1.50"'),
            port=t.integer("port", 9100, 1, 65535),
            timeout_s=t.number("timeout_s", 5.0, 0.05, 600),
        )
    elif kind == "file":
        file = Path(t.required_text("path", '"/dev/usb/lp0"')).expanduser()
        connection = FileConnection(file if file.is_absolute() else home / file)
    elif kind == "dummy":
        connection = DummyConnection()
    elif kind == "memory":
        connection = MemoryConnection()
    else:
        connection = None
    # The keys of the other kinds of connection are the printer's, not unknown: a technician may keep them.
    t.seen.update(PRINTER_KEYS)
    return PrinterSection(connection=connection, width=width, cutter=cutter)


PRINTER_KEYS = frozenset(
    {"connection", "width", "cutter", "vendor_id", "product_id", "timeout_ms", "in_ep", "out_ep", "port"}
    | {"baudrate", "timeout_s", "dsrdtr", "xonxoff", "host", "path"}
)


def _scanner(t: _Table) -> ScannerSection:
    return ScannerSection(decoder=t.choice("decoder", DECODERS, "zxing"), camera=t.camera("camera"))


def _pos(t: _Table) -> PosSection:
    return PosSection(
        idle_lock_s=t.number("idle_lock_s", 300.0, 0, 86_400),
        lockdown=t.flag("lockdown", False),
        low_stock=t.integer("low_stock", 10, 0, 100_000),
        camera_preview=t.flag("camera_preview", True),
    )


def _kiosk(t: _Table) -> KioskSection:
    return KioskSection(
        timeout_s=t.number("timeout_s", 20.0, 1, 3600),
        error_timeout_s=t.number("error_timeout_s", 8.0, 1, 3600),
        speak_automatically=t.flag("speak_automatically", False),
        lockdown=t.flag("lockdown", True),
        village=t.optional_text("village"),
        ranking_size=t.integer("ranking_size", 10, 1, 50),
        server=t.url("server"),
        server_timeout_s=t.number("server_timeout_s", 3.0, 0.1, 600),
        camera_preview=t.flag("camera_preview", True),
        allow_plain_http=t.flag("allow_plain_http", False),
        manager_pin=t.optional_text("manager_pin"),
        kiosk_token=t.optional_text("kiosk_token"),
    )


def _sync(t: _Table) -> SyncSection:
    return SyncSection(
        server=t.url("server"),
        hour=t.integer("hour", 2, 0, 23),
        attempts=t.integer("attempts", 5, 1, 100),
        backoff=t.number("backoff", 1.0, 0, 3600),
        timeout=t.number("timeout", 60.0, 1, 3600),
        allow_plain_http=t.flag("allow_plain_http", False),
    )


def _backup(t: _Table) -> BackupSection:
    return BackupSection(
        folder=t.string("folder", "backups", empty=False),
        usb_roots=t.texts("usb_roots", BackupSection.usb_roots),
    )


def _shown(value: object) -> str:
    """A value as it is written in the file (``true``, ``"abc"``, ``12``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{...}"
    return str(value)


class _Table:
    """One table of the file as it is read: getters that check a value and refuse it naming the key and the
    file, and the keys read so far (the others are reported as unknown)."""

    def __init__(self, path: Path, name: str | None, data: Mapping[str, object]) -> None:
        self.path = path
        self.name = name
        self.data = data
        self.seen: set[str] = set()

    def label(self, key: str) -> str:
        return f"[{self.name}] {key}" if self.name else key

    def unknown(self) -> list[str]:
        """Keys never asked for: "[section] key", or "[section]" for a whole table nobody knows."""
        return [
            f"[{key}]" if self.name is None and isinstance(value, dict) else self.label(key)
            for key, value in self.data.items()
            if key not in self.seen
        ]

    def _get(self, key: str) -> object | None:
        self.seen.add(key)
        return self.data.get(key)

    def wrong(self, key: str, value: object, expected: str) -> LedgerError:
        return LedgerError(
            "settings_value", path=str(self.path), key=self.label(key), value=_shown(value), expected=expected
        )

    def missing(self, key: str, expected: str) -> LedgerError:
        return LedgerError("settings_missing", path=str(self.path), key=self.label(key), expected=expected)

    def string(self, key: str, default: str, *, empty: bool = True) -> str:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, str) or (not empty and not value.strip()):
            raise self.wrong(key, value, '"..."')
        return value.strip()

    def optional_text(self, key: str) -> str | None:
        return self.string(key, "") or None

    def required_text(self, key: str, example: str) -> str:
        value = self._get(key)
        if value is None:
            raise self.missing(key, example)
        if not isinstance(value, str) or not value.strip():
            raise self.wrong(key, value, example)
        return value.strip()

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, str) or value.strip().lower() not in choices:
            raise self.wrong(key, value, " / ".join(f'"{c}"' for c in choices if c))
        return value.strip().lower()

    def texts(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.wrong(key, value, '["...", "..."]')
        return tuple(v.strip() for v in value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.optional_flag(key)
        return default if value is None else value

    def optional_flag(self, key: str) -> bool | None:
        value = self._get(key)
        if value is not None and not isinstance(value, bool):
            raise self.wrong(key, value, "true / false")
        return value

    def _number(self, key: str, value: object, low: float, high: float, whole: bool) -> float:
        expected = f"{low:g}–{high:g}"
        number: object = value
        if isinstance(value, str):  # a number written in quotes is still the number
            try:
                number = int(value.strip()) if whole else float(value.strip())
            except ValueError:
                raise self.wrong(key, value, expected) from None
        if isinstance(number, bool) or not isinstance(number, int | float) or (whole and not isinstance(number, int)):
            raise self.wrong(key, value, expected)
        if not low <= number <= high:
            raise self.wrong(key, value, expected)
        return number

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        found = self.optional_integer(key, low, high)
        return default if found is None else found

    def optional_integer(self, key: str, low: int, high: int) -> int | None:
        value = self._get(key)
        return None if value is None else int(self._number(key, value, low, high, whole=True))

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = self._get(key)
        return default if value is None else float(self._number(key, value, low, high, whole=False))

    def url(self, key: str) -> str | None:
        text = self.optional_text(key)
        if text is not None and not text.lower().startswith(("http://", "https://")):
            raise self.wrong(key, text, '"https://..."')
        return text

    def paper_width(self, key: str) -> int:
        value = self._get(key)
        if value is None:
            return PAPER_WIDTHS[0]
        number = value if isinstance(value, int) and not isinstance(value, bool) else 0
        if isinstance(value, str):  # "80mm", "80"
            digits = value.strip().lower().removesuffix("mm").strip()
            number = int(digits) if digits.isdigit() else 0
        if number not in PAPER_WIDTHS:
            raise self.wrong(key, value, " / ".join(str(w) for w in PAPER_WIDTHS))
        return number

    def usb_id(self, key: str) -> int:
        """A USB id written as "0x0416", "0416" or the TOML integer 0x0416 (``lsusb`` says "ID 0416:5011")."""
        value = self._get(key)
        if value is None:
            raise self.missing(key, '"0x0416"')
        number = -1
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str):
            digits = value.strip().lower().removeprefix("0x")
            if digits and len(digits) <= 4 and all(ch in "0123456789abcdef" for ch in digits):
                number = int(digits, 16)
        if not 0 < number <= 0xFFFF:
            raise self.wrong(key, value, '"0x0001"–"0xffff"')
        return number

    def camera(self, key: str) -> int | str | None:
        """A device number, a device path (or a URL OpenCV opens), or None for no camera (-1, "none")."""
        value = self._get(key)
        if value is None:
            return 0
        if isinstance(value, bool):
            return 0 if value else None
        if isinstance(value, int):
            if value < -1:
                raise self.wrong(key, value, '0, 1, … / -1 / "/dev/video0"')
            return value if value >= 0 else None
        if not isinstance(value, str):
            raise self.wrong(key, value, '0, 1, … / -1 / "/dev/video0"')
        text = value.strip()
        if text.lower() in ("", "none", "off", "no", "false", "-1"):
            return None
        return int(text) if text.isdigit() else text


# ----- writing -----------------------------------------------------------------------------------------------

Scalar = str | int | float | bool | None
Changes = Mapping[str, Scalar | Mapping[str, Scalar]]


def update(settings: Settings, changes: Changes) -> Settings:
    """Set keys of ``lovemart.toml`` (None removes one) and write it back; the new settings.

    ``{"shop": {"id": "S01"}, "language": "en"}`` sets ``id`` under ``[shop]`` and the top-level ``language``.
    Everything else in the file stays as the technician wrote it, comments included. The new file is
    checked as ``load`` checks it before it replaces the old one, so a wrong value is refused and nothing
    is written.
    """
    import tomlkit

    from lovemart.wiring import replace_file

    path = settings.config_path
    text = _read_text(path)
    if text is None:
        document = tomlkit.document()
        document.add(tomlkit.comment(HEADER))
    else:
        _parsed(path, text)  # a malformed file is refused with its line, as load does
        document = tomlkit.parse(text)
    for name, value in changes.items():
        if isinstance(value, Mapping):
            table = document.get(name)
            if table is None:
                table = tomlkit.table()
                document.add(name, table)
            elif not isinstance(table, dict):
                raise LedgerError("settings_section", path=str(path), key=name)
            for key, item in value.items():
                _set(table, key, item)
        else:
            _set(document, name, value)
    new_text = tomlkit.dumps(document)
    updated = _checked(settings.home, _parsed(path, new_text))
    settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    replace_file(path, new_text.encode("utf-8"), mode=0o600)
    return updated


def _set(table: object, key: str, value: object) -> None:
    """Set or remove one key of a tomlkit table, a new key right after the table's last one (not after the
    comment that belongs to the next table)."""
    import tomlkit
    from tomlkit.items import Table

    if not isinstance(table, MutableMapping):
        raise TypeError(f"not a table: {table!r}")
    if value is None:
        if key in table:
            del table[key]
        return
    if key in table:
        table[key] = value
        return
    container = table.value if isinstance(table, Table) else None
    try:
        if container is not None:
            body = container.body
            last = max((i for i, (k, item) in enumerate(body) if k is not None), default=-1)
            if last >= 0 and last + 1 < len(body):
                container._insert_at(last + 1, key, tomlkit.item(value))
                return
    except (AttributeError, TypeError, ValueError):  # tomlkit's inner API moved: append instead
        pass
    table[key] = value
