"""The ``lovemart`` command's subcommands, one module per kind; each ``register`` adds its own to the parser."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from typing import TypeAlias

    from lovemart.cli import Handler

    # What ``add_subparsers`` returns (argparse's own class: typeshed names it so).
    Subcommands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


class AddCommand(Protocol):
    """``lovemart.cli``'s ``add``: the command ``name`` in ``group``, run by ``handler``, with the common options."""

    def __call__(
        self, group: Subcommands, name: str, handler: Handler, help_text: str, /
    ) -> argparse.ArgumentParser: ...


class AddGroup(Protocol):
    """``lovemart.cli``'s ``group``: a top-level command ``name`` whose subcommands go in what it returns."""

    def __call__(self, name: str, help_text: str, /) -> Subcommands: ...
