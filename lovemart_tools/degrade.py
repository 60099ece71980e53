"""Degraded 640 x 480 camera frames of passbook cards, for the decode benchmark and the decoder tests.

A villager holds a card 15-40 cm in front of a cheap webcam: the card fills 35-90 % of the frame's
width, is turned any way round, tilted, a little out of focus, shaken, badly lit, shiny, and the frame
is noisy and JPEG-compressed (webcams send MJPG). Frames are made the way a camera makes them:

1. a textured table top with some clutter;
2. the card (a picture rasterized from the real PDF sheet) seen by a pinhole camera with a 35-degree
   lens (``FOCAL_PX``: at 15 cm the card is 90 % of the frame wide, at 40 cm 35 %), at a distance, turned
   and tilted (``Pose``), with a thumb over one symbol when only the other one should be read;
3. light (``Look``): reflectances squeezed between a black and a white level, light falling off across
   the frame, a specular highlight on the laminated card;
4. optics and sensor: defocus (Gaussian), hand shake (a line kernel), noise, clipping, JPEG.

Every frame has a mild everyday amount of all of these and one ``KIND`` pushed to a ``strength`` from 0
to 1. Blur and shake are measured in modules of the symbol in view, so a strength means the same at any
distance. Strength 1 is the worst a counter should expect: a defocus of 0.45 module, a shake of 1.2
modules, a highlight adding 220 grey levels at its centre (sigma 3.5 mm, on a 21 mm QR code), noise of
18 grey levels, 50 grey levels between black and white, JPEG quality 20, a tilt of 45 degrees.
``degraded_set`` draws strengths from 0.1 to 0.8 by default (drawn from 0 to 1 instead, zxing-cpp still
reads 0.99 of the frames).

Views: the whole card at any angle; the QR code only (camera closer, bars under a thumb); the Code 128
only (held level, within ``CODE128_MAX_SKEW`` degrees, close enough that the bars fill 70-100 % of the
width, QR code under a thumb). A linear symbol must be crossed end to end by a scan line, which is why
people hold barcodes level for any scanner, and a 640-pixel frame has room for at most 2.4 pixels per
module of a passbook's Code 128.

Everything is drawn from one ``numpy.random.Generator`` seeded by the caller, so a seed gives the same
frames on every run (with the same OpenCV). A frame costs about 6 ms to make.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

from hardware.cards import CARD_HEIGHT_MM, CARD_WIDTH_MM, PRINT_DPI, Box, symbol_layout

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    Grey = NDArray[np.uint8]
    Floats = NDArray[np.float32]

WIDTH = 640
HEIGHT = 480
FOCAL_PX = 1015.0  # 640 px across a 35-degree field of view
NEAR_MM = 150.0
FAR_MM = 400.0
CODE128_MAX_SKEW = 8.0  # degrees off level: beyond about 10 a scan line no longer crosses all the bars

KINDS = ("clean", "scale", "rotate", "tilt", "blur", "motion", "noise", "contrast", "glare", "jpeg")
VIEWS = ("card", "qr", "code128")  # whole card; QR code only (bars covered); Code 128 only (QR covered)
SYMBOLOGY = {"card": "both", "qr": "QRCode", "code128": "Code128"}
CARD_BOX = Box(0.0, 0.0, CARD_WIDTH_MM, CARD_HEIGHT_MM)


@dataclass(frozen=True, eq=False)  # pictures compare by identity: equal pixels are not the same card
class SourceCard:
    """A card picture (grey, the card's edges at the picture's edges) and the text its symbols carry."""

    image: Grey = field(repr=False)
    code: str

    @property
    def px_per_mm(self) -> float:
        return float(self.image.shape[1]) / CARD_WIDTH_MM


@dataclass(frozen=True)
class Pose:
    """Where a card is in front of the camera.

    ``anchor`` is the part of the card ("card", "qr" or "code128") whose centre lands on ``center`` (frame
    pixels); ``rotation_deg`` turns the card in its plane, ``tilt_deg`` tips it back about an axis in its
    plane at ``tilt_axis_deg``; ``cover`` puts a thumb over the "qr", the "code128" or "both" symbols.
    """

    distance_mm: float
    rotation_deg: float = 0.0
    tilt_deg: float = 0.0
    tilt_axis_deg: float = 0.0
    center: tuple[float, float] = (WIDTH / 2, HEIGHT / 2)
    anchor: str = "card"
    cover: str | None = None


@dataclass(frozen=True)
class Look:
    """Light, optics and sensor for one frame. Levels are 8-bit grey values, lengths frame pixels."""

    black: float = 25.0
    white: float = 235.0
    light_slope: float = 0.0  # light falls off by this fraction over half the frame...
    light_deg: float = 0.0  # ...in this direction
    glare: float = 0.0  # grey levels added at the highlight's centre (0: no highlight)
    glare_sigma_mm: float = 4.0
    glare_at_mm: tuple[float, float] = (68.0, 18.0)  # on the first card, from its top-left corner
    blur_sigma: float = 0.5
    motion_px: float = 0.0
    motion_deg: float = 0.0
    noise_sigma: float = 2.0
    jpeg_quality: int | None = None


@dataclass(frozen=True, eq=False)
class Frame:
    """One camera frame and what a perfect reader would make of it.

    ``expected`` is the passbook text that should be read and accepted (None: nothing should be);
    ``shown`` is the text of the card in view, a decoy's too (None: no card); ``symbology`` is "QRCode",
    "Code128", "both" or "none"; ``degradation`` is the ``KIND`` pushed (or "empty").
    """

    image: Grey = field(repr=False)
    expected: str | None
    shown: str | None
    symbology: str
    degradation: str
    strength: float
    decoy: bool = False
    pose: Pose | None = None
    look: Look | None = None


def symbol_boxes(code: str) -> dict[str, Box]:
    """The QR code and the Code 128, with their quiet zones, on a card of ``code`` printed from the PDF sheet."""
    layout = symbol_layout(code, PRINT_DPI)
    return {"qr": layout.qr_box, "code128": layout.bar_box}


def _symbol_area(code: str, part: str) -> Box:
    """The symbol itself, without its quiet zone: what a thumb has to hide."""
    layout = symbol_layout(code, PRINT_DPI)
    if part == "qr":
        side = len(layout.qr) * layout.qr_module_mm
        return Box(layout.qr_x, layout.qr_y, side, side)
    return Box(layout.bar_x, layout.bar_y, sum(layout.bars) * layout.bar_module_mm, layout.bar_height_mm)


def _anchor_mm(code: str, anchor: str) -> tuple[float, float]:
    box = CARD_BOX if anchor == "card" else symbol_boxes(code)[anchor]
    return box.x + box.w / 2, box.y + box.h / 2


def _corners(box: Box) -> list[tuple[float, float]]:
    return [(box.x, box.y), (box.x + box.w, box.y), (box.x + box.w, box.y + box.h), (box.x, box.y + box.h)]


def project(code: str, pose: Pose, points_mm: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Frame pixels of points on the card (mm from its top-left corner) seen in ``pose`` by a pinhole camera."""
    ax, ay = _anchor_mm(code, pose.anchor)
    tilt = math.radians(pose.tilt_deg)
    axis = math.radians(pose.tilt_axis_deg)
    turn = math.radians(pose.rotation_deg)
    kx, ky = math.cos(axis), math.sin(axis)  # the tilt axis lies in the card's plane
    cos_t, sin_t = math.cos(tilt), math.sin(tilt)
    out = []
    for x_mm, y_mm in points_mm:
        x, y = x_mm - ax, y_mm - ay
        # Rodrigues' rotation of (x, y, 0) about the unit vector (kx, ky, 0), then the turn about the lens axis.
        along = kx * x + ky * y
        px = x * cos_t + kx * along * (1 - cos_t)
        py = y * cos_t + ky * along * (1 - cos_t)
        pz = (kx * y - ky * x) * sin_t
        rx = px * math.cos(turn) - py * math.sin(turn)
        ry = px * math.sin(turn) + py * math.cos(turn)
        depth = pose.distance_mm + pz
        out.append((pose.center[0] + FOCAL_PX * rx / depth, pose.center[1] + FOCAL_PX * ry / depth))
    return out


def _log_uniform(rng: Any, low: float, high: float) -> float:
    # Spread evenly in ratio, not in millimetres: a card's size in the frame goes as 1 / distance.
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def _motion_kernel(length: float, angle_deg: float) -> Floats:
    """A normalised line ``length`` pixels long at ``angle_deg``, within 11 x 11 so OpenCV filters directly
    (from 11 x 11 it switches to a DFT, ten times slower on a frame)."""
    import cv2
    import numpy as np

    size = 11
    kernel = np.zeros((size, size), dtype=np.float32)
    half = min(length, size - 1) / 2
    dx, dy = half * math.cos(math.radians(angle_deg)), half * math.sin(math.radians(angle_deg))
    centre = (size - 1) / 2
    shift = 4  # line ends in sixteenths of a pixel
    p1 = (round((centre - dx) * (1 << shift)), round((centre - dy) * (1 << shift)))
    p2 = (round((centre + dx) * (1 << shift)), round((centre + dy) * (1 << shift)))
    cv2.line(kernel, p1, p2, 1.0, 1, cv2.LINE_AA, shift)
    total = float(kernel.sum())
    return kernel / total if total else kernel


class FrameMaker:
    """Makes frames from one seed: backgrounds, poses, light and noise all come from its generator."""

    def __init__(self, seed: int) -> None:
        import numpy as np

        self.rng = np.random.default_rng(seed)
        # Noise and textures are cut from banks made once: drawing 300,000 normal numbers for every frame
        # would cost more than everything else together.
        self._noise = self.rng.standard_normal((HEIGHT + 96, WIDTH + 96), dtype=np.float32)
        self._textures = [self._texture(stretch) for stretch in ((1, 1), (1, 12), (10, 1))]
        self._ys, self._xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
        # Shrunk copies of each card picture, keyed by the picture's id; the list keeps the picture alive,
        # so the id cannot be reused by another picture while it is cached.
        self._levels: dict[int, list[tuple[Grey, float]]] = {}

    # ----- the scene -----

    def _texture(self, stretch: tuple[int, int]) -> Floats:
        """Unit texture: fine noise smeared along one direction (wood grain, cloth) or not at all (concrete)."""
        import cv2
        import numpy as np

        raw = self.rng.standard_normal((HEIGHT + 96, WIDTH + 96), dtype=np.float32)
        smeared = np.asarray(cv2.blur(raw, (stretch[1] * 2 + 1, stretch[0] * 2 + 1)), dtype=np.float32)
        return smeared / max(float(smeared.std()), 1e-6)

    def _cut(self, bank: Floats) -> Floats:
        dy = int(self.rng.integers(0, bank.shape[0] - HEIGHT + 1))
        dx = int(self.rng.integers(0, bank.shape[1] - WIDTH + 1))
        return bank[dy : dy + HEIGHT, dx : dx + WIDTH]

    def background(self) -> Grey:
        """A table top: uneven shading, a grain, and a few edges and objects lying about."""
        import cv2
        import numpy as np

        rng = self.rng
        coarse = rng.uniform(0.0, 1.0, (4, 5)).astype(np.float32)
        shade = cv2.resize(coarse, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
        low, high = sorted(float(v) for v in rng.uniform(30, 200, 2))
        grain = float(rng.uniform(3, 18)) * self._cut(self._textures[int(rng.integers(len(self._textures)))])
        scene = low + (high - low) * shade + grain
        for _ in range(int(rng.integers(0, 5))):
            value = float(rng.uniform(0, 255))
            p1 = (int(rng.integers(-50, WIDTH + 50)), int(rng.integers(-50, HEIGHT + 50)))
            p2 = (int(rng.integers(-50, WIDTH + 50)), int(rng.integers(-50, HEIGHT + 50)))
            if rng.random() < 0.5:
                cv2.line(scene, p1, p2, value, int(rng.integers(1, 12)), cv2.LINE_AA)
            else:
                cv2.rectangle(scene, p1, p2, value, -1)
        return np.clip(scene, 0, 255).astype(np.uint8)

    def _level(self, card: SourceCard, wanted_px_per_mm: float) -> tuple[Grey, float]:
        """The smallest kept copy of the card picture at least ``wanted_px_per_mm`` sharp, and its scale.

        Copies shrink in steps of 1/sqrt(2) with INTER_AREA, which averages as a sensor's pixels do: a
        bilinear warp straight from 300 dpi would alias the bars into a moire no camera makes, and an
        INTER_AREA resize to the exact size for every frame would cost more than the rest of the frame.
        """
        import cv2

        levels = self._levels.setdefault(id(card.image), [(card.image, card.px_per_mm)])
        while levels[-1][1] / math.sqrt(2) >= wanted_px_per_mm and levels[-1][0].shape[1] > 64:
            original = levels[0][0]
            factor = 0.5 ** (len(levels) / 2)
            size = (round(original.shape[1] * factor), round(original.shape[0] * factor))
            smaller = cast("Grey", cv2.resize(original, size, interpolation=cv2.INTER_AREA))
            levels.append((smaller, size[0] / CARD_WIDTH_MM))
        for image, scale in reversed(levels):
            if scale >= wanted_px_per_mm:
                return image, scale
        return levels[0]

    def _thumb(self, source: Grey, box: Box, px_per_mm: float) -> None:
        """A thumb over a symbol (a shaded ellipse through the symbol's corners), so only the other is read."""
        import cv2

        center = (round((box.x + box.w / 2) * px_per_mm), round((box.y + box.h / 2) * px_per_mm))
        # An ellipse through a rectangle's corners has semi-axes sqrt(2) times the rectangle's half sides.
        axes = (round(box.w * 0.71 * px_per_mm) + 1, round(box.h * 0.71 * px_per_mm) + 1)
        tone = int(self.rng.uniform(110, 190))
        cv2.ellipse(source, center, axes, 0, 0, 360, tone, -1, cv2.LINE_AA)
        inner = (max(1, axes[0] * 2 // 3), max(1, axes[1] * 2 // 3))
        cv2.ellipse(source, center, inner, 0, 0, 360, min(255, tone + 25), -1, cv2.LINE_AA)

    def place(self, frame: Grey, card: SourceCard, pose: Pose) -> None:
        """Draw ``card`` into ``frame`` (in place) as the camera sees it in ``pose``."""
        import cv2
        import numpy as np

        dst = np.array(project(card.code, pose, _corners(CARD_BOX)), dtype=np.float32)
        nearest_px_per_mm = FOCAL_PX / max(1.0, pose.distance_mm - CARD_WIDTH_MM / 2)
        source, scale = self._level(card, nearest_px_per_mm * 1.2)
        if pose.cover:
            source = source.copy()
            for part in ("qr", "code128") if pose.cover == "both" else (pose.cover,):
                self._thumb(source, _symbol_area(card.code, part), scale)
        # Pixel centres sit half a pixel inside the picture's edges, which are the card's edges.
        src = np.array([(x * scale - 0.5, y * scale - 0.5) for x, y in _corners(CARD_BOX)], dtype=np.float32)
        matrix = cv2.getPerspectiveTransform(src, dst)
        cv2.warpPerspective(
            source, matrix, (WIDTH, HEIGHT), dst=frame, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT
        )

    def expose(self, scene: Grey, look: Look, glare_center: tuple[float, float] | None, glare_px: float) -> Grey:
        """What the camera delivers of a scene of reflectances (0-255): light, lens, sensor, JPEG."""
        import cv2
        import numpy as np

        image = scene.astype(np.float32)
        image *= (look.white - look.black) / 255.0
        image += look.black
        if look.light_slope:
            direction = math.radians(look.light_deg)
            ramp = (self._xs - WIDTH / 2) * math.cos(direction) + (self._ys - HEIGHT / 2) * math.sin(direction)
            image *= 1.0 - look.light_slope * ramp / (WIDTH / 2)
        if look.glare and glare_center is not None:
            # A highlight adds light on top of what the card reflects; it may go past white, and the lens
            # spreads that excess before the sensor clips it.
            cx, cy = glare_center
            reach = int(3 * glare_px) + 1
            x0, x1 = max(0, int(cx) - reach), min(WIDTH, int(cx) + reach)
            y0, y1 = max(0, int(cy) - reach), min(HEIGHT, int(cy) + reach)
            if x0 < x1 and y0 < y1:
                dx = self._xs[y0:y1, x0:x1] - cx
                dy = self._ys[y0:y1, x0:x1] - cy
                image[y0:y1, x0:x1] += look.glare * np.exp(-(dx**2 + dy**2) / (2 * glare_px**2))
        if look.blur_sigma > 0.3:
            image = cast("Floats", cv2.GaussianBlur(image, (0, 0), look.blur_sigma))
        if look.motion_px >= 1.5:
            image = cast("Floats", cv2.filter2D(image, -1, _motion_kernel(look.motion_px, look.motion_deg)))
        if look.noise_sigma > 0:
            image += look.noise_sigma * self._cut(self._noise)
        frame = np.clip(image, 0, 255).astype(np.uint8)
        if look.jpeg_quality is not None:
            ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(look.jpeg_quality)])
            decoded = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if ok else None
            if decoded is not None:
                frame = cast("Grey", decoded)
        return frame

    def render(self, cards: Sequence[tuple[SourceCard, Pose]], look: Look) -> Grey:
        """A frame showing ``cards`` (none is fine) on a fresh background, exposed with ``look``.

        The highlight, if any, is on the first card.
        """
        frame = self.background()
        for card, pose in cards:
            self.place(frame, card, pose)
        glare_center = None
        glare_px = 1.0
        if cards and look.glare:
            card, pose = cards[0]
            glare_center = project(card.code, pose, [look.glare_at_mm])[0]
            glare_px = look.glare_sigma_mm * FOCAL_PX / pose.distance_mm
        return self.expose(frame, look, glare_center, glare_px)

    # ----- poses and looks drawn at random -----

    def everyday_look(self) -> Look:
        """What every frame has: a little soft, a little noisy, not quite black and white, often MJPG."""
        rng = self.rng
        return Look(
            black=float(rng.uniform(15, 50)),
            white=float(rng.uniform(190, 240)),
            light_slope=float(rng.uniform(0, 0.2)),
            light_deg=float(rng.uniform(0, 360)),
            blur_sigma=float(rng.uniform(0.4, 0.9)),
            noise_sigma=float(rng.uniform(1.5, 4)),
            jpeg_quality=int(rng.integers(75, 95)) if rng.random() < 0.5 else None,
        )

    def random_pose(self, code: str, view: str, kind: str, strength: float) -> Pose:
        """A pose for ``view``, pushed to the hard end when ``kind`` is "scale", "rotate" or "tilt"."""
        rng = self.rng
        s = strength
        tilt = 10 + 35 * s if kind == "tilt" else float(rng.uniform(0, 12))
        axis = float(rng.uniform(0, 360))
        if view == "code128":
            base = float(rng.choice([0.0, 180.0]))
            skew = CODE128_MAX_SKEW * (0.25 + 0.75 * s) if kind == "rotate" else float(rng.uniform(0, 3))
            rotation = base + skew * float(rng.choice([-1.0, 1.0]))
            module_px = 2.4 - 0.7 * s if kind == "scale" else float(rng.uniform(1.7, 2.4))
            distance = FOCAL_PX * symbol_layout(code, PRINT_DPI).bar_module_mm / module_px
            # Tipped back about an axis near the bars' own, as a wrist turns: the bars shorten, not the symbol.
            axis = rotation + float(rng.uniform(-20, 20))
            return self._fit(code, Pose(distance, rotation, tilt, axis, anchor="code128", cover="qr"), "code128")
        rotation = float(rng.uniform(0, 360))
        # Closing in on the QR code: 12-30 cm, where it spans (with its quiet zone) a sixth to two fifths
        # of the frame's width.
        near, far = (120.0, 300.0) if view == "qr" else (NEAR_MM, FAR_MM)
        distance = far - (far - near) * 0.3 * (1 - s) if kind == "scale" else _log_uniform(rng, near, far)
        anchor = "qr" if view == "qr" else "card"
        cover = "code128" if view == "qr" else None
        return self._fit(code, Pose(distance, rotation, tilt, axis, anchor=anchor, cover=cover), anchor)

    def _fit(self, code: str, pose: Pose, part: str) -> Pose:
        """Move the card so ``part`` (the whole card or a symbol) is in the frame, stepping back if it is too big."""
        rng = self.rng
        box = CARD_BOX if part == "card" else symbol_boxes(code)[part]
        margin = 4.0
        for _ in range(20):
            points = project(code, pose, _corners(box))
            xs = [p[0] - pose.center[0] for p in points]
            ys = [p[1] - pose.center[1] for p in points]
            span_x, span_y = max(xs) - min(xs), max(ys) - min(ys)
            if span_x <= WIDTH - 2 * margin and span_y <= HEIGHT - 2 * margin:
                cx = float(rng.uniform(margin - min(xs), WIDTH - margin - max(xs)))
                cy = float(rng.uniform(margin - min(ys), HEIGHT - margin - max(ys)))
                return replace(pose, center=(cx, cy))
            grow = max(span_x / (WIDTH - 2 * margin), span_y / (HEIGHT - 2 * margin))
            pose = replace(pose, distance_mm=pose.distance_mm * grow * 1.01)
        return pose

    def random_look(self, kind: str, strength: float, code: str, view: str, pose: Pose) -> Look:
        """The everyday look with ``kind`` pushed to ``strength``.

        Blur and shake are measured against the module of the symbol in view, so a strength is as hard
        at 15 cm as at 40; noise, contrast and JPEG are absolute, as a sensor's are.
        """
        rng = self.rng
        s = strength
        look = self.everyday_look()
        layout = symbol_layout(code, PRINT_DPI)
        module_mm = layout.bar_module_mm if view == "code128" else layout.qr_module_mm
        module_px = module_mm * FOCAL_PX / pose.distance_mm
        if kind == "blur":
            look = replace(look, blur_sigma=max(look.blur_sigma, (0.15 + 0.3 * s) * module_px))
        elif kind == "motion":
            shake = min(10.0, (0.3 + 0.9 * s) * module_px)
            look = replace(look, motion_px=shake, motion_deg=float(rng.uniform(0, 180)))
        elif kind == "noise":
            look = replace(look, noise_sigma=4 + 14 * s)
        elif kind == "contrast":
            span = 150 - 100 * s
            middle = float(rng.uniform(50 + span / 2, 210 - span / 2))
            look = replace(look, black=middle - span / 2, white=middle + span / 2, light_slope=0.1 + 0.3 * s)
        elif kind == "glare":
            box = symbol_boxes(code)["code128" if view == "code128" else "qr"]
            x = float(rng.uniform(box.x + 0.2 * box.w, box.x + 0.8 * box.w))
            y = float(rng.uniform(box.y, box.y + box.h))
            size = min(box.w, box.h)
            look = replace(look, glare=100 + 120 * s, glare_sigma_mm=size * (0.05 + 0.07 * s), glare_at_mm=(x, y))
        elif kind == "jpeg":
            look = replace(look, jpeg_quality=round(70 - 50 * s))
        return look

    def frame(self, card: SourceCard, view: str, kind: str, strength: float, *, decoy: bool = False) -> Frame:
        """One frame of ``card`` seen as ``view`` ("card", "qr", "code128") with ``kind`` at ``strength``."""
        if view not in VIEWS or kind not in KINDS or not 0.0 <= strength <= 1.0:
            raise ValueError(f"no such frame: view {view!r}, kind {kind!r}, strength {strength}")
        pose = self.random_pose(card.code, view, kind, strength)
        look = self.random_look(kind, strength, card.code, view, pose)
        return Frame(
            image=self.render([(card, pose)], look),
            expected=None if decoy else card.code,
            shown=card.code,
            symbology=SYMBOLOGY[view],
            degradation=kind,
            strength=strength,
            decoy=decoy,
            pose=pose,
            look=look,
        )

    def empty(self, blank_card: SourceCard | None = None) -> Frame:
        """A frame with no code in it: the table, and half the time a card with both symbols under thumbs."""
        cards: list[tuple[SourceCard, Pose]] = []
        if blank_card is not None and self.rng.random() < 0.5:
            rotation = float(self.rng.uniform(0, 360))
            pose = Pose(_log_uniform(self.rng, NEAR_MM, FAR_MM), rotation, cover="both")
            cards.append((blank_card, self._fit(blank_card.code, pose, "card")))
        look = self.everyday_look()
        return Frame(self.render(cards, look), None, None, "none", "empty", 0.0, look=look)


def source_cards(images: Sequence[Any], codes: Sequence[str]) -> list[SourceCard]:
    """Pair card pictures (PIL images or grey arrays, e.g. from ``cards.card_images_from_pdf``) with their codes."""
    import numpy as np

    if len(images) != len(codes):
        raise ValueError(f"{len(images)} card pictures for {len(codes)} codes")
    return [
        SourceCard(np.asarray(image.convert("L") if hasattr(image, "convert") else image, dtype=np.uint8), code)
        for image, code in zip(images, codes, strict=True)
    ]


def degraded_set(
    cards: Sequence[SourceCard],
    n: int,
    seed: int,
    *,
    decoys: Sequence[SourceCard] = (),
    empty: int | None = None,
    strengths: tuple[float, float] = (0.1, 0.8),
    views: Sequence[str] = ("card", "card", "qr", "code128"),
) -> list[Frame]:
    """``n`` frames of genuine cards, then ``empty`` frames with no code (default: a tenth of ``n``, at least
    10), then decoy frames (a twentieth of ``n``, at least 10) if ``decoys`` are given.

    Genuine frames go through the cards and the ``KINDS`` in turn, each with a view drawn from ``views``
    (by default half whole-card, a quarter QR code only, a quarter Code 128 only) and a strength drawn
    uniformly from ``strengths``.
    """
    if not cards:
        raise ValueError("no cards to photograph")
    maker = FrameMaker(seed)
    rng = maker.rng
    frames = []
    for index in range(n):
        view = str(views[int(rng.integers(len(views)))])
        strength = float(rng.uniform(*strengths))
        frames.append(maker.frame(cards[index % len(cards)], view, KINDS[index % len(KINDS)], strength))
    for _ in range(max(10, n // 10) if empty is None else empty):
        frames.append(maker.empty(cards[int(rng.integers(len(cards)))]))
    for index in range(max(10, n // 20) if decoys else 0):
        view = str(views[int(rng.integers(len(views)))])
        kind = KINDS[int(rng.integers(len(KINDS)))]
        strength = float(rng.uniform(*strengths))
        frames.append(maker.frame(decoys[index % len(decoys)], view, kind, strength, decoy=True))
    return frames
