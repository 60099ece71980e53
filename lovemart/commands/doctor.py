"""``lovemart doctor``: is this shop PC ready to sell? The ledger, the printer, the scanner, the township's
server and the clock, each checked without changing anything, in words a technician on the phone can read out.

Each check says ``ok``, ``warn`` (works, but someone should look: receipts waiting, no township server set)
or ``fail`` (selling, printing or syncing will not work until it is fixed). Exit status 1 when any check
fails, so a script (or the systemd unit) can act on it.
"""

from __future__ import annotations

import argparse
import os
import stat
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ledger.errors import DeviceFault, LedgerError
from lovemart.wiring import ShopHome

CLOCK_SKEW = timedelta(minutes=5)  # more than this from the township's clock: receipts carry a wrong time
SERVER_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Check:
    name: str  # ledger | printer | scanner | camera | server | clock | permissions | chain | audit | balances
    status: str  # ok | warn | fail
    zh: str
    en: str

    def words(self, lang: str) -> str:
        return self.zh if lang.startswith("zh") else self.en


def _refused(name: str, error: LedgerError | DeviceFault) -> Check:
    return Check(name, "fail", error.message("zh"), error.message("en"))


def check_ledger(home: ShopHome) -> tuple[Check, Any]:
    """The ledger opens (settings, migrations, integrity as ``open_ledger`` checks them); who this PC is."""
    if not home.exists:
        return (
            Check(
                "ledger",
                "fail",
                f"{home.home} 里没有账本：新店运行 lovemart provision（或试用 lovemart demo）。",
                f"No ledger in {home.home}: run lovemart provision (or lovemart demo to try it out).",
            ),
            None,
        )
    try:
        store = home.store()
        with store.read() as unit:
            identity = unit.identity()
            pending = len(unit.print_jobs(status="pending"))
            last = unit.last_own_transaction()
    except LedgerError as error:
        return _refused("ledger", error), None
    seq = last.seq if last else 0
    check = Check(
        "ledger",
        "ok",
        f"账本正常：{identity.shop_id} 超市 {identity.device_id} 号机，已记 {seq} 笔。",
        f"Ledger fine: shop {identity.shop_id}, device {identity.device_id}, {seq} transactions.",
    )
    facts = {"pending_receipts": pending, "last": last}
    return check, facts


def check_printer(home: ShopHome, pending: int) -> Check:
    if not home.settings.extra.get("printer"):
        return Check(
            "printer",
            "warn",
            "没有设置小票打印机：业务照常保存，小票在打印队列里等着（lovemart.toml 的 [printer]）。",
            "No receipt printer set: sales are saved, receipts wait in the queue ([printer] in lovemart.toml).",
        )
    try:
        printer = home.printer()
        printer.check()
    except DeviceFault as fault:
        return _refused("printer", fault)
    if pending:
        return Check(
            "printer",
            "warn",
            f"打印机能连上（{printer.where}），但有 {pending} 张小票没打：lovemart receipt pending。",
            f"The printer answers ({printer.where}) but {pending} receipts did not print: lovemart receipt pending.",
        )
    return Check("printer", "ok", f"打印机能连上（{printer.where}）。", f"The printer answers ({printer.where}).")


def check_scanner(home: ShopHome) -> list[Check]:
    """The decoder can be loaded; the camera, when one is set, opens. A USB scanner needs no check: it types."""
    from lovemart.wiring import camera_device

    # OpenCV's own warnings ("can't open camera by index") would interleave with ours on the terminal.
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    scanner = dict(home.settings.extra.get("scanner") or {})
    name = str(scanner.get("decoder") or "zxing")
    checks = []
    try:
        from hardware.decode import make_decoder

        make_decoder(name)
        checks.append(Check("scanner", "ok", f"条码识别（{name}）可用。", f"Barcode decoding ({name}) works."))
    except DeviceFault as fault:
        checks.append(_refused("scanner", fault))
    device = camera_device(scanner.get("camera", 0))
    if device is None:
        checks.append(Check("camera", "ok", "没有设置摄像头（用扫码枪）。", "No camera set (USB scanner only)."))
        return checks
    from hardware.camera import open_video_capture

    capture = open_video_capture(device)
    try:
        opened = bool(capture.isOpened())
    finally:
        capture.release()
    if opened:
        checks.append(Check("camera", "ok", f"摄像头 {device} 能打开。", f"Camera {device} opens."))
    else:
        checks.append(
            Check(
                "camera",
                "warn",
                f"打不开摄像头 {device}：检查数据线，或在 [scanner] 里设 camera = -1 只用扫码枪。",
                f"Camera {device} does not open: check the cable, or set camera = -1 in [scanner] for a USB "
                "scanner only.",
            )
        )
    return checks


def check_server_and_clock(home: ShopHome, last: Any) -> list[Check]:
    """The township's server answers this PC's token; this PC's clock agrees with it and runs forward."""
    from ledger.services import local_now
    from lovemart.sync_wiring import allow_plain_http, is_provisioned, read_device_token, server_url

    now = local_now()
    checks: list[Check] = []
    server_time: datetime | None = None
    if home.exists and is_provisioned(home):
        from sync.errors import SyncError
        from sync.http import Http, RemoteRefusal, Unreachable
        from sync.protocol import StatusReply

        url = server_url(home) or ""
        token = read_device_token(home)
        try:
            # The one HTTP client: the same transport check, timeout and error envelope as a sync.
            with Http(url, token, None, SERVER_TIMEOUT_S, allow_plain_http=allow_plain_http(home)) as http:
                status = http.fetch(StatusReply, "GET", "/v1/status")
        except Unreachable as exc:
            detail = exc.params.get("detail", "")
            checks.append(
                Check(
                    "server",
                    "fail",
                    f"连不上乡镇服务器（{url}）：{detail}。业务都保存在本机，网络好了再同步。",
                    f"Cannot reach the central record ({url}): {detail}. Everything is kept here; sync later.",
                )
            )
        except RemoteRefusal as refusal:
            if refusal.http_status == 401:
                checks.append(
                    Check(
                        "server",
                        "fail",
                        "乡镇服务器不认本机的令牌（已作废？）：请乡镇发新的登记码，再运行 lovemart provision。",
                        "The central record refuses this PC's token (revoked?): ask the township for a new "
                        "enrolment code and run lovemart provision.",
                    )
                )
            else:
                checks.append(
                    Check(
                        "server",
                        "fail",
                        f"乡镇服务器出错（{refusal.http_status}），稍后再试。",
                        f"The central record failed ({refusal.http_status}); try later.",
                    )
                )
        except SyncError as error:  # plain http:// refused, an address that is no URL, a reply that is not ours
            checks.append(Check("server", "fail", error.message("zh"), error.message("en")))
        else:
            acked = status.acked_through
            checks.append(
                Check(
                    "server",
                    "ok",
                    f"乡镇服务器正常（{url}），已确认到本机第 {acked} 笔。",
                    f"The central record answers ({url}); it has this PC's transactions up to {acked}.",
                )
            )
            try:
                server_time = datetime.fromisoformat(status.server_time)
            except ValueError:
                server_time = None
    else:
        checks.append(
            Check(
                "server",
                "warn",
                "没有连接乡镇服务器（单机店）：需要时运行 lovemart provision，或用 U 盘同步。",
                "Not connected to a central record (standalone shop): lovemart provision when there is one.",
            )
        )
    checks.append(check_clock(now, server_time, last))
    return checks


def check_clock(now: datetime, server_time: datetime | None, last: Any) -> Check:
    if server_time is not None and server_time.tzinfo is not None and abs(now - server_time) > CLOCK_SKEW:
        minutes = round((now - server_time).total_seconds() / 60)
        return Check(
            "clock",
            "fail",
            f"本机时钟和乡镇服务器差 {minutes} 分钟：请把电脑时间调准（小票上的时间会不对）。",
            f"This PC's clock is {minutes} minutes off the central record's: set the time (receipts show it).",
        )
    if last is not None:
        try:
            newest = datetime.fromisoformat(last.created_at)
        except ValueError:
            newest = None
        if newest is not None and newest.tzinfo is not None and newest - now > CLOCK_SKEW:
            return Check(
                "clock",
                "fail",
                f"本机时钟比账本里最后一笔（{last.created_at[:16]}）还早：请把电脑时间调准。",
                f"This PC's clock is behind the ledger's last transaction ({last.created_at[:16]}): set the time.",
            )
    return Check("clock", "ok", f"时钟：{now:%Y-%m-%d %H:%M}", f"Clock: {now:%Y-%m-%d %H:%M}")


PRIVATE_FILES = ("device-token", "bundle-key", "kiosk-token", "lovemart-error.log", "central.sqlite3")


def wide_permissions(home: ShopHome) -> list[tuple[Path, int]]:
    """The shop's folder and secret-holding files that other users of this PC can read or write
    (``lovemart.toml`` only when it holds the kiosk's PIN hash: otherwise it holds nothing secret)."""
    ledger = home.settings.ledger_path
    paths = [home.home, ledger] + [Path(str(ledger) + s) for s in ("-wal", "-shm")]
    paths += [home.home / name for name in PRIVATE_FILES]
    if (home.settings.extra.get("kiosk") or {}).get("manager_pin"):
        paths.append(home.settings.config_path)
    wide = []
    for path in dict.fromkeys(paths):
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            continue
        if mode & 0o077:
            wide.append((path, mode))
    return wide


def check_permissions(home: ShopHome, before: list[tuple[Path, int]]) -> Check:
    """Only this user can read the shop's folder and ledger (it holds the township's passbook key: whoever
    reads it can forge passbooks). ``before`` is what was wide before the ledger was opened, since opening
    tightens what it can; what was wide for a while may have been copied, so it is still said."""
    after = wide_permissions(home)
    still = {path for path, _ in after}
    tightened = [(path, mode) for path, mode in before if path not in still]
    if not after and not tightened:
        return Check(
            "permissions", "ok", "店里的文件夹和账本只有本用户能读。", "Only this user can read the shop's folder."
        )

    def listed(items: list[tuple[Path, int]], sep: str, fmt: str) -> str:
        return sep.join(fmt.format(path=path, mode=f"{mode:04o}") for path, mode in items)

    zh, en = [], []
    if after:
        folders = " ".join(str(p) for p, _ in after if p.is_dir())
        files = " ".join(str(p) for p, _ in after if not p.is_dir())
        fix = "; ".join(
            x for x in (f"chmod 700 {folders}" if folders else "", f"chmod 600 {files}" if files else "") if x
        )
        zh.append(
            f"别的用户能读这些文件：{listed(after, '、', '{path}（{mode}）')}。"
            f"账本里有乡镇的存折密钥（能用来伪造存折），其他文件里有令牌或密码。请运行：{fix} 。"
        )
        en.append(
            f"Other users can read: {listed(after, ', ', '{path} ({mode})')}. The ledger holds the township's "
            f"passbook key (it forges passbooks), the other files tokens or PINs. Run: {fix} ."
        )
    if tightened:
        zh.append(
            f"另外，{listed(tightened, '、', '{path}（{mode}）')} 原来别的用户也能读，现已改为只有本用户能读；"
            "如果这台电脑别人也用，请告诉乡镇。"
        )
        en.append(
            f"Other users could read {listed(tightened, ', ', '{path} ({mode})')}; now this user's only. If "
            "others use this PC, tell the township."
        )
    return Check("permissions", "warn", "".join(zh), " ".join(en))


AUDIT_STALE = timedelta(days=3)  # the day close audits the ledger; older than this, someone skipped closing


def _age(when: str, now: datetime) -> tuple[str, str, timedelta | None]:
    """How long ago ``when`` was, in words (zh, en), and as a span (None when unreadable)."""
    try:
        then = datetime.fromisoformat(when)
        span = now - then if then.tzinfo is not None else None
    except ValueError:
        span = None
    if span is None:
        return when, when, None
    hours = max(0, int(span.total_seconds() // 3600))
    if hours < 1:
        return "不到 1 小时前", "less than an hour ago", span
    if hours < 48:
        return f"{hours} 小时前", f"{hours} hours ago", span
    return f"{hours // 24} 天前", f"{hours // 24} days ago", span


def check_tampering(home: ShopHome) -> list[Check]:
    """Issue 11 §4, as the till sees it: the start-up chain check (run here, read-only), the last full audit
    (age and result) and whether any household's cached balance differs from its postings."""
    from ledger import integrity
    from ledger.services import local_now

    store = home.store()
    try:
        chain = integrity.check_chain(store)
        with store.read() as unit:
            stop = integrity.stopped(unit)
            last = integrity.last_audit(unit)
        drift = integrity.balance_drift(store)
    except LedgerError as error:
        return [_refused("chain", error)]
    checks = []
    if not chain.ok or stop is not None:
        detail = chain.problems[0].detail if chain.problems else stop.first if stop else ""
        more = len(chain.problems) - 1
        if more > 0:
            detail += f" (+{more})"
        checks.append(_refused("chain", LedgerError("ledger_tampered", detail=detail)))
    else:
        since_zh, since_en = "从头", "from the start"
        if chain.checkpoint is not None:
            since_zh, since_en = (
                f"检查点（{chain.checkpoint.at[:16]}）之后",
                f"since the checkpoint of {chain.checkpoint.at[:16]}",
            )
        checks.append(
            Check(
                "chain",
                "ok",
                f"校验链完好：{since_zh}的 {chain.checked} 笔都对得上（{chain.elapsed_ms:.0f} 毫秒）。",
                f"Hash chain whole: the {chain.checked} transactions {since_en} check out ({chain.elapsed_ms:.0f} ms).",
            )
        )
    now = local_now()
    if last is None:
        checks.append(
            Check(
                "audit",
                "warn",
                "还没有做过全账核对：日结时会自动核对，也可以运行 lovemart audit verify。",
                "The whole ledger was never audited: the day close does it, or run lovemart audit verify.",
            )
        )
    else:
        ago_zh, ago_en, span = _age(last.at, now)
        if not last.ok:
            checks.append(
                Check(
                    "audit",
                    "fail",
                    f"上次全账核对（{ago_zh}）发现 {last.problems} 个问题：请停止兑换，打电话给乡镇"
                    "（lovemart audit verify 列出问题）。",
                    f"The last audit ({ago_en}) found {last.problems} problems: stop selling and call the township "
                    "(lovemart audit verify lists them).",
                )
            )
        else:
            stale = span is not None and span > AUDIT_STALE
            checks.append(
                Check(
                    "audit",
                    "warn" if stale else "ok",
                    f"上次全账核对：{ago_zh}，{last.transactions} 笔，0 个问题。"
                    + ("好几天没有日结了：日结时会再核对。" if stale else ""),
                    f"Last audit: {ago_en}, {last.transactions} transactions, 0 problems."
                    + (" No day close for days: closing the day audits again." if stale else ""),
                )
            )
    if drift:
        names = "、".join(p.detail.split(":")[0].removeprefix("balance of household ") for p in drift[:5])
        names_en = ", ".join(p.detail for p in drift[:5])
        checks.append(
            Check(
                "balances",
                "fail",
                f"有 {len(drift)} 户的积分余额和账本记录对不上（户号 {names}）：这些户不能兑换，请打电话给乡镇。",
                f"{len(drift)} households' balances differ from their postings ({names_en}): they cannot redeem; "
                "call the township.",
            )
        )
    else:
        checks.append(
            Check(
                "balances",
                "ok",
                "每户的积分余额都和账本记录相符。",
                "Every household's balance equals the sum of its postings.",
            )
        )
    return checks


def cmd_doctor(args: argparse.Namespace, home: ShopHome) -> int:
    permissions_before = wide_permissions(home)  # opening the ledger below tightens them
    ledger, facts = check_ledger(home)
    checks = [ledger]
    checks.append(check_printer(home, facts["pending_receipts"] if facts else 0))
    checks += check_scanner(home)
    checks += check_server_and_clock(home, facts["last"] if facts else None)
    checks.append(check_permissions(home, permissions_before))
    checks += check_tampering(home) if facts else []
    lang = args.out.lang
    mark = {"ok": "✓", "warn": "!", "fail": "✗"}
    ok = all(c.status != "fail" for c in checks)
    args.out.result(
        {
            "ok": ok,
            "checks": [{"name": c.name, "status": c.status, "message": c.words(lang)} for c in checks],
        },
        [f"{mark[c.status]} {c.words(lang)}" for c in checks],
    )
    return 0 if ok else 1


def register(commands: Any, add: Any) -> None:
    add(
        commands,
        "doctor",
        cmd_doctor,
        "check the ledger, printer, scanner, township server and clock, and whether the ledger was altered "
        "(hash chain since the last audit, the last audit, balances against postings)",
    )
