"""Figures for `vqcodec bench`: rate/distortion curves and an ECG overlay with its error trace.

matplotlib is the optional `[plot]` extra, imported only when a figure is drawn. Figures are built with the
object API on an Agg canvas, so no pyplot state or interactive backend is touched.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np

from vqcodec.errors import VqcError

INSTALL_HINT = "pip install 'vqcodec[plot]'"
DPI = 120
RD_SIZE = (7.0, 4.5)
OVERLAY_SIZE = (10.0, 5.0)


class MissingPlotting(VqcError):
    """matplotlib is not installed."""


def _matplotlib() -> tuple[ModuleType, ModuleType, type]:
    """(matplotlib.figure, matplotlib.ticker, FigureCanvasAgg), or MissingPlotting naming the extra."""
    try:
        from matplotlib import figure, ticker
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError as e:
        raise MissingPlotting(f"plots need matplotlib, which is not installed ({INSTALL_HINT})") from e
    return figure, ticker, FigureCanvasAgg


def rate_distortion(curves: dict[str, list[tuple[float, float]]], path: Path, title: str) -> None:
    """Bits/sample (log scale) against PRDN %, one line per method; lossless methods are points at PRDN 0."""
    figure, ticker, canvas = _matplotlib()
    fig = figure.Figure(figsize=RD_SIZE)
    canvas(fig)
    ax = fig.add_subplot()
    for name, points in curves.items():
        xs, ys = zip(*sorted(points))
        ax.plot(xs, ys, marker="o", label=name)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(ticker.FormatStrFormatter("%g"))
    ax.set_xlabel("PRDN (%)")
    ax.set_ylabel("bits per sample")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)


def overlay(original: np.ndarray, decoded: np.ndarray, fs: float, window: tuple[float, float], title: str,
            path: Path, units: str = "mV") -> None:
    """Original and reconstruction of one lead (1-D, physical units) over window = (start s, length s),
    with the error below."""
    figure, _, canvas = _matplotlib()
    start = max(0, min(len(original) - 1, round(window[0] * fs)))
    stop = min(len(original), start + max(1, round(window[1] * fs)))
    t = np.arange(start, stop) / fs
    fig = figure.Figure(figsize=OVERLAY_SIZE)
    canvas(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    top.plot(t, original[start:stop], label="original", linewidth=1.0)
    top.plot(t, decoded[start:stop], label="reconstruction", linewidth=1.0, alpha=0.8)
    top.set_ylabel(units)
    top.legend(fontsize="small", loc="upper right")
    top.set_title(title)
    bottom.plot(t, decoded[start:stop] - original[start:stop], color="tab:red", linewidth=0.8)
    bottom.set_ylabel(f"error ({units})")
    bottom.set_xlabel("time (s)")
    for ax in (top, bottom):
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
