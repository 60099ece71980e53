"""Tooling, not the product: benchmarks, the demo shop, screenshot drivers and the helpers they share.

- ``bench_ledger``, ``bench_scan`` (with ``bench_receipt``), ``bench_sync``, ``bench_apps``:
  ``lovemart bench ledger|scan|sync|kiosk``
- ``screenshots``: ``lovemart screenshots``
- ``pos_driver``, ``kiosk_driver``: the real apps, as ``lovemart.pos_main`` and ``lovemart.kiosk_main`` wire
  them, driven offscreen (their screenshots and their part of ``bench kiosk``)
- ``demo``: a demo township and shop (``lovemart demo``; also the goods and names of ``central demo``)
- ``degrade``: synthetic camera frames of printed passbook cards (the scan bench, the decoder tests)
- ``escpos_reader``: ESC/POS bytes read back as lines (tests, ``lovemart receipt``'s text)

The shared helpers, one of each: ``measure`` (percentiles, timings, memory, process age, the printed figures)
and ``offscreen`` (a Kivy app in a window nobody sees: environment, frames, start and stop, screenshots, a
fresh process per window).

The product packages never import this one (an import-linter contract in ``pyproject.toml``); only the
``lovemart`` command's handlers do, lazily, inside the commands that run tooling.
"""
