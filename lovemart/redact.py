"""Secrets out of logs: tokens, PINs and the township's passbook key never reach a log file (DESIGN.md §8).

An error log is sent to a technician, pasted into a chat, copied to a USB stick; a bearer token in it lets
anyone push as the shop or act as the township, a PIN opens the till, the passbook key forges passbooks.
So every log line is passed through ``redact`` before it is written: the command line of the failed
command (``--pin 2468``), a traceback that quotes an HTTP header, a ``token=...`` in a URL.

``install()`` wraps the logging record factory, so every logger of every library is covered whatever
handler (Kivy's, uvicorn's, ours) writes the record, and ``redact`` is there for the text we write
ourselves. Redaction replaces the value, keeping the name, so the log still says *which* secret it was.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

MASK = "***"

_NAMES = r"(?:[\w-]*token|pin|pin_record|manager_pin|passbook_key|key|secret|password|passwd|authorization)"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: Bearer abc... (headers, reprs of headers)
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {MASK}"),
    # --admin-token X, --pin 1234, --token=X on a command line
    (re.compile(rf"(?i)(--{_NAMES})(=|\s+)\S+"), rf"\1\2{MASK}"),
    # "token": "abc", 'pin': '1234', token=abc, pin: 1234 (JSON, dict reprs, query strings, key=value)
    (
        re.compile(rf"(?i)([\"']?\b{_NAMES}[\"']?\s*[:=]\s*)(b?[\"'][^\"']*[\"']|[^\s,;&)}}\]]+)"),
        rf"\1{MASK}",
    ),
)


def redact(text: str) -> str:
    """``text`` with the values of tokens, PINs and keys replaced by ``***``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_argv(argv: Sequence[str]) -> str:
    """A command line for a log: the word after ``--pin``, ``--admin-token`` and the like is masked."""
    words: list[str] = []
    hide_next = False
    for word in argv:
        if hide_next:
            words.append(MASK)
            hide_next = False
            continue
        if re.fullmatch(rf"(?i)--{_NAMES}", word):
            hide_next = True
        words.append(redact(word))
    return " ".join(words)


_installed = False


def _redacted(value: object) -> object:
    """A log argument without secrets: text redacted; numbers kept; any other object replaced by its
    redacted text only when that text held a secret (so formatters still get the types they expect)."""
    if value is None or isinstance(value, int | float):
        return value
    if isinstance(value, str):
        return redact(value)
    try:
        text = str(value)
    except Exception:  # an object whose __str__ fails: logging would say so itself
        return value
    masked = redact(text)
    return masked if masked != text else value


def install() -> None:
    """Redact every log record from now on, in this process (idempotent).

    The record's template and arguments are redacted when it is made, and so is its traceback (a
    formatter uses ``exc_text`` when it is already set), so no handler ever sees the raw text.
    """
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        # The template and each argument are redacted in place, keeping their shape: some formatters read
        # ``record.args`` themselves (uvicorn's access log takes the client, method, path... from it).
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redacted(v) for k, v in record.args.items()}
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
