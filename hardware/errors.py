"""Typed hardware faults, shown to people as messages.

A printer with its cover open or a camera pulled out of its socket is a normal day in a village
shop, not a crash: every fault has a stable ``code`` (its message id in the catalogues under ``locale/``)
and the parameters that fill the message in the shopkeeper's language. ``HardwareError`` is a
``DeviceFault`` so the ledger's print queue can record it without knowing about printers.
"""

from __future__ import annotations

from ledger.errors import DeviceFault


class HardwareError(DeviceFault):
    """A scanner, camera or printer fault with a stable ``code`` and a message for people."""
