"""Long records in flat memory: the ECG model layer run window by window, for `vqcodec.ecg.codec` (which holds the
model and writes the file) and the CLI's record reader and writer (`vqcodec.io.wfdb`).

Every cut here falls where the record and the model put it, never where a window ends: normalisation blocks, the
encoder's and decoder's chunks with their context margins (`framing.chunk_grid`), storage blocks for the search and
the fingerprint, a fixed grid for the distortion sums, and a resampler whose every output equals the whole record's
(`conditioning.resample`, whose 'line' padding is rebuilt from the record's first and last samples). So the bytes of
a file and the samples it decodes to do not depend on how much of the record is held at once: a record read from
disk in windows gives the file the same record gives in memory. The residual layer (`vqcodec.coding.residual`) is
coded residual block by residual block (`file.RESIDUAL_BLOCK_SAMPLES`, section RESB), each on its own, and the
digest of the decoded samples (dSIG) is a SHA-256 fed in the record's order. The signals the model does not code (aux
signals, each at its own rate) are coded aux block by aux block (`file.AUX_BLOCK_SAMPLES` of the signal's own
samples, section AUXB), each block read whole and coded on its own, and read back block by block (`AuxReader`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Protocol

import numpy as np

from vqcodec.coding import residual
from vqcodec.ecg import file as ecg_file
from vqcodec.ecg.conditioning import (
    MAX_RESAMPLE_DENOMINATOR,
    fill_invalid,
    model_length,
    nan_runs,
    quantize_to_grid,
)
from vqcodec.ecg.framing import chunk_grid, n_blocks, normalize_blocks
from vqcodec.ecg.signal import ChannelInfo, Signal
from vqcodec.errors import ChecksumError, InputError
from vqcodec.metrics import ChannelReport, distortion_from_sums

if TYPE_CHECKING:  # the codec imports this module
    from vqcodec.ecg.codec import Codec

WINDOW_VALUES = 1 << 20
"""Samples times channels held per window (at the model rate): what bounds a long record's memory."""
METRIC_UNIT = 1 << 16
"""Record samples per partial sum of the distortion: sums are added in this fixed order, whatever the window."""
FILTER_TAPS_PER_RATE = 10
"""scipy's resample_poly designs its filter with 10 * max(up, down) taps each side (its half_len)."""
NAN_SEARCH = 1 << 14
"""Samples read at a time when looking for the valid neighbour of an invalid run that leaves the window."""


class Source(Protocol):
    """A record read in windows: physical values [stop - start, C] float64, NaN where invalid."""

    fs: float
    channels: list[ChannelInfo]
    n_samples: int
    record_name: str
    comments: list[str]
    base_time: str | None
    base_date: str | None

    def read(self, start: int, stop: int) -> np.ndarray: ...


@dataclass
class SignalSource:
    """A Signal in memory, as a Source."""

    signal: Signal

    def __post_init__(self) -> None:
        self.fs, self.channels = self.signal.fs, self.signal.channels
        self.n_samples, self.record_name = self.signal.n_samples, self.signal.record_name
        self.comments, self.base_time, self.base_date = self.signal.comments, self.signal.base_time, \
            self.signal.base_date

    def read(self, start: int, stop: int) -> np.ndarray:
        return self.signal.samples[start:stop]


class Selected:
    """Some of a Source's channels, in the order given (what `--channels` keeps): a Source itself. `check()` passes to
    the source, whose reads still cover every channel (a WFDB record's checksums are over all of them)."""

    def __init__(self, source: Source, columns: list[int]) -> None:
        self.source, self.columns = source, list(columns)
        self.fs, self.n_samples, self.record_name = source.fs, source.n_samples, source.record_name
        self.channels = [source.channels[c] for c in self.columns]
        self.comments, self.base_time, self.base_date = source.comments, source.base_time, source.base_date

    def read(self, start: int, stop: int) -> np.ndarray:
        return self.source.read(start, stop)[:, self.columns]

    def check(self) -> None:
        check = getattr(self.source, "check", None)
        if check is not None:
            check()


class Filled:
    """A source's samples with invalid runs filled as `conditioning.fill_invalid` fills the whole record: linear
    between the valid neighbours (found outside the window when a run leaves it), edges held, an all-invalid channel
    zero."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self._found: dict[tuple[int, int, int], int | None] = {}  # (channel, from, step) -> valid neighbour

    def _valid(self, c: int, pos: int, step: int) -> int | None:
        """The nearest valid sample of channel c from pos on (step -1: backwards), or None."""
        key = (c, pos, step)
        if key not in self._found:
            n, at, found = self.source.n_samples, pos, None
            while 0 <= at < n and found is None:
                a, b = (max(0, at - NAN_SEARCH + 1), at + 1) if step < 0 else (at, min(n, at + NAN_SEARCH))
                ok = np.flatnonzero(~np.isnan(self.source.read(a, b)[:, c]))
                if len(ok):
                    found = a + int(ok[-1] if step < 0 else ok[0])
                at = a - 1 if step < 0 else b
            self._found[key] = found
        return self._found[key]

    def read(self, start: int, stop: int) -> np.ndarray:
        x = np.array(self.source.read(start, stop), dtype=np.float64)
        if np.isinf(x).any():
            raise InputError(f"{self.source.record_name}: samples contain inf")
        bad = np.isnan(x)
        if not bad.any():
            return x
        idx = np.arange(start, stop)
        for c in map(int, np.flatnonzero(bad.any(axis=0))):
            m = bad[:, c]
            xp, fp = idx[~m], x[~m, c]
            left = self._valid(c, start - 1, -1) if m[0] else None
            right = self._valid(c, stop, 1) if m[-1] else None
            if left is not None:
                xp, fp = np.r_[left, xp], np.r_[self.source.read(left, left + 1)[0, c], fp]
            if right is not None:
                xp, fp = np.r_[xp, right], np.r_[fp, self.source.read(right, right + 1)[0, c]]
            x[m, c] = np.interp(idx[m], xp, fp) if len(xp) else 0.0
        return x


class Resampled:
    """Rows [start, stop) of `conditioning.resample(x, fs_from, fs_to, length)` for x read in windows by `read`,
    equal to the whole array's: each window is resampled with a margin beyond the filter's reach, and past the
    record's ends with scipy's 'line' padding rebuilt from the record's first and last samples."""

    def __init__(self, read: Callable[[int, int], np.ndarray], n: int, fs_from: float, fs_to: float,
                 length: int) -> None:
        self._read, self.n, self.length = read, n, length
        self.same = fs_from == fs_to
        ratio = Fraction(fs_to / fs_from).limit_denominator(MAX_RESAMPLE_DENOMINATOR)
        self.up, self.down = ratio.numerator, ratio.denominator
        self.natural = model_length(n, fs_from, fs_to) if n > 1 or self.same else model_length(1, fs_from, fs_to)
        self.margin = 2 * FILTER_TAPS_PER_RATE * max(self.up, self.down) // self.up + self.down + 2
        self._ends: tuple[np.ndarray, np.ndarray] | None = None
        self._last: np.ndarray | None = None

    def _line(self, idx: np.ndarray) -> np.ndarray:
        """The 'line' padding at input positions idx outside [0, n): the line through the first and last sample."""
        if self._ends is None:
            self._ends = (self._read(0, 1)[0], self._read(self.n - 1, self.n)[0])
        first, last = self._ends
        slope = (last - first) / (self.n - 1)
        k = idx[:, None]
        return np.where(k < 0, first + k * slope, last + (k - (self.n - 1)) * slope)

    def _natural(self, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) of resample_poly's own output (stop <= self.natural)."""
        up, down = self.up, self.down
        if self.same:
            return self._read(start, stop)
        if self.n == 1:  # resample() repeats a lone sample
            return np.repeat(self._read(0, 1), stop - start, axis=0)
        from scipy.signal import resample_poly  # imported here, as resample() does: it costs ~0.8 s of start-up
        i0 = (start * down // up - self.margin) // down * down  # a multiple of down: outputs stay on the grid
        i1 = -(-stop * down // up) + self.margin
        inside = self._read(max(0, i0), min(self.n, i1))
        parts = [inside]
        if i0 < 0:
            parts.insert(0, self._line(np.arange(i0, 0)))
        if i1 > self.n:
            parts.append(self._line(np.arange(self.n, i1)))
        y = resample_poly(np.concatenate(parts), up, down, axis=0, padtype="constant")
        off = i0 * up // down
        return y[start - off : stop - off]

    def read(self, start: int, stop: int) -> np.ndarray:
        q = min(stop, self.natural)
        out = self._natural(start, q) if start < q else None
        if stop > q:  # resample() pads a short result with its last row
            if self._last is None:
                self._last = self._natural(self.natural - 1, self.natural)
            pad = np.repeat(self._last, stop - max(start, q), axis=0)
            out = pad if out is None else np.concatenate([out, pad])
        assert out is not None
        return out


@dataclass
class Spread:
    """Per channel, the count, mean, sum of squared deviations from the mean (Chan et al.'s combination) and range of
    a record's valid values, added one unit of the grid at a time in the record's order: the same figures whatever
    the window."""

    count: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def empty(cls, n_channels: int) -> Spread:
        c = n_channels
        return cls(np.zeros(c, np.int64), np.zeros(c), np.zeros(c), np.full(c, np.inf), np.full(c, -np.inf))

    def add(self, c: int, xc: np.ndarray) -> None:
        """Channel c's valid values xc of one unit of the grid (at least one)."""
        k = len(xc)
        mean_b = float(xc.mean())
        m2_b = float(np.sum((xc - mean_b) ** 2))
        n_a = int(self.count[c])
        total = n_a + k
        delta = mean_b - self.mean[c]
        self.m2[c] += m2_b + delta * delta * n_a * k / total
        self.mean[c] += delta * k / total
        self.count[c] = total
        self.lo[c], self.hi[c] = min(self.lo[c], float(xc.min())), max(self.hi[c], float(xc.max()))

    def std(self, c: int) -> float:
        """Channel c's standard deviation (of the whole population, as np.std gives it)."""
        return math.sqrt(float(self.m2[c]) / int(self.count[c]))


def spread(source: Source, scale: np.ndarray) -> Spread:
    """The Spread of a source's valid values times `scale` [C] (ADC gains: the values in ADC units), read and added
    METRIC_UNIT samples at a time in the record's order."""
    out = Spread.empty(len(source.channels))
    for a in range(0, source.n_samples, METRIC_UNIT):
        x = source.read(a, min(source.n_samples, a + METRIC_UNIT))
        for c in range(len(source.channels)):
            xc = x[~np.isnan(x[:, c]), c] * scale[c]
            if len(xc):
                out.add(c, xc)
    return out


@dataclass
class RunningDistortion:
    """Per-channel sums of a record's distortion, added METRIC_UNIT samples at a time in the record's order, so that
    the report does not depend on the window (`metrics.distortion_from_sums` turns them into a ChannelReport): the
    original's Spread, and the sums of its squares and of the squared error, and the largest error."""

    n_channels: int
    original: Spread = field(init=False)
    energy: np.ndarray = field(init=False)
    e2: np.ndarray = field(init=False)
    max_err: np.ndarray = field(init=False)
    clipped: int = 0

    def __post_init__(self) -> None:
        c = self.n_channels
        self.original = Spread.empty(c)
        self.energy, self.e2, self.max_err = np.zeros(c), np.zeros(c), np.zeros(c)

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        """Original x and decoded y [k, C] (k <= METRIC_UNIT: one unit of the grid), NaN where x is invalid."""
        for c in range(self.n_channels):
            ok = ~np.isnan(x[:, c])
            xc, yc = x[ok, c], y[ok, c]
            if not len(xc):
                continue
            err = yc - xc
            self.original.add(c, xc)
            self.energy[c] += float(np.sum(xc**2))
            self.e2[c] += float(np.sum(err**2))
            self.max_err[c] = max(self.max_err[c], float(np.max(np.abs(err))))

    def channel_reports(self, channels: list[ChannelInfo]) -> list[ChannelReport]:
        x = self.original
        return [distortion_from_sums(ch.name, int(x.count[c]), float(self.energy[c]),
                                     float(x.m2[c]) if x.hi[c] > x.lo[c] else 0.0, float(self.e2[c]),
                                     float(self.max_err[c]))
                for c, ch in enumerate(channels)]


def window_frames(codec: Codec, n_channels: int, chunk: int) -> int:
    """Frames per window: whole chunks of `chunk` frames, WINDOW_VALUES model-rate values at most (one chunk at
    least)."""
    return max(1, WINDOW_VALUES // (chunk * codec.hop * max(1, n_channels))) * chunk


@dataclass
class EncodedStream:
    """What the encoder side makes of a record: per storage block its indices (coded when `coding` is set), the
    normalisation stats [n_norm_blocks, C, 2] and the model-rate length."""

    blocks: list
    stats: np.ndarray
    n_model: int
    stages: int
    coding: str | None


Progress = Callable[[float], None]
"""Told the share of the work done so far, from 0 to 1, after each window."""


def encode(codec: Codec, source: Source, quality: int, window: int | None = None,
           progress: Progress | None = None) -> EncodedStream:
    """The model layer of `source` at `quality`, window by window (`window` model frames at a time, a multiple of
    the encoder's chunk; default from WINDOW_VALUES): each encoder chunk sees the same context as in a whole-array
    run, and each storage block is searched alone."""
    from vqcodec.ecg.codec import ENCODE_CHUNK

    c, hop, n = len(source.channels), codec.hop, source.n_samples
    n_model = model_length(n, source.fs, codec.fs)
    frames = -(-n_model // hop)
    total = frames * hop  # padded to whole hops with the last normalised value
    model = Resampled(Filled(source).read, n, source.fs, codec.fs, n_model)
    ns, bf = codec.norm_samples, codec.block_frames
    stages, lam = codec.levels[quality]
    coding = codec.level_coding(quality) if stages else None
    prior = codec._index_model(coding, stages) if coding else None
    stats = np.zeros((n_blocks(frames, codec.norm_frames), c, 2), dtype=np.float32)
    grid = chunk_grid(total, ENCODE_CHUNK, codec.encode_margin)
    step = window or window_frames(codec, c, ENCODE_CHUNK // hop)
    blocks: list = []
    z_parts: list[np.ndarray] = []
    z_lo = 0  # first frame held in z_parts
    done = 0  # storage blocks searched
    g = 0
    while g < len(grid):
        w0 = grid[g][0]
        w_chunks = [s for s in grid[g:] if s[0] < w0 + step * hop] or [grid[g]]
        g += len(w_chunks)
        lo, hi = w_chunks[0][2], w_chunks[-1][3]
        xn = _normalised(model, stats, lo, hi, n_model, ns)
        for start, stop, clo, chi in w_chunks:
            y = codec.encode_latent(xn[:, None, clo - lo : chi - lo])
            a = (start - clo) // hop
            z_parts.append(y[..., a : a + (stop - start) // hop])
        held = z_lo + sum(p.shape[-1] for p in z_parts)
        ready = held // bf if held < frames else n_blocks(frames, bf)
        for b in range(done, ready):  # each channel's latents of a block gathered alone: no copy of them all
            f0, f1 = b * bf, min((b + 1) * bf, frames)
            idx = np.stack([codec._quantize(_frames(z_parts, z_lo, ch, f0, f1), stages, lam, coding)
                            for ch in range(c)]) if stages else np.zeros((c, 0, f1 - f0), np.uint16)
            blocks.append(codec._code_block(np.ascontiguousarray(idx), prior[0]) if prior is not None else idx)
        if ready > done:
            z_parts, z_lo, done = _drop(z_parts, z_lo, ready * bf), ready * bf, ready
        if progress is not None:
            progress(min(1.0, w_chunks[-1][1] / max(total, 1)))
    return EncodedStream(blocks, stats, n_model, stages, coding)


def _frames(parts: list[np.ndarray], first: int, ch: int, f0: int, f1: int) -> np.ndarray:
    """Channel ch's latents of frames [f0, f1), [D, f1 - f0], from consecutive parts [C, D, k] starting at frame
    `first`."""
    out, at = [], first
    for p in parts:
        a, b = max(f0, at), min(f1, at + p.shape[-1])
        if a < b:
            out.append(p[ch][:, a - at : b - at])
        at += p.shape[-1]
    return out[0] if len(out) == 1 else np.concatenate(out, axis=-1)


def _drop(parts: list[np.ndarray], first: int, upto: int) -> list[np.ndarray]:
    """The parts (from frame `first`) without the frames before `upto`, a cut part copied so that the whole one is
    freed."""
    kept, at = [], first
    for p in parts:
        if at + p.shape[-1] > upto:
            kept.append(p if at >= upto else np.ascontiguousarray(p[..., upto - at :]))
        at += p.shape[-1]
    return kept


def _normalised(model: Resampled, stats: np.ndarray, lo: int, hi: int, n_model: int, ns: int) -> np.ndarray:
    """Normalised model-rate samples [lo, hi) [C, hi - lo] float32, as `Codec.analyse` makes them for the whole
    record (per normalisation block; past n_model the last value), filling `stats` for the blocks it reads."""
    b0, b1 = lo // ns, -(-min(hi, n_model) // ns)
    a, b = b0 * ns, min(b1 * ns, n_model)
    raw = model.read(a, b)
    c = raw.shape[1]
    xn = np.empty((c, max(hi, b) - a), dtype=np.float32)
    for ch in range(c):
        xn[ch, : b - a], stats[b0:b1, ch, :] = normalize_blocks(raw[:, ch], ns)
        xn[ch, b - a :] = xn[ch, b - a - 1]
    return xn[:, lo - a : hi - a]


def block_fingerprint(seg: np.ndarray) -> np.ndarray:
    """(mean, rms, max|y|) per channel of one storage block's normalised reconstruction [C, n] float64 -> [C, 3]:
    what the file's fingerprint holds for the block."""
    return np.stack([seg.mean(1), np.sqrt((seg**2).mean(1)), np.abs(seg).max(1)], axis=1)


class BlockIndices:
    """Code indices by frame range from a file's storage blocks, each block decoded once (the last few kept)."""

    def __init__(self, block: Callable[[int], np.ndarray], block_frames: int, keep: int = 3) -> None:
        self._block, self._bf, self._keep = block, block_frames, keep
        self._held: dict[int, np.ndarray] = {}

    def frames(self, lo: int, hi: int) -> np.ndarray:
        """[C, S, hi - lo] indices of frames [lo, hi)."""
        b0, b1 = lo // self._bf, -(-hi // self._bf)
        for b in range(b0, b1):
            if b not in self._held:
                self._held[b] = self._block(b)
        parts = [self._held[b] for b in range(b0, b1)]
        for b in [b for b in self._held if b < b1 - self._keep]:
            del self._held[b]
        return np.concatenate(parts, axis=2)[:, :, lo - b0 * self._bf : hi - b0 * self._bf]


class ModelOutput:
    """The decoded model layer of a file, read by model-rate sample ranges: normalised (`normalised`) or in physical
    units (`read`), decoder chunk by chunk on the whole decode's grid. The chunks are made in order once each (a few
    kept for reads that step back into a margin), and each storage block's fingerprint is taken as it completes."""

    def __init__(self, codec: Codec, indices: Callable[[int, int], np.ndarray], stats: np.ndarray, n_model: int,
                 n_frames: int, block_frames: int) -> None:
        from vqcodec.ecg.codec import DECODE_CHUNK

        self.codec, self._indices, self.stats, self.n_model = codec, indices, stats, n_model
        self.grid = chunk_grid(n_frames, DECODE_CHUNK, codec.decode_margin)
        self._chunk_frames = DECODE_CHUNK if len(self.grid) > 1 else max(n_frames, 1)
        self._cache: dict[int, np.ndarray] = {}
        self._block_frames = block_frames
        self._next_fp = 0  # the next chunk the fingerprint takes
        self._fp_parts: list[np.ndarray] = []
        self.fingerprints: list[np.ndarray] = []  # [C, 3] per completed storage block

    def _chunk(self, k: int) -> np.ndarray:
        """Normalised output of decoder chunk k, [C, samples] float32 (cut at n_model)."""
        if k not in self._cache:
            start, stop, lo, hi = self.grid[k]
            idx = self._indices(lo, hi)
            c, stages = idx.shape[0], idx.shape[1]
            cb_t = self.codec._cb_t
            z = np.zeros((c, cb_t.shape[1], hi - lo), dtype=np.float32)
            for s in range(stages):
                for ch in range(c):
                    z[ch] += cb_t[s][:, idx[ch, s].astype(np.int64)]
            y = self.codec.decode_latent(z)[:, 0, :]
            hop = self.codec.hop
            a = (start - lo) * hop
            out = y[:, a : a + (stop - start) * hop][:, : max(0, self.n_model - start * hop)]
            self._cache[k] = out
            for old in [j for j in self._cache if j < k - 2 and j != len(self.grid) - 1]:
                del self._cache[old]
        return self._cache[k]

    def _feed(self, k: int, y: np.ndarray) -> None:
        """Give chunk k to the fingerprint when it is the next one: each storage block's is taken whole."""
        if k != self._next_fp:
            return
        self._next_fp += 1
        bs = self._block_frames * self.codec.hop
        self._fp_parts.append(y)
        held = sum(p.shape[1] for p in self._fp_parts)
        last = self._next_fp == len(self.grid)
        while held >= bs or (last and held > 0):
            y = np.concatenate(self._fp_parts, axis=1)
            seg, rest = y[:, :bs].astype(np.float64), y[:, bs:]
            self.fingerprints.append(block_fingerprint(seg))
            self._fp_parts, held = [rest], rest.shape[1]

    def normalised(self, start: int, stop: int) -> np.ndarray:
        """[C, stop - start] float32: the normalised reconstruction of model-rate samples [start, stop)."""
        step = self._chunk_frames * self.codec.hop
        k0, k1 = start // step, -(-stop // step)
        parts = []
        for k in range(k0, k1):
            parts.append(self._chunk(k))
            self._feed(k, parts[-1])
        y = np.concatenate(parts, axis=1)
        return y[:, start - k0 * step : stop - k0 * step]

    def finish(self) -> None:
        """Decode what no read reached, so that every block has its fingerprint."""
        for k in range(self._next_fp, len(self.grid)):
            self._feed(k, self._chunk(k))

    def read(self, start: int, stop: int) -> np.ndarray:
        """[stop - start, C] float64 physical values at the model rate (denormalised per block)."""
        yn = self.normalised(start, stop)
        rows = np.arange(start, stop) // self.codec.norm_samples
        return yn.T.astype(np.float64) * self.stats[rows, :, 1] + self.stats[rows, :, 0]


def decoded_windows(output: ModelOutput, fs: float, n_samples: int, channels: list[ChannelInfo], runs: np.ndarray,
                    window: int | None = None) -> Iterator[tuple[int, np.ndarray, int]]:
    """The record decoded in windows of whole METRIC_UNITs: (first sample, physical values [k, C] on the channels'
    ADC grid with NaN runs restored, samples clipped to the format's range)."""
    codec = output.codec
    record = Resampled(output.read, output.n_model, codec.fs, fs, n_samples)
    units = max(1, (window or WINDOW_VALUES // max(1, len(channels))) // METRIC_UNIT)
    for r0 in range(0, n_samples, units * METRIC_UNIT):
        r1 = min(n_samples, r0 + units * METRIC_UNIT)
        y, clipped = quantize_to_grid(record.read(r0, r1), channels)
        for ch, start, length in runs:
            a, b = max(start, r0), min(start + length, r1)
            if a < b:
                y[a - r0 : b - r0, ch] = np.nan
        yield r0, y, clipped
    output.finish()


def measure(source: Source, windows: Iterator[tuple[int, np.ndarray, int]],
            progress: Progress | None = None) -> tuple[RunningDistortion, np.ndarray]:
    """Distortion sums of decoded windows against the source, METRIC_UNIT by METRIC_UNIT, and the source's invalid
    runs as `conditioning.nan_runs` gives them for the whole record: (channel, start, length), by channel."""
    sums = RunningDistortion(len(source.channels))
    runs: list[list[int]] = []
    open_run: dict[int, list[int]] = {}  # channel -> its run that reached the previous unit's end
    for r0, y, clipped in windows:
        sums.clipped += clipped
        for u in range(0, len(y), METRIC_UNIT):
            k = min(METRIC_UNIT, len(y) - u)
            x = source.read(r0 + u, r0 + u + k)
            sums.add(x, y[u : u + k])
            for ch, start, length in nan_runs(np.isnan(x)):
                start += r0 + u
                prev = open_run.get(int(ch))
                if prev is not None and prev[1] + prev[2] == start:
                    prev[2] += int(length)
                else:
                    runs.append(prev := [int(ch), int(start), int(length)])
                open_run[int(ch)] = prev
            for ch in list(open_run):
                if open_run[ch][1] + open_run[ch][2] != r0 + u + k:
                    del open_run[ch]
        if progress is not None:
            progress((r0 + len(y)) / max(source.n_samples, 1))
    out = np.array(sorted(runs), dtype=np.int64).reshape(-1, 3)
    return sums, out


Reader = Callable[[int, int], np.ndarray]
"""Rows [start, stop) of a record-length array, [stop - start, C]."""


def digital(samples: np.ndarray, channels: list[ChannelInfo]) -> np.ndarray:
    """Physical values [k, C] on the channels' ADC grid -> ADC samples int64 (invalid ones as
    file.INVALID_DIGITAL): the rows `file.signal_digest` digests."""
    gains = np.array([ch.gain for ch in channels], dtype=np.float64)
    baselines = np.array([ch.baseline for ch in channels], dtype=np.float64)
    d = samples * gains + baselines
    bad = np.isnan(d)
    out = np.rint(np.where(bad, 0, d)).astype(np.int64)
    out[bad] = ecg_file.INVALID_DIGITAL
    return out


@dataclass
class ResidualBlocks:
    """What the residual layer's windows leave behind: each residual block's payload (section RESB) and the running
    SHA-256 of the decoded ADC samples (dSIG), fed in the record's order: `digest()` equals
    `file.signal_digest` of the whole decoded record."""

    payloads: list[bytes] = field(default_factory=list)
    sha: hashlib._Hash = field(default_factory=hashlib.sha256)

    def digest(self) -> bytes:
        return self.sha.digest()


def _physical(d: np.ndarray, channels: list[ChannelInfo]) -> tuple[np.ndarray, int]:
    """ADC samples [k, C] (the residual layer's reconstruction) -> physical values on the grid, samples clipped."""
    gains = np.array([ch.gain for ch in channels], dtype=np.float64)
    baselines = np.array([ch.baseline for ch in channels], dtype=np.float64)
    return quantize_to_grid((d - baselines) / gains, channels)


def encode_residual(filled: Reader, invalid: Reader, prediction: Reader | None, n_samples: int,
                    channels: list[ChannelInfo], max_error: int, block: int, out: ResidualBlocks,
                    ) -> Iterator[tuple[int, np.ndarray, int]]:
    """The residual layer of a record, residual block by residual block: each block's ADC samples (from `filled`,
    physical values with invalid samples filled) coded by `residual.encode` on its own around the model's
    prediction (`prediction`: physical values at the record's rate before the grid, None without a model layer),
    its payload and its decoded samples' digest added to `out`; yields the decoded windows as `decoded_windows`
    does (first sample, physical values with `invalid`'s samples NaN, samples clipped)."""
    gains = np.array([ch.gain for ch in channels], dtype=np.float64)
    baselines = np.array([ch.baseline for ch in channels], dtype=np.float64)
    for a, z in ecg_file.residual_block_spans(n_samples, block):
        d = np.rint(filled(a, z) * gains + baselines).astype(np.int64)
        p = None if prediction is None else prediction(a, z) * gains + baselines
        payload, recon = residual.encode(d, p, max_error)
        out.payloads.append(payload)
        y, clipped = _physical(recon, channels)
        y[invalid(a, z)] = np.nan
        out.sha.update(np.ascontiguousarray(digital(y, channels), "<i8").tobytes())
        yield a, y, clipped


def decode_residual(payloads: list[bytes], n_samples: int, block: int, prediction: Reader | None,
                    channels: list[ChannelInfo], runs: np.ndarray, name: str, blocks: range | None = None,
                    sha: hashlib._Hash | None = None, verify: bool = True) -> Iterator[tuple[int, np.ndarray]]:
    """The samples of a file's residual blocks `blocks` (default: all) in order: (first sample, physical values
    [k, C] on the grid with the NaN runs restored), each block decoded on its own around the model's prediction
    (`prediction` as in `encode_residual`); their ADC samples fed to `sha` when given. verify=False skips the
    blocks' CRCs (salvage)."""
    spans = ecg_file.residual_block_spans(n_samples, block)
    c = len(channels)
    gains = np.array([ch.gain for ch in channels], dtype=np.float64)
    baselines = np.array([ch.baseline for ch in channels], dtype=np.float64)
    for b in range(len(spans)) if blocks is None else blocks:
        a, z = spans[b]
        p = None if prediction is None else prediction(a, z) * gains + baselines
        recon = residual.decode(payloads[b], p, (z - a, c), f"{name}: residual block {b}", verify=verify)
        y, _ = _physical(recon, channels)
        for ch, start, length in runs:
            lo, hi = max(int(start), a), min(int(start + length), z)
            if lo < hi:
                y[lo - a : hi - a, ch] = np.nan
        if sha is not None:
            sha.update(np.ascontiguousarray(digital(y, channels), "<i8").tobytes())
        yield a, y


def check_digest(sha: hashlib._Hash, expected: bytes | None, name: str) -> None:
    """ChecksumError when a file's dSIG disagrees with the digest of the samples decoded."""
    if expected is not None and sha.digest() != expected:
        raise ChecksumError(f"{name}: the decoded samples do not match the file's digest of them (dSIG): a "
                            "damaged file, or a misbehaving decoder")


# ------------------------------------------------------------------ aux signals, aux block by aux block


@dataclass
class AuxSource:
    """One aux signal of a record read in windows (what `signal.AuxChannel` is in memory): its position among the
    record's signals, rate, channel and length, and `read(start, stop)`: its physical values [stop - start] float64,
    NaN where invalid, at its own rate."""

    position: int
    fs: float
    channel: ChannelInfo
    n_samples: int
    read: Callable[[int, int], np.ndarray]


def array_reader(x: np.ndarray) -> Callable[[int, int], np.ndarray]:
    """An AuxSource's `read` of an array in memory: its rows [start, stop)."""
    return lambda start, stop: x[start:stop]


def column_reader(source: Source, c: int) -> Callable[[int, int], np.ndarray]:
    """An AuxSource's `read` of a source's column c."""
    return lambda start, stop: source.read(start, stop)[:, c]


def encode_aux(aux: AuxSource, max_error: int, block: int, name: str) -> ecg_file.AuxStream:
    """An aux signal coded by the residual layer alone within max_error ADC units, aux block by aux block: each
    block's samples read whole, its invalid ones filled within the block (`conditioning.fill_invalid`, which the layer
    codes for almost nothing; the decoder marks them invalid again), and coded on its own. Its runs of invalid samples
    are those of the whole signal, a run across a block edge kept whole. InputError for inf."""
    gain, baseline = aux.channel.gain, aux.channel.baseline
    payloads: list[bytes] = []
    runs: list[list[int]] = []
    for a, z in ecg_file.residual_block_spans(aux.n_samples, block):
        x = np.asarray(aux.read(a, z), dtype=np.float64)
        if np.isinf(x).any():
            raise InputError(f"{name}: aux signal {aux.channel.name} contains inf")
        bad = np.isnan(x)
        d = np.rint(np.where(bad, 0.0, x) * gain + baseline)
        if bad.any():
            d = np.rint(fill_invalid(np.where(bad, np.nan, d)))
        payload, _ = residual.encode(d.astype(np.int64)[:, None], None, max_error)
        payloads.append(payload)
        for _, start, length in nan_runs(bad[:, None]):
            start = a + int(start)
            if runs and runs[-1][0] + runs[-1][1] == start:
                runs[-1][1] += int(length)
            else:
                runs.append([start, int(length)])
    return ecg_file.AuxStream(None, np.array(runs, dtype=np.int64).reshape(-1, 2), payloads)


class AuxReader:
    """One aux signal of a file read by sample ranges at its own rate: physical values [stop - start] (its ADC
    samples over its gain, as the whole decode gives them), NaN where invalid. A file with aux blocks (AUXB) decodes
    only the blocks a read reaches, each once while reads move forward (the last one kept); a file with one stream
    over the whole signal (AUXS) decodes it whole on the first read. A damaged block is a ChecksumError naming it;
    one that salvage left out (`lost`: block -> why) reads as invalid samples, or with `strict` as that error."""

    def __init__(self, info: ecg_file.AuxInfo, coded: ecg_file.AuxStream, block: int | None, name: str,
                 lost: dict[int, str] | None = None, strict: bool = False) -> None:
        self.info, self.coded, self.name = info, coded, name
        self.lost, self.strict = lost or {}, strict
        self.block = block if coded.blocks is not None and block is not None else max(info.n_samples, 1)
        self.spans = ecg_file.residual_block_spans(info.n_samples, self.block)
        self._held: tuple[int, np.ndarray] | None = None  # (block, its samples)
        self.blocks_decoded = 0

    def _decode(self, b: int) -> np.ndarray:
        if self._held is not None and self._held[0] == b:
            return self._held[1]
        a, z = self.spans[b]
        ch = self.info.channel
        where = f"{self.name}: aux signal {ch.name}"
        if b in self.lost:
            if self.strict:
                raise ChecksumError(f"{where} block {b} (its samples {a}..{z - 1}), which the range needs, is damaged "
                                    f"({self.lost[b]})")
            self._held = (b, np.full(z - a, np.nan))
            return self._held[1]
        if self.coded.blocks is not None:
            payload: bytes = self.coded.blocks[b]
            where += f" block {b}"
        else:
            assert self.coded.residual is not None  # loads checked it
            payload = self.coded.residual
        d = residual.decode(payload, None, (z - a, 1), where)
        x = (d[:, 0].astype(np.float64) - ch.baseline) / ch.gain
        for start, length in self.coded.nan_runs:
            lo, hi = max(int(start), a), min(int(start + length), z)
            if lo < hi:
                x[lo - a : hi - a] = np.nan
        self._held = (b, x)
        self.blocks_decoded += 1
        return x

    def read(self, start: int, stop: int) -> np.ndarray:
        if stop <= start:
            return np.zeros(0)
        b0, b1 = start // self.block, -(-stop // self.block)
        parts = [self._decode(b) for b in range(b0, b1)]
        x = parts[0] if len(parts) == 1 else np.concatenate(parts)
        first = b0 * self.block
        return x[start - first : stop - first]


class Stacked:
    """Aux signals of one rate and length as a Source (their columns side by side): the main group of a record that
    has no channel for the model."""

    def __init__(self, aux: list[AuxSource], record_name: str, comments: list[str], base_time: str | None,
                 base_date: str | None) -> None:
        self.aux = aux
        self.fs, self.n_samples = aux[0].fs, aux[0].n_samples
        self.channels = [a.channel for a in aux]
        self.record_name, self.comments, self.base_time, self.base_date = record_name, comments, base_time, base_date

    def read(self, start: int, stop: int) -> np.ndarray:
        return np.stack([np.asarray(a.read(start, stop), dtype=np.float64) for a in self.aux], axis=1)
