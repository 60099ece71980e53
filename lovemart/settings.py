"""Where a shop keeps its things (``--home``) and what ``lovemart.toml`` says.

A shop's home holds ``lovemart.toml`` (who this shop and device are, the language, the printer and
scanner later) and the ledger file. The file is small and written by hand by a technician as often
as by us, so unknown keys are kept and reported, never a reason to refuse to start.
"""

from __future__ import annotations

import os
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
    settings = Settings(home=home)
    if not settings.config_path.exists():
        return settings
    with settings.config_path.open("rb") as f:
        data = tomllib.load(f)
    shop = data.get("shop", {})
    settings.shop_id = str(shop.get("id", ""))
    settings.device_id = str(shop.get("device", ""))
    settings.language = str(data.get("language", "zh"))
    settings.ledger = str(data.get("ledger", {}).get("path", LEDGER_NAME))
    settings.extra = {k: v for k, v in data.items() if k not in ("shop", "language", "ledger")}
    return settings


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def save(settings: Settings) -> None:
    """Write ``lovemart.toml`` atomically (a half-written config must never stop a shop from opening)."""
    settings.home.mkdir(parents=True, exist_ok=True)
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
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, settings.config_path)
