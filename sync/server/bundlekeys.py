"""The keys that sign a device's USB-stick bundles, derived from a server secret kept outside the database.

Until issue 11 the central record stored each device's bundle key in ``central_device.bundle_key``: a
stolen copy of the database (a backup, a ``pg_dump``, a copied ``central.sqlite3``) was enough to sign
bundles as any shop PC. Now a device's key is ``HMAC-SHA256(server secret, "bundle:" + device id + ":" +
enrolment time)``. The secret is 32 random bytes in a file of its own, mode 0600, never in the database:

- ``$LOVEMART_SERVER_SECRET_FILE`` when set (``lovemart server --secret-file``, ``central init
  --secret-file`` and the bundle commands set it), else
- beside a SQLite central database, ``<database>.secret``, else
- ``$XDG_CONFIG_HOME/lovemart/server-secret`` (``~/.config/lovemart/server-secret``) of the server's user.

It is created on first use (``central init``, the server's start, the first enrolment) and read after
that; a missing file is not made again silently once devices depend on it (``bundle_invalid`` says where it
should be). The device gets its key once, in the enrolment reply over HTTPS, and keeps it beside its
device token (mode 0600).

Devices enrolled before this change keep the key stored in their row (a 64-digit hex value), since they
derive it from their token and cannot learn a new one over a USB stick; they change over when re-enrolled.
A row holding ``DERIVED`` has its key derived here.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path
from typing import Any

from ledger.storage.central import CentralDevice
from sync.errors import SyncError

SECRET_ENV = "LOVEMART_SERVER_SECRET_FILE"
DERIVED = "derived:hmac-sha256:v1"  # stored in central_device.bundle_key: the key is not in the database
SECRET_BYTES = 32


def secret_path(database_url: str | None = None) -> Path:
    """Where the server secret of the central record at ``database_url`` lives (see the module docstring)."""
    configured = os.environ.get(SECRET_ENV)
    if configured:
        return Path(configured).expanduser()
    if database_url and database_url.startswith("sqlite:///") and database_url != "sqlite:///:memory:":
        database = Path(database_url.removeprefix("sqlite:///"))
        return database.with_name(database.name + ".secret")
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "lovemart" / "server-secret"


def load_secret(path: Path, *, create: bool) -> bytes:
    """The secret in ``path``; made (0600, whole or not at all) when missing and ``create`` is true."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        if not create:
            raise SyncError("bundle_invalid", detail=f"the server's secret file {path} is missing") from None
        return _create(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise SyncError("bundle_invalid", detail=f"the server's secret file {path} cannot be read: {exc}") from exc
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) < SECRET_BYTES:
        raise SyncError("bundle_invalid", detail=f"the server's secret file {path} is damaged")
    _owner_only(path)
    return secret


def _create(path: Path) -> bytes:
    secret = secrets.token_bytes(SECRET_BYTES)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secret.hex() + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # never over a secret another process has just made: theirs wins
        except FileExistsError:
            return load_secret(path, create=False)
    finally:
        tmp.unlink(missing_ok=True)
    return secret


def _owner_only(path: Path) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            os.chmod(path, 0o600)
    except OSError:
        pass


def ensure_secret(database_url: str | None, record: Any = None) -> Path:
    """Create the secret if there is none yet (``central init``, the server's start); its path.

    Refused when ``record`` already has devices whose keys were derived from a secret that is now missing:
    a new one would silently change all their keys; the old file must be restored from its backup.
    """
    path = secret_path(database_url)
    if not path.exists() and record is not None:
        with record.store.read() as unit:
            if any(d.bundle_key == DERIVED for d in unit.devices()):
                raise SyncError(
                    "bundle_invalid",
                    detail=f"the server's secret file {path} is missing; restore it from the backup",
                )
    load_secret(path, create=True)
    return path


def derive(secret: bytes, device_id: str, enrolled_at: str) -> str:
    message = f"bundle:{device_id}:{enrolled_at}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def database_url_of(record: Any) -> str | None:
    """The URL of a ``CentralRecord``'s database (for ``secret_path``), without asking it for more."""
    engine = getattr(getattr(record, "ledger", None), "engine", None)
    url = getattr(engine, "url", None)
    return url.render_as_string(hide_password=False) if url is not None else None


def new_device_key(record: Any, device_id: str, enrolled_at: str, *, first: bool) -> str:
    """The key for a device being enrolled now. The secret is made only for the ``first`` device whose key
    is derived: made again later, it would silently change every other device's key."""
    secret = load_secret(secret_path(database_url_of(record)), create=first)
    return derive(secret, device_id, enrolled_at)


def key_of(record: Any, device: CentralDevice) -> str:
    """The key that signs ``device``'s bundles: derived from the secret, or the one stored for a device
    enrolled before keys were derived."""
    if device.bundle_key != DERIVED:
        return device.bundle_key
    secret = load_secret(secret_path(database_url_of(record)), create=False)
    return derive(secret, device.device_id, device.created_at)
