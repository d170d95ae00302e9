"""The public functions compress, decompress and info, for both kinds; the codecs in ecg/ and midi/ do the work.

ECG records (Signal) go through `Codec`, piano performances (Performance) through `NoteCodec`; a file's header
says which kind it holds. `decompress` and `info` read a path, bytes or a binary file alike, and take the safety
limits on what a file may declare (`Limits`) as a parameter.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from vqcodec.container import format as vqc
from vqcodec.container.atomic import write_atomic
from vqcodec.container.format import DEFAULT_LIMITS, Limits
from vqcodec.ecg import file as ecg_file
from vqcodec.ecg.codec import Codec, codec_for
from vqcodec.ecg.file import EcgFile, EcgMeta
from vqcodec.ecg.signal import Signal
from vqcodec.ecg.stream import AuxReader
from vqcodec.errors import ChecksumError, FormatError, InputError, LimitError, ModelMismatchError
from vqcodec.metrics import Compressed, Report
from vqcodec.midi.codec import NoteCodec, note_codec_for
from vqcodec.midi.file import KIND as MIDI_KIND
from vqcodec.midi.file import MidiFile, MidiMeta
from vqcodec.midi.performance import SOFT, SOSTENUTO, SUSTAIN, Performance

DEFAULT_MODEL = "ecg"
DEFAULT_MIDI_MODEL = "midi"
BYTES_NAME = "<bytes>"
"""The name messages give a .vqc file passed as bytes (or a file object without a name)."""
PEDAL_NAMES = {SUSTAIN: "sustain", SOSTENUTO: "sostenuto", SOFT: "soft"}

Source = str | os.PathLike | bytes | bytearray | memoryview | BinaryIO
"""What decompress and info read: a path, the file's bytes, or a binary file object open for reading."""


def compress(data: Signal | Performance, model: str | Path | Codec | NoteCodec | None = None,
             quality: int | None = None, max_error: int | None = None) -> bytes:
    """Signal or Performance -> .vqc bytes (`Codec.compress` and `NoteCodec.compress` also return what was lost).

    model: a name, alias, bundle folder or loaded codec (default: "ecg" for a Signal, "midi" for a Performance).
    max_error (ECG only): every sample within this many ADC units of the input's (0: lossless), by a residual
    layer. A channel the model does not take (see `Codec.accepts_units`) and the Signal's aux signals are coded
    without the model, within max_error or lossless (`Codec.route`). Like Codec.compress, warns when the samples may
    be transposed ([C, T]).
    """
    if isinstance(model, (Codec, NoteCodec)):
        codec: Codec | NoteCodec = model  # the codec checks that the data is of its kind
    elif isinstance(data, Performance):
        codec = NoteCodec.load(model or DEFAULT_MIDI_MODEL)
    elif isinstance(data, Signal):
        codec = Codec.load(model or DEFAULT_MODEL)
    else:
        raise InputError(f"{type(data).__name__}: expected a Signal or a Performance to compress")
    return codec.compress(data, quality, max_error=max_error).data  # type: ignore[arg-type]


def decompress(source: Source, model: str | Path | Codec | NoteCodec | None = None, *, name: str | None = None,
               salvage: bool = False, limits: Limits = DEFAULT_LIMITS, start: int | None = None,
               stop: int | None = None) -> Signal | Performance:
    """A .vqc file (path, bytes or binary file) -> Signal (ECG) or Performance (MIDI); the model is the installed
    one the file names unless given.

    name: the file's name in messages (default: its path, else "<bytes>"). salvage=True decodes a file whose damage
    is confined to its index blocks: trailing bytes are ignored and every block that fails its CRC comes back as
    invalid (NaN) samples, each with a warning. limits: caps on every length or count the file declares, checked
    before anything is allocated (`Limits(max_samples=...)` bounds the output). start, stop: decode only samples
    [start, stop) of an ECG record (at its own rate), decoding only the blocks they need; damage confined to blocks
    the range does not need does not stop it (it is warned about).
    """
    data, name = read_source(source, name)
    if start is None and stop is None:
        return decode(vqc.loads(data, name, limits=limits, salvage=salvage), model, name)
    parsed = vqc.loads(data, name, limits=limits, salvage=True)  # a range may lie clear of a damaged block
    if not isinstance(parsed, EcgFile):
        raise InputError(f"{name}: a sample range is for ECG records, this file holds a {parsed.header.kind} file")
    other = [d for d in parsed.damage if not d.startswith(("section BLKS CRC mismatch", "section AUXB CRC mismatch"))]
    if other and not salvage:
        raise FormatError(f"{name}: damaged: {'; '.join(other)}")
    if isinstance(model, NoteCodec):
        raise ModelMismatchError(f"{name}: an ecg file, and {model.name} is a MIDI model")
    codec = codec_for(parsed.header, model, name)
    n = parsed.header.n_samples
    signal = codec.decode_range(parsed, 0 if start is None else start, n if stop is None else stop, name)
    if parsed.lost_blocks or parsed.lost_aux_blocks:
        lost = [f"block {b}" for b in sorted(parsed.lost_blocks)]
        lost += [f"aux signal {parsed.meta.aux[i].channel.name} block {b}" for i, b in sorted(parsed.lost_aux_blocks)]
        warnings.warn(f"{name}: damaged outside the range asked for ({', '.join(lost)}); the range decoded whole",
                      stacklevel=2)
    return signal


def decode(parsed: EcgFile | MidiFile, model: str | Path | Codec | NoteCodec | None = None,
           name: str = BYTES_NAME) -> Signal | Performance:
    """A parsed .vqc file -> Signal or Performance. What a salvage parse skipped is warned about, and the samples
    of each lost block, widened by the decoder's context (`Codec.decode_margin` frames a side), become invalid
    (NaN); the samples kept are those a decode of the undamaged file gives. The lost spans are also noted in the
    comments.
    """
    header = parsed.header
    if isinstance(parsed, MidiFile):
        if isinstance(model, Codec):
            raise ModelMismatchError(f"{name}: a midi file, and {model.name} is an {model.kind} model")
        return note_codec_for(header, model, name).decode_file(parsed, name)
    if isinstance(model, NoteCodec):
        raise ModelMismatchError(f"{name}: an {header.kind} file, and {model.name} is a MIDI model")
    codec = codec_for(header, model, name)
    signal = codec.decode_file(parsed, name)
    for note in parsed.damage:
        warnings.warn(f"{name}: salvage: {note}", stacklevel=2)
    for b, why in sorted(parsed.lost_blocks.items()):
        start, stop = lost_samples(header, b, codec.fs, codec.decode_margin)
        signal.samples[start:stop] = np.nan
        span = f"samples {start}..{stop - 1} ({start / signal.fs:.1f} s to {stop / signal.fs:.1f} s)"
        signal.comments.append(f"vqcodec salvage: {span} lost (block {b} damaged), stored as invalid")
        warnings.warn(f"{name}: salvage: block {b} lost ({why}); {span} of every channel are invalid (NaN)",
                      stacklevel=2)
    aux_block = parsed.meta.aux_block
    for (i, b), why in sorted(parsed.lost_aux_blocks.items()):
        a = parsed.meta.aux[i]
        assert aux_block is not None  # loads checked it
        start, stop = b * aux_block, min(a.n_samples, (b + 1) * aux_block)
        span = f"samples {start}..{stop - 1} ({start / a.fs:.1f} s to {stop / a.fs:.1f} s)"
        signal.comments.append(f"vqcodec salvage: aux signal {a.channel.name} {span} lost (aux block {b} damaged), "
                               "stored as invalid")
        warnings.warn(f"{name}: salvage: aux signal {a.channel.name} block {b} lost ({why}); its {span} are invalid "
                      "(NaN)", stacklevel=2)
    return signal


def lost_samples(h: vqc.Header, block: int, model_fs: float, margin_frames: int) -> tuple[int, int]:
    """[start, stop) at the record's rate of the samples a lost block can affect: its own frames plus the
    decoder's context (margin_frames) on each side, mapped through the resampling ratio (rounded outwards)."""
    margin = margin_frames * h.hop
    first = max(0, block * h.block_frames * h.hop - margin)
    last = (block + 1) * h.block_frames * h.hop + margin
    ratio = h.fs / model_fs
    return min(h.n_samples, math.floor(first * ratio)), min(h.n_samples, math.ceil(last * ratio))


def read_source(source: Source, name: str | None = None) -> tuple[bytes | memoryview, str]:
    """The bytes of a .vqc source and the name messages give it: a path's contents and the path; bytes as they are
    and "<bytes>"; what a binary file object reads, and its name. Anything else is an InputError."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        return read_file(path), str(path) if name is None else name
    if isinstance(source, (bytes, memoryview)):
        return source, BYTES_NAME if name is None else name
    if isinstance(source, bytearray):
        return bytes(source), BYTES_NAME if name is None else name
    if callable(getattr(source, "read", None)):
        own = getattr(source, "name", None)
        name = name if name is not None else own if isinstance(own, str) else BYTES_NAME
        try:
            data = source.read()
        except OSError as e:
            raise InputError(f"{name}: cannot read ({e.strerror or e})") from e
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InputError(f"{name}: the file object gave {type(data).__name__}, not bytes (open it in 'rb' mode)")
        return bytes(data) if isinstance(data, bytearray) else data, name
    raise InputError(f"{type(source).__name__}: expected a path, bytes or a binary file to read a .vqc file from")


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
    meta: EcgMeta | MidiMeta | None = field(default=None, repr=False)  # the header's metadata, typed
    damage: list[str] = field(default_factory=list)  # payload CRC mismatches: decompress would fail
    bound: bool = False  # header, sections and decoded signal bound together (bIND, format 1.8 on)
    version: tuple[int, int] = (0, 0)  # the format version the file was written as
    n_blocks: int = 0  # ECG: storage blocks, each coded and checked alone (what a time range decodes)
    block_seconds: float = math.nan  # ECG: the record time one storage block holds
    annotations: dict[str, int] = field(default_factory=dict)  # ECG: annotation files kept, annotator -> bytes
    header_bytes: int | None = None  # ECG, lossless: the bytes of the original .hea text kept (None: not kept)
    edf: str | None = None  # ECG from an EDF or BDF file whose header it keeps: ".edf" or ".bdf" (None: not kept)

    def to_dict(self) -> dict:
        """Every field (the metadata as the header stores it) and the derived figures, JSON-able."""
        d = dict(vars(self), duration=self.duration, bits_per_sample=self.bits_per_sample, cr=self.cr)
        d["meta"] = self.meta.to_json() if self.meta is not None else None
        return d

    @property
    def duration(self) -> float:
        if self.kind == "midi":
            return self.midi_duration
        return self.n_samples / self.fs if self.fs else math.nan

    @property
    def bits_per_sample(self) -> float:
        aux = self.meta.aux if isinstance(self.meta, EcgMeta) else []
        total = self.n_samples * len(self.channels) + sum(a.n_samples for a in aux)
        return 8 * self.n_bytes / total if total else math.nan

    @property
    def cr(self) -> float:
        bps = self.bits_per_sample
        return self.adc_bits / bps if bps and not math.isnan(bps) else math.nan

    def _residual_blocks_text(self) -> str:
        """', in N blocks of B samples' for a residual layer coded block by block (RESB, format 1.11), else ''."""
        block = self.meta.residual_block if isinstance(self.meta, EcgMeta) else None
        if block is None:
            return ""
        return f", in {-(-self.n_samples // block)} blocks of {block} samples, each coded alone"

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
        out.append(self._binding_line())
        if self.n_blocks:
            out.append(f"blocks:      {self.n_blocks} of {self.block_seconds:g} s, each coded and checked alone "
                       "(decompress --start/--end decodes only those a range needs)")
        if self.max_error is not None:
            out.append("bound:       " + ("lossless: every ADC sample exact" if self.max_error == 0 else
                                      f"|error| <= {self.max_error} ADC units on every sample") + " (residual layer"
                       + self._residual_blocks_text() + ")")
        if self.annotations:
            out.append("annotations: " + ", ".join(f"{ext} ({size} bytes)" for ext, size in self.annotations.items())
                       + "; decompress writes them beside the record, byte for byte")
        if self.header_bytes is not None:
            out.append(f"header:      the original .hea ({self.header_bytes} bytes); decompress writes it back, byte "
                       "for byte")
        aux_block = self.meta.aux_block if isinstance(self.meta, EcgMeta) else None
        for a in self.meta.aux if isinstance(self.meta, EcgMeta) else []:
            bound = "lossless" if a.max_error == 0 else f"|error| <= {a.max_error} ADC units"
            blocks = (f", in {ecg_file.aux_block_count(a.n_samples, aux_block)} blocks of {aux_block} samples, each "
                      "coded alone" if aux_block is not None else "")
            out.append(f"aux signal:  {a.channel.name} ({a.channel.units or 'no units'}), {a.fs:g} Hz, "
                       f"{a.n_samples} samples, signal {a.position + 1}: residual layer alone, {bound}{blocks}")
        if self.edf is not None:
            out.append(f"EDF:         the {self.edf[1:].upper()} file's header and annotation signals, byte for byte; "
                       f"decompress -o NAME{self.edf} writes the file again")
        stored = self.meta.channels if isinstance(self.meta, EcgMeta) else []
        for k, ch in enumerate(self.metrics.get("channels", [])):
            if isinstance(ch, dict):
                out.append(_channel_line(ch, vars(stored[k]) if k < len(stored) else {}))
        return out

    def _binding_line(self) -> str:
        v = f"format {self.version[0]}.{self.version[1]}"
        if self.bound:
            return f"fixity:      {v}; header, sections and decoded signal bound (bIND, digests checked on decode)"
        return f"fixity:      {v}; no binding (written before format 1.8): CRCs only"

    def _midi_lines(self) -> list[str]:
        """`vqcodec info` of a MIDI file: notes, duration, bits per note, and the stored losses in words."""
        m = self.metrics
        notes = self.n_samples
        out = [f"file:        {self.path} ({self.n_bytes} bytes)", f"kind:        {self.kind}",
               f"model:       {self.model} sha256 {self.model_sha256}",
               f"quality:     {self.quality} (onsets on a {1000 / self.fs:g} ms grid)",
               f"performance: {notes} notes, {self.duration:.1f} s",
               f"rate:        {8 * self.n_bytes / notes if notes else math.nan:.2f} bits/note", self._binding_line()]
        if any(k in m for k in ("f1_onset", "onset_err_ms_median", "velocity_mae")):
            out += [f"notes:       F1 {_num(m.get('f1_onset'), '.4f')} "
                    f"(with offsets {_num(m.get('f1_offset'), '.4f')}); "
                    f"onset error median {_num(m.get('onset_err_ms_median'), '.2f')} ms, "
                    f"max {_num(m.get('onset_err_ms_max'), '.2f')} ms",
                    f"             velocity MAE {_num(m.get('velocity_mae'), '.2f')}; duration error median "
                    f"{_num(_scaled(m.get('duration_rel_err_median'), 100), '.1f')} %"]
        pedals = m.get("pedal_agreement")
        if isinstance(pedals, dict) and pedals:
            out.append("pedals:      " + ", ".join(
                f"{_pedal_name(c)} {_num(_scaled(v, 100), '.1f')} %" for c, v in sorted(pedals.items(), key=str))
                + " of the time in agreement")
        return out

    @property
    def midi_duration(self) -> float:
        return self.meta.duration_s if isinstance(self.meta, MidiMeta) else math.nan


def _channel_line(m: dict, channel: dict) -> str:
    """One channel's stored distortion, its max error in the channel's units and in ADC units (what --max-error
    bounds); both dicts come from the file, so every value is checked before it is formatted."""
    units = channel.get("units")
    units = units.strip() if isinstance(units, str) and units.strip() else "mV"  # WFDB's default
    gain, err = _number(channel.get("gain")), _number(m.get("max_err"))
    adc = f" ({err * gain:.3g} ADC units)" if gain is not None and err is not None else ""
    return (f"  {str(m.get('name', '?')):>8}: PRD {_num(m.get('prd'), '.2f')} %  PRDN {_num(m.get('prdn'), '.2f')} %  "
            f"SNR {_num(m.get('snr'), '.1f')} dB  max error {_num(err, '.4g')} {units}{adc}")


def _number(value: object) -> float | None:
    """A stored figure as a float, or None when it is not a finite number (not measured, or the file is odd)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _num(value: object, spec: str) -> str:
    """A stored figure formatted, or "n/a"."""
    n = _number(value)
    return "n/a" if n is None else format(n, spec)


def _scaled(value: object, factor: float) -> float | None:
    n = _number(value)
    return None if n is None else n * factor


def _pedal_name(controller: object) -> str:
    """'sustain (64)' for a known pedal controller, else 'controller N'."""
    c = int(controller) if isinstance(controller, (int, str)) and str(controller).isdigit() else None
    return f"{PEDAL_NAMES[c]} ({c})" if c in PEDAL_NAMES else f"controller {controller}"


def info(source: Source, *, name: str | None = None, limits: Limits = DEFAULT_LIMITS) -> VqcInfo:
    """Read the header (and stored metrics) of a .vqc file (path, bytes or binary file), and check every section's
    CRC: what is damaged beyond the header is listed in `damage` rather than raised, so the header can still be
    shown. name and limits as in `decompress`."""
    data, name = read_source(source, name)
    damage: list[str] = []
    c, metrics = vqc.inspect(data, name, limits=limits, damage=damage)
    header, size = c.header, c.size
    if header.kind == MIDI_KIND:
        midi = MidiMeta.from_json(header.meta)
        return VqcInfo(name, header.kind, midi.model, header.model_sha256, midi.quality, header.fs, header.n_samples,
                       [], size, 0, metrics or {}, None, midi, damage, c.bound, c.version)
    meta = EcgMeta.from_json(header.meta)
    if meta.invalid:
        damage.append(f"header metadata: {meta.invalid}")
    kept_files: dict[str, int] = {}
    if ecg_file.TAG_ANNO in c.sections and not any(d.startswith(f"section {ecg_file.TAG_ANNO} ") for d in damage):
        try:
            index = ecg_file.annotation_index(c.sections[ecg_file.TAG_ANNO], name, limits)
            kept_files = dict(index)
        except (FormatError, LimitError) as e:
            damage.append(str(e).removeprefix(f"{name}: "))
    kept = c.sections.get(ecg_file.TAG_WHEA)
    return VqcInfo(
        name, header.kind, meta.model, header.model_sha256,
        header.n_stages if meta.quality is None else meta.quality, header.fs, header.n_samples,
        [ch.name for ch in meta.channels] or ["?"] * header.n_channels, size,
        max((ch.resolution for ch in meta.channels), default=16), metrics or {},
        meta.max_error, meta, damage, c.bound, c.version, header.n_blocks,
        header.block_frames * header.hop / meta.model_fs if meta.model_fs else math.nan,
        kept_files, None if kept is None else len(kept), _edf_suffix(c, name, limits, damage),
    )


def _edf_suffix(c: vqc.Container, name: str, limits: Limits, damage: list[str]) -> str | None:
    """.edf or .bdf when the file keeps an EDF or BDF header (eDFH), else None (also when that section is damaged)."""
    from vqcodec.io.edf import suffix_of

    if ecg_file.TAG_EDFH not in c.sections or any(d.startswith(f"section {ecg_file.TAG_EDFH} ") for d in damage):
        return None
    try:
        return suffix_of(ecg_file.read_edf_section(c.sections[ecg_file.TAG_EDFH], ecg_file.TAG_EDFH, name, limits))
    except (FormatError, LimitError) as e:
        damage.append(str(e).removeprefix(f"{name}: "))
        return None


def read_annotations(source: Source, *, name: str | None = None, limits: Limits = DEFAULT_LIMITS,
                     ) -> dict[str, bytes]:
    """The annotation files a .vqc file keeps (path, bytes or binary file), {annotator: the file's bytes} (`atr` for
    `100.atr`): the very bytes of the record's files, which `vqcodec decompress` writes beside the record; {} when it
    keeps none (a file from before format 1.9, a MIDI file). Every CRC and the binding are checked, nothing else is
    decoded; name and limits as in `decompress`."""
    data, name = read_source(source, name)
    c = vqc.read(data, name, limits, warn=False)
    if c.header.kind != ecg_file.KIND or ecg_file.TAG_ANNO not in c.sections:
        return {}
    return ecg_file.read_annotations(c.sections[ecg_file.TAG_ANNO], name, limits)


def verify(source: Source, model: str | Path | Codec | NoteCodec | None = None, *, name: str | None = None,
           limits: Limits = DEFAULT_LIMITS) -> VqcInfo:
    """Check a .vqc file whole, writing nothing (what `flac -t` is to FLAC): every CRC, the binding of header,
    sections and order, the header's promises against the payload, and a full decode in memory against the
    fingerprint or the digest of the decoded signal. Returns the file's info; raises the VqcError that names what
    is wrong (a file from before format 1.8 carries no binding, which `VqcInfo.bound` says)."""
    data, name = read_source(source, name)
    found = info(data, name=name, limits=limits)
    if found.damage:
        raise ChecksumError(f"{name}: damaged: " + "; ".join(found.damage))
    decompress(data, model, name=name, limits=limits)
    return found


def compress_edf(path: str | os.PathLike, model: str | Path | Codec | None = None, quality: int | None = None,
                 max_error: int | None = None, *, max_prdn: float | None = None, anonymize: bool = False,
                 ) -> Compressed:
    """An EDF or BDF file (EDF+, BDF+) -> Compressed(.vqc bytes, Report of the model's channels): its ECG signals
    through the model (at `quality`, or within `max_error`, or the cheapest setting that meets `max_prdn`), every
    other signal through the residual layer alone (lossless, or within max_error), its header and annotation
    signals kept byte for byte, so that `decompress_edf` writes the file again. anonymize: keep the header with its
    patient and recording fields blanked as EDF+ writes unknown ones (vqcodec.io.edf.anonymized). The file is read
    in windows of data records (`vqcodec.io.edf.EdfSource`), so memory does not grow with its length: the same bytes
    as `Codec.compress` of the file read whole (`vqcodec.io.edf.read_edf`)."""
    from vqcodec.io.edf import EdfSource, anonymized

    path = Path(path)
    source = EdfSource(path)
    codec = model if isinstance(model, Codec) else Codec.load(model or DEFAULT_MODEL)
    size = path.stat().st_size
    if max_prdn is None:
        data, report = codec.compress_source(source, quality, size, max_error=max_error, aux=source.aux)
    else:
        if quality is not None or max_error is not None:
            raise InputError(f"{path}: max_prdn picks the setting itself: it goes with neither quality nor max_error")
        data, report, _ = codec.compress_source_to_prdn(source, max_prdn, size, aux=source.aux)
    header = anonymized(source.header.raw, str(path)) if anonymize else source.header.raw
    try:
        data = ecg_file.with_edf_files(data, header, source.annotations(), str(path))
    except ValueError as e:
        raise InputError(f"{path}: cannot keep its EDF header and annotations: {e}") from e
    report.n_bytes = len(data)
    return Compressed(data, report)


def decompress_edf(source: Source, output: str | os.PathLike, model: str | Path | Codec | None = None, *,
                   name: str | None = None, force: bool = False, anonymize: bool = False,
                   limits: Limits = DEFAULT_LIMITS) -> list[Path]:
    """A .vqc file compressed from an EDF or BDF file -> that file again at `output` (.edf or .bdf, as the original
    was): its header bytes, its annotation signals' bytes and every signal's digital samples (the original's when
    lossless, so the file is the same byte for byte). anonymize: blank the patient and recording fields. InputError
    when the file keeps no EDF header (compressed from another kind of record)."""
    data, name = read_source(source, name)
    return write_edf_file(vqc.loads(data, name, limits=limits), output, model, name=name, force=force,
                          anonymize=anonymize)


def write_edf_file(parsed: EcgFile | MidiFile, output: str | os.PathLike, model: str | Path | Codec | None = None,
                   *, name: str = BYTES_NAME, force: bool = False, anonymize: bool = False) -> list[Path]:
    """decompress_edf, of a parsed file."""
    from vqcodec.io.edf import anonymized, suffix_of, write_edf

    if not isinstance(parsed, EcgFile) or parsed.edf_header is None:
        raise InputError(f"{name}: keeps no EDF header (it was not compressed from an EDF or BDF file); decompress "
                         "it to a WFDB record or .npy")
    output = Path(output)
    suffix = suffix_of(parsed.edf_header)
    if output.suffix.lower() != suffix:
        raise InputError(f"{output}: {name} holds a {suffix[1:].upper()} file; name the output {suffix}")
    header = anonymized(parsed.edf_header, name) if anonymize else parsed.edf_header
    codec = codec_for(parsed.header, model, name)
    if codec.streams(parsed):
        return _write_edf_windows(codec, parsed, output, header, name, force)
    signal = decode(parsed, codec, name)
    assert isinstance(signal, Signal)  # an ECG file's
    return write_edf(output, signal, header, parsed.edf_annotations, force)


def _write_edf_windows(codec: Codec, parsed: EcgFile, output: Path, header: bytes, name: str,
                       force: bool) -> list[Path]:
    """write_edf_file of a file `Codec.streams` decodes in windows: whole data records at a time, the signals at
    the record's rate from `Codec.decode_windows` and those at other rates from their aux blocks
    (`Codec.aux_readers`), so memory does not grow with the record: the file a whole decode writes."""
    from vqcodec.ecg import stream
    from vqcodec.ecg.codec import record_template
    from vqcodec.io.edf import EdfWriter, parse_header

    h = parse_header(header, name)
    ordinary = [s for s in h.signals if not s.is_annotation]
    template = record_template(parsed.header, parsed.meta, name)
    other = {r.info.position: r for r in codec.aux_readers(parsed, name) if r.info.position in
             {a.position for a in template.aux}}
    columns = [p for p in range(len(template.channels) + len(other)) if p not in other]
    if len(columns) + len(other) != len(ordinary):
        raise InputError(f"{name}: {len(columns) + len(other)} signals for an EDF header of {len(ordinary)}")
    spr = ordinary[columns[0]].samples_per_record
    writer = EdfWriter(output, header, parsed.edf_annotations or b"", parsed.header.n_samples // spr, force)
    held: list[np.ndarray] = []
    try:
        for y in codec.decode_windows(parsed, name):
            held.append(y)
            y = np.concatenate(held) if len(held) > 1 else held[0]
            k = len(y) // spr
            if k:
                r0 = writer.n_written
                d = stream.digital(y[: k * spr], template.channels)
                d[d == ecg_file.INVALID_DIGITAL] = 0  # an invalid sample is written as digital 0
                digital = [d[:, columns.index(p)] if p in columns
                           else _aux_digital(other[p], r0 * ordinary[p].samples_per_record,
                                             (r0 + k) * ordinary[p].samples_per_record)
                           for p in range(len(ordinary))]
                writer.write(digital)
            held = [y[k * spr :]]
        return writer.close()
    except BaseException:
        writer.abort()
        raise


def _aux_digital(reader: AuxReader, start: int, stop: int) -> np.ndarray:
    """An aux signal's digital samples [start, stop) (invalid ones 0), as `AuxChannel.digital` gives them."""
    ch = reader.info.channel
    x = reader.read(start, stop)
    return np.rint(np.where(np.isnan(x), 0.0, x * ch.gain + ch.baseline)).astype(np.int64)


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

    def write(fh: BinaryIO) -> None:
        fh.write(data)

    write_atomic(path, write, force)


__all__ = ["compress", "decompress", "compress_edf", "decompress_edf", "write_edf_file", "decode", "info",
            "verify", "read_annotations", "read_source", "Source", "VqcInfo",
           "Report", "Limits", "DEFAULT_LIMITS", "write_bytes", "read_file"]
