"""Tooling, not the product: benchmarks, the demo shop, screenshot drivers and the helpers they share.

- ``bench_ledger``, ``bench_scan`` (with ``bench_receipt``), ``bench_sync``: ``lovemart bench ledger|scan|sync``
- ``pos_driver``, ``kiosk_driver``: the real apps driven offscreen (``lovemart screenshots``, ``lovemart bench
  kiosk``)
- ``demo``: a demo township and shop (``lovemart demo``; also the goods and names of ``central demo``)
- ``degrade``: synthetic camera frames of printed passbook cards (the scan bench, the decoder tests)
- ``escpos_reader``: ESC/POS bytes read back as lines (tests, ``lovemart receipt``'s text)

The product packages never import this one (an import-linter contract in ``pyproject.toml``); only the
``lovemart`` command's handlers do, lazily, inside the commands that run tooling.
"""
