"""Figures for `vqcodec bench`: rate/distortion curves, ECG overlay, piano roll, of what `vqcodec.bench.ecg` measured.

matplotlib is the optional `[plot]` extra, imported only when a figure is drawn. Figures are built with the
object API on an Agg canvas, so no pyplot state or interactive backend is touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from vqcodec.container.atomic import write_atomic
from vqcodec.errors import VqcError
from vqcodec.metrics import PEDAL_DOWN
from vqcodec.midi.performance import MIDI_MAX, SUSTAIN, Pedal, Performance

INSTALL_HINT = "pip install 'vqcodec[plot]'"
DPI = 120
RD_SIZE = (7.0, 4.5)
OVERLAY_SIZE = (10.0, 5.0)
ROLL_SIZE = (12.0, 7.0)
ROLL_WINDOW = (0.0, 30.0)  # (start s, length s) drawn by default
ROLL_CMAP = "viridis"  # note colour = velocity
NOTE_HEIGHT = 0.8  # bar height in semitones
PEDAL_ALPHA = 0.15
PITCH_PAD = 2  # semitones above and below the notes drawn
PIANO_RANGE = (21, 108)  # A0–C8: the pitch axis when the window holds no note
LABEL_OFFSET = 3  # points between a rate/distortion point and its setting label
LABEL_SIZE = 6
LOSSLESS_COLOR = "0.35"  # grey: lossless methods are reference rates, not curves
LOSSLESS_STYLES = ("--", ":", "-.", (0, (5, 1, 1, 1)))


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


def rate_distortion(curves: Mapping[str, Sequence[tuple[float, float] | tuple[float, float, str]]], path: Path,
                    title: str) -> Any:
    """Bits/sample (log scale) against PRDN %, one line per method, each point labelled with its setting when the
    point names one ((PRDN, bits, setting)). A method whose points all sit at PRDN 0 (lossless) is a dashed
    horizontal line at its rate across the figure, so lossless methods do not pile up on the axis. Returns the
    matplotlib Figure written."""
    figure, ticker, canvas = _matplotlib()
    fig = figure.Figure(figsize=RD_SIZE)
    canvas(fig)
    ax = fig.add_subplot()
    lossless = {name: points for name, points in curves.items() if points and all(p[0] == 0 for p in points)}
    for name, points in curves.items():
        if name in lossless or not points:
            continue
        ordered = sorted(points, key=lambda p: (p[0], p[1]))
        line, = ax.plot([p[0] for p in ordered], [p[1] for p in ordered], marker="o", label=name)
        for p in ordered:
            if len(p) > 2 and p[2]:
                ax.annotate(str(p[2]), (p[0], p[1]), xytext=(LABEL_OFFSET, LABEL_OFFSET), textcoords="offset points",
                            fontsize=LABEL_SIZE, color=line.get_color())
    for k, (name, points) in enumerate(lossless.items()):
        rate = min(p[1] for p in points)
        ax.axhline(rate, linestyle=LOSSLESS_STYLES[k % len(LOSSLESS_STYLES)], color=LOSSLESS_COLOR, linewidth=1.0,
                   label=f"{name} (lossless, {rate:.2f})")
    ax.set_xlim(left=0)
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
    return fig


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


def _sustain_spans(pedal: Pedal | None, start: float, stop: float) -> list[tuple[float, float]]:
    """(start, width) of the stretches of [start, stop] where the pedal is down (value >= PEDAL_DOWN)."""
    if pedal is None or not len(pedal):
        return []
    down = pedal.value >= PEDAL_DOWN
    change = np.flatnonzero(down != np.concatenate(([False], down[:-1])))  # down from change[0], up at change[1], ...
    edges = pedal.time[change]
    if len(edges) % 2:
        edges = np.append(edges, max(stop, edges[-1]))
    spans = np.clip(edges.reshape(-1, 2), start, stop)
    return [(float(a), float(b - a)) for a, b in spans if b > a]


def piano_roll(original: Performance, decoded: Performance | Sequence[tuple[str, Performance]], path: Path,
               title: str, window: tuple[float, float] | None = None) -> None:
    """Original (top) and reconstruction (bottom; or several, each with its label) as piano rolls over window =
    (start s, length s), ROLL_WINDOW by default: a bar per note from onset to offset coloured by velocity, sustain
    pedal down shaded behind."""
    rolls = [("reconstruction", decoded)] if isinstance(decoded, Performance) else list(decoded)
    figure, _, canvas = _matplotlib()
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import Normalize

    start, length = window if window is not None else ROLL_WINDOW
    stop = start + length
    perfs = [original, *(p for _, p in rolls)]
    shown = [np.flatnonzero((p.onset < stop) & (p.offset >= start)) for p in perfs]
    pitches = np.concatenate([p.pitch[i] for p, i in zip(perfs, shown)]).astype(int)
    lo, hi = (pitches.min(), pitches.max()) if len(pitches) else PIANO_RANGE
    norm = Normalize(1, MIDI_MAX)
    size = (ROLL_SIZE[0], ROLL_SIZE[1] * len(perfs) / 2)
    fig = figure.Figure(figsize=size, layout="constrained")  # room for the shared colorbar
    canvas(fig)
    axes = fig.subplots(len(perfs), 1, sharex=True, sharey=True)
    for ax, perf, idx, label in zip(axes, perfs, shown, ["original", *(lb for lb, _ in rolls)]):
        spans = _sustain_spans(perf.pedals.get(SUSTAIN), start, stop)
        if spans:
            ax.broken_barh(spans, (0, 1), transform=ax.get_xaxis_transform(), color="tab:orange",
                           alpha=PEDAL_ALPHA, linewidth=0, label="sustain pedal down")
        on, off, y = perf.onset[idx], perf.offset[idx], perf.pitch[idx].astype(float)
        low, high = y - NOTE_HEIGHT / 2, y + NOTE_HEIGHT / 2
        verts = np.stack([np.stack([on, low], 1), np.stack([off, low], 1), np.stack([off, high], 1),
                          np.stack([on, high], 1)], axis=1)
        bars = PolyCollection(list(verts), array=perf.velocity[idx].astype(float), cmap=ROLL_CMAP, norm=norm,
                              linewidths=0)
        ax.add_collection(bars)
        ax.set_ylabel("pitch (MIDI)")
        ax.set_title(f"{title}: {label}" if label == "original" else label, fontsize="medium")
        ax.grid(True, alpha=0.3)
        if spans:
            ax.legend(fontsize="small", loc="upper right")
    axes[0].set_xlim(start, stop)
    axes[0].set_ylim(lo - PITCH_PAD, hi + PITCH_PAD)
    axes[-1].set_xlabel("time (s)")
    fig.colorbar(bars, ax=list(axes), label="velocity")
    write_atomic(path, lambda fh: fig.savefig(fh, format="png", dpi=DPI), force=True)
