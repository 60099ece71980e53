"""Finding message keys in Python source: the extractor ``make messages`` (Babel) and the tests use.

Babel's own Python extractor reads tokens, so ``HardwareError("a" if opening else "b")`` comes out as one
key ``"ab"``. This one reads the syntax tree: every string literal a keyword call can receive as its key
(both branches of a conditional, either side of ``or``) is a key. ``babel.cfg`` names the keywords (the
lookup functions and the refusal classes) and, for the classes whose codes carry a prefix in the catalogue,
the prefix (``prefixes = Violation=authority.``).

Standard library only (it lives in the core so that Babel can import it from an editable install); it is
never imported at run time.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

# Babel's keyword specs: None (the first argument) or a tuple of 1-based argument positions.
KeywordSpec = tuple[Any, ...] | None


def parse_prefixes(value: str) -> dict[str, str]:
    """``"Violation=authority. Other=x."`` -> ``{"Violation": "authority.", "Other": "x."}``."""
    found = {}
    for part in value.split():
        name, _, prefix = part.partition("=")
        found[name] = prefix
    return found


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _literals(node: ast.expr) -> Iterator[str]:
    """Every string a key expression can be: a literal, either branch of ``a if c else b``, each of ``a or b``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.IfExp):
        yield from _literals(node.body)
        yield from _literals(node.orelse)
    elif isinstance(node, ast.BoolOp):
        for value in node.values:
            yield from _literals(value)


def _positions(spec: KeywordSpec) -> list[int]:
    if not spec:
        return [1]
    return [p for p in spec if isinstance(p, int)] or [1]


def calls(
    source: str, names: Iterable[str], prefixes: Mapping[str, str] | None = None, filename: str = "<source>"
) -> Iterator[tuple[int, str, tuple[str | None, ...]]]:
    """``(line, name, arguments)`` for each call of one of ``names``: its positional arguments as the literal
    key each can be (prefixed as ``prefixes`` says), None where it is not a literal. A call whose argument can
    be one of several literals is given once per literal."""
    wanted = set(names)
    prefixes = prefixes or {}
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        if name is None or name not in wanted:
            continue
        prefix = prefixes.get(name, "")
        options = [[prefix + literal for literal in _literals(arg)] for arg in node.args]
        first = tuple(found[0] if found else None for found in options)
        yield node.lineno, name, first
        for index, found in enumerate(options):
            for other in found[1:]:
                yield node.lineno, name, first[:index] + (other,) + first[index + 1 :]


def keys_in(
    source: str,
    keywords: Mapping[str, KeywordSpec],
    prefixes: Mapping[str, str] | None = None,
    filename: str = "<source>",
) -> Iterator[tuple[int, str, str]]:
    """``(line, keyword, key)`` for every key a keyword call in ``source`` can be given."""
    for line, name, arguments in calls(source, keywords, prefixes, filename):
        for position in _positions(keywords[name]):
            if position <= len(arguments) and arguments[position - 1]:
                yield line, name, str(arguments[position - 1])


def extract(
    fileobj: IO[bytes], keywords: Iterable[str], comment_tags: Any, options: Mapping[str, Any]
) -> Iterator[tuple[int, str, tuple[str | None, ...], list[str]]]:
    """Babel's extractor interface (``[extractors]`` in ``babel.cfg``); Babel picks the key by its keyword spec."""
    source = fileobj.read().decode(str(options.get("encoding", "utf-8")))
    prefixes = parse_prefixes(str(options.get("prefixes", "")))
    for line, name, arguments in calls(source, keywords, prefixes, getattr(fileobj, "name", "<source>")):
        yield line, name, arguments, []
