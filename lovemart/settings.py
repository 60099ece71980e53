"""Where a shop keeps its things (``--home``) and what ``lovemart.toml`` says.

A shop's home holds ``lovemart.toml`` (who this shop and device are, the language, the printer and
scanner later) and the ledger file. The file is small and written by hand by a technician as often
as by us, so unknown keys are kept and reported, never a reason to refuse to start.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_NAME = "lovemart.toml"
LEDGER_NAME = "ledger.sqlite3"


def default_home() -> Path:
    env = os.environ.get("LOVEMART_HOME")
    if env:
        return Path(env).expanduser()
    return Path("~/.local/share/lovemart").expanduser()


@dataclass
class Settings:
    home: Path
    shop_id: str = ""
    device_id: str = ""
    language: str = "zh"
    ledger: str = LEDGER_NAME
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def config_path(self) -> Path:
        return self.home / CONFIG_NAME

    @property
    def ledger_path(self) -> Path:
        path = Path(self.ledger).expanduser()
        return path if path.is_absolute() else self.home / path

    @property
    def lock_path(self) -> Path:
        return self.home / "pos.lock"


def load(home: Path) -> Settings:
    """The settings in ``home``; a missing file means the defaults.

    A file that cannot be read or is not valid TOML is refused (``settings_unreadable``,
    ``settings_malformed``) with its path and the line of the mistake: guessing defaults would open the
    wrong ledger or print as the wrong shop, and a raw ``TOMLDecodeError`` means nothing to a technician
    on the phone.
    """
    settings = Settings(home=home)
    data = _read_toml(settings.config_path)
    if data is None:
        return settings
    for key in ("shop", "ledger"):
        if not isinstance(data.get(key, {}), dict):
            from ledger.errors import LedgerError

            raise LedgerError("settings_section", path=str(settings.config_path), key=key)
    shop = data.get("shop", {})
    settings.shop_id = str(shop.get("id", ""))
    settings.device_id = str(shop.get("device", ""))
    settings.language = str(data.get("language", "zh"))
    settings.ledger = str(data.get("ledger", {}).get("path", LEDGER_NAME))
    settings.extra = {k: v for k, v in data.items() if k not in ("shop", "language", "ledger")}
    return settings


def _read_toml(path: Path) -> dict[str, Any] | None:
    """The file's tables, or None when there is no file (a folder we may not enter is not "no file")."""
    from ledger.errors import LedgerError

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise LedgerError("settings_unreadable", path=str(path), detail="it is a folder") from None
    except OSError as exc:
        raise LedgerError("settings_unreadable", path=str(path), detail=exc.strerror or type(exc).__name__) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise LedgerError("settings_malformed", path=str(path), line=line, detail="not UTF-8 text") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # The parser's words end with "(at line L, column C)": keep the words, show the line ourselves.
        match = re.search(r"\(at line (\d+), column \d+\)|\(at end of document\)", str(exc))
        words = str(exc)[: match.start()].strip() if match else str(exc)
        line = int(match.group(1)) if match and match.group(1) else text.count("\n") + 1
        raise LedgerError("settings_malformed", path=str(path), line=line, detail=words) from None


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def save(settings: Settings) -> None:
    """Write ``lovemart.toml`` atomically (a half-written config must never stop a shop from opening),
    readable by this user only: it may hold the kiosk's manager PIN hash, which can be guessed offline."""
    settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    lines = [
        "# Love Supermarket (爱心超市) shop settings. See README.md, section Configuration.",
        f"language = {_toml_value(settings.language)}",
        "",
        "[shop]",
        f"id = {_toml_value(settings.shop_id)}",
        f"device = {_toml_value(settings.device_id)}",
        "",
        "[ledger]",
        f"path = {_toml_value(settings.ledger)}",
    ]
    for section, values in settings.extra.items():
        if isinstance(values, dict):
            lines += ["", f"[{section}]"] + [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    tmp = settings.config_path.with_suffix(".toml.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, settings.config_path)
