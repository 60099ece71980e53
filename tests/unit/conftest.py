"""Fixtures of the unit tests (the shared ones are in ``tests/conftest.py``)."""

from __future__ import annotations

import pytest

from hardware.decode import Decoder, decoder_names, make_decoder


@pytest.fixture(scope="module", params=decoder_names())
def decoder(request: pytest.FixtureRequest) -> Decoder:
    """Each barcode decoder in turn (the card and camera-frame tests read with both)."""
    return make_decoder(request.param)
