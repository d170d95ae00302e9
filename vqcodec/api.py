"""The public functions: compress/decompress (bytes), info (header only) and safe file writing.

ECG records (Signal) go through `Codec`, piano performances (Performance) through `NoteCodec`; a file's header
says which kind it holds.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vqcodec.container import format as vqc
from vqcodec.container.atomic import write_atomic
from vqcodec.ecg.codec import Codec, codec_for
from vqcodec.errors import InputError, ModelMismatchError
from vqcodec.metrics import Report
from vqcodec.midi.codec import STORED_METRICS, NoteCodec, note_codec_for
from vqcodec.midi.performance import Performance
from vqcodec.ecg.signal import FMT_BITS, Signal

DEFAULT_MODEL = "ecg"
DEFAULT_MIDI_MODEL = "midi"


def compress(data: Signal | Performance, model: str | Path | Codec | NoteCodec | None = None,
             quality: int | None = None, max_error: int | None = None) -> bytes:
    """Signal or Performance -> .vqc bytes (Codec.compress / NoteCodec.compress also give what was lost).

    max_error (ECG only): every sample within this many ADC units of the input's (0: lossless), by a residual
    layer. Like Codec.compress, warns when the samples may be transposed ([C, T] instead of [T, C]).
    """
    if isinstance(data, Performance):
        if max_error is not None:
            raise ValueError("max_error bounds ECG samples; a MIDI model's bounds are its quality levels")
        codec = model if isinstance(model, NoteCodec) else NoteCodec.load(model or DEFAULT_MIDI_MODEL)
        return codec.compress(data, quality)[0]
    codec = model if isinstance(model, Codec) else Codec.load(model or DEFAULT_MODEL)
    return codec.compress(data, quality, max_error=max_error)[0]


def decompress(data: bytes, model: str | Path | Codec | NoteCodec | None = None, name: str = "<bytes>",
               salvage: bool = False) -> Signal | Performance:
    """.vqc bytes -> Signal (ECG) or Performance (MIDI); the model is found from the file's model id unless given.

    salvage=True decodes a file whose damage is confined to its index blocks (see `vqcodec.container.format.loads`):
    trailing bytes are ignored and every block that fails its CRC comes back as invalid (NaN) samples, each
    with a warning.
    """
    return decode(vqc.loads(data, name, salvage=salvage), model, name)


def decode(parsed: vqc.VqcFile, model: str | Path | Codec | NoteCodec | None = None,
           name: str = "<bytes>") -> Signal | Performance:
    """A parsed .vqc file -> Signal or Performance. What a salvage parse skipped is warned about, and the samples
    of each lost block, widened by the decoder's context (`Codec.decode_margin` frames a side), become invalid
    (NaN); the samples kept are those a decode of the undamaged file gives. The lost spans are also noted in the
    comments.
    """
    if parsed.header.kind == "midi":
        return note_codec_for(parsed.header, model, name).decode_file(parsed, name)
    if isinstance(model, NoteCodec):
        raise ModelMismatchError(f"{name}: an {parsed.header.kind} file, and {model.name} is a MIDI model")
    codec = codec_for(parsed.header, model, name)
    signal = codec.decode_file(parsed, name)
    for note in parsed.damage:
        warnings.warn(f"{name}: salvage: {note}", stacklevel=2)
    for b, why in sorted(parsed.lost_blocks.items()):
        start, stop = lost_samples(parsed.header, b, codec.fs, codec.decode_margin)
        signal.samples[start:stop] = np.nan
        span = f"samples {start}..{stop - 1} ({start / signal.fs:.1f} s to {stop / signal.fs:.1f} s)"
        signal.comments.append(f"vqcodec salvage: {span} lost (block {b} damaged), stored as invalid")
        warnings.warn(f"{name}: salvage: block {b} lost ({why}); {span} of every channel are invalid (NaN)",
                      stacklevel=2)
    return signal


def lost_samples(h: vqc.Header, block: int, model_fs: float, margin_frames: int) -> tuple[int, int]:
    """[start, stop) at the record's rate of the samples a lost block can affect: its own frames plus the
    decoder's context (margin_frames) on each side, mapped through the resampling ratio (rounded outwards)."""
    margin = margin_frames * h.hop
    first = max(0, block * h.block_frames * h.hop - margin)
    last = (block + 1) * h.block_frames * h.hop + margin
    ratio = h.fs / model_fs
    return min(h.n_samples, math.floor(first * ratio)), min(h.n_samples, math.ceil(last * ratio))


@dataclass
class VqcInfo:
    """What a .vqc header says, without running the model."""

    path: str
    kind: str
    model: str
    model_sha256: str
    quality: int
    fs: float
    n_samples: int
    channels: list[str]
    n_bytes: int
    adc_bits: int
    metrics: dict = field(default_factory=dict)
    max_error: int | None = None  # the residual layer's bound in ADC units (0: lossless); None: no layer
    header_meta: dict = field(default_factory=dict, repr=False)
    damage: list[str] = field(default_factory=list)  # payload CRC mismatches: decompress would fail

    @property
    def duration(self) -> float:
        if self.kind == "midi":
            return self.midi_duration
        return self.n_samples / self.fs if self.fs else math.nan

    @property
    def bits_per_sample(self) -> float:
        total = self.n_samples * len(self.channels)
        return 8 * self.n_bytes / total if total else math.nan

    @property
    def cr(self) -> float:
        bps = self.bits_per_sample
        return self.adc_bits / bps if bps and not math.isnan(bps) else math.nan

    def lines(self) -> list[str]:
        """Human-readable lines for `vqcodec info`."""
        if self.kind == "midi":
            return self._midi_lines()
        out = [
            f"file:        {self.path} ({self.n_bytes} bytes)",
            f"kind:        {self.kind}",
            f"model:       {self.model} sha256 {self.model_sha256}",
            f"quality:     {self.quality or 'none (no model layer: the residual layer holds every sample)'}",
            f"signal:      {len(self.channels)} channel(s) {', '.join(self.channels)}; {self.fs:g} Hz; "
            f"{self.n_samples} samples ({self.duration:.1f} s)",
            f"rate:        {self.bits_per_sample:.3f} bits/sample, "
            f"{8 * self.n_bytes / self.duration if self.duration else math.nan:.1f} bits/s, "
            f"CR {self.cr:.2f} vs {self.adc_bits}-bit",
        ]
        if self.max_error is not None:
            out.append("bound:       " + ("lossless: every ADC sample exact" if self.max_error == 0 else
                                      f"|error| <= {self.max_error} ADC units on every sample") + " (residual layer)")
        for ch in self.metrics.get("channels", []):
            out.append(
                f"  {ch['name']:>8}: PRD {ch['prd']:.2f} %  PRDN {ch['prdn']:.2f} %  SNR {ch['snr']:.1f} dB  "
                f"max error {ch['max_err']:.4g}"
            )
        return out

    def _midi_lines(self) -> list[str]:
        """`vqcodec info` of a MIDI file: notes, duration, bits per note, stored metrics."""
        m = self.metrics
        notes = self.n_samples
        out = [f"file:        {self.path} ({self.n_bytes} bytes)", f"kind:        {self.kind}",
               f"model:       {self.model} sha256 {self.model_sha256}",
               f"quality:     {self.quality} (onsets on a {1000 / self.fs:g} ms grid)",
               f"performance: {notes} notes, {self.duration:.1f} s",
               f"rate:        {8 * self.n_bytes / notes if notes else math.nan:.2f} bits/note"]
        out += [f"  {k}: {m[k]}" for k in STORED_METRICS if k in m]
        return out

    @property
    def midi_duration(self) -> float:
        return d if isinstance(d := self.header_meta.get("duration_s"), (int, float)) else math.nan


def info(path: str | Path) -> VqcInfo:
    """Read the header (and stored metrics) of a .vqc file, and check every section's CRC: what is damaged
    beyond the header is listed in `damage` rather than raised, so the header can still be shown."""
    path = Path(path)
    data = read_file(path)
    damage: list[str] = []
    header, metrics, size = vqc.read_header(data, str(path), damage=damage)
    channels = header.meta.get("channels", [])
    return VqcInfo(
        str(path), header.kind, str(header.meta.get("model", "?")), header.model_sha256,
        q if isinstance(q := header.meta.get("quality"), int) and not isinstance(q, bool) else header.n_stages, header.fs, header.n_samples, [str(c.get("name", "?")) for c in channels], size,
        max((_resolution(c) for c in channels), default=16), metrics or {},
        bound if isinstance(bound := header.meta.get("max_error"), int) and not isinstance(bound, bool) else None,
        header.meta, damage,
    )


def _resolution(channel: object) -> int:
    """ADC bits of a channel entry stored in a header (tolerant: the header is untrusted input)."""
    if not isinstance(channel, dict):
        return 16
    res = channel.get("adc_res")
    if isinstance(res, int) and res > 0:
        return res
    return FMT_BITS.get(str(channel.get("fmt")), 16)


def read_file(path: Path) -> bytes:
    """Bytes of an input file, with one-line errors for a missing path or a directory."""
    if path.is_dir():
        raise InputError(f"{path}: is a directory")
    try:
        return path.read_bytes()
    except FileNotFoundError as e:
        raise InputError(f"{path}: no such file") from e
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from e


def write_bytes(path: Path, data: bytes, force: bool = False) -> None:
    """Write bytes atomically (temporary file + rename); never overwrite without force."""
    write_atomic(path, lambda fh: fh.write(data), force)


__all__ = ["compress", "decompress", "decode", "info", "VqcInfo", "Report", "write_bytes", "read_file"]
