"""Commands for the township: ``lovemart server`` and ``lovemart central ...`` (DESIGN.md §10, docs/sync.md).

``central init``, ``central demo`` and ``central bundle`` work on the central database directly
(``--database-url``), because they run on the township's own machine, often before any server does.
Everything else drives the running server's admin API over HTTP (``--server``, default ``$LOVEMART_SERVER``),
exactly as any other admin client would. The API token is read from ``$LOVEMART_TOKEN`` or asked for, never
taken as an argument: a command line is visible to every user of the machine in ``ps`` and stays in the
shell's history.

FastAPI, uvicorn and httpx are imported inside the handlers, so other commands never load them.
"""

from __future__ import annotations

import argparse
import os
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.errors import LedgerError
from ledger.messages import N_, Coded, Message, Said, Spoken, text
from ledger.register import HouseholdInput
from lovemart.bootstrap import ShopParts

if TYPE_CHECKING:
    from lovemart.commands import AddCommand, AddGroup, Subcommands
    from sync.errors import SyncError
    from sync.server.record import CentralRecord

CENTRAL_DB_NAME = "central.sqlite3"
VILLAGE_NAMES = (
    "幸福村 光明村 红旗村 团结村 和平村 胜利村 新华村 东风村 前进村 永安村 "
    "长青村 丰收村 兴隆村 太平村 建设村 民主村 友谊村 富强村 向阳村 解放村"
).split()


class CentralRefusal(LedgerError):
    """A refusal from the central record (or from reaching it, or of the command itself): its ``code``, and
    what says it (the ``SyncError`` or server refusal it came from, or a ``Message``).

    A ``LedgerError`` so that the ``lovemart`` command reports it like any refusal: exit 1, the message
    on stderr, ``{"error": {"code", "message"}}`` with ``--json``.
    """

    def __init__(self, code: str, said: Spoken) -> None:
        self.said = said
        super().__init__(code)

    @classmethod
    def of(cls, error: Coded) -> CentralRefusal:
        """From a ``SyncError`` (or anything with ``code`` and ``message(lang)``)."""
        return cls(str(error.code), error)

    def message(self, lang: str = "zh") -> str:
        return self.said.message(lang)


def database_url(args: argparse.Namespace, home: ShopParts) -> str:
    """``--database-url``, else ``$LOVEMART_DATABASE_URL``, else ``central.sqlite3`` in the home folder."""
    url = getattr(args, "database_url", None) or os.environ.get("LOVEMART_DATABASE_URL")
    if url:
        return str(url)
    home.home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home.home / CENTRAL_DB_NAME}"


def open_record(args: argparse.Namespace, home: ShopParts) -> CentralRecord:
    from ledger.storage import DatabaseFailure, driver_message
    from sync.errors import SyncError
    from sync.server.record import CentralRecord

    url = database_url(args, home)
    use_secret_file(args)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        # The central record holds the township's passbook key too: this user's only, like a shop's ledger.
        from lovemart.wiring import make_private

        make_private(Path(url.removeprefix("sqlite:///")))
    try:
        return CentralRecord.open(url)
    except DatabaseFailure as exc:
        detail = driver_message(exc)[:200]
        raise CentralRefusal.of(SyncError("unreachable", url=_safe_url(url), detail=detail)) from exc


def use_secret_file(args: argparse.Namespace) -> None:
    """``--secret-file``: where the server secret that derives the devices' bundle keys lives, for this
    process and the server's workers (``sync.server.bundlekeys``; default beside a SQLite database, else
    ``~/.config/lovemart/server-secret``)."""
    from sync.server.bundlekeys import SECRET_ENV

    path = getattr(args, "secret_file", None)
    if path:
        os.environ[SECRET_ENV] = str(Path(path).expanduser().resolve())


def _safe_url(url: str) -> str:
    """The URL without a password, for messages."""
    from ledger.storage import redacted_url

    return redacted_url(url)


def ensure_secret(url: str, record: CentralRecord) -> Path:
    """The server secret's file, made if missing (refused if devices already depend on a lost one)."""
    from sync.server.bundlekeys import ensure_secret as ensure

    try:
        return ensure(url, record)
    except _sync_errors() as error:
        raise CentralRefusal.of(error) from error


def _sync_errors() -> tuple[type[SyncError], ...]:
    from sync.errors import SyncError

    return (SyncError,)


# ----- init, demo, server -------------------------------------------------------------------------------


def cmd_central_init(args: argparse.Namespace, home: ShopParts) -> int:
    record = open_record(args, home)
    try:
        try:
            created = record.initialise(args.township_id.upper(), args.township_name)
            token = record.new_admin_token()
            secret_file = ensure_secret(database_url(args, home), record)
            with record.store.read() as unit:
                township = unit.ledger.township()
        except _sync_errors() as error:
            raise CentralRefusal.of(error) from error
    finally:
        record.close()
    lang = args.out.lang
    data = {
        "admin_token": token,
        "secret_file": str(secret_file),
        "township_id": township.township_id,
        "name": township.name,
        "created": created,
        "database_url": _safe_url(database_url(args, home)),
    }
    args.out.result(
        data,
        [
            text(
                "central.init.created" if created else "central.init.upgraded",
                lang,
                name=township.name,
                township_id=township.township_id,
            ),
            text("central.init.admin_token", lang, token=token),
            text("central.init.secret_file", lang, path=str(secret_file)),
        ],
    )
    return 0


def cmd_central_demo(args: argparse.Namespace, home: ShopParts) -> int:
    if not 1 <= args.households <= 200_000:
        raise LedgerError("bad_quantity", value=args.households, max=200_000)
    if not 1 <= args.shops <= 99:
        raise LedgerError("bad_quantity", value=args.shops, max=99)
    if args.console:
        return _console_demo(args, home)
    record = open_record(args, home)
    try:
        try:
            admin_token = None
            if not record.configured():
                record.initialise("T01", "红星镇")
                admin_token = record.new_admin_token()
            summary = seed_demo(record, args.households, args.shops, args.seed)
        except _sync_errors() as error:
            raise CentralRefusal.of(error) from error
    finally:
        record.close()
    if admin_token:
        summary["admin_token"] = admin_token
    lang = args.out.lang
    lines = [
        text(
            "central.demo.done",
            lang,
            households=summary["households"],
            shops=len(summary["shops"]),
            transactions=summary["transactions"],
        )
    ]
    lines += [f"  {s['shop_id']} {s['name']}  enrol: {s['enrol_token']}" for s in summary["shops"]]
    if admin_token:
        lines.append(text("central.demo.admin_token", lang, token=admin_token))
    args.out.result(summary, lines)
    return 0


def _console_demo(args: argparse.Namespace, home: ShopParts) -> int:
    """``central demo --console``: the console's demo township (``lovemart_tools.console_demo``)."""
    from lovemart_tools.console_demo import seed_console_demo

    url = database_url(args, home)
    record = open_record(args, home)
    try:
        configured = record.configured()
    finally:
        record.close()
    if configured:
        raise LedgerError("demo_needs_empty_database")
    try:
        summary = seed_console_demo(url, args.households, args.seed)
    except _sync_errors() as error:
        raise CentralRefusal.of(error) from error
    lang = args.out.lang
    lines = [text("central.demo.console", lang, households=summary["households"], transactions=summary["transactions"])]
    lines += [f"  {p['name']:<6} {p['full_name']}" for p in summary["people"]]
    lines.append(text("central.demo.console_password", lang, password=summary["password"]))
    args.out.result(summary, lines)
    return 0


def seed_demo(record: CentralRecord, households: int, shops: int, seed: int = 2026) -> dict[str, Any]:
    """A demo township: villages with a shop each, households with members and cards, goods, a year of points.

    Run again on a seeded record, it seeds nothing and gives each demo shop a fresh enrol token.
    """
    from ledger import services
    from ledger.model import (
        TOWNSHIP_AWARDS,
        Item,
        Posting,
        TxnDraft,
        TxnKind,
        household_account,
    )
    from lovemart_tools.demo import AWARDS, DEDUCTIONS, GOODS, family
    from sync.server import township
    from sync.server.changes import log_txns
    from sync.server.record import CENTRAL_DEVICE

    with record.store.read() as unit:
        seeded = unit.ledger.meta("demo_seeded")
    if seeded:
        with record.store.read() as unit:
            shop_list = [s for s in unit.shops() if s.shop_id.startswith("S")]
            count = unit.household_count()
            transactions = unit.transaction_count()
    else:
        rng = random.Random(seed)
        now = datetime.now().astimezone().replace(microsecond=0)
        start = (now - timedelta(days=330)).replace(hour=9, minute=0, second=0)
        clock_now = [start]
        record.clock = lambda: clock_now[0]
        with record.write() as unit:
            for n in range(1, shops + 1):
                village = township.put_village(record, f"V{n:02d}", _village_name(n))
                township.put_shop(record, f"S{n:02d}", f"{village.name}爱心超市", village.village_id)
            for sku, name, unit_name, points, category, barcode in GOODS:
                township.put_item(record, Item(sku, name, unit_name, points, barcode, category))
            ids: list[str] = []
            used: set[str] = set()
            for n in range(1, households + 1):
                v = (n - 1) % shops + 1
                head, members = family(rng, used)
                hid = f"H{v:02d}{n:05d}"
                township.store_household(
                    unit, HouseholdInput(hid, f"V{v:02d}", head, f"S{v:02d}", tuple(members)), record.now()
                )
                ids.append(hid)
            township.grant_base(record)
            drafts: list[TxnDraft] = []
            span = int((now - start).total_seconds())
            weights = [w for _, _, w in AWARDS]
            events: list[tuple[datetime, str, int, str, TxnKind]] = []
            for hid in ids:
                for _ in range(rng.randint(4, 16)):
                    reason, points, _w = rng.choices(AWARDS, weights)[0]
                    when = start + timedelta(seconds=rng.randrange(span))
                    events.append((when, hid, points, reason, TxnKind.AWARD))
                if rng.random() < 0.15:
                    reason, points = rng.choice(DEDUCTIONS)
                    events.append((start + timedelta(seconds=rng.randrange(span)), hid, points, reason, TxnKind.DEDUCT))
            identity = unit.ledger.identity()
            for when, hid, points, reason, kind in sorted(events):
                sign = 1 if kind == TxnKind.AWARD else -1
                drafts.append(
                    TxnDraft(
                        txn_id=services.new_txn_id(),
                        kind=kind,
                        created_at=when.isoformat(timespec="seconds"),
                        shop_id=identity.shop_id,
                        operator="township",
                        household_id=hid,
                        postings=(
                            Posting(household_account(hid), sign * points),
                            Posting(TOWNSHIP_AWARDS, -sign * points),
                        ),
                        memo=reason,
                    )
                )
            # Awards in one statement per table: the demo must be quick to make even for a big township.
            log_txns(unit, unit.ledger.append_many(drafts), CENTRAL_DEVICE, record.now())
            clock_now[0] = now - timedelta(days=20)
            if len(ids) >= 10:
                township.clear(record, ids[-1], "酒驾（零容忍）")
                township.reissue_card(record, ids[-2])
            unit.ledger.set_meta("demo_seeded", now.isoformat(timespec="seconds"))
            shop_list = unit.shops()
            count = len(ids)
            transactions = unit.transaction_count()
        record.clock = services.local_now
    return {
        "township_id": _township_id(record),
        "households": count,
        "transactions": transactions,
        "shops": [
            {
                "shop_id": s.shop_id,
                "name": s.name,
                "village_id": s.village_id,
                "enrol_token": record.new_enrol_token(s.shop_id),
            }
            for s in shop_list
        ],
    }


def _village_name(n: int) -> str:
    base = VILLAGE_NAMES[(n - 1) % len(VILLAGE_NAMES)]
    return base if n <= len(VILLAGE_NAMES) else f"{base[:-1]}{(n - 1) // len(VILLAGE_NAMES) + 1}村"


def _township_id(record: CentralRecord) -> str:
    with record.store.read() as unit:
        return unit.ledger.township().township_id


def cmd_server(args: argparse.Namespace, home: ShopParts) -> int:
    from sync.server.app import serve

    url = database_url(args, home)
    use_secret_file(args)
    record = open_record(args, home)
    try:
        ensure_secret(url, record)  # made on first start if central init did not; the workers read it
    finally:
        record.close()
    if (args.certfile is None) != (args.keyfile is None):
        raise CentralRefusal("tls_incomplete", Message("central.tls_incomplete"))
    scheme = "https" if args.certfile else "http"
    if not args.out.as_json:
        print(
            text("central.serving", args.out.lang, url=f"{scheme}://{args.host}:{args.port}", database=_safe_url(url)),
            flush=True,
        )
    serve(
        url,
        args.host,
        args.port,
        workers=args.workers,
        log_level=args.log_level,
        certfile=args.certfile,
        keyfile=args.keyfile,
        factory="lovemart.site:server_from_env",
    )
    return 0


# ----- the admin API over HTTP ------------------------------------------------------------------------------


class AdminClient:
    """The central record's admin API over the one HTTP client (``sync.http``: transport check, timeouts, the
    error envelope); refusals and network faults become ``CentralRefusal``. Nothing is retried: an award
    sent twice would be two awards."""

    def __init__(self, server: str, token: str, lang: str, timeout: float = 60.0, allow_plain_http: bool = False):
        from sync.http import Http

        try:
            self.http = Http(server, token, None, timeout, allow_plain_http=allow_plain_http, lang=lang)
        except _sync_errors() as error:
            raise CentralRefusal.of(error) from error
        self.server = self.http.server_url
        self.lang = lang

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.http.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        files: Any = None,
    ) -> Any:
        """The reply's JSON; ``json`` is a body of ``sync.bodies`` (or a plain dict), ``files`` an upload."""
        try:
            return self.http.request(method, path, params=params, json_body=json, files=files)
        except _sync_errors() as error:
            raise CentralRefusal.of(error) from error


def _body(model: str, **fields: Any) -> Any:
    """The request body ``sync.bodies.<model>``, checked here with the server's own bounds (a NUL, a reason
    too long or points beyond any column are refused before anything is sent). Imported here, as pydantic
    is, so that other commands never load them."""
    from pydantic import ValidationError

    from sync import bodies
    from sync.errors import SyncError

    try:
        return getattr(bodies, model)(**fields)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise CentralRefusal.of(SyncError("invalid", detail=f"{where}: {first['msg']}")) from None


TOKEN_ENV = "LOVEMART_TOKEN"


def _client(args: argparse.Namespace, home: ShopParts) -> AdminClient:
    if getattr(args, "admin_token", None):  # said, not ignored: the caller should stop doing it
        raise LedgerError("secret_on_command_line", option="--admin-token")
    server = args.server or os.environ.get("LOVEMART_SERVER")
    if not server:
        raise CentralRefusal("usage", Message("central.server_missing"))
    # An admin token may do anything: plain http:// only to the loopback, unless this PC's settings say so
    # ([sync] allow_plain_http, as for the shop's device token). Checked before the token is asked for.
    from sync.http import check_transport

    plain = home.exists and home.settings.sync.allow_plain_http
    try:
        check_transport(server, plain)
    except _sync_errors() as error:
        raise CentralRefusal.of(error) from error
    token = admin_token(args.out.lang)
    if not token:
        raise CentralRefusal("usage", Message("central.token_missing", env=TOKEN_ENV))
    return AdminClient(server, token, args.out.lang, allow_plain_http=plain)


def admin_token(lang: str) -> str:
    """The API token from ``$LOVEMART_TOKEN`` (``$LOVEMART_ADMIN_TOKEN`` is still read), else asked for,
    hidden at a terminal or read from standard input."""
    from lovemart.commands.apps import ask_secret

    token = os.environ.get(TOKEN_ENV) or os.environ.get("LOVEMART_ADMIN_TOKEN")
    if token:
        return token.strip()
    return ask_secret(text("central.ask_token", lang))


def _show(args: argparse.Namespace, data: Any, text: list[str] | str) -> int:
    args.out.result(data if isinstance(data, dict) else {"result": data}, text)
    return 0


def cmd_central_report(args: argparse.Namespace, home: ShopParts) -> int:
    lang = args.out.lang
    with _client(args, home) as api:
        params: dict[str, Any] = {}
        if args.report == "ranking":
            params = {k: v for k, v in (("village", args.village), ("limit", args.limit)) if v is not None}
        data = api.call("GET", f"/v1/admin/reports/{args.report}", params=params)
    lines: list[str]
    if args.report == "totals":
        lines = [
            text("central.totals.households", lang, households=data["households"]),
            text("central.totals.balance", lang, points=data["balance_total"]),
            text("central.totals.redeemed", lang, points=data["redeemed_total"]),
            text("central.totals.transactions", lang, transactions=data["transactions"]),
            text("central.totals.exceptions", lang, exceptions=data["exceptions_open"]),
        ]
        lines += [
            "  " + text("central.totals.shop", lang, shop_id=s["shop_id"], acked=s["acked_through"])
            for s in data["shops"]
        ]
    elif args.report == "ranking":
        lines = [f"{r['rank']:>4}  {r['household_id']:<10} {r['name']:<8} {r['earned_cycle']}" for r in data["ranking"]]
    elif args.report == "shops":
        lines = [
            f"{s['shop_id']:<6} {s['name']:<12} redeemed {s['points_redeemed']:>8}  txns {s['transactions']:>7}  "
            f"acked {s['acked_through']}"
            for s in data["shops"]
        ]
    else:
        lines = [f"{k}: {v}" for k, v in data.items()]
    return _show(args, data, lines)


def cmd_central_shops_add(args: argparse.Namespace, home: ShopParts) -> int:
    with _client(args, home) as api:
        if args.village_name:
            village = _body("VillageIn", village_id=args.village_id, name=args.village_name)
            api.call("POST", "/v1/admin/villages", json=village)
        shop = api.call(
            "POST",
            "/v1/admin/shops",
            json=_body("ShopIn", shop_id=args.shop_id.upper(), name=args.name, village_id=args.village_id),
        )
        token = api.call("POST", f"/v1/admin/shops/{shop['shop_id']}/enrol-tokens")
    data = shop | {"enrol_token": token["enrol_token"]}
    return _show(args, data, [f"{shop['shop_id']} {shop['name']}", f"enrol: {token['enrol_token']}"])


def cmd_central_shops_list(args: argparse.Namespace, home: ShopParts) -> int:
    with _client(args, home) as api:
        data = api.call("GET", "/v1/admin/shops")
    acked = text("central.acked", args.out.lang)
    lines = [
        f"{s['shop_id']:<6} {s['name']:<14} {s['village_id']:<6} {acked} {s['acked_through']}" for s in data["shops"]
    ]
    return _show(args, data, lines)


def cmd_central_enrol_token(args: argparse.Namespace, home: ShopParts) -> int:
    with _client(args, home) as api:
        data = api.call("POST", f"/v1/admin/shops/{args.shop_id.upper()}/enrol-tokens")
    lang = args.out.lang
    return _show(args, data, text("central.enrol_token", lang, token=data["enrol_token"]))


def cmd_central_devices_list(args: argparse.Namespace, home: ShopParts) -> int:
    with _client(args, home) as api:
        data = api.call("GET", "/v1/admin/devices")
    text = [
        f"{d['device_id']:<6} {d['shop_id']:<6} acked {d['acked_through']:<8} "
        f"{'revoked ' + d['revoked_at'] if d['revoked_at'] else 'active'}"
        for d in data["devices"]
    ]
    return _show(args, data, text)


def cmd_central_devices_revoke(args: argparse.Namespace, home: ShopParts) -> int:
    with _client(args, home) as api:
        data = api.call("POST", f"/v1/admin/devices/{args.device_id.upper()}/revoke")
    return _show(args, data, text("central.device_revoked", args.out.lang, device_id=args.device_id))


def _upload(api: AdminClient, path_text: str, endpoint: str) -> Any:
    path = Path(path_text)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise LedgerError("import_unreadable", path=str(path), detail=exc.strerror or str(exc)) from exc
    return api.call("POST", endpoint, files={"file": (path.name, content)})


def cmd_central_households_import(args: argparse.Namespace, home: ShopParts) -> int:
    with _client(args, home) as api:
        data = _upload(api, args.file, "/v1/admin/households/import")
    lang = args.out.lang
    return _show(
        args,
        data,
        text(
            "central.households_imported",
            lang,
            imported=data["imported"],
            created=data["created"],
            updated=data["updated"],
        ),
    )


def cmd_central_points(args: argparse.Namespace, home: ShopParts) -> int:
    with _client(args, home) as api:
        data = api.call(
            "POST",
            "/v1/admin/points",
            json=_body(
                "PointsIn", household_id=args.household_id, points=args.points, reason=args.reason, kind=args.kind
            ),
        )
    return _show(args, data, [f"{t['receipt_no']} {t['kind']} {t['points']:+d}" for t in data["transactions"]])


def cmd_central_points_import(args: argparse.Namespace, home: ShopParts) -> int:
    with _client(args, home) as api:
        data = _upload(api, args.file, "/v1/admin/points/import")
    lang = args.out.lang
    return _show(
        args,
        data,
        text(
            "cli.points.imported",
            lang,
            awards=data["awards"],
            points_awarded=data["points_awarded"],
            deductions=data["deductions"],
            points_deducted=data["points_deducted"],
        ),
    )


def _page_lines(lang: str, offset: int, shown: int, total: int, next_offset: int | None, page: str) -> list[str]:
    """Where a listed page stands among all (the server pages long lists, newest first), and the next one.
    ``page`` is the key of the words (they count exceptions and transactions differently in Chinese)."""
    first = offset + 1 if shown else 0
    lines = [text(page, lang, first=first, last=offset + shown, total=total)]
    if next_offset is not None:
        lines.append(text("central.next_page", lang, offset=next_offset))
    return lines


def cmd_central_exceptions_list(args: argparse.Namespace, home: ShopParts) -> int:
    """One page of exceptions, newest first (the server pages them so a flood cannot hide a new one)."""
    params: dict[str, Any] = {"status": args.status, "offset": args.offset, "limit": args.limit}
    if args.kind:
        params["kind"] = args.kind
    if args.shop:
        params["shop"] = args.shop
    with _client(args, home) as api:
        data = api.call("GET", "/v1/admin/exceptions", params=params)
    lang = args.out.lang
    lines = [
        f"#{e['id']:<5} {e['kind']:<22} {e['household_id'] or '-':<10} {e['status']:<8} "
        f"x{e.get('count', 1):<4} {e.get('last_seen_at') or e['created_at']}  {e['detail']}"
        for e in data["exceptions"]
    ]
    shown = len(data["exceptions"])
    page = N_("central.exceptions_page")
    lines += _page_lines(lang, args.offset, shown, data.get("total", shown), data.get("next_offset"), page)
    return _show(args, data, lines if shown else [text("central.no_exceptions", lang)])


def cmd_central_exceptions_resolve(args: argparse.Namespace, home: ShopParts) -> int:
    with _client(args, home) as api:
        body = _body("ResolutionIn", resolution=args.resolution)
        data = api.call("POST", f"/v1/admin/exceptions/{args.id}/resolve", json=body)
    return _show(args, data, text("central.exception_resolved", args.out.lang, id=args.id))


def cmd_central_held_list(args: argparse.Namespace, home: ShopParts) -> int:
    """Transactions a shop device had no right to make, held with no effect (docs/sync.md "Authority")."""
    params: dict[str, Any] = {"status": args.status, "offset": args.offset, "limit": args.limit}
    if args.shop:
        params["shop"] = args.shop
    with _client(args, home) as api:
        data = api.call("GET", "/v1/admin/held", params=params)
    lang = args.out.lang
    lines = [
        f"{h['receipt_no']:<18} {h['kind']:<12} {h['household_id'] or '-':<10} {h['status']:<8} {h['txn_id']}\n"
        f"    {Said(h['message'], h['message_en']).message(lang)}"
        + (f"\n    {h['decided_by']}: {h['decision_reason']}" if h.get("decided_by") else "")
        for h in data["held"]
    ]
    shown = len(data["held"])
    lines += _page_lines(lang, args.offset, shown, data["total"], None, N_("central.held_page"))
    return _show(args, data, lines if shown else [text("central.nothing_held", lang)])


def cmd_central_held_decide(args: argparse.Namespace, home: ShopParts) -> int:
    """Keep a held transaction held for good, or release it: the township re-issues its points."""
    action = "release" if args.release else "keep"
    body = _body("DecisionIn", by=args.by, reason=args.reason)
    with _client(args, home) as api:
        data = api.call("POST", f"/v1/admin/held/{args.txn_id}/{action}", json=body)
    said = text(
        "central.held_released" if args.release else "central.held_kept", args.out.lang, receipt_no=data["receipt_no"]
    )
    return _show(args, data, said)


def cmd_central_kiosk_token(args: argparse.Namespace, home: ShopParts) -> int:
    with _client(args, home) as api:
        data = api.call("POST", "/v1/admin/kiosk-tokens", json=_body("KioskTokenIn", label=args.label))
    return _show(args, data, text("central.kiosk_token", args.out.lang, token=data["kiosk_token"]))


# ----- bundles (USB stick) --------------------------------------------------------------------------------


def _read_file(path_text: str) -> bytes:
    path = Path(path_text)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LedgerError("import_unreadable", path=str(path), detail=exc.strerror or str(exc)) from exc


def cmd_central_bundle_apply(args: argparse.Namespace, home: ShopParts) -> int:
    from lovemart.commands.devices import write_atomically
    from sync.server import bundles

    body = _read_file(args.file)
    record = open_record(args, home)
    try:
        try:
            result = bundles.apply_bundle(record, body)
            if args.reply:
                write_atomically(Path(args.reply), bundles.reply_bundle(record, body, int(result["exceptions"])))
        except _sync_errors() as error:
            raise CentralRefusal.of(error) from error
    finally:
        record.close()
    lang = args.out.lang
    lines = [
        text(
            "central.bundle_applied",
            lang,
            shop_id=result["shop_id"],
            device_id=result["device_id"],
            acked_through=result["acked_through"],
        )
    ]
    if args.reply:
        lines.append(text("central.reply_written", lang, path=args.reply))
    return _show(args, result | {"reply": args.reply}, lines)


def cmd_central_bundle_reply(args: argparse.Namespace, home: ShopParts) -> int:
    from lovemart.commands.devices import write_atomically
    from sync.server import bundles

    body = _read_file(args.file)
    record = open_record(args, home)
    try:
        try:
            reply = bundles.reply_bundle(record, body)
        except _sync_errors() as error:
            raise CentralRefusal.of(error) from error
    finally:
        record.close()
    write_atomically(Path(args.out_file), reply)
    return _show(
        args,
        {"reply": args.out_file, "bytes": len(reply)},
        text("central.reply_written", args.out.lang, path=args.out_file),
    )


# ----- benchmark ------------------------------------------------------------------------------------------


def cmd_bench_sync(args: argparse.Namespace, home: ShopParts) -> int:
    from lovemart_tools.bench_sync import run_sync_bench
    from lovemart_tools.measure import figure_lines

    figures = run_sync_bench(args.database_url, scale=args.scale)
    return _show(args, figures, figure_lines(figures))


# ----- registration -----------------------------------------------------------------------------------------


def _server_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--server",
        default=None,
        help="the central record's URL (default $LOVEMART_SERVER); the API token comes from $LOVEMART_TOKEN "
        "or is asked for",
    )
    # Refused with a message: the token comes from $LOVEMART_TOKEN or is asked for (see _client).
    p.add_argument("--admin-token", default=None, help=argparse.SUPPRESS)


def database_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--database-url",
        default=None,
        help="SQLAlchemy URL of the central database, e.g. postgresql+psycopg://user@host/db "
        "(default $LOVEMART_DATABASE_URL, else central.sqlite3 in --home)",
    )
    p.add_argument(
        "--secret-file",
        default=None,
        metavar="FILE",
        help="the server secret that derives the devices' USB-bundle keys, kept out of the database "
        "(default $LOVEMART_SERVER_SECRET_FILE, else DATABASE.secret beside a SQLite database, else "
        "~/.config/lovemart/server-secret); made 0600 on first use",
    )


def register(commands: Subcommands, add: AddCommand, group: AddGroup) -> None:
    """Add ``lovemart server`` and ``lovemart central ...`` to the ``lovemart`` parser."""
    p = add(commands, "server", cmd_server, "run the central record (the township's sync server)")
    database_option(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--workers", type=int, default=1, help="server processes, e.g. one per core (default 1)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--certfile", default=None, help="PEM certificate: serve HTTPS (with --keyfile)")
    p.add_argument("--keyfile", default=None, help="PEM private key of --certfile")

    g = group(
        "central",
        "the township's central record: set-up, administration, reports, bundles (commands that call the server "
        "take the API token from $LOVEMART_TOKEN, or ask for it; never on the command line)",
    )
    from lovemart.commands import people  # it builds on this module's helpers

    people.register(g, add)
    p = add(g, "init", cmd_central_init, "create or upgrade the central database and print a new admin token")
    database_option(p)
    p.add_argument("--township-id", default="T01", help="the township's id (default T01)")
    p.add_argument("--township-name", default="红星镇", help="the township's name")

    p = add(g, "demo", cmd_central_demo, "seed a demo township (villages, shops, households, a year of points)")
    database_option(p)
    p.add_argument("--households", type=int, default=200)
    p.add_argument("--shops", type=int, default=3)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument(
        "--console",
        action="store_true",
        help="on an empty database: three villages whose shops have sold, stocked and synced for 90 days, "
        "and demo people who sign in to the console (password lovemart-demo)",
    )

    p = add(g, "report", cmd_central_report, "reports: totals, ranking, shops, liability, overdrafts")
    p.add_argument("report", choices=["totals", "ranking", "shops", "liability", "overdrafts"])
    p.add_argument("--village", default=None, help="ranking: one village")
    p.add_argument("--limit", type=int, default=None, help="ranking: the first N")
    _server_options(p)

    p = add(g, "shops", cmd_central_shops_list, "list shops and how far each is acknowledged")
    _server_options(p)
    p = add(g, "shop-add", cmd_central_shops_add, "add or change a shop and print an enrol token for its PC")
    p.add_argument("shop_id")
    p.add_argument("--name", required=True)
    p.add_argument("--village-id", required=True)
    p.add_argument("--village-name", default=None, help="also add or rename the village")
    _server_options(p)
    p = add(g, "enrol-token", cmd_central_enrol_token, "a one-use token to set up (or replace) a shop's PC")
    p.add_argument("shop_id")
    _server_options(p)

    p = add(g, "devices", cmd_central_devices_list, "registered shop PCs")
    _server_options(p)
    p = add(g, "revoke-device", cmd_central_devices_revoke, "revoke a shop PC's token (lost or replaced PC)")
    p.add_argument("device_id")
    _server_options(p)

    p = add(g, "households-import", cmd_central_households_import, "add or update households from .xlsx/.csv")
    p.add_argument("file")
    _server_options(p)
    for kind in ("award", "deduct"):
        p = add(
            g,
            kind,
            cmd_central_points,
            f"{kind} points for one household at once, without the workflow (only while the township's policy "
            "page allows direct points, e.g. to enter old paper passbooks; logged)",
        )
        p.set_defaults(kind=kind)
        p.add_argument("household_id")
        p.add_argument("points", type=int)
        p.add_argument("--reason", required=True)
        _server_options(p)
    p = add(
        g,
        "points-import",
        cmd_central_points_import,
        "awards and deductions from a sheet at once, without the workflow (only while direct points are allowed)",
    )
    p.add_argument("file")
    _server_options(p)

    p = add(g, "exceptions", cmd_central_exceptions_list, "sync exceptions for the township to look at")
    p.add_argument("--status", default="open", choices=["open", "resolved", "all"])
    p.add_argument("--kind", help="only this kind (conflict, held, overdraft, ...)")
    p.add_argument("--shop", help="only this shop's")
    p.add_argument("--offset", type=int, default=0, help="skip this many (newest first)")
    p.add_argument("--limit", type=int, default=50, help="at most this many (up to 500)")
    _server_options(p)
    p = add(g, "resolve", cmd_central_exceptions_resolve, "mark an exception resolved, saying how")
    p.add_argument("id", type=int)
    p.add_argument("--resolution", required=True)
    _server_options(p)

    p = add(g, "held", cmd_central_held_list, "transactions a shop had no right to make, held with no effect")
    p.add_argument("--status", default="held", choices=["held", "kept", "released", "all"])
    p.add_argument("--shop", help="only this shop's")
    p.add_argument("--offset", type=int, default=0, help="skip this many (newest first)")
    p.add_argument("--limit", type=int, default=50, help="at most this many (up to 1000)")
    _server_options(p)
    for name, release, help_text in (
        ("keep", False, "keep a held transaction held for good (recorded with who and why)"),
        ("release", True, "release a held transaction: the township re-issues its points (who and why)"),
    ):
        p = add(g, name, cmd_central_held_decide, help_text)
        p.set_defaults(release=release)
        p.add_argument("txn_id", help="the held transaction's id (lovemart central held)")
        p.add_argument("--by", required=True, help="who decides (name)")
        p.add_argument("--reason", required=True, help="why")
        _server_options(p)

    p = add(g, "kiosk-token", cmd_central_kiosk_token, "a read-only token for a kiosk away from the shop")
    p.add_argument("--label", default="kiosk")
    _server_options(p)

    bundle = g.add_parser("bundle", help="USB-stick sync files from villages without network")
    b = bundle.add_subparsers(dest="bundle_command", required=True, metavar="ACTION")
    p = add(b, "apply", cmd_central_bundle_apply, "store a shop's sync file (and write the reply with --reply)")
    p.add_argument("file")
    p.add_argument("--reply", default=None, metavar="OUT", help="also write the reply file for the shop")
    database_option(p)
    p = add(b, "reply", cmd_central_bundle_reply, "write the reply to a shop's sync file: what it has not pulled")
    p.add_argument("file")
    p.add_argument("--out", dest="out_file", required=True, metavar="OUT")
    database_option(p)


def cmd_bench_console(args: argparse.Namespace, home: ShopParts) -> int:
    from lovemart_tools.bench_console import run_console_bench
    from lovemart_tools.measure import figure_lines

    figures = run_console_bench(args.database_url, scale=args.scale, requests=args.requests, rate=args.rate)
    return _show(args, figures, figure_lines(figures))


def cmd_bench_workflow(args: argparse.Namespace, home: ShopParts) -> int:
    from lovemart_tools.bench_workflow import run_workflow_bench
    from lovemart_tools.measure import figure_lines

    figures = run_workflow_bench(args.database_url, items=args.items, notice=args.notice)
    return _show(args, figures, figure_lines(figures))


def register_bench(g: Subcommands, add: AddCommand) -> None:
    """Add ``lovemart bench sync``, ``console`` and ``workflow`` to the ``bench`` group."""
    p = add(
        g,
        "console",
        cmd_bench_console,
        "township console: overview, search, statement and 台账 export over a large township (PostgreSQL)",
    )
    database_option(p)
    p.add_argument("--scale", type=float, default=1.0, help="fraction of 200,000 households and 10M transactions")
    p.add_argument("--requests", type=int, default=400, help="pages requested by the client threads, per phase")
    p.add_argument(
        "--rate", type=float, default=20.0, help="pages a second for the judged (paced) figures; then back to back"
    )
    p = add(
        g,
        "workflow",
        cmd_bench_workflow,
        "award workflow: import, check, review, publish and issue a village's season; the notice PDF; a shop's pull",
    )
    database_option(p)
    p.add_argument("--items", type=int, default=5000, help="records in the season (one per household)")
    p.add_argument("--notice", type=int, default=500, help="rows of the notice PDF that is timed")
    p = add(g, "sync", cmd_bench_sync, "central record: ingest rate, city night, bootstrap, bytes per transaction")
    database_option(p)
    p.add_argument("--scale", type=float, default=1.0, help="fraction of the full city (quick runs: 0.05)")
