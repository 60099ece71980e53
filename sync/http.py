"""One HTTP client for everything that talks to the central record.

The shop's sync (``sync.client``), the township's admin commands (``lovemart central ...``), the remote
kiosk (``lovemart.kiosk_remote``) and ``lovemart doctor``'s server check all go through ``Http``, so each of
these is done once:

- **Transport.** Every request carries a bearer token (a device's, an administrator's, a kiosk's), and
  whoever reads one can act with it: plain ``http://`` is refused to anything but the loopback, before a
  token is sent, unless the caller's settings allow it (then it is logged as a warning). See
  ``check_transport``.
- **Timeouts.** One timeout per client (or per request), and at most 10 s to connect.
- **Gzip and size.** A protocol body can be sent gzip'd; a reply is read raw and inflated here with a bound,
  and at most ``MAX_REPLY_BYTES`` are read, so a broken or hostile server cannot fill the memory.
- **The error envelope.** A refusal's body, ``{"error": {"code", "message", ...}}`` (``protocol.ErrorEnvelope``),
  is read once, into a ``RemoteRefusal`` that keeps the status on the wire, the server's words, the ledger's
  parameters and ``Retry-After``. A network failure is an ``Unreachable``; a reply that does not fit its
  model is ``payload_malformed``. All of them are ``SyncError``s.
- **Retries.** ``Backoff`` says how long to wait before the next attempt (exponential, capped, never less
  than the server's ``Retry-After``) and ``Backoff.run`` retries a call. Whether a request may be retried is
  the caller's to say: a push or a GET may, an award or an enrolment (its token works once) may not.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from ledger.messages import has, pick_language, template
from sync import protocol
from sync.errors import SyncError

log = logging.getLogger(__name__)

Sleep = Callable[[float], None]
MAX_REPLY_BYTES = protocol.MAX_JSON_BYTES  # a reply larger than this on the wire is not read
CONNECT_TIMEOUT = 10.0
USER_AGENT = "lovemart/1"

# What a refusal without a readable error body (a proxy's HTML page, say) most likely means.
_CODE_OF_STATUS = {401: "token_invalid", 403: "wrong_shop", 404: "not_found", 409: "conflict", 413: "payload_too_large"}

_Reply = TypeVar("_Reply", bound=BaseModel)
_Result = TypeVar("_Result")


# ----- typed failures -----------------------------------------------------------------------------------------


class Unreachable(SyncError):
    """The request got no answer: no network, the server down, a timeout (503 ``unreachable``, retried).

    ``connected`` says whether the request may have reached the server: after a failure to connect it did
    not, so even a request that must not be repeated (an enrolment) can be sent again.
    """

    def __init__(self, url: str, detail: str, *, connected: bool) -> None:
        self.connected = connected
        super().__init__("unreachable", url=url, detail=detail)


class RemoteRefusal(SyncError):
    """A refusal the server sent (4xx or 5xx), keeping the HTTP status it really had.

    ``status`` decides whether to retry, so it must be the status on the wire: an error code this client
    does not know must not turn a 4xx into something retried forever. ``server_message`` is the server's
    words in ``server_lang``; ``remote_params`` the parameters of a ledger refusal (a kiosk raises the same
    ``LedgerError`` again); ``retry_after`` the seconds of a ``Retry-After`` header.
    """

    def __init__(
        self,
        code: str,
        http_status: int,
        server_message: str = "",
        retry_after: float | None = None,
        *,
        server_lang: str = "zh",
        remote_params: Mapping[str, str | int] | None = None,
        **params: Any,
    ) -> None:
        self.http_status = http_status
        self.server_message = server_message
        self.retry_after = retry_after
        self.server_lang = pick_language(server_lang)
        self.remote_params = dict(remote_params or {})
        super().__init__(code, **params)

    @property
    def status(self) -> int:
        return self.http_status

    def message(self, lang: str = "zh") -> str:
        if self.server_message and pick_language(lang) == self.server_lang:
            return self.server_message  # the server's own words, in the language it was asked for
        if not has(self.code, lang):
            return self.server_message or f"{self.code} (HTTP {self.http_status})"
        fill = _Fill({**self.remote_params, **self.params}, str(self.params.get("detail", "")))
        try:
            return template(self.code, lang).format_map(fill)
        except (IndexError, ValueError, AttributeError, TypeError):
            return self.server_message or template(self.code, lang)


class _Fill(dict[str, Any]):
    """Template parameters where any the server did not send read as its detail text."""

    def __init__(self, params: dict[str, Any], fallback: str) -> None:
        super().__init__(params)
        self.fallback = fallback

    def __missing__(self, key: str) -> str:
        return self.fallback


# ----- transport --------------------------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_transport(server_url: str, allow_plain_http: bool = False) -> bool:
    """Refuse plain ``http://`` to another machine unless the settings allow it; True means "allowed but
    unencrypted" (the caller warns).

    A token travels in every request, and whoever reads it can act with it: over plain HTTP anyone on the
    village's network (or the mobile operator's) can. The loopback never leaves the PC.
    """
    parts = urlsplit(server_url)
    if parts.scheme.lower() != "http" or is_loopback(parts.hostname or ""):
        return False
    if not allow_plain_http:
        raise SyncError("plain_http_refused", url=server_url)
    log.warning("talking to %s over plain HTTP: its token can be read on the way", server_url)
    return True


def _describe(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    text = str(exc).strip()
    return text[:200] if text else type(exc).__name__


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None


def inflate(raw: bytes) -> bytes:
    """A gzip'd reply inflated with a bound, so a hostile reply cannot fill the memory."""
    try:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        text = inflater.decompress(raw, protocol.MAX_JSON_BYTES + 1)
    except zlib.error as exc:
        raise SyncError("payload_malformed", detail=f"reply: {exc}"[:200]) from exc
    if len(text) > protocol.MAX_JSON_BYTES or inflater.unconsumed_tail:
        raise SyncError("payload_too_large", limit=protocol.MAX_JSON_BYTES)
    return text


def read_json(raw: bytes, gzipped: bool) -> Any:
    """A reply body as JSON (None when empty), inflated first if ``gzipped``."""
    if gzipped:
        raw = inflate(raw)
    try:
        return json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SyncError("payload_malformed", detail=f"reply: {exc}"[:200]) from exc


def _reply_refused(error: ValidationError) -> SyncError:
    first = error.errors(include_url=False)[0]
    if first["loc"] == ("v",):  # a newer protocol, not a broken reply
        return SyncError("version_unsupported", version=str(first.get("input"))[:20])
    where = ".".join(str(part) for part in first["loc"])
    return SyncError("payload_malformed", detail=f"reply: {where}: {first['msg']}"[:200])


def reply_from_json(model: type[_Reply], text: bytes) -> _Reply:
    """A reply's JSON text as its protocol model (see ``reply_as``), parsed and checked in one pass."""
    try:
        return model.model_validate_json(text)
    except ValidationError as error:
        raise _reply_refused(error) from None


def reply_as(model: type[_Reply], data: Any) -> _Reply:
    """A reply as its protocol model: a newer protocol version is ``version_unsupported``, anything else
    that does not fit ``payload_malformed``."""
    if not isinstance(data, dict):
        raise SyncError("payload_malformed", detail="the reply is not a JSON object")
    if "v" in data and data["v"] != protocol.VERSION:
        raise SyncError("version_unsupported", version=data["v"])
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise _reply_refused(error) from None


class Http:
    """Requests to the central record, with its faults turned into ``SyncError``s.

    ``client`` may be given (tests, a shared connection pool); otherwise one is made and ``close()`` closes
    it. ``lang`` (``"zh"``/``"en"``) is asked of the server with every request (``?lang=``), for callers that
    show the server's words (the admin commands, the kiosk); the sync client leaves it to the server.
    ``max_reply_bytes`` bounds what is read of a reply on the wire (a kiosk's replies are small).
    """

    def __init__(
        self,
        server_url: str,
        token: str | None = None,
        client: httpx.Client | None = None,
        timeout: float = 60.0,
        *,
        allow_plain_http: bool = False,
        lang: str | None = None,
        max_reply_bytes: int = MAX_REPLY_BYTES,
    ) -> None:
        self.allow_plain_http = allow_plain_http
        self.max_reply_bytes = max_reply_bytes
        self.server_url = server_url
        self.token = token
        self.timeout = timeout
        self.lang = pick_language(lang) if lang is not None else None
        self._own = client is None
        self.client = (
            client
            if client is not None
            else httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT)))
        )

    @property
    def server_url(self) -> str:
        return self._server_url

    @server_url.setter
    def server_url(self, url: str) -> None:
        check_transport(url, self.allow_plain_http)  # before any token could be sent there
        self._server_url = url.rstrip("/")

    def close(self) -> None:
        if self._own:
            self.client.close()

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **options: Any) -> Any:
        """The reply's JSON (None for an empty reply), or the refusal raised as a ``SyncError``.

        Options: ``body`` is sent as it is (a protocol message, gzip'd unless ``gzipped=False``); ``json_body``
        (a dict or a model) as plain JSON; ``files`` as a multipart upload; ``params``; ``timeout``.
        """
        return read_json(self._exchange(method, path, **options), gzipped=False)

    def fetch(self, model: type[_Reply], method: str, path: str, **options: Any) -> _Reply:
        """``request``, its reply validated as ``model`` (a ``protocol`` or ``bodies`` model).

        The reply's JSON text goes to pydantic as it is (``model_validate_json``) rather than through
        ``json.loads`` first: a pull page of 1,000 transactions is then made into Python objects once, not
        twice, and a new shop PC's first pull (a hundred pages) costs no more than with the hand-written
        checks the models replaced.
        """
        return reply_from_json(model, self._exchange(method, path, **options))

    def _exchange(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        gzipped: bool = True,
        json_body: Any = None,
        files: Any = None,
        params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> bytes:
        """The reply's body, inflated, or the refusal raised as a ``SyncError`` (see ``request``)."""
        headers = {"Accept": "application/json", "Accept-Encoding": "gzip", "User-Agent": USER_AGENT}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if json_body is not None:
            data = json_body
            if isinstance(json_body, BaseModel):  # an unset optional field is left out, not sent as null
                data = json_body.model_dump(mode="json", exclude_none=True)
            body, gzipped = json.dumps(data, ensure_ascii=False).encode("utf-8"), False
        if body is not None:
            headers["Content-Type"] = "application/json"
            if gzipped:
                headers["Content-Encoding"] = "gzip"
        query = dict(params or {})
        if self.lang is not None:
            query["lang"] = self.lang
        extra: dict[str, Any] = {}
        if timeout is not None:
            extra["timeout"] = httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT))
        url = self.server_url + path
        try:
            with self.client.stream(
                method, url, content=body, files=files, params=query, headers=headers, **extra
            ) as response:
                raw = self._read(response)
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise SyncError("invalid", detail=f"server address {self.server_url!r}: {exc}") from exc
        except httpx.HTTPError as exc:
            connected = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
            raise Unreachable(self.server_url, _describe(exc), connected=connected) from exc
        gzipped_reply = "gzip" in response.headers.get("content-encoding", "").lower()
        if response.status_code >= 400:
            raise self._refusal(response, raw, gzipped_reply)
        return inflate(raw) if gzipped_reply else raw

    def _read(self, response: httpx.Response) -> bytes:
        chunks = []
        size = 0
        for chunk in response.iter_raw():
            size += len(chunk)
            if size > self.max_reply_bytes:
                raise SyncError("payload_too_large", limit=self.max_reply_bytes)
            chunks.append(chunk)
        return b"".join(chunks)

    def _refusal(self, response: httpx.Response, raw: bytes, gzipped: bool) -> RemoteRefusal:
        status = response.status_code
        code = _CODE_OF_STATUS.get(status, "server_error" if status >= 500 else "invalid")
        text = detail = ""
        remote: dict[str, str | int] = {}
        try:
            envelope: protocol.ErrorEnvelope | None = protocol.ErrorEnvelope.model_validate(read_json(raw, gzipped))
        except (SyncError, ValidationError):
            envelope = None  # not ours (a proxy's page): the status alone says what it means
        if envelope is not None:
            error = envelope.error
            code, text, detail = error.code or code, error.message, error.detail or ""
            remote = dict(error.params or {})
        params = {"detail": detail or text or f"HTTP {status}", "status": status, "url": self.server_url}
        return RemoteRefusal(
            code,
            status,
            text,
            _retry_after(response),
            server_lang=self.lang or "zh",
            remote_params=remote,
            **params,
        )


# ----- retries ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backoff:
    """How often and how long to wait before trying a request again.

    The wait doubles from ``base`` up to ``cap``; a server that said ``Retry-After`` is waited for at least
    that long (within the cap). ``sleep`` is injected so tests never wait.
    """

    attempts: int = 5
    base: float = 1.0
    cap: float = 300.0
    sleep: Sleep = time.sleep

    def delay(self, attempt: int, error: SyncError) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1, 2, ...)."""
        wait = min(self.cap, self.base * 2.0 ** (attempt - 1))
        if isinstance(error, RemoteRefusal) and error.retry_after is not None:
            wait = max(wait, min(self.cap, error.retry_after))
        return wait

    def run(
        self,
        call: Callable[[], _Result],
        *,
        retry_if: Callable[[SyncError], bool] = lambda error: error.retryable,
        on_retry: Callable[[int, SyncError, float], None] | None = None,
    ) -> _Result:
        """``call()``, tried up to ``attempts`` times while it fails with an error ``retry_if`` accepts."""
        attempts = max(1, self.attempts)
        for attempt in range(1, attempts + 1):
            try:
                return call()
            except SyncError as error:
                if attempt == attempts or not retry_if(error):
                    raise
                wait = self.delay(attempt, error)
                if on_retry is not None:
                    on_retry(attempt, error, wait)
                self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


__all__ = [
    "MAX_REPLY_BYTES",
    "Backoff",
    "Http",
    "RemoteRefusal",
    "Unreachable",
    "check_transport",
    "is_loopback",
    "inflate",
    "read_json",
    "reply_as",
    "reply_from_json",
]
