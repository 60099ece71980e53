"""``lovemart bench scan``: which barcode decoder reads passbook cards better, and how fast.

One run:

1. Makes passbook cards for ``HOUSEHOLDS`` households with a fixed bench key, plus decoys: cards of
   the same households signed with another township's key, and forged cards (a card number changed,
   a mac made up). All of them go on a real A4 PDF sheet (``hardware.cards.write_cards_pdf``), which is
   rasterized at 300 dpi and cut into card pictures, so the bench reads what the office prints.
2. Photographs them: ``frames`` degraded 640 x 480 camera frames of genuine cards, one tenth as many
   empty frames and one twentieth as many decoy frames (``lovemart_tools.degrade``).
3. Decodes every frame with every backend, timing each ``decode`` call, and checks each text read with
   ``ledger.passbook.verify_code`` as a shop would.

Per backend: ``decode_rate`` is the share of genuine frames whose card's text was read; ``false_reads``
counts frames where a code that checks out with the township key names anything but the card in view
(on an empty or decoy frame: any code that checks out) and must be 0; ``ms_per_frame_p50``/``_p99`` are
over the genuine frames and ``ms_empty_frame`` is the median over the empty ones (what the reader
thread spends while nobody is at the counter). ``default`` is the backend without false reads that
reads the most frames, the faster one on a tie.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hardware.cards import CardFace, card_images_from_pdf, write_cards_pdf
from hardware.decode import Decoder, decoder_names, make_decoder
from hardware.errors import HardwareError
from ledger.errors import LedgerError
from ledger.passbook import compute_mac, make_code, verify_code
from lovemart_tools.degrade import Frame, SourceCard, degraded_set, source_cards
from lovemart_tools.measure import figure_lines, percentile

BENCH_KEY = b"lovemart scan bench township key"
FOREIGN_KEY = b"a neighbouring township's key"
HOUSEHOLDS = 50
DECOYS = 6
DPI = 300
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ("秀英", "建国", "桂兰", "志强", "玉珍", "德明", "春花", "国庆", "海燕", "长生")
VILLAGES = ("幸福村", "青山村", "柳溪村", "石桥村", "向阳村")
WARM_UP = 5


def _faces() -> tuple[list[CardFace], list[CardFace]]:
    """Genuine cards for the bench households, and decoys that must never be accepted."""
    genuine = []
    for n in range(HOUSEHOLDS):
        household_id = f"XF{n + 1:04d}"
        # Most families are on their first card; every seventh lost one and carries a reissue.
        card_no = 1 + (n % 7 == 3) + (n % 11 == 5)
        genuine.append(
            CardFace(
                household_id,
                SURNAMES[n % len(SURNAMES)] + GIVEN[n % len(GIVEN)],
                VILLAGES[n % len(VILLAGES)],
                card_no,
                make_code(BENCH_KEY, household_id, card_no),
            )
        )
    decoys = []
    for n in range(DECOYS):
        face = genuine[(n * 7) % HOUSEHOLDS]
        if n % 2 == 0:
            # A real card of the same household number from another township.
            code = make_code(FOREIGN_KEY, face.household_id, face.card_no)
        else:
            # A forger who copied a card and bumped its number, keeping the old mac.
            mac = compute_mac(BENCH_KEY, face.household_id, face.card_no)
            code = f"LM1:{face.household_id}:{face.card_no + 1}:{mac}"
        decoys.append(CardFace(face.household_id, face.household_name, face.village_name, face.card_no, code))
    return genuine, decoys


def build_frames(frames: int, seed: int, workdir: Path) -> list[Frame]:
    """The bench's frames: cards printed to a PDF sheet in ``workdir``, rasterized, cut out and photographed."""
    genuine, decoys = _faces()
    faces = genuine + decoys
    sheet = workdir / "passbook-cards.pdf"
    write_cards_pdf(faces, sheet, title="扫码测试")
    images = card_images_from_pdf(sheet, DPI)
    cards: list[SourceCard] = source_cards(images, [face.code for face in faces])
    return degraded_set(cards[: len(genuine)], frames, seed, decoys=cards[len(genuine) :])


def card_in_view() -> Any:
    """One camera frame with a passbook card in it (the benchmark's first, clean one), for screenshots."""
    with tempfile.TemporaryDirectory(prefix="lovemart-card-") as folder:
        return build_frames(1, 3, Path(folder))[0].image


def _accepted(texts: Sequence[str]) -> set[str]:
    """The texts a shop would accept: those that check out with the township key."""
    accepted = set()
    for text in texts:
        try:
            verify_code(BENCH_KEY, text)
        except LedgerError:
            continue
        accepted.add(text)
    return accepted


def score(decoder: Decoder, frames: Sequence[Frame]) -> dict[str, Any]:
    """Decode every frame with ``decoder`` and measure it; see the module docstring for the figures."""
    for frame in frames[:WARM_UP]:
        decoder.decode(frame.image)  # first calls allocate buffers; the till's reader thread is long-lived
    genuine_ms: list[float] = []
    empty_ms: list[float] = []
    clean_ms: list[float] = []  # the baseline: the same decoder on frames with nothing wrong with them
    read = 0
    false_reads = 0
    refused_misreads = 0  # texts read that are not the card's text (refused by the mac, so harmless)
    by_symbology: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    decoy_frames = empty_frames = 0
    for frame in frames:
        start = time.perf_counter()
        found = decoder.decode(frame.image)
        elapsed_ms = (time.perf_counter() - start) * 1000
        texts = [result.text for result in found]
        accepted = _accepted(texts)
        if frame.expected is not None:
            genuine_ms.append(elapsed_ms)
            if frame.degradation == "clean":
                clean_ms.append(elapsed_ms)
            hit = frame.expected in texts
            read += hit
            by_symbology[frame.symbology][0] += hit
            by_symbology[frame.symbology][1] += 1
            by_kind[frame.degradation][0] += hit
            by_kind[frame.degradation][1] += 1
            false_reads += bool(accepted - {frame.expected})
        else:
            false_reads += bool(accepted)
            if frame.shown is None:
                empty_frames += 1
                empty_ms.append(elapsed_ms)
            else:
                decoy_frames += 1
        refused_misreads += sum(text != frame.shown and text not in accepted for text in texts)
    count = len(genuine_ms)
    return {
        "decode_rate": round(read / count, 4) if count else 0.0,
        "false_reads": false_reads,
        "ms_per_frame_p50": round(percentile(genuine_ms, 0.5), 3),
        "ms_per_frame_p99": round(percentile(genuine_ms, 0.99), 3),
        "ms_empty_frame": round(statistics.median(empty_ms), 3) if empty_ms else None,
        "baseline_ms_clean_frame_p50": round(percentile(clean_ms, 0.5), 3) if clean_ms else None,
        "rate_by_symbology": {name: round(hits / total, 4) for name, (hits, total) in sorted(by_symbology.items())},
        "rate_by_degradation": {name: round(hits / total, 4) for name, (hits, total) in sorted(by_kind.items())},
        "refused_misreads": refused_misreads,
        "empty_frames": empty_frames,
        "decoy_frames": decoy_frames,
    }


def _default(backends: dict[str, dict[str, Any]]) -> str | None:
    """Without false reads first, then the higher decode rate, then the lower median time."""
    working = [name for name, figures in backends.items() if "decode_rate" in figures]
    if not working:
        return None
    return min(
        working,
        key=lambda name: (
            backends[name]["false_reads"] > 0,
            -backends[name]["decode_rate"],
            backends[name]["ms_per_frame_p50"],
        ),
    )


def run_scan_bench(frames: int = 500, seed: int = 1) -> dict[str, Any]:
    """Run the scan bench; see the module docstring. ``receipt_build_ms`` is left for the receipt bench."""
    if frames < 1:
        raise ValueError("the scan bench needs at least one frame")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lovemart-scan-") as workdir:
        frame_set = build_frames(frames, seed, Path(workdir))
    generate_s = time.perf_counter() - start
    backends: dict[str, dict[str, Any]] = {}
    for name in decoder_names():
        try:
            decoder = make_decoder(name)
        except HardwareError as exc:
            # A till without libzbar still benchmarks the other backend and says why this one is missing.
            backends[name] = {"error": exc.code, "message": str(exc)}
            continue
        backends[name] = score(decoder, frame_set)
    return {
        "frames": frames,
        "default": _default(backends),
        "backends": backends,
        "receipt_build_ms": None,
        "generate_s": round(generate_s, 3),
    }


def scan_lines(figures: dict[str, Any]) -> list[str]:
    """The figures as ``lovemart bench scan`` prints them: each decoder on a line of its own."""
    text = [f"frames: {figures['frames']}  default: {figures['default']}"]
    for name, backend in figures["backends"].items():
        text.append(f"{name}: " + ", ".join(f"{k}={v}" for k, v in backend.items()))
    return text + figure_lines({k: v for k, v in figures.items() if k not in ("frames", "default", "backends")})
