"""Find clipped or unreadable text on a running Kivy window: a test calls ``check_window()`` after drawing a
screen and fails with ``format_problems(problems)`` when the list is not empty.

What counts as a problem (``LayoutProblem.kind``), for every *visible* text widget — a ``Label`` or subclass
(``Button`` is one) with non-blank text, size above 0, opacity above 0 (its own and every ancestor's), on
screen (not wholly outside the window or a ScrollView's / StencilView's rectangle), and not inside a
``Screen`` that is not its ScreenManager's current one:

- ``cut``: text not fully drawn in the space it has. One of: the core label dropped lines to fit
  ``text_size``'s height (Kivy does so silently and ``texture_size`` then equals ``text_size``, so sizes
  cannot show it: the rendered lines, ``_label._cached_lines``, are compared with the text); a single line
  taller than ``text_size`` (Kivy keeps it and crops the texture) whose glyphs lose ink, or a glyph wider
  than it; or the drawn text sticking out of the label's own box (a texture larger than the label: no
  ``text_size``, or a free height), of the window, of a StencilView that is not a ScrollView, or of its
  parent's box. "Drawn text" is the texture, centred on the label as Kivy's ``<Label>`` rule draws it; when
  that sticks out, the ink (pixels of the texture) is measured, because a line box is ~1.2 em high and its
  blank top and bottom rows may be cut without harm. What is scrolled out of a ScrollView is ``row_cut``'s
  business, not a cut.
- ``elided_number``: the label is shortened (``shorten=True``: Kivy draws "...") or stopped at
  ``max_lines``, and the hidden part holds a digit. Detected from what Kivy really drew: the core label's
  ``is_shortened`` flag and its rendered lines (``_label._cached_lines``) against the full text; the hidden
  part is what lies between the longest common prefix and suffix. Hiding words without a digit is allowed
  with "...", but lines stopped at ``max_lines`` are a ``cut`` whatever they hold: Kivy drops them without
  a "...", so nobody can tell that they are missing. (Kivy 2.3.1 ignores a ``max_lines`` given in a kv rule
  or the constructor, but honours one set later, as a RecycleView sets its rows' properties.)
- ``overlap``: two visible text widgets (Labels, and TextInputs with text or hint) whose boxes (the parts
  not scrolled away) intersect by more than ``OVERLAP_TOLERANCE_PX`` in both directions, neither containing
  the other, and either (a) their nearest common ancestor is a BoxLayout, GridLayout or StackLayout
  (Recycle… variants included) — those layouts promise their children separate places, so any overlap
  under them is a layout bug — or (b) both are direct children of the same parent of another kind
  (FloatLayout, RelativeLayout, Screen…): two bare labels placed over each other. Why not every pair:
  overlays are meant to cover content. A ModalView or a Toast is a child of the Window (each Window child
  is checked alone); a banner or panel in a FloatLayout over the content is a separate branch of that
  FloatLayout, so its text is never compared with the text of the branch underneath.
- ``row_cut``: a direct child of a ScrollView's (or RecycleView's) layout — a row — that is partly inside
  and partly outside the view's visible rectangle at the current scroll position, in a direction in which
  the row would fit (a row taller than the view cannot be shown whole and is not reported). A child that
  is a list longer than the view (a heading and a list in one scrolled BoxLayout) gives its own rows.
- ``too_small``: a font size (the label's, or a ``[size=]`` in its markup; also a TextInput's) under
  ``min_font_px``, or under ``min_body_px`` on a landscape panel of 1024×600 or more (both sides at least
  ``BODY_WINDOW_HEIGHT``): the issue's 20 px body text is for those; an upright 480×800 kiosk keeps 16 px.
- ``line_break``: where Kivy wrapped a line (not at a newline of the text), the next line starts with a
  closing mark (，。、；：？！）」…) or the line ends with an opening one (（「《…): Chinese line-breaking rules.
- ``under_bar``: the ink of a label in a ScrollView (its nearest one) runs under the view's scroll bar
  while the bar is drawn (content longer than the view along a scrolling axis: Kivy then paints the bar's
  strip, faint or bright, over whatever is there). The strip is the bar's whole track, not only the
  handle: the handle moves with the scroll and reaches every row.
- ``at_edge``: the ink of a label in a ScrollView comes closer than ``edge_gap_px`` to a side of the view
  across its scrolling direction (left and right of a list that scrolls up and down), or to the inner edge
  of its scroll bar when the bar is drawn there. Why: a list's column has no border of its own, so text
  flush with its side reads as run into the next column, the panel's edge or the bar. Ink further out than
  the side (scrolled sideways) is ``cut``'s or ``row_cut``'s business. The default gap is
  ``EDGE_GAP_PX`` on a panel whose short side is ``EDGE_GAP_REFERENCE`` px, scaled with that side (as the
  text is). ``check_window(scroll_edges=False)`` leaves both rules out; ``watch_shots`` looks for them
  only in the apps named in ``SCROLL_EDGE_APPS``.

TextInputs are checked for ``too_small`` and ``overlap`` only. Labels whose texture is stale (a change not
yet rendered by the clock) are re-rendered with ``texture_update()`` first; layouts are not run: pump a
frame or two before checking. Kivy is imported inside the functions (this module may be imported before
the offscreen environment is set up).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

KINDS = ("cut", "elided_number", "overlap", "row_cut", "too_small", "line_break", "under_bar", "at_edge")
SIZE_TOLERANCE_PX = 1.0  # texture sizes are whole pixels, widget sizes are floats
EDGE_TOLERANCE_PX = 2.0  # rounding of centred textures and of layouts' spacing
OVERLAP_TOLERANCE_PX = 2.0
INK_ALPHA = 24  # alpha above which a pixel of a text texture is ink, not anti-aliasing haze
BODY_WINDOW_HEIGHT = 600  # from this short side up, the larger minimum applies
TEXT_CHARS = 40
EDGE_GAP_PX = 6.0  # least blank between a list's text and its column's side, on a panel ...
EDGE_GAP_REFERENCE = 800.0  # ... whose short side is this long (1280×800); scaled with the short side
# The apps whose pictures ``watch_shots`` holds to ``under_bar`` and ``at_edge``: both keep a gutter in
# their lists and a margin in their scrolling paragraphs.
SCROLL_EDGE_APPS = ("kiosk", "pos")

# 禁则: marks that may not begin a line, and marks that may not end one.
CLOSING = set("，。、；：？！）」』】》〉〕〗］｝”’％…,.;:?!)]}%")
OPENING = set("（「『【《〈〔〖［｛“‘([{￥$")

Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 in window coordinates
EVERYWHERE: Rect = (-1e9, -1e9, 1e9, 1e9)


@dataclass(frozen=True)
class LayoutProblem:
    kind: str  # one of KINDS
    widget_path: str  # e.g. "PosRedeemScreen>BoxLayout>Label#total"
    text: str  # the widget's text, first 40 characters
    detail: str  # what is wrong, in words

    def __str__(self) -> str:
        return f"{self.kind}: {self.widget_path} {self.text!r}: {self.detail}"


@dataclass
class _Node:
    """A widget drawn on screen, with what its ancestors do to it."""

    widget: Any
    chain: tuple[Any, ...]  # from the walked root down to the widget itself
    box: Rect
    clip: Rect  # window ∩ non-scrolling StencilViews: text outside it is cut
    scroll: Rect  # ∩ ScrollViews: text outside it is scrolled away, not cut
    view: Rect  # clip ∩ scroll: outside it nothing shows


def check_window(
    root: Any = None,
    *,
    min_font_px: float = 16.0,
    min_body_px: float = 20.0,
    scroll_edges: bool = True,
    edge_gap_px: float | None = None,
) -> list[LayoutProblem]:
    """Problems of every visible text widget under ``root`` (default: the whole window, open ModalViews and
    toasts included, each Window child on its own). With a widget as ``root``, its subtree is checked, plus
    any ModalView open in the window, since a dialog is part of what is on screen. ``scroll_edges``: look
    for ``under_bar`` and ``at_edge`` too, with ``edge_gap_px`` (default: ``EDGE_GAP_PX`` scaled to the
    window's short side)."""
    from kivy.core.window import Window
    from kivy.uix.modalview import ModalView

    if root is None or root is Window:
        tops = list(reversed(Window.children))  # children[0] is on top: walk bottom-up, like a .kv file
    else:
        tops = [root] + [w for w in reversed(Window.children) if isinstance(w, ModalView) and w is not root]
    nodes = [node for top in tops for node in _walk(top, Window)]
    minimum = min_body_px if min(Window.size) >= BODY_WINDOW_HEIGHT else min_font_px
    problems: list[LayoutProblem] = []
    texts = [n for n in nodes if _is_text_widget(n.widget) and _visible(n)]
    for node in texts:
        problems += _check_text(node, minimum, min_font_px, Window)
    problems += _check_overlaps(texts)
    problems += _check_rows(nodes)
    if scroll_edges:
        gap = edge_gap_px if edge_gap_px is not None else EDGE_GAP_PX * min(Window.size) / EDGE_GAP_REFERENCE
        problems += _check_scroll_edges(texts, gap)
    return problems


def format_problems(problems: Iterable[LayoutProblem]) -> str:
    """One line per problem, for an assertion message."""
    problems = list(problems)
    if not problems:
        return "no layout problems"
    return f"{len(problems)} layout problem(s):\n" + "\n".join(f"- {p}" for p in problems)


# ---------------------------------------------------------------- walking the tree


def _walk(top: Any, window: Any) -> Iterator[_Node]:
    """The drawn widgets under ``top``, skipping invisible subtrees (opacity 0, a Screen not shown)."""
    whole = (0.0, 0.0, float(window.width), float(window.height))
    clip, scroll = whole, EVERYWHERE
    for ancestor in reversed(_ancestors(top, window)):  # what top's own ancestors do to it
        if not _shown(ancestor):
            return
        clip, scroll = _clips_below(ancestor, clip, scroll)
    yield from _walk_from(top, (), clip, scroll)


def _walk_from(widget: Any, chain: tuple[Any, ...], clip: Rect, scroll: Rect) -> Iterator[_Node]:
    if not _shown(widget):
        return
    chain = chain + (widget,)
    yield _Node(widget, chain, _box(widget), clip, scroll, _intersect(clip, scroll))
    clip, scroll = _clips_below(widget, clip, scroll)
    for child in reversed(widget.children):
        yield from _walk_from(child, chain, clip, scroll)


def _ancestors(widget: Any, window: Any) -> list[Any]:
    found = []
    parent = widget.parent
    while parent is not None and parent is not window:
        found.append(parent)
        parent = getattr(parent, "parent", None)
    return found


def _shown(widget: Any) -> bool:
    from kivy.uix.screenmanager import Screen

    if widget.opacity <= 0:
        return False
    if isinstance(widget, Screen) and widget.manager is not None:
        return widget.manager.current_screen is widget
    return True


def _clips_below(widget: Any, clip: Rect, scroll: Rect) -> tuple[Rect, Rect]:
    """The clip and scroll rectangles for ``widget``'s children: a StencilView cuts off what is outside it;
    for a ScrollView that is scrolling, normal (cut rows are row_cut's business), for another it is a cut."""
    from kivy.uix.scrollview import ScrollView
    from kivy.uix.stencilview import StencilView

    if not isinstance(widget, StencilView):
        return clip, scroll
    if isinstance(widget, ScrollView):
        return clip, _intersect(scroll, _box(widget))
    return _intersect(clip, _box(widget)), scroll


def _box(widget: Any) -> Rect:
    x0, y0 = widget.to_window(widget.x, widget.y)
    x1, y1 = widget.to_window(widget.right, widget.top)
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _intersect(a: Rect, b: Rect) -> Rect:
    return (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))


def _extent(r: Rect) -> tuple[float, float]:
    return (r[2] - r[0], r[3] - r[1])


def _inside(inner: Rect, outer: Rect, tolerance: float = EDGE_TOLERANCE_PX) -> bool:
    return (
        inner[0] >= outer[0] - tolerance
        and inner[1] >= outer[1] - tolerance
        and inner[2] <= outer[2] + tolerance
        and inner[3] <= outer[3] + tolerance
    )


def _is_text_widget(widget: Any) -> bool:
    from kivy.uix.label import Label
    from kivy.uix.textinput import TextInput

    if isinstance(widget, Label):
        return bool(widget.text.strip())
    return isinstance(widget, TextInput) and bool(widget.text.strip() or widget.hint_text.strip())


def _visible(node: _Node) -> bool:
    w, h = _extent(node.box)
    seen_w, seen_h = _extent(_intersect(node.box, node.view))
    return w > 0 and h > 0 and seen_w > 0 and seen_h > 0


def _path(chain: tuple[Any, ...]) -> str:
    """A readable path, "Screen>BoxLayout>Label#total": class names, with the kv id found in the nearest
    ancestor's ``ids`` (kv keeps weak proxies there, hence the comparison with ``proxy_ref``)."""
    parts = []
    for i, widget in enumerate(chain):
        name = ""
        for holder in reversed(chain[: i + 1]):
            name = next((k for k, v in getattr(holder, "ids", {}).items() if v is widget.proxy_ref or v is widget), "")
            if name:
                break
        parts.append(type(widget).__name__ + (f"#{name}" if name else ""))
    return ">".join(parts)


def _problem(kind: str, node: _Node, detail: str, text: str | None = None) -> LayoutProblem:
    text = node.widget.text if text is None else text
    return LayoutProblem(kind, _path(node.chain), text[:TEXT_CHARS], detail)


# ---------------------------------------------------------------- one text widget


def _check_text(node: _Node, minimum: float, min_font_px: float, window: Any) -> list[LayoutProblem]:
    from kivy.uix.label import Label

    label = node.widget
    if not isinstance(label, Label):  # a TextInput: only its size
        return _too_small(node, [label.font_size], minimum, min_font_px, window)
    if label.texture is None or label._trigger_texture.is_triggered:
        label.texture_update()  # a change not drawn yet: measure what the next frame will show
    core = label._label
    lines = core._cached_lines
    sizes = [label.font_size] + [w.options.get("font_size", label.font_size) for ln in lines for w in ln.words]
    problems = _too_small(node, sizes, minimum, min_font_px, window)

    shown = "".join(w.text for ln in lines for w in ln.words)
    hidden = _hidden(_plain_text(label), shown)
    max_lines = int(core.options.get("max_lines") or 0)
    stopped = not core.is_shortened and max_lines > 0 and len(lines) >= max_lines
    elided = core.is_shortened or stopped
    if hidden and elided and any(ch.isdigit() for ch in hidden):
        how = "shortened with '...'" if core.is_shortened else f"stopped at max_lines={max_lines}"
        problems.append(_problem("elided_number", node, f"{how}; the hidden part {hidden!r} holds digits"))
    elif hidden and stopped:
        # No "..." says that something is missing: a cart line showed "1.5kg袋 ×2" without its "洗衣粉".
        detail = f"stopped at max_lines={max_lines}: {hidden!r} is not drawn, and nothing shows it is missing"
        problems.append(_problem("cut", node, detail))

    cuts = _cut_reasons(node, core, hidden if not elided else "", window)
    if cuts:
        problems.append(_problem("cut", node, "; ".join(cuts)))
    breaks = _bad_breaks(lines)
    if breaks:
        problems.append(_problem("line_break", node, "; ".join(breaks)))
    return problems


def _too_small(node: _Node, sizes: list[float], minimum: float, min_font_px: float, window: Any) -> list[LayoutProblem]:
    smallest = min(float(s) for s in sizes)
    if smallest >= minimum:
        return []
    why = "" if minimum == min_font_px else f" in a window {window.height:.0f} px high"
    return [_problem("too_small", node, f"font {smallest:.0f} px is under the {minimum:.0f} px minimum{why}")]


def _cut_reasons(node: _Node, core: Any, dropped: str, window: Any) -> list[str]:
    from kivy.uix.scrollview import ScrollView

    label = node.widget
    reasons = []
    if dropped:
        reasons.append(f"lines that do not fit text_size are not drawn: {dropped[:TEXT_CHARS]!r} is missing")
    cropped = _cropped_line(core)
    if cropped:
        reasons.append(cropped)
    tw, th = label.texture_size
    drawn = _drawn(node)
    w, h = label.size
    # (the space, what it means to stick out of it, whether only the part not scrolled away counts)
    whole = (0.0, 0.0, float(window.width), float(window.height))
    limits = [
        (node.box, f"the text needs {tw:.0f}×{th:.0f} px but the label is {w:.0f}×{h:.0f} px", False),
        (whole, "the text is partly outside the window", True),
    ]
    if node.clip != whole:
        limits.append((node.clip, "the text is partly outside its StencilView", True))
    parent = label.parent
    if parent is not None and parent is not window and not isinstance(parent, ScrollView):
        pbox = _box(parent)
        if min(_extent(pbox)) > 0:
            limits.append((pbox, f"the text sticks out of its parent {type(parent).__name__}", False))

    def outside(text: Rect) -> list[str]:
        shown = _intersect(text, node.scroll)
        return [
            why for box, why, scrolled in limits if not _inside(shown if scrolled else text, box, SIZE_TOLERANCE_PX)
        ]

    if not outside(drawn):
        return reasons
    # The texture is larger than the glyphs (a line box is ~1.2 em high): measure the ink before blaming.
    return reasons + outside(_ink(node))


def _drawn(node: _Node) -> Rect:
    """Where Kivy's ``<Label>`` rule draws the label's texture: centred on the label."""
    tw, th = node.widget.texture_size
    cx, cy = (node.box[0] + node.box[2]) / 2, (node.box[1] + node.box[3]) / 2
    return (cx - tw / 2, cy - th / 2, cx + tw / 2, cy + th / 2)


def _ink(node: _Node) -> Rect:
    """The rectangle the label's glyphs cover on screen (its texture without the blank around them)."""
    drawn = _drawn(node)
    left, top, right, bottom = _ink_margins(node.widget.texture)
    return (drawn[0] + left, drawn[1] + bottom, drawn[2] - right, drawn[3] - top)


def _cropped_line(core: Any) -> str:
    """A single line (Kivy always keeps the first one) taller, or a glyph wider, than ``text_size``: the
    texture is cut to ``text_size``. Cut text only if ink falls outside, found by rendering it unbounded."""
    uw, uh = core.text_size
    iw, ih = core._internal_size  # what the lines take, padding included
    if uw is not None and iw > uw + SIZE_TOLERANCE_PX:
        return f"a glyph needs {iw:.0f} px but text_size is {uw:.0f} px wide"
    if uh is None or ih <= uh + SIZE_TOLERANCE_PX or not core._cached_lines:
        return ""
    options = dict(core.options, text=core.text, text_size=(uw, None))
    options.pop("padding_x", None), options.pop("padding_y", None)  # deprecated: they would log warnings
    free = type(core)(**options)
    free.refresh()
    _left, top, _right, bottom = _ink_margins(free.texture)
    # Top of the block of lines in the cut texture, as kivy.core.text.LabelBase._render_real places it.
    pad_top = core.options["padding"][1]
    valign = core.options["valign"]
    block_top = {"top": pad_top, "bottom": uh - ih + pad_top}.get(valign, (uh - ih + 2 * pad_top) / 2)
    first_ink, end_ink = block_top - pad_top + top, block_top - pad_top + ih - bottom
    if first_ink < -SIZE_TOLERANCE_PX or end_ink > uh + SIZE_TOLERANCE_PX:
        return f"the line needs {ih:.0f} px but text_size is {uh:.0f} px high, and its glyphs are cropped"
    return ""


def _ink_margins(texture: Any) -> tuple[int, int, int, int]:
    """Blank columns and rows (left, top, right, bottom) around the glyphs of a text texture. A core label's
    texture holds its image top row first (it is flipped for drawing), so row 0 of ``pixels`` is the top."""
    if texture is None:
        return (0, 0, 0, 0)
    w, h = texture.size
    alpha = texture.pixels[3::4]
    rows = [y for y in range(h) if max(alpha[y * w : (y + 1) * w], default=0) > INK_ALPHA]
    cols = [x for x in range(w) if max(alpha[x::w], default=0) > INK_ALPHA]
    if not rows or not cols:
        return (0, 0, 0, 0)
    return (cols[0], rows[0], w - 1 - cols[-1], h - 1 - rows[-1])


def _plain_text(label: Any) -> str:
    """The label's text without markup tags, as Kivy splits them (kivy.core.text.markup)."""
    if not label.markup:
        return str(label.text)
    parts = [p for p in re.split(r"(\[.*?\])", label.text) if not (p.startswith("[") and p.endswith("]"))]
    return "".join(parts).replace("&bl;", "[").replace("&br;", "]").replace("&amp;", "&")


def _hidden(full: str, shown: str) -> str:
    """The part of ``full`` not drawn: what lies between the common prefix and the common suffix of the
    text and the drawn lines (whitespace ignored: wrapping strips it, shortening turns newlines into
    spaces). Shortening leaves a head and a tail around "..."; dropped lines leave a head or a tail."""
    f, s = "".join(full.split()), "".join(shown.split())
    if f == s:
        return ""
    if s and s in f:  # lines dropped at both ends (valign middle with newlines)
        start = f.index(s)
        return f[:start] + f[start + len(s) :]
    n = min(len(f), len(s))
    head = 0
    while head < n and f[head] == s[head]:
        head += 1
    tail = 0
    while tail < n - head and f[-1 - tail] == s[-1 - tail]:
        tail += 1
    return f[head : len(f) - tail]


def _bad_breaks(lines: list[Any]) -> list[str]:
    """Kivy's own wraps (``line_wrap`` marks a line continued from the previous one, not a newline of the
    text) that put a closing mark first on a line or an opening mark last."""
    texts = ["".join(w.text for w in ln.words).strip() for ln in lines]
    found = []
    for i in range(1, len(lines)):
        if not lines[i].line_wrap or not texts[i] or not texts[i - 1]:
            continue
        if texts[i][0] in CLOSING:
            found.append(f"line {i + 1} starts with {texts[i][0]!r} ({texts[i - 1][-6:]!r} | {texts[i][:6]!r})")
        if texts[i - 1][-1] in OPENING:
            found.append(f"line {i} ends with {texts[i - 1][-1]!r} ({texts[i - 1][-6:]!r} | {texts[i][:6]!r})")
    return found


# ---------------------------------------------------------------- pairs and rows


def _check_overlaps(texts: list[_Node]) -> list[LayoutProblem]:
    from kivy.uix.boxlayout import BoxLayout
    from kivy.uix.gridlayout import GridLayout
    from kivy.uix.stacklayout import StackLayout

    problems = []
    for i, a in enumerate(texts):
        for b in texts[i + 1 :]:
            common = 0
            while common < min(len(a.chain), len(b.chain)) and a.chain[common] is b.chain[common]:
                common += 1
            if common in (0, len(a.chain), len(b.chain)):
                continue  # different Window children (overlays), or one inside the other
            parent = a.chain[common - 1]
            siblings = a.chain[common] is a.widget and b.chain[common] is b.widget
            if not (isinstance(parent, BoxLayout | GridLayout | StackLayout) or siblings):
                continue
            # Only what shows counts: a row scrolled under a button is cut away by its ScrollView.
            seen_a, seen_b = _intersect(a.box, a.view), _intersect(b.box, b.view)
            ow, oh = _extent(_intersect(seen_a, seen_b))
            if ow <= OVERLAP_TOLERANCE_PX or oh <= OVERLAP_TOLERANCE_PX:
                continue
            if _inside(seen_a, seen_b, 0) or _inside(seen_b, seen_a, 0):
                continue
            detail = f"overlaps {_path(b.chain)} {b.widget.text[:TEXT_CHARS]!r} by {ow:.0f}×{oh:.0f} px"
            problems.append(_problem("overlap", a, detail))
    return problems


def _check_rows(nodes: list[_Node]) -> list[LayoutProblem]:
    from kivy.uix.scrollview import ScrollView

    by_widget = {id(n.widget): n for n in nodes}
    problems = []
    for node in nodes:
        view = node.widget
        if not isinstance(view, ScrollView) or not view.children:
            continue
        seen = _intersect(node.box, node.view)
        if min(_extent(seen)) <= 0:
            continue
        for row_node in _rows(view.children[0], seen, by_widget):
            detail = _row_cut(row_node.box, seen)
            if detail:
                row = row_node.widget
                text = next((w.text for w in row.walk(restrict=True) if _is_text_widget(w)), "")
                problems.append(_problem("row_cut", row_node, f"{detail} of its {type(view).__name__}", text))
    return problems


def _rows(content: Any, seen: Rect, by_widget: dict[int, _Node]) -> Iterator[_Node]:
    """The rows of a scrolled layout: its children. A child that is itself a list longer than the view (its
    children stacked one after the other along the direction in which it is too long, e.g. the list under
    a heading in one scrolled BoxLayout) gives its rows instead; a big row whose parts sit side by side is a
    row, and one that cannot fit is never reported."""
    sw, sh = _extent(seen)
    for child in reversed(content.children):
        node = by_widget.get(id(child))
        if node is None:  # opacity 0 or in a Screen not shown
            continue
        cw, ch = _extent(node.box)
        parts = [n for n in (by_widget.get(id(c)) for c in child.children) if n is not None]
        tall = ch > sh + EDGE_TOLERANCE_PX and _stacked(parts, vertical=True)
        wide = cw > sw + EDGE_TOLERANCE_PX and _stacked(parts, vertical=False)
        if tall or wide:
            yield from _rows(child, seen, by_widget)
        else:
            yield node


def _stacked(nodes: list[_Node], *, vertical: bool) -> bool:
    """Two or more boxes one after the other along an axis, without overlapping on it."""
    spans = sorted((n.box[1], n.box[3]) if vertical else (n.box[0], n.box[2]) for n in nodes)
    return len(spans) > 1 and all(b[0] >= a[1] - EDGE_TOLERANCE_PX for a, b in zip(spans, spans[1:], strict=False))


def _row_cut(row: Rect, seen: Rect) -> str:
    """How the row is cut by the visible rectangle, or "" if it is whole, unseen, or could never fit."""
    inter = _intersect(row, seen)
    iw, ih = _extent(inter)
    rw, rh = _extent(row)
    sw, sh = _extent(seen)
    if rw <= 0 or rh <= 0 or iw <= 0 or ih <= 0:
        return ""
    if rh <= sh + EDGE_TOLERANCE_PX and EDGE_TOLERANCE_PX < ih < rh - EDGE_TOLERANCE_PX:
        where = "bottom" if row[1] < seen[1] else "top"
        return f"only {ih:.0f} of the row's {rh:.0f} px show at the {where}"
    if rw <= sw + EDGE_TOLERANCE_PX and EDGE_TOLERANCE_PX < iw < rw - EDGE_TOLERANCE_PX:
        where = "left" if row[0] < seen[0] else "right"
        return f"only {iw:.0f} of the row's {rw:.0f} px show at the {where}"
    return ""


# ---------------------------------------------------------------- text against a scrolling view's sides


def _check_scroll_edges(texts: list[_Node], gap: float) -> list[LayoutProblem]:
    from kivy.uix.label import Label
    from kivy.uix.scrollview import ScrollView

    problems = []
    for node in texts:
        view = next((w for w in reversed(node.chain[:-1]) if isinstance(w, ScrollView)), None)
        if view is None or not isinstance(node.widget, Label) or node.widget.texture is None:
            continue
        ink = _intersect(_ink(node), node.view)  # only what shows: a row half scrolled away shows its half
        if min(_extent(ink)) <= 0:
            continue
        sides, bars = _sides_and_bars(view)
        kind = type(view).__name__
        under = [where for where, strip in bars if min(_extent(_intersect(ink, strip))) > 0]
        if under:
            detail = f"its ink runs under the scroll bar on the {' and the '.join(under)} of its {kind}"
            problems.append(_problem("under_bar", node, detail))
        near = []
        for side in sides:
            if side.where in under:
                continue  # said already: the bar is drawn over it
            distance = ink[side.axis] - side.edge if side.lower else side.edge - ink[side.axis + 2]
            if -EDGE_TOLERANCE_PX <= distance < gap:  # further out: scrolled sideways, not crowded
                near.append(f"{max(0.0, distance):.1f} px from the {side.what} of its {kind}")
        if near:
            problems.append(_problem("at_edge", node, f"its ink is {' and '.join(near)} (at least {gap:.1f} px)"))
    return problems


@dataclass(frozen=True)
class _Side:
    """A side of a ScrollView that text must keep clear of."""

    where: str  # "left", "right", "bottom", "top"
    what: str  # in words: "right side", "scroll bar on the right"
    axis: int  # 0: a left or right side (compared with x), 1: a bottom or top (with y)
    edge: float  # where it is, in window coordinates
    lower: bool  # the left or bottom side: the text lies above the edge's coordinate


def _sides_and_bars(view: Any) -> tuple[list[_Side], list[tuple[str, Rect]]]:
    """A ScrollView's sides across its scrolling direction (the inner edge of a drawn bar in place of the
    side it lies on), and the strips of the bars Kivy draws, as its ``<ScrollView>`` rule does: when the
    content is longer than the view on an axis it may scroll, ``bar_width`` wide, ``bar_margin`` in."""
    x0, y0, x1, y1 = _box(view)
    vw, vh = view.viewport_size
    shown = max(view.bar_color[3], view.bar_inactive_color[3]) > 0 and view.bar_width > 0
    scrolls_x = bool(view.do_scroll_x) and vw > view.width
    scrolls_y = bool(view.do_scroll_y) and vh > view.height
    bar, margin = float(view.bar_width), float(view.bar_margin)
    sides: dict[str, _Side] = {}
    if not scrolls_x or scrolls_y:  # a list that scrolls up and down (or not at all): its left and right
        sides["left"] = _Side("left", "left side", 0, x0, True)
        sides["right"] = _Side("right", "right side", 0, x1, False)
    else:  # a strip that scrolls sideways only: its bottom and top
        sides["bottom"] = _Side("bottom", "bottom", 1, y0, True)
        sides["top"] = _Side("top", "top", 1, y1, False)
    strips: list[tuple[str, Rect]] = []
    if shown and scrolls_y:
        bw = min(bar, view.width)
        if view.bar_pos_y == "right":
            strips.append(("right", (x1 - margin - bw, y0, x1 - margin, y1)))
        else:
            strips.append(("left", (x0 + margin, y0, x0 + margin + bw, y1)))
    if shown and scrolls_x:
        bh = min(bar, view.height)
        if view.bar_pos_x == "bottom":
            strips.append(("bottom", (x0, y0 + margin, x1, y0 + margin + bh)))
        else:
            strips.append(("top", (x0, y1 - margin - bh, x1, y1 - margin)))
    for where, strip in strips:  # text keeps clear of the bar's inner edge, not of the side under the bar
        if where in sides:
            axis, lower = sides[where].axis, sides[where].lower
            edge = strip[axis + 2] if lower else strip[axis]
            sides[where] = _Side(where, f"scroll bar on the {where}", axis, edge, lower)
    return list(sides.values()), strips


def watch_shots(found: dict[str, list[str]], scroll_edge_apps: Collection[str] = SCROLL_EDGE_APPS) -> None:
    """Check the window each time a screenshot driver takes a picture (``offscreen.SHOT_WATCHERS``): the
    problems, in words, under the picture's file name ("pos-redeem-1024x600.png"; none: an empty list).
    ``under_bar`` and ``at_edge`` are looked for only in the apps named in ``scroll_edge_apps`` (Kivy's
    ``App.name``: "kiosk", "pos")."""
    from kivy.app import App

    from lovemart_tools import offscreen

    def check(path: Any) -> None:
        app = App.get_running_app()
        edges = app is not None and app.name in scroll_edge_apps
        found[path.name] = [str(problem) for problem in check_window(scroll_edges=edges)]

    offscreen.SHOT_WATCHERS.append(check)
