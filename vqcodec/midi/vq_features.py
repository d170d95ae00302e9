"""The per-note inputs and outputs of the midi-vq network, in numpy: what training/midi_vq.py trains on and what
vqcodec.midi.vq feeds its ONNX graphs, so both compute them one way.

A note's features, in a performance's (onset, pitch) order: the onset gap to the note before (the first: its onset),
its duration and its velocity, each on a scale where an error means about the same to the ear everywhere. Pitch is
not a feature: it is coded exactly and given to encoder and decoder beside the features.
"""

from __future__ import annotations

import numpy as np

GAP_SCALE_S = 0.02
"""Seconds: a gap g becomes log1p(g / GAP_SCALE_S), so chords (g ~ 0) and long rests share one range."""
DURATION_FLOOR_S = 0.01
"""Seconds: the shortest duration; a duration d becomes log(d / DURATION_FLOOR_S) >= 0."""
VELOCITY_SCALE = 32.0
"""A velocity v becomes v / VELOCITY_SCALE (about unit spread on piano playing)."""
N_FEATURES = 3
"""Features per note: gap, duration, velocity (in that order)."""
GAP, DURATION, VELOCITY = range(N_FEATURES)


def note_features(onset: np.ndarray, offset: np.ndarray, velocity: np.ndarray) -> np.ndarray:
    """[N, N_FEATURES] float32 features of notes sorted by (onset, pitch)."""
    onset = np.asarray(onset, np.float64)
    gap = np.diff(onset, prepend=0.0)
    duration = np.maximum(np.asarray(offset, np.float64) - onset, DURATION_FLOOR_S)
    return np.stack([np.log1p(np.maximum(gap, 0.0) / GAP_SCALE_S), np.log(duration / DURATION_FLOOR_S),
                     np.asarray(velocity, np.float64) / VELOCITY_SCALE], 1).astype(np.float32)


def gap_seconds(feature: np.ndarray) -> np.ndarray:
    """The gap (s, >= 0) a gap feature stands for."""
    return GAP_SCALE_S * np.expm1(np.maximum(np.asarray(feature, np.float64), 0.0))


def duration_seconds(feature: np.ndarray) -> np.ndarray:
    """The duration (s, >= DURATION_FLOOR_S) a duration feature stands for."""
    return DURATION_FLOOR_S * np.exp(np.maximum(np.asarray(feature, np.float64), 0.0))


def velocity_value(feature: np.ndarray) -> np.ndarray:
    """The velocity (not rounded) a velocity feature stands for."""
    return np.asarray(feature, np.float64) * VELOCITY_SCALE
