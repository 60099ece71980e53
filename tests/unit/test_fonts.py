"""The bold Simplified Chinese face: copied once out of Noto CJK's collection, and never a reason to fail.

Kivy opens the first face of a ``.ttc`` (the Japanese one), so ``ui.fonts`` copies the Simplified Chinese
face out; these tests run the copy for real on Debian's ``fonts-noto-cjk`` (``make test`` installs it).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from ui import fonts


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(fonts.BOLD_ENV_VAR, raising=False)
    return tmp_path / "cache" / "lovemart" / "fonts"


def test_the_simplified_chinese_bold_face_is_copied_once_into_the_cache(cache: Path) -> None:
    found = fonts.find_bold_font()
    assert found == str(cache / fonts.BOLD_FILE)
    face = TTFont(found, lazy=True)
    assert face["name"].getDebugName(1) == "Noto Sans CJK SC" and face["name"].getDebugName(2) == "Bold"
    assert "直" in "".join(chr(c) for c in face.getBestCmap())
    first = Path(found).stat().st_mtime_ns
    assert fonts.find_bold_font() == found and Path(found).stat().st_mtime_ns == first  # not copied again
    assert [p.name for p in cache.iterdir()] == [fonts.BOLD_FILE]  # no temporary file left behind


def test_no_collection_or_no_room_means_regular_weight_not_a_failure(
    cache: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cache.parent.mkdir(parents=True)
    cache.write_text("a file where the folder should be")  # as good as a full or read-only disk
    with caplog.at_level(logging.WARNING, logger="ui.fonts"):
        assert fonts.find_bold_font() is None
    assert "no bold Chinese font" in caplog.text
    monkeypatch.setattr(fonts, "BOLD_COLLECTIONS", ("/nonexistent/NotoSansCJK-Bold.ttc",))
    assert fonts.find_bold_font() is None


def test_a_named_bold_font_wins_and_a_wrong_name_is_said(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    mine = tmp_path / "mine.otf"
    mine.write_bytes(b"not really a font, but a file")
    monkeypatch.setenv(fonts.BOLD_ENV_VAR, str(mine))
    assert fonts.find_bold_font() == str(mine)
    monkeypatch.setenv(fonts.BOLD_ENV_VAR, str(tmp_path / "missing.otf"))
    with caplog.at_level(logging.WARNING, logger="ui.fonts"):
        assert fonts.find_bold_font() == str(cache / fonts.BOLD_FILE)
    assert "is not a file" in caplog.text


def test_a_collection_without_the_face_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no face named"):
        fonts.extract_face(Path(fonts.BOLD_COLLECTIONS[0]), "No Such Family", tmp_path / "x.otf")
    assert not list(tmp_path.iterdir())
