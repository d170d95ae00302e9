"""Rate and distortion: CR, bits/sample, PRD, PRDN (the headline), SNR, RMSE and max |error|.

Distortion is computed in physical units over valid (non-NaN) samples, per channel; the overall figures
are the mean over channels, as ECG compression papers report them. Rates count every byte of the file.

For piano performances (MIDI), `compare_notes` reports bits/note, mir_eval's note F1 and the timing, velocity
and pedal errors of notes paired one-to-one.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import numpy as np

from vqcodec.ecg.signal import Signal
from vqcodec.errors import InputError
from vqcodec.midi.performance import MIDI_MAX, Pedal, Performance


@dataclass
class ChannelReport:
    """Distortion of one channel; PRD/PRDN/SNR are NaN when the channel has no energy (with `note`)."""

    name: str
    prd: float
    prdn: float
    snr: float
    rmse: float
    max_err: float
    note: str = ""


@dataclass
class Report:
    """What a lossy round trip cost and lost."""

    n_bytes: int
    n_samples: int
    n_channels: int
    fs: float
    adc_bits: int
    original_bytes: int | None
    channels: list[ChannelReport] = field(default_factory=list)
    aux_samples: int = 0  # samples of the aux signals (coded without the model), which the bytes hold too

    @property
    def total_samples(self) -> int:
        return self.n_samples * self.n_channels + self.aux_samples

    @property
    def bits_per_sample(self) -> float:
        return 8 * self.n_bytes / self.total_samples if self.total_samples else math.nan

    @property
    def bits_per_second(self) -> float:
        return 8 * self.n_bytes * self.fs / self.n_samples if self.n_samples else math.nan

    @property
    def cr(self) -> float:
        """Compression ratio against the ADC resolution (11 bits for MIT-BIH)."""
        return self.adc_bits / self.bits_per_sample if self.total_samples and self.n_bytes else math.nan

    @property
    def cr_file(self) -> float:
        """Compression ratio against the original file bytes, when known."""
        return self.original_bytes / self.n_bytes if self.original_bytes and self.n_bytes else math.nan

    def _mean(self, key: str) -> float:
        vals = [getattr(c, key) for c in self.channels if not math.isnan(getattr(c, key))]
        return float(np.mean(vals)) if vals else math.nan

    @property
    def prd(self) -> float:
        return self._mean("prd")

    @property
    def prdn(self) -> float:
        return self._mean("prdn")

    @property
    def worst_channel(self) -> ChannelReport | None:
        """The channel with the largest PRDN; None when no channel's PRDN is defined (flat or without samples)."""
        defined = [c for c in self.channels if not math.isnan(c.prdn)]
        return max(defined, key=lambda c: c.prdn) if defined else None

    @property
    def worst_prdn(self) -> float:
        """The largest PRDN over the channels where it is defined (NaN when none): what `--max-prdn` bounds."""
        worst = self.worst_channel
        return worst.prdn if worst is not None else math.nan

    @property
    def snr(self) -> float:
        return self._mean("snr")

    @property
    def rmse(self) -> float:
        return self._mean("rmse")

    @property
    def max_err(self) -> float:
        return max((c.max_err for c in self.channels), default=math.nan)

    def summary(self) -> str:
        """The one line `vqcodec compress` prints."""
        return (
            f"CR {self.cr:.2f} ({self.adc_bits}-bit), {self.bits_per_sample:.3f} bits/sample, "
            f"PRD {self.prd:.2f} %, PRDN {self.prdn:.2f} %, SNR {self.snr:.1f} dB, max error {self.max_err:.4g}"
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("bits_per_sample", "bits_per_second", "cr", "cr_file", "prd", "prdn", "snr", "rmse", "max_err"):
            d[key] = getattr(self, key)
        return d


def channel_distortion(name: str, x: np.ndarray, y: np.ndarray) -> ChannelReport:
    """Distortion of reconstruction y against x (1-D, physical units), ignoring NaN positions of x."""
    valid = ~np.isnan(x)
    x, y = x[valid], y[valid]
    if len(x) == 0:
        return ChannelReport(name, math.nan, math.nan, math.nan, math.nan, 0.0, "no valid samples")
    err = y - x
    var = float(np.sum((x - x.mean()) ** 2)) if np.ptp(x) > 0 else 0.0  # exact: float rounding leaves ~1e-30
    return distortion_from_sums(name, len(x), float(np.sum(x**2)), var, float(np.sum(err**2)),
                                float(np.max(np.abs(err))))


def distortion_from_sums(name: str, n: int, energy: float, var: float, e2: float, max_err: float) -> ChannelReport:
    """A channel's distortion from its n valid samples' sums: energy sum(x^2), var sum((x - mean)^2) (0 for a flat
    channel), e2 sum((y - x)^2) and the largest |y - x|."""
    if n == 0:
        return ChannelReport(name, math.nan, math.nan, math.nan, math.nan, 0.0, "no valid samples")
    rmse = math.sqrt(e2 / n)
    prd = 100 * math.sqrt(e2 / energy) if energy > 0 else math.nan
    if var > 0:
        prdn = 100 * math.sqrt(e2 / var)
        snr = 10 * math.log10(var / e2) if e2 > 0 else math.inf
        note = ""
    else:
        prdn, snr, note = math.nan, math.nan, "flat channel: PRDN/SNR undefined"
    return ChannelReport(name, prd, prdn, snr, rmse, max_err, note)


def compare(original: Signal, decoded: Signal, n_bytes: int, original_bytes: int | None = None) -> Report:
    """Rate and distortion of `decoded` against `original` for a file of n_bytes."""
    if original.samples.shape != decoded.samples.shape:
        raise InputError(f"{original.record_name}: shape mismatch: {original.samples.shape} vs "
                         f"{decoded.samples.shape}")
    adc_bits = max((c.resolution for c in original.channels), default=16)
    report = Report(n_bytes, original.n_samples, original.n_channels, original.fs, adc_bits, original_bytes)
    for c, info in enumerate(original.channels):
        report.channels.append(channel_distortion(info.name, original.samples[:, c], decoded.samples[:, c]))
    return report


# MIDI: a decoded Performance against its original.

ONSET_TOLERANCE_S = 0.05  # mir_eval's (and MIREX's) defaults: a note matches when its onset is within 50 ms,
OFFSET_RATIO = 0.2  # and, for the F1 with offsets, its offset within 20 % of the original note's duration
OFFSET_MIN_TOLERANCE_S = 0.05  # or 50 ms, whichever is larger
PEDAL_DOWN = 64  # a pedal controller value from which the pedal counts as pressed
PEDAL_GRID_S = 0.001  # pedal states are compared on this time grid
MS_PER_S = 1000
ERROR_PERCENTILE = 95
JSON_DIGITS = 6  # significant digits of the floats in NoteReport.to_dict
PAIRED_BY_RANK = "rank"  # note k of a pitch in the original <-> note k of that pitch in the reconstruction
PAIRED_BY_MIR_EVAL = "mir_eval"  # mir_eval's onset matching (note counts per pitch differ)
_MIN_INTERVAL_S = 1e-6  # mir_eval refuses zero-length notes: they get this length, far below every tolerance


@dataclass
class NoteReport:
    """What a lossy round trip of a Performance cost and lost; None where a figure is undefined (no notes).

    Errors are absolute and taken over the n_paired notes paired one-to-one (see `paired_by`); with mir_eval's
    matching only notes within ONSET_TOLERANCE_S pair, so the onset errors are then capped by it.
    """

    n_notes: int  # in the original
    n_decoded: int
    n_bytes: int
    original_bytes: int | None  # the .mid file
    zstd_bytes: int | None  # the lossless baseline (notes.pack_lossless)
    duration_s: float  # the original's end
    pitch_exact: bool  # the same number of notes of every pitch: the multisets of pitches match one-to-one
    paired_by: str  # PAIRED_BY_RANK when pitch_exact, else PAIRED_BY_MIR_EVAL
    n_paired: int
    f1_onset: float | None
    f1_offset: float | None
    onset_err_ms_median: float | None
    onset_err_ms_p95: float | None
    onset_err_ms_max: float | None
    duration_err_ms_median: float | None
    duration_err_ms_p95: float | None
    duration_rel_err_median: float | None  # over paired notes of non-zero original duration
    velocity_mae: float | None
    velocity_max_err: int | None
    pedal_agreement: dict[int, float] = field(default_factory=dict)  # controller -> fraction of time in agreement
    pedal_depth_mae: dict[int, float] = field(default_factory=dict)  # controller -> mean |value error| over time
    pedal_events: dict[int, tuple[int, int]] = field(default_factory=dict)  # controller -> (original, decoded)

    @property
    def bits_per_note(self) -> float | None:
        return 8 * self.n_bytes / self.n_notes if self.n_notes else None

    @property
    def cr_mid(self) -> float | None:
        """Compression ratio against the original .mid file, when known."""
        return self.original_bytes / self.n_bytes if self.original_bytes and self.n_bytes else None

    @property
    def cr_zstd(self) -> float | None:
        """Compression ratio against the lossless note-table baseline, when known."""
        return self.zstd_bytes / self.n_bytes if self.zstd_bytes and self.n_bytes else None

    def summary(self) -> str:
        """One line for reports: the size, and what each lossy field lost (onsets, velocity, duration, pedal)."""
        duration = None if self.duration_rel_err_median is None else 100 * self.duration_rel_err_median
        pedal = min(self.pedal_agreement.values(), default=None)
        depth = max(self.pedal_depth_mae.values(), default=None)
        return (
            f"{self.n_notes} notes, {_fmt(self.bits_per_note, '.2f')} bits/note, "
            f"F1 {_fmt(self.f1_onset, '.4f')} (with offsets {_fmt(self.f1_offset, '.4f')}), "
            f"onset error median {_fmt(self.onset_err_ms_median, '.2f')} ms / max {_fmt(self.onset_err_ms_max, '.2f')}"
            f" ms, velocity MAE {_fmt(self.velocity_mae, '.2f')}, duration error median {_fmt(duration, '.1f')} %"
            + (f", pedal agreement {pedal:.4f}" if pedal is not None else "")
            + (f", pedal depth error {depth:.2f}" if depth is not None else "")
        )

    def to_dict(self) -> dict:
        """JSON-able: floats to JSON_DIGITS significant digits, None for undefined, controller keys as strings."""
        d = asdict(self)
        for key in ("bits_per_note", "cr_mid", "cr_zstd"):
            d[key] = getattr(self, key)
        out = _jsonable(d)
        assert isinstance(out, dict)  # _jsonable keeps a dict a dict
        return out


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _jsonable(value: object) -> object:
    """Floats rounded to JSON_DIGITS significant digits (NaN/inf -> None), dict keys str, tuples lists."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(f"{value:.{JSON_DIGITS}g}") if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _intervals(perf: Performance, idx: np.ndarray) -> np.ndarray:
    """[n, 2] (onset, offset) of notes idx, zero-length notes lengthened to _MIN_INTERVAL_S."""
    on = perf.onset[idx]
    return np.stack([on, np.maximum(perf.offset[idx], on + _MIN_INTERVAL_S)], axis=1)


def matched_notes(original: Performance, decoded: Performance, offsets: bool,
                  pitches: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """mir_eval's maximum note matching -> (indices into original, indices into decoded), pitch by pitch (only the
    given pitches, when given).

    Notes of different MIDI pitches are >= 100 cents apart, beyond mir_eval's 50-cent pitch tolerance, so the
    matching splits exactly by pitch; it never builds mir_eval's N x M matrices of a whole piece (GBs at 10^4 notes).
    """
    from mir_eval import transcription, util  # imports scipy.stats: ~0.5 s, so only when notes are compared

    ref, est = [], []
    both = np.intersect1d(original.pitch, decoded.pitch)
    for p in both if pitches is None else np.intersect1d(both, pitches):
        i, j = np.flatnonzero(original.pitch == p), np.flatnonzero(decoded.pitch == p)
        hz = float(util.midi_to_hz(float(p)))
        pairs = transcription.match_notes(
            _intervals(original, i), np.full(len(i), hz), _intervals(decoded, j), np.full(len(j), hz),
            onset_tolerance=ONSET_TOLERANCE_S, offset_ratio=OFFSET_RATIO if offsets else None,
            offset_min_tolerance=OFFSET_MIN_TOLERANCE_S)
        ref += [i[a] for a, _ in pairs]
        est += [j[b] for _, b in pairs]
    return np.array(ref, dtype=np.int64), np.array(est, dtype=np.int64)


def _pair_hits(original: Performance, decoded: Performance, i: np.ndarray, j: np.ndarray,
               offsets: bool) -> np.ndarray:
    """Whether each pair (original note i, decoded note j) is of one pitch and a match by mir_eval's own test (its
    rounding, tolerances and zero-length rule)."""
    from mir_eval.transcription import N_DECIMALS  # the decimals mir_eval rounds distances to before comparing

    ref, est = _intervals(original, i), _intervals(decoded, j)
    hit = original.pitch[i] == decoded.pitch[j]
    hit &= np.around(np.abs(ref[:, 0] - est[:, 0]), decimals=N_DECIMALS) <= ONSET_TOLERANCE_S
    if offsets:
        tolerance = np.maximum(OFFSET_RATIO * (ref[:, 1] - ref[:, 0]), OFFSET_MIN_TOLERANCE_S)
        hit &= np.around(np.abs(ref[:, 1] - est[:, 1]), decimals=N_DECIMALS) <= tolerance
    return hit


def pairs_all_match(original: Performance, decoded: Performance, pairs: tuple[np.ndarray, np.ndarray],
                    offsets: bool) -> bool:
    """Whether `pairs` (indices into original, into decoded) pair every note of both, each pair of one pitch and a
    match by mir_eval's own test (its rounding, tolerances and zero-length rule). Then they are a matching of every
    note, so mir_eval's maximum matching has every note too and its F1 is 1, without running it."""
    i, j = pairs
    if not len(original) == len(decoded) == len(i) == len(np.unique(i)) == len(np.unique(j)):
        return False
    return bool(np.all(_pair_hits(original, decoded, i, j, offsets)))


def _matched_count(original: Performance, decoded: Performance, offsets: bool,
                   pairs: tuple[np.ndarray, np.ndarray] | None) -> int:
    """The size of mir_eval's maximum matching. The matching splits by pitch (`matched_notes`), so a pitch whose notes
    `pairs` pair all of, on both sides, each pair a match (`pairs_all_match`, pitch by pitch), has all its notes
    matched; mir_eval is run for the other pitches only."""
    if pairs is None:
        return len(matched_notes(original, decoded, offsets)[0])
    i, j = pairs
    if len(np.unique(i)) != len(i) or len(np.unique(j)) != len(j):
        return len(matched_notes(original, decoded, offsets)[0])
    hits = _pair_hits(original, decoded, i, j, offsets)
    size = MIDI_MAX + 1
    paired = np.bincount(original.pitch[i], minlength=size)
    complete = ((np.bincount(original.pitch, minlength=size) == paired)
                & (np.bincount(decoded.pitch, minlength=size) == paired)
                & (np.bincount(original.pitch[i], weights=~hits, minlength=size) == 0))  # no pair of it misses
    rest = np.flatnonzero(~complete)
    whole = int(paired[complete].sum())
    return whole + (len(matched_notes(original, decoded, offsets, rest)[0]) if len(rest) else 0)


def note_f1(original: Performance, decoded: Performance, offsets: bool,
            pairs: tuple[np.ndarray, np.ndarray] | None = None) -> float | None:
    """The F1 of mir_eval.transcription.precision_recall_f1_overlap (0 when one side is empty, None when both).
    pairs: a pairing of the notes already at hand (compare_notes' by rank); when every pair matches
    (pairs_all_match) the F1 is 1 and mir_eval is not run, and it runs only for the pitches of pairs that do not."""
    if not len(original) and not len(decoded):
        return None
    if not len(original) or not len(decoded):
        return 0.0
    if pairs is not None and pairs_all_match(original, decoded, pairs, offsets):
        return 1.0
    matched = _matched_count(original, decoded, offsets, pairs)
    precision, recall = matched / len(decoded), matched / len(original)
    return 2 * precision * recall / (precision + recall) if matched else 0.0


def _rank_pairs(original: Performance, decoded: Performance) -> tuple[np.ndarray, np.ndarray]:
    """Notes sorted by (pitch, onset, offset) on both sides, paired in that order (needs equal counts per pitch)."""
    return (np.lexsort((original.offset, original.onset, original.pitch)),
            np.lexsort((decoded.offset, decoded.onset, decoded.pitch)))


def _pedal_value(pedal: Pedal | None, grid: np.ndarray) -> np.ndarray:
    """The controller value in effect at each time of a sorted grid (0 before the first event). Each event is placed
    on the grid (the first grid time at or after it), so the work grows with the events, not the grid's log."""
    if pedal is None or not len(pedal):
        return np.zeros(len(grid), dtype=np.int64)
    first = np.searchsorted(grid, pedal.time, side="left")  # grid[g] >= time[e] exactly when g >= first[e]
    k = np.cumsum(np.bincount(first, minlength=len(grid) + 1)[: len(grid)]) - 1  # the latest event at or before
    return np.where(k >= 0, pedal.value[np.maximum(k, 0)].astype(np.int64), 0)


def _pedal_values(original: Performance, decoded: Performance) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Controller -> the values in effect (original, decoded) at PEDAL_GRID_S steps from 0 to the later end."""
    grid = np.arange(int(max(original.end, decoded.end) / PEDAL_GRID_S) + 1) * PEDAL_GRID_S
    return {c: (_pedal_value(original.pedals.get(c), grid), _pedal_value(decoded.pedals.get(c), grid))
            for c in sorted(original.pedals.keys() | decoded.pedals.keys())}


def pedal_depth_mae(original: Performance, decoded: Performance,
                    values: dict[int, tuple[np.ndarray, np.ndarray]] | None = None) -> dict[int, float]:
    """Controller -> mean |original value - decoded value| (MIDI units, 0..127) over PEDAL_GRID_S steps from 0 to
    the later end: how much of the pedal's depth (half-pedalling) was lost, where pedal_agreement sees up/down.
    values: `_pedal_values` of the two, when already at hand."""
    values = _pedal_values(original, decoded) if values is None else values
    return {c: float(np.mean(np.abs(a - b))) for c, (a, b) in values.items()}


def pedal_agreement(original: Performance, decoded: Performance,
                    values: dict[int, tuple[np.ndarray, np.ndarray]] | None = None) -> dict[int, float]:
    """Controller -> fraction of PEDAL_GRID_S steps from 0 to the later end where both agree on up/down (a value of
    PEDAL_DOWN or more is down). values: `_pedal_values` of the two, when already at hand."""
    values = _pedal_values(original, decoded) if values is None else values
    return {c: float(np.mean((a >= PEDAL_DOWN) == (b >= PEDAL_DOWN))) for c, (a, b) in values.items()}


def _stat(values: np.ndarray, how: str) -> float | None:
    if not len(values):
        return None
    if how == "p95":
        return float(np.percentile(values, ERROR_PERCENTILE))
    return float(np.median(values) if how == "median" else np.max(values))


def compare_notes(original: Performance, decoded: Performance, n_bytes: int, original_bytes: int | None = None,
                  zstd_bytes: int | None = None) -> NoteReport:
    """Rate and note-level distortion of `decoded` against `original` for a file of n_bytes."""
    pitch_exact = np.array_equal(np.bincount(original.pitch, minlength=MIDI_MAX + 1),
                                 np.bincount(decoded.pitch, minlength=MIDI_MAX + 1))
    if pitch_exact:
        paired_by, (i, j) = PAIRED_BY_RANK, _rank_pairs(original, decoded)
    else:
        paired_by, (i, j) = PAIRED_BY_MIR_EVAL, matched_notes(original, decoded, offsets=False)
    onset_err = np.abs(decoded.onset[j] - original.onset[i]) * MS_PER_S
    dur_o = original.offset[i] - original.onset[i]
    dur_err = np.abs((decoded.offset[j] - decoded.onset[j]) - dur_o) * MS_PER_S
    rel_err = dur_err[dur_o > 0] / (dur_o[dur_o > 0] * MS_PER_S)
    vel_err = np.abs(decoded.velocity[j].astype(np.int64) - original.velocity[i].astype(np.int64))
    pedals = _pedal_values(original, decoded)
    return NoteReport(
        n_notes=len(original), n_decoded=len(decoded), n_bytes=n_bytes, original_bytes=original_bytes,
        zstd_bytes=zstd_bytes, duration_s=original.end, pitch_exact=bool(pitch_exact), paired_by=paired_by,
        n_paired=len(i),
        f1_onset=note_f1(original, decoded, False, (i, j)), f1_offset=note_f1(original, decoded, True, (i, j)),
        onset_err_ms_median=_stat(onset_err, "median"), onset_err_ms_p95=_stat(onset_err, "p95"),
        onset_err_ms_max=_stat(onset_err, "max"),
        duration_err_ms_median=_stat(dur_err, "median"), duration_err_ms_p95=_stat(dur_err, "p95"),
        duration_rel_err_median=_stat(rel_err, "median"),
        velocity_mae=float(np.mean(vel_err)) if len(vel_err) else None,
        velocity_max_err=int(np.max(vel_err)) if len(vel_err) else None,
        pedal_agreement=pedal_agreement(original, decoded, pedals),
        pedal_depth_mae=pedal_depth_mae(original, decoded, pedals),
        pedal_events={c: (len(original.pedals.get(c, ())), len(decoded.pedals.get(c, ())))
                      for c in sorted(original.pedals.keys() | decoded.pedals.keys())},
    )


class Compressed(NamedTuple):
    """What `Codec.compress` and `NoteCodec.compress` return: the .vqc bytes and what the round trip lost
    (`data, report = codec.compress(x)` unpacks it)."""

    data: bytes
    report: Report | NoteReport


class CompressedToTarget(NamedTuple):
    """What `Codec.compress_to_prdn` returns: the bytes, their Report, and the setting chosen as text ("quality 6",
    "max error 1", "lossless")."""

    data: bytes
    report: Report
    setting: str
