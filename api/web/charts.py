"""Bar charts for the dashboard, drawn on the server as SVG: no script, no CDN, nothing the
page's content security policy has to allow.

Readable without colour: every bar carries its figure as text at its end, a suppressed count
is written out ("fewer than 10") instead of drawn, and a flagged bar is hatched as well as
darker. The table beside each chart holds the same figures for screen readers and copying.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: Geometry in SVG user units. The SVG scales to its column's width (half the page: about
#: 450 px at most, so a unit is about 0.75 px): text is ``FONT_SIZE`` units, near the 16 px
#: of GOV.UK body text at that scale, and a label keeps at most ``LABEL_CHARS`` characters.
WIDTH = 600
LABEL_WIDTH = 250
VALUE_ROOM = 170
ROW_HEIGHT = 34
BAR_HEIGHT = 24
FONT_SIZE = 20
LABEL_CHARS = 22


@dataclass(frozen=True)
class Bar:
    """One drawn row: its label, its figure as text, and the bar's geometry (``width`` 0:
    nothing drawn, the text says why)."""

    label: str
    text: str
    y: float
    width: float
    flagged: bool = False

    @property
    def text_x(self) -> float:
        return LABEL_WIDTH + self.width + 6

    @property
    def label_y(self) -> float:
        return self.y + BAR_HEIGHT - 6


@dataclass(frozen=True)
class Chart:
    """A horizontal bar chart: ``title`` names it for assistive technology."""

    title: str
    bars: tuple[Bar, ...]
    width: int = WIDTH
    label_width: int = LABEL_WIDTH
    bar_height: int = BAR_HEIGHT
    font_size: int = FONT_SIZE

    @property
    def height(self) -> int:
        return max(ROW_HEIGHT, ROW_HEIGHT * len(self.bars)) + 4


def bar_chart(
    title: str,
    rows: Sequence[tuple[str, int | None]],
    *,
    unit: str = "",
    flagged: Sequence[bool] | None = None,
    hidden_text: str = "fewer than 10",
) -> Chart:
    """``rows`` of (label, value) as bars scaled to the largest value; a ``None`` value is
    written as ``hidden_text`` and not drawn."""
    top = max((v for _, v in rows if v is not None), default=0)
    room = WIDTH - LABEL_WIDTH - VALUE_ROOM
    bars = []
    for i, (label, value) in enumerate(rows):
        width = 0.0 if value is None or top == 0 else max(2.0, room * value / top)
        text = hidden_text if value is None else f"{value}{unit}"
        flag = bool(flagged[i]) if flagged is not None else False
        if flag:
            text += " (gap)"
        # the ends say most ("team ... 2025-03"): cut the middle of a long label
        head = (LABEL_CHARS - 1) // 2
        tail = LABEL_CHARS - 1 - head
        short = label if len(label) <= LABEL_CHARS else label[:head] + "…" + label[-tail:]
        bars.append(Bar(short, text, 2 + i * ROW_HEIGHT, width, flag))
    return Chart(title, tuple(bars))
