"""Bench figures: PNG files of the right size, and a one-line message when matplotlib is missing."""

from __future__ import annotations

import struct
import sys

import numpy as np
import pytest

from tests.helpers.signals import synthetic_ecg
from vqcodec.bench import plot

FS = 360.0
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PNG_SIZE = struct.Struct(">II")
"""Width and height in the IHDR chunk, right after the 8-byte magic and 8 bytes of chunk length + type."""
IHDR_OFFSET = 16


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG_MAGIC)
    return PNG_SIZE.unpack_from(data, IHDR_OFFSET)


def test_rate_distortion_figure(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "rd.png"
    curves = {"FLAC -8": [(0.0, 4.0)], "SZ3": [(5.0, 1.5), (1.8, 3.2), (12.0, 0.6)], "wavelet": [(2.0, 3.0)]}
    plot.rate_distortion(curves, path, "test")
    assert png_size(path.read_bytes()) == tuple(round(v * plot.DPI) for v in plot.RD_SIZE)


def test_rate_distortion_labels_each_setting_and_draws_lossless_methods_as_rates(tmp_path):
    """Points say which setting they are; lossless methods (all at PRDN 0) are horizontal lines, not a pile at 0."""
    pytest.importorskip("matplotlib")
    curves = {"vqcodec": [(6.0, 0.4, "q=6"), (3.0, 0.9, "q=12")], "FLAC": [(0.0, 4.0, "")],
              "vqcodec E=0": [(0.0, 3.7, "")]}
    fig = plot.rate_distortion(curves, tmp_path / "rd.png", "Mean over 1 record")
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == ["q=12", "q=6"]
    flat = {line.get_label(): set(line.get_ydata()) for line in ax.get_lines()}
    assert flat["FLAC (lossless, 4.00)"] == {4.0} and flat["vqcodec E=0 (lossless, 3.70)"] == {3.7}
    assert set(flat["vqcodec"]) == {0.4, 0.9} and ax.get_xlim()[0] == 0


def test_overlay_figure_clamps_its_window_to_the_signal(tmp_path):
    pytest.importorskip("matplotlib")
    x = synthetic_ecg(int(3 * FS))
    path = tmp_path / "overlay.png"
    plot.overlay(x, x + 0.01 * np.sin(np.arange(len(x))), FS, (2.0, 8.0), "rec: CR 10, PRDN 3 %", path)
    assert png_size(path.read_bytes()) == tuple(round(v * plot.DPI) for v in plot.OVERLAY_SIZE)


def test_missing_matplotlib_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(plot.MissingPlotting, match=r"vqcodec\[plot\]"):
        plot.rate_distortion({"a": [(1.0, 1.0)]}, tmp_path / "x.png", "t")
    assert not (tmp_path / "x.png").exists()


def _performance(shift: float = 0.0):
    from vqcodec.midi.performance import SUSTAIN, Pedal, Performance

    onset = np.arange(40) * 0.25 + shift
    pitch = 48 + (np.arange(40) * 7) % 36
    return Performance(pitch, onset, onset + 0.2 + (np.arange(40) % 3) * 0.3, 20 + (np.arange(40) * 13) % 100,
                       {SUSTAIN: Pedal([0.4, 2.0, 3.0, 6.5], [127, 0, 90, 0])})


def test_piano_roll_figure(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "roll.png"
    plot.piano_roll(_performance(), _performance(0.01), path, "piece: 12 bits/note")
    assert png_size(path.read_bytes()) == tuple(round(v * plot.DPI) for v in plot.ROLL_SIZE)
    assert [p.name for p in tmp_path.iterdir()] == ["roll.png"]  # no temporary file left behind
    windowed = tmp_path / "window.png"
    plot.piano_roll(_performance(), _performance(0.01), windowed, "window", window=(2.5, 1.0))
    assert png_size(windowed.read_bytes()) == png_size(path.read_bytes())


def test_piano_roll_of_empty_performances(tmp_path):
    pytest.importorskip("matplotlib")
    from vqcodec.midi.performance import Performance

    empty = Performance([], [], [], [])
    path = tmp_path / "empty.png"
    plot.piano_roll(empty, empty, path, "empty")
    assert path.read_bytes().startswith(PNG_MAGIC)


def test_sustain_spans_are_clipped_to_the_window():
    from vqcodec.midi.performance import Pedal

    pedal = Pedal([0.4, 2.0, 3.0, 3.5, 6.5], [127, 0, 90, 100, 0])  # down 0.4–2.0 and 3.0–6.5
    assert plot._sustain_spans(pedal, 1.0, 5.0) == [(1.0, 1.0), (3.0, 2.0)]
    assert plot._sustain_spans(Pedal([1.0], [127]), 0.0, 4.0) == [(1.0, 3.0)]  # never released: to the end
    assert plot._sustain_spans(None, 0.0, 4.0) == []


def test_piano_roll_without_matplotlib_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(plot.MissingPlotting, match=r"vqcodec\[plot\]"):
        plot.piano_roll(_performance(), _performance(), tmp_path / "x.png", "t")
    assert not (tmp_path / "x.png").exists()
