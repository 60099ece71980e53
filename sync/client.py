"""The shop side of sync: push the shop's journal to the central record, pull everything else back.

The local journal *is* the outbox (DESIGN.md §4, docs/sync.md). ``meta acked_through`` is the last of
this device's transactions the central record said it stored; it moves only on a reply from the
server, never on a send, so a crash or a lost reply can make the shop send something twice (the server
stores it once) but never skip something. ``meta pull_cursor`` is the last change-log entry applied; a
page and its cursor are committed together (``sync.apply``).

Faults are sorted by what they mean (``SyncError.retryable``): network errors and 5xx are retried
with exponential backoff (the sleep is injected so tests never wait); any 4xx stops at once with the
server's message, because sending the same thing again cannot help; a 409 is a conflict the township
must look at, and nothing changes locally.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from ledger import services
from ledger.board import VillageBoard, store_board
from ledger.errors import LedgerError
from ledger.messages import Said, Spoken, text
from ledger.model import GENESIS_HASH, Policy, Shop, Township, Transaction, Village
from ledger.ports import Identity, LedgerStore, LedgerUnit, SyncStatus
from sync import protocol
from sync.apply import apply_in, apply_page, pull_cursor
from sync.errors import SyncError
from sync.http import Backoff, Http, Unreachable, reply_as

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

_Reply = TypeVar("_Reply", bound=BaseModel)
Clock = Callable[[], datetime]
Sleep = Callable[[float], None]

ACKED_KEY = "acked_through"
LAST_SYNCED_KEY = "last_synced"
SERVER_URL_KEY = "server_url"
ERROR_KEY = "sync_error"  # the last failure as JSON {"zh", "en", "at"}; "" once a sync succeeds


@dataclass(frozen=True)
class Progress:
    """One step of a sync, for a progress line (the CLI) or a status label (the apps)."""

    stage: str  # "push" | "pull" | "retry" | "recover"
    done: int
    total: int | None = None
    detail: str = ""

    def message(self, lang: str = "zh") -> str:
        if self.stage == "push":
            of = f"/{self.total}" if self.total is not None else ""
            return text("sync.progress.push", lang, done=self.done, of=of)
        if self.stage == "pull":
            return text("sync.progress.pull", lang, done=self.done)
        if self.stage == "retry":
            return text("sync.progress.retry", lang, done=self.done, detail=self.detail)
        if self.stage == "recover":
            return text("sync.progress.recover", lang, done=self.done)
        return self.detail


ProgressFn = Callable[[Progress], None]
Hook = Callable[[str], None]


@dataclass(frozen=True)
class PushResult:
    pushed: int
    acked_through: int
    exceptions: int


@dataclass(frozen=True)
class PullResult:
    pulled: int
    txns: int
    cursor: int
    corrected: int = 0


@dataclass(frozen=True)
class SyncSummary:
    pushed: int
    pulled: int
    acked_through: int
    exceptions: int
    pulled_txns: int = 0
    cursor: int = 0
    last_synced: str = ""
    corrected: int = 0  # this shop's transactions the township held and corrected (docs/sync.md "Authority")

    def as_dict(self) -> dict[str, Any]:
        """The summary of ``lovemart sync --json``; the first four keys are the contract."""
        return {
            "pushed": self.pushed,
            "pulled": self.pulled,
            "acked_through": self.acked_through,
            "exceptions": self.exceptions,
            "pulled_txns": self.pulled_txns,
            "cursor": self.cursor,
            "last_synced": self.last_synced,
            "corrected": self.corrected,
        }


@dataclass(frozen=True)
class Enrolment:
    shop_id: str
    device_id: str
    device_token: str
    server_time: str = ""
    bundle_key: str = ""  # signs USB-stick bundles; "" from a server older than issue 11 (derived from the token)


def enrol(
    server_url: str,
    enrol_token: str,
    *,
    http: httpx.Client | None = None,
    timeout: float = 30.0,
    max_attempts: int = 3,
    backoff: float = 1.0,
    sleep: Sleep = time.sleep,
    allow_plain_http: bool = False,
) -> Enrolment:
    """Turn a one-use enrolment token into this PC's device id and token (``POST /v1/enrol``).

    Only a failure to connect is retried: the request never left, so the token is unused. After a lost
    reply the token may be spent and a resend would be refused; the township issues a new one.
    """
    connection = Http(server_url, None, http, timeout, allow_plain_http=allow_plain_http)
    request = protocol.EnrolRequest(token=enrol_token)
    body = json.dumps(request.model_dump()).encode("utf-8")
    retry = Backoff(max_attempts, backoff, sleep=sleep)
    try:
        reply = retry.run(
            lambda: connection.fetch(protocol.EnrolReply, "POST", "/v1/enrol", body=body, gzipped=False),
            retry_if=lambda error: isinstance(error, Unreachable) and not error.connected,
        )
    finally:
        connection.close()
    return Enrolment(
        reply.shop_id,
        reply.device_id,
        reply.device_token,
        reply.server_time,
        reply.bundle_key if len(reply.bundle_key) == 64 else "",
    )


class SyncClient:
    """Push, pull and sync one shop ledger with the central record. Thread-safe: one sync at a time.

    Also the ``SyncPort`` the POS shows (``status``, ``sync_now``): a failure is kept (in memory and
    in ``meta sync_error``) and shown, never raised into the UI thread.
    """

    def __init__(
        self,
        store: LedgerStore,
        server_url: str,
        device_token: str,
        *,
        http: httpx.Client | None = None,
        clock: Clock = services.local_now,
        sleep: Sleep = time.sleep,
        max_attempts: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 300.0,
        timeout: float = 60.0,
        progress: ProgressFn | None = None,
        hook: Hook | None = None,
        allow_plain_http: bool = False,
    ) -> None:
        self.store = store
        self.server_url = server_url.rstrip("/")
        self.device_token = device_token
        self.clock = clock
        self.sleep = sleep
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.progress = progress
        # Named points where tests interrupt a sync as a crash would: "push_replied" (reply in hand, ack not
        # saved), "pull_received" (page in hand, not applied).
        self.hook = hook
        self.http = Http(self.server_url, device_token, http, timeout, allow_plain_http=allow_plain_http)
        self._lock = threading.Lock()
        self._running = False
        self._unrecorded_error: SyncError | LedgerError | None = None

    # ----- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- the port the apps use ----------------------------------------------------------------------
    def status(self) -> SyncStatus:
        """Local and quick: no network. ``waiting`` counts this device's transactions not yet acknowledged."""
        configured = bool(self.server_url and self.device_token)
        try:
            with self.store.read() as unit:
                identity = unit.identity()
                acked = _meta_int(unit, ACKED_KEY)
                waiting = device_head(unit, identity, acked) - acked
                last = unit.meta(LAST_SYNCED_KEY) or None
                stored_error = unit.meta(ERROR_KEY) or ""
        except LedgerError as error:
            return SyncStatus(False, error=error)
        # The ledger's record is the truth across processes (the nightly job may have synced since);
        # the in-memory failure only stands in when it could not be written there.
        failure: Spoken | None = self._unrecorded_error
        if stored_error:
            try:
                saved = json.loads(stored_error)
                failure = Said(str(saved.get("zh") or ""), str(saved.get("en") or ""))
            except (ValueError, AttributeError):
                failure = Said(stored_error)
        return SyncStatus(configured, last, max(0, waiting), self._running, failure)

    def sync_now(self) -> SyncStatus:
        """Run one sync unless one is running already; the outcome is in the returned status.

        Blocks on the network: call it off the UI thread. A second caller while a sync runs (the nightly
        timer and the shopkeeper's button) gets the status at once instead of a second sync.
        """
        if not self._lock.acquire(blocking=False):
            return self.status()
        try:
            self._sync_locked()
        except (SyncError, LedgerError):
            pass  # kept by _sync_locked and shown through status()
        except Exception as exc:  # the POS must show a failed sync, not die with it
            log.exception("sync failed")
            self._remember(SyncError("server_error", status=type(exc).__name__))
        finally:
            self._lock.release()
        return self.status()

    # ----- sync ----------------------------------------------------------------------------------------
    def sync(self) -> SyncSummary:
        """Push, then pull, then record ``last_synced``. Raises ``SyncError``/``LedgerError`` when refused."""
        with self._lock:
            return self._sync_locked()

    def _sync_locked(self) -> SyncSummary:
        self._running = True
        try:
            pushed = self.push()
            pulled = self.pull()
            board = self.fetch_board()
            when = services.timestamp(self.clock)
            with self.store.write() as unit:
                unit.set_meta(LAST_SYNCED_KEY, when)
                if board is not None:
                    store_board(unit, board)
                if unit.meta(ERROR_KEY):
                    unit.set_meta(ERROR_KEY, "")
            self._unrecorded_error = None
            return SyncSummary(
                pushed.pushed,
                pulled.pulled,
                pushed.acked_through,
                pushed.exceptions,
                pulled.txns,
                pulled.cursor,
                when,
                pulled.corrected,
            )
        except (SyncError, LedgerError) as error:
            self._remember(error)
            raise
        finally:
            self._running = False

    def _remember(self, error: SyncError | LedgerError) -> None:
        """Keep the failure for the POS header, also across a restart (the nightly job runs in another process)."""
        self._unrecorded_error = error
        record = json.dumps(
            {"zh": error.message("zh"), "en": error.message("en"), "at": services.timestamp(self.clock)},
            ensure_ascii=False,
        )
        try:
            with self.store.write() as unit:
                unit.set_meta(ERROR_KEY, record)
            self._unrecorded_error = None
        except Exception:  # best effort: the ledger may be what failed; the failure is still in memory
            log.warning("could not record the sync failure in the ledger", exc_info=True)

    # ----- push ----------------------------------------------------------------------------------------
    def push(self) -> PushResult:
        """Send this device's transactions after ``acked_through`` in batches until none are left."""
        with self.store.read() as unit:
            identity = unit.identity()
            start = acked = _meta_int(unit, ACKED_KEY)
            total = device_head(unit, identity, acked) - acked
        exceptions = 0
        failures = 0
        while True:
            batch = self._outbox(identity, acked)
            if not batch:
                break
            body = protocol.encode(protocol.push_message(identity.shop_id, identity.device_id, batch))
            try:
                reply = self.http.fetch(protocol.PushReply, "POST", "/v1/push", body=body)
            except SyncError as error:
                if not error.retryable:
                    raise
                failures += 1
                if failures >= self.max_attempts:
                    raise
                self._pause(failures, error)
                # The batch may have been stored with only the reply lost: ask what the server holds.
                acked = self._recover(identity)
                continue
            failures = 0
            self._at("push_replied")
            ack = reply.acked_through
            exceptions += reply.exceptions
            if ack > batch[-1].seq:
                self._require_local(identity, ack)
            if ack <= acked:
                raise SyncError("payload_malformed", detail=f"the central record acknowledged {ack} after {acked}")
            acked = self._save_ack(ack)
            self._report(Progress("push", max(0, acked - start), max(total, acked - start)))
        return PushResult(max(0, acked - start), acked, exceptions)

    def _outbox(self, identity: Identity, acked: int) -> list[Transaction]:
        """This device's transactions after ``acked``, at most one push's worth, in sequence order."""
        with self.store.read() as unit:
            batch = unit.device_transactions(identity.device_id, acked, protocol.MAX_PUSH_TXNS)
        # Consecutive from acked + 1 (the server refuses a gap anyway, and says so to the township).
        consecutive = []
        for expected, txn in enumerate(batch, start=acked + 1):
            if txn.seq != expected:
                break
            consecutive.append(txn)
        return consecutive

    def _recover(self, identity: Identity) -> int:
        """After a lost reply: take the server's ``acked_through`` (``GET /v1/status``) and go on from there."""
        ack = self._call(protocol.StatusReply, "/v1/status").acked_through
        self._require_local(identity, ack)
        with self.store.write() as unit:
            unit.set_meta(ACKED_KEY, str(ack))
        self._report(Progress("recover", ack))
        return ack

    def _require_local(self, identity: Identity, ack: int) -> None:
        """The server cannot have stored more of this device than this PC ever wrote.

        If it says so, this ledger is older than the device's real history (restored from a backup):
        going on would fork the chain, so stop and let the township look.
        """
        if ack <= 0:
            return
        with self.store.read() as unit:
            known = unit.transaction_by_receipt(identity.shop_id, identity.device_id, ack)
        if known is None:
            raise SyncError(
                "conflict",
                detail=f"the central record holds {ack} transactions of device {identity.device_id}, more than this PC",
            )

    def _save_ack(self, ack: int) -> int:
        """Advance ``acked_through`` (never back: another process may have saved a newer reply)."""
        with self.store.write() as unit:
            saved = max(_meta_int(unit, ACKED_KEY), ack)
            unit.set_meta(ACKED_KEY, str(saved))
        return saved

    # ----- pull ----------------------------------------------------------------------------------------
    def pull(self) -> PullResult:
        """Fetch and apply pages after ``pull_cursor`` until the server says there are no more."""
        with self.store.read() as unit:
            unit.identity()
            cursor = pull_cursor(unit)
        pulled = txns = corrected = 0
        # The next page is fetched while this one is stored: the server builds page N+1 while this PC
        # writes page N (a new PC pulls a hundred pages). A page applied is never fetched again, and a
        # prefetched page that overlaps what the ledger has is skipped change by change (``apply_in``).
        with ThreadPoolExecutor(1, thread_name_prefix="lovemart-pull") as fetcher:
            page = self._page(cursor)
            while True:
                ahead = fetcher.submit(self._page, page.next) if page.more else None
                self._at("pull_received")
                applied = apply_page(self.store, page.changes, page.next)
                pulled += applied.changes
                txns += applied.txns
                corrected += applied.corrected
                self._report(Progress("pull", pulled))
                if ahead is None:
                    return PullResult(pulled, txns, applied.cursor, corrected)
                if applied.cursor <= cursor:
                    raise SyncError(
                        "payload_malformed", detail="the central record said there is more but sent nothing"
                    )
                cursor = applied.cursor
                page = ahead.result()

    def fetch_board(self) -> VillageBoard | None:
        """The village's rules and notices for the kiosk (``ledger.board``); None from a township server
        older than the board, which a shop syncs with all the same."""
        try:
            return self._call(protocol.VillageBoardWire, "/v1/board").board()
        except SyncError as error:
            if error.code == "not_found":
                return None
            raise

    def _page(self, after: int) -> Page:
        reply = self._call(protocol.PullReply, "/v1/pull", params={"after": after, "limit": protocol.PULL_PAGE})
        return read_page(reply, after)

    # ----- after restoring a backup -----------------------------------------------------------------------
    def recover_own(self) -> int:
        """Take back this device's own transactions that the township holds and this ledger lacks.

        A ledger restored from a backup older than what the township acknowledged must not number new
        sales again from its old head: the township would refuse them as a fork. Its own missing sales come
        back from the township, chained onto the backup's last one, with their effects on balances and
        stock; what was never synced is gone with the old ledger. Returns how many came back.
        """
        with self._lock:
            with self.store.read() as unit:
                identity = unit.identity()
                head = device_head(unit, identity, _meta_int(unit, ACKED_KEY))
            recovered = 0
            while True:
                reply = self._call(protocol.OwnReply, "/v1/own", params={"after": head})
                if not reply.txns:
                    return recovered
                with self.store.write() as unit:
                    previous = unit.hash_at(identity.device_id, head) if head else GENESIS_HASH
                    txns = protocol.chain_of(reply.txns, identity.device_id, previous or GENESIS_HASH)
                    unit.ingest(txns)
                    head = txns[-1].seq
                    unit.set_meta(ACKED_KEY, str(max(head, _meta_int(unit, ACKED_KEY))))
                recovered += len(txns)
                self._report(Progress("recover", head))
                if not reply.more:
                    return recovered

    # ----- provisioning ----------------------------------------------------------------------------------
    def bootstrap(self, shop_id: str, device_id: str) -> SyncSummary:
        """Make an empty ledger this shop's, from the central record, then sync it whole.

        The township, policy, village and shop records come in the first pages; the identity is set up
        from them in the same local transaction that applies those pages, so a ledger is either not set
        up at all or set up with its first pages. A ledger already set up for this shop just syncs.
        """
        with self._lock:
            with self.store.read() as unit:
                try:
                    identity: Identity | None = unit.identity()
                except LedgerError:
                    identity = None
            if identity is not None:
                if identity != Identity(shop_id, device_id):
                    raise SyncError("wrong_shop", shop_id=identity.shop_id)
                return self._sync_locked()
            pages: list[Page] = []
            found = _Founding(shop_id)
            cursor = 0
            while not found.complete:
                page = self._page(cursor)
                pages.append(page)
                found.see(page.changes)
                if not page.more or page.next <= cursor:
                    break
                cursor = page.next
            township, village, shop = found.require()
            with self.store.write() as unit:
                services.set_up_shop(self.store, township, village, shop, device_id, found.policy or Policy())
                unit.set_meta(SERVER_URL_KEY, self.server_url)
                for page in pages:
                    apply_in(unit, page.changes, page.next)
            return self._sync_locked()

    # ----- helpers --------------------------------------------------------------------------------------
    def _retries(self) -> Backoff:
        return Backoff(self.max_attempts, self.backoff, self.max_backoff, self.sleep)

    def _call(self, model: type[_Reply], path: str, params: dict[str, Any] | None = None) -> _Reply:
        """A GET (idempotent), its reply validated as ``model``, retried with backoff on retryable faults."""
        return self._retries().run(
            lambda: self.http.fetch(model, "GET", path, params=params), on_retry=self._announce_retry
        )

    def _pause(self, attempt: int, error: SyncError) -> None:
        delay = self._retries().delay(attempt, error)
        self._announce_retry(attempt, error, delay)
        self.sleep(delay)

    def _announce_retry(self, attempt: int, error: SyncError, delay: float) -> None:
        self._report(Progress("retry", attempt, self.max_attempts - 1, error.message("zh")))
        log.info("sync: attempt %d failed (%s); retrying in %.1f s", attempt, error, delay)

    def _report(self, progress: Progress) -> None:
        if self.progress is not None:
            self.progress(progress)

    def _at(self, point: str) -> None:
        if self.hook is not None:
            self.hook(point)


@dataclass(frozen=True)
class Page:
    changes: list[protocol.Change]
    next: int
    more: bool


def read_page(reply: protocol.PullReply | protocol.Message, after: int) -> Page:
    """Check a pull reply (or the pull part of a reply bundle): every change as the protocol says
    (``protocol.PullReply``), in order, after ``after``, with a sane cursor."""
    page = reply if isinstance(reply, protocol.PullReply) else reply_as(protocol.PullReply, reply)
    if page.changes and page.changes[0]["seq"] <= after:
        raise SyncError("payload_malformed", detail="changes out of order")
    if page.next < after:
        raise SyncError("payload_malformed", detail="the cursor is behind the changes sent")
    return Page(page.changes, page.next, page.more)


class _Founding:
    """Looks through the first pulled pages for what a new shop ledger is set up from."""

    def __init__(self, shop_id: str) -> None:
        self.shop_id = shop_id
        self.township: Township | None = None
        self.policy: Policy | None = None
        self.shop: Shop | None = None
        self.villages: dict[str, Village] = {}

    def see(self, changes: list[protocol.Change]) -> None:
        for change in changes:
            kind = change["type"]
            if kind not in ("township", "policy", "village", "shop"):
                continue
            record = protocol.master_of(kind, change["data"])
            if isinstance(record, Township):
                self.township = record
            elif isinstance(record, Policy):
                if self.policy is None or record.version >= self.policy.version:
                    self.policy = record
            elif isinstance(record, Village):
                self.villages[record.village_id] = record
            elif isinstance(record, Shop) and record.shop_id == self.shop_id:
                self.shop = record

    @property
    def complete(self) -> bool:
        # The policy is not waited for: a later policy record replaces the default the shop starts with.
        return self.township is not None and self.shop is not None and self.shop.village_id in self.villages

    def require(self) -> tuple[Township, Village, Shop]:
        if self.township is None or self.shop is None or self.shop.village_id not in self.villages:
            raise SyncError("not_found", what=f"township, village and shop records for {self.shop_id}")
        return self.township, self.villages[self.shop.village_id], self.shop


def _meta_int(unit: LedgerUnit, key: str) -> int:
    try:
        return int(unit.meta(key) or 0)
    except ValueError:
        return 0


def device_head(unit: LedgerUnit, identity: Identity, known: int = 0) -> int:
    """This device's newest sequence number, found from ``known`` by doubling then halving.

    The port has no "head of device" read; a few look-ups by receipt number find it in O(log n).
    """

    def exists(seq: int) -> bool:
        return seq <= 0 or unit.transaction_by_receipt(identity.shop_id, identity.device_id, seq) is not None

    low = known if exists(known) else 0
    step = 1
    high = low + step
    while exists(high):
        low = high
        step *= 2
        high = low + step
    while high - low > 1:  # exists(low), not exists(high)
        middle = (low + high) // 2
        if exists(middle):
            low = middle
        else:
            high = middle
    return low


@contextmanager
def client_for(store: LedgerStore, server_url: str, device_token: str, **options: Any) -> Iterator[SyncClient]:
    """A client that is closed at the end of the ``with`` block."""
    client = SyncClient(store, server_url, device_token, **options)
    try:
        yield client
    finally:
        client.close()


__all__ = [
    "Enrolment",
    "Page",
    "Progress",
    "PullResult",
    "PushResult",
    "SyncClient",
    "SyncSummary",
    "client_for",
    "device_head",
    "enrol",
    "read_page",
]
