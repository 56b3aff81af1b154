"""Figures for a projector: no text under MIN_PT points at the size a figure is shown. With COURSE_FIGURE_AUDIT=1 in
the environment, showing a figure whose smallest visible text is under MIN_PT raises ValueError naming the text, so
executing a notebook (make test, make execute) fails on it instead of storing an unreadable figure (notebook 01)."""
import io
import os
import struct

import matplotlib.text
from matplotlib.backend_bases import FigureCanvasBase

MIN_PT = 10        # the smallest text a class reads from the back row, in points at the size shown
SHOWN_PX = 1100    # the widest a PNG is shown at full size in a notebook or a slide; a wider one is scaled down
NATIVE_DPI = 100   # pixels per inch at which a PNG is shown one to one (the inline backend's figure.dpi)
ENV = "COURSE_FIGURE_AUDIT"


def png_width(data):
    """The width in pixels of PNG bytes, or None when they are not a PNG."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">I", data[16:20])[0]


def shown_scale(width_px, dpi):
    """Points shown per point drawn: a PNG `width_px` wide at `dpi`, shown at most SHOWN_PX wide."""
    if width_px <= 0 or dpi <= 0:
        raise ValueError(f"width_px and dpi must be positive, got {width_px} and {dpi}")
    return min(1.0, SHOWN_PX / width_px) * dpi / NATIVE_DPI


def small_texts(fig, width_px, dpi=None, min_pt=MIN_PT):
    """[(text, points at the size shown)] for every visible, non-empty text of `fig` under `min_pt` when its PNG is
    `width_px` wide (rendered at `dpi`, default the figure's)."""
    scale = shown_scale(width_px, dpi or fig.dpi)
    out = []
    for t in fig.findobj(matplotlib.text.Text):
        if not t.get_visible() or not t.get_text().strip() or (t.axes is not None and not t.axes.get_visible()):
            continue
        shown = t.get_fontsize() * scale
        if shown < min_pt - 1e-6:
            out.append((t.get_text(), round(shown, 1)))
    return out


def check_figure(fig, data, dpi=None):
    """Raise ValueError when the PNG bytes `data` of `fig` show a text under MIN_PT; other formats pass."""
    width = png_width(data)
    if width is None:
        return
    small = small_texts(fig, width, dpi)
    if small:
        listed = "; ".join(f"{text!r} at {pt} pt" for text, pt in small[:5])
        raise ValueError(f"figure text under {MIN_PT} pt at the size shown (PNG {width} px wide, shown at most "
                         f"{SHOWN_PX} px): {listed}" + (f" and {len(small) - 5} more" if len(small) > 5 else ""))


_original = FigureCanvasBase.print_figure


def _audited_print_figure(self, filename, *args, **kwargs):
    """FigureCanvasBase.print_figure, then check_figure on what it wrote to a file-like object."""
    start = filename.tell() if isinstance(filename, io.BytesIO) else None
    result = _original(self, filename, *args, **kwargs)
    if start is not None:
        dpi = kwargs.get("dpi")  # a number, or None / "figure" for the figure's own
        check_figure(self.figure, filename.getvalue()[start:], dpi if isinstance(dpi, (int, float)) else None)
    return result


def install(force=False):
    """Audit every figure printed from now on when COURSE_FIGURE_AUDIT is set (or `force`); returns whether it is."""
    if force or os.environ.get(ENV, "") not in ("", "0"):
        FigureCanvasBase.print_figure = _audited_print_figure
    return FigureCanvasBase.print_figure is _audited_print_figure


def uninstall():
    """Stop auditing (tests)."""
    FigureCanvasBase.print_figure = _original
