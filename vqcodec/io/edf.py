"""EDF and BDF files (EDF+ and BDF+ too) to and from Signal, byte for byte; `vqcodec.ecg.file` keeps their header and
annotation bytes (eDFH, eDFA).

The format is read and written here, not through a library, because exactness is the point: the header is kept as
its own bytes and written back unchanged, every signal's digital samples come back where they were, and the
annotation signals ("EDF Annotations") are copied as raw bytes. A lossless round trip therefore gives the original
file byte for byte, which no reader that parses the fields into numbers and formats them again can promise.
docs/EDF.md maps each field.
"""

from __future__ import annotations

import datetime
import math
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO

import numpy as np

from vqcodec.container.atomic import check_output, publish, write_atomic
from vqcodec.ecg.signal import AuxChannel, ChannelInfo, Signal
from vqcodec.ecg.stream import AuxSource
from vqcodec.errors import EdfError, InputError, VqcError

EDF_SUFFIX, BDF_SUFFIX = ".edf", ".bdf"
EDF_SUFFIXES = (EDF_SUFFIX, BDF_SUFFIX)
FIXED_BYTES = 256
"""The header's fixed part; then SIGNAL_HEADER_BYTES per signal."""
SIGNAL_HEADER_BYTES = 256
EDF_VERSION = b"0       "
BDF_VERSION = b"\xffBIOSEMI"
SAMPLE_BYTES = {False: 2, True: 3}
"""Bytes per sample: EDF's 16-bit, BDF's 24-bit little-endian two's complement."""
ANNOTATION_LABELS = ("EDF Annotations", "BDF Annotations")
"""The label of an EDF+ (BDF+) annotation signal: its bytes are time-stamped annotation lists, not samples."""
UNKNOWN_PATIENT = "X X X X"
"""EDF+'s patient field with each subfield (code, sex, birthdate, name) unknown: what --anonymize writes."""
UNKNOWN_RECORDING = "Startdate X X X X"
"""EDF+'s recording field with the start date, administration code, technician and equipment unknown."""
ECG_WORDS = ("ECG", "EKG")
"""A signal whose label or transducer field holds one of these is an ECG."""
LEAD_NAMES = frozenset({"I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6", "MLI", "MLII",
                        "MLIII", "ML2", "MV1", "MV2", "MV3", "MV4", "MV5", "MV6", "V", "D1", "D2", "D3"})
"""Labels that name an ECG lead by themselves (upper case, spaces removed)."""
_FIXED_FIELDS = (("version", 8), ("patient", 80), ("recording", 80), ("startdate", 8), ("starttime", 8),
                 ("header bytes", 8), ("reserved", 44), ("data records", 8), ("record duration", 8), ("signals", 4))
_SIGNAL_FIELDS = (("label", 16), ("transducer", 80), ("physical dimension", 8), ("physical minimum", 8),
                  ("physical maximum", 8), ("digital minimum", 8), ("digital maximum", 8), ("prefilter", 80),
                  ("samples per record", 8), ("signal reserved", 32))
_DATE_RE = re.compile(r"(\d\d)\.(\d\d)\.(\d\d)")
_TIME_RE = re.compile(r"(\d\d)\.(\d\d)\.(\d\d)")
CLIPPING_YEAR = 85
"""EDF's two-digit years: 85-99 are 1985-1999, 00-84 are 2000-2084."""


@dataclass(frozen=True)
class EdfSignalHeader:
    """One signal's header fields, as text (stripped) and as the numbers they hold."""

    label: str
    transducer: str
    dimension: str
    physical_min: float
    physical_max: float
    digital_min: int
    digital_max: int
    prefilter: str
    samples_per_record: int

    @property
    def is_annotation(self) -> bool:
        return self.label in ANNOTATION_LABELS

    @property
    def is_ecg(self) -> bool:
        """Whether the label or transducer says ECG/EKG, or the label is an ECG lead's name."""
        text = f"{self.label} {self.transducer}".upper()
        lead = self.label.upper().replace(" ", "")
        for word in ECG_WORDS:
            lead = lead.removeprefix(word)
        return any(w in text for w in ECG_WORDS) or lead in LEAD_NAMES

    def channel(self, bdf: bool) -> ChannelInfo:
        """The ChannelInfo of this signal: digital d is physical (d - baseline) / gain. EDF's mapping is linear from
        (digital min, physical min) to (digital max, physical max); its offset is rounded to a whole number of ADC
        steps (the baseline is an integer), so a physical value may differ from EDF's by less than half a step: the
        digital samples, which the .vqc file and the EDF file written back hold, are exact. A signal whose physical
        range is empty or inverted gets gain 1 and baseline 0 (physical = digital)."""
        bits = 8 * SAMPLE_BYTES[bdf]
        span = self.physical_max - self.physical_min
        if span > 0 and math.isfinite(span):
            gain = (self.digital_max - self.digital_min) / span
            baseline = round(self.digital_min - self.physical_min * gain)
        else:
            gain, baseline = 1.0, 0
        return ChannelInfo(self.label, self.dimension, gain, baseline, bits, 0, str(bits))


@dataclass(frozen=True)
class EdfHeader:
    """An EDF or BDF header: its own bytes (`raw`) and the fields vqcodec needs, parsed."""

    raw: bytes
    bdf: bool
    plus: bool  # EDF+ or BDF+ (the reserved field starts with EDF+ or BDF+)
    startdate: str
    starttime: str
    declared_records: int  # -1: not known when the file was written
    record_duration: float
    signals: list[EdfSignalHeader]

    @property
    def sample_bytes(self) -> int:
        return SAMPLE_BYTES[self.bdf]

    @property
    def record_bytes(self) -> int:
        """Bytes of one data record: every signal's samples of it."""
        return sum(s.samples_per_record for s in self.signals) * self.sample_bytes

    def fs(self, s: EdfSignalHeader) -> float:
        """A signal's sampling rate: its samples per record over the record's duration."""
        return s.samples_per_record / self.record_duration


@dataclass
class EdfFile:
    """An EDF or BDF file read whole: its header, its record count, each ordinary signal's digital samples (in
    signal order, annotation signals left out) and its annotation signals' raw bytes (signal after signal, each
    the share of every data record in order)."""

    header: EdfHeader
    n_records: int
    digital: list[np.ndarray]
    annotations: bytes


def is_edf(path: str | Path) -> bool:
    """Whether the path names an EDF or BDF file, by suffix."""
    return Path(path).suffix.lower() in EDF_SUFFIXES


def _text(raw: bytes, at: int, width: int, what: str, where: str) -> str:
    """A header field as text; EdfError unless it is printable ASCII, as EDF demands."""
    field = raw[at : at + width]
    bad = next((i for i, b in enumerate(field) if not 32 <= b <= 126), None)
    if bad is not None:
        raise EdfError(f"{where}: header field {what} holds byte 0x{field[bad]:02x} at offset {at + bad}, not "
                       "printable ASCII (EDF allows only ASCII 32..126 in its header)")
    return field.decode("ascii").strip()


def _number(text: str, what: str, where: str, kind: Callable[[str], float | int] = float) -> float | int:
    try:
        value = kind(text)
    except ValueError:
        raise EdfError(f"{where}: header field {what} is {text!r}, not a number") from None
    if not math.isfinite(value):
        raise EdfError(f"{where}: header field {what} is {text!r}, not a finite number")
    return value


def parse_header(raw: bytes, where: str) -> EdfHeader:
    """The header at the start of `raw` (at least its fixed part), checked; EdfError naming `where` and the field."""
    if len(raw) < FIXED_BYTES:
        raise EdfError(f"{where}: {len(raw)} bytes, too short for an EDF header ({FIXED_BYTES} bytes at least)")
    version = raw[:8]
    if version not in (EDF_VERSION, BDF_VERSION):
        raise EdfError(f"{where}: not an EDF or BDF file (version field {version!r}, expected {EDF_VERSION!r} or "
                       f"{BDF_VERSION!r})")
    bdf = version == BDF_VERSION
    fixed: dict[str, str] = {}
    at = 8
    for what, width in _FIXED_FIELDS[1:]:
        fixed[what] = _text(raw, at, width, what, where)
        at += width
    ns = int(_number(fixed["signals"], "signals", where, int))
    if ns < 1:
        raise EdfError(f"{where}: header says {ns} signals")
    size = FIXED_BYTES + SIGNAL_HEADER_BYTES * ns
    declared = int(_number(fixed["header bytes"], "header bytes", where, int))
    if declared != size:
        raise EdfError(f"{where}: header length field says {declared} bytes, and {ns} signals make a header of "
                       f"{size} (256 + 256 per signal)")
    if len(raw) < size:
        raise EdfError(f"{where}: truncated in the header ({len(raw)} of its {size} bytes)")
    columns: dict[str, list[str]] = {}
    for what, width in _SIGNAL_FIELDS:
        columns[what] = [_text(raw, at + i * width, width, f"{what} of signal {i + 1}", where) for i in range(ns)]
        at += width * ns
    signals = []
    for i in range(ns):
        def num(what: str, kind: Callable[[str], float | int] = float, i: int = i) -> float | int:
            return _number(columns[what][i], f"{what} of signal {i + 1}", where, kind)

        s = EdfSignalHeader(columns["label"][i], columns["transducer"][i], columns["physical dimension"][i],
                            float(num("physical minimum")), float(num("physical maximum")),
                            int(num("digital minimum", int)), int(num("digital maximum", int)),
                            columns["prefilter"][i], int(num("samples per record", int)))
        if s.samples_per_record < 1:
            raise EdfError(f"{where}: signal {i + 1} ({s.label}) has {s.samples_per_record} samples per data record")
        limit = 1 << (8 * SAMPLE_BYTES[bdf] - 1)
        if not -limit <= s.digital_min < s.digital_max < limit:
            raise EdfError(f"{where}: signal {i + 1} ({s.label}): digital minimum {s.digital_min} and maximum "
                           f"{s.digital_max} must rise within {8 * SAMPLE_BYTES[bdf]} bits")
        signals.append(s)
    records = int(_number(fixed["data records"], "data records", where, int))
    duration = float(_number(fixed["record duration"], "record duration", where))
    if records < -1:
        raise EdfError(f"{where}: header says {records} data records")
    if duration < 0 or (duration == 0 and any(not s.is_annotation for s in signals)):
        raise EdfError(f"{where}: record duration {fixed['record duration']!r} must be positive for a file with "
                       "signals")
    plus = fixed["reserved"].startswith(("EDF+", "BDF+"))
    return EdfHeader(bytes(raw[:size]), bdf, plus, fixed["startdate"], fixed["starttime"], records, duration,
                     signals)


def read_edf_file(path: str | Path) -> EdfFile:
    """An EDF or BDF file, read and checked whole (EdfError naming the file for what breaks the format). A record
    count of -1 (a recording that was not closed) is counted from the file's size, as the format says."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from e
    h = parse_header(raw, str(path))
    n = _record_count(h, len(raw) - len(h.raw), path)
    rb = h.record_bytes
    records = np.frombuffer(raw, np.uint8, offset=len(h.raw), count=n * rb).reshape(n, rb)
    digital, notes, at = [], [], 0
    for s in h.signals:
        width = s.samples_per_record * h.sample_bytes
        part = records[:, at : at + width]
        at += width
        if s.is_annotation:
            notes.append(part.tobytes())
        else:
            digital.append(_samples(part, h.bdf))
    return EdfFile(h, n, digital, b"".join(notes))


def _record_count(h: EdfHeader, data: int, path: Path) -> int:
    """The data records of a file whose header is `h` and whose data records take `data` bytes: the header's count,
    checked against them, or (-1: a recording that was not closed) counted from them. EdfError for a truncated file
    or bytes after the last record."""
    rb = h.record_bytes
    whole, rest = divmod(data, rb)
    if h.declared_records == -1:
        if rest:
            raise EdfError(f"{path}: truncated data record: the header leaves the record count open (-1) and the "
                           f"file ends {rest} bytes into record {whole + 1} (of {rb} bytes)")
        return whole
    n = h.declared_records
    if data < n * rb:
        raise EdfError(f"{path}: truncated: the header says {n} data records of {rb} bytes, the file holds "
                       f"{whole} whole and {rest} bytes more")
    if data > n * rb:
        raise EdfError(f"{path}: {data - n * rb} bytes after the last of its {n} data records")
    return n


def _samples(part: np.ndarray, bdf: bool) -> np.ndarray:
    """Raw bytes [records, samples * width] -> int64 samples, in order."""
    if not bdf:
        return np.ascontiguousarray(part).view("<i2").reshape(-1).astype(np.int64)
    b = part.reshape(-1, 3).astype(np.int32)
    v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
    return np.where(v >= 1 << 23, v - (1 << 24), v).astype(np.int64)


def _sample_bytes(d: np.ndarray, bdf: bool, spr: int) -> np.ndarray:
    """int64 samples -> raw bytes [records, spr * width]."""
    if not bdf:
        return d.astype("<i2").view(np.uint8).reshape(-1, spr * 2)
    v = d.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3]
    return np.ascontiguousarray(v).reshape(-1, spr * 3)


def iso_start(h: EdfHeader) -> tuple[str | None, str | None]:
    """The start (time, date) in ISO form, or None where a field does not parse (EDF+ writes 'X' parts)."""
    t = _TIME_RE.fullmatch(h.starttime)
    d = _DATE_RE.fullmatch(h.startdate)
    time = date = None
    try:
        if t:
            hour, minute, second = map(int, t.groups())
            time = datetime.time(hour, minute, second).isoformat()
        if d:
            day, month, yy = map(int, d.groups())
            date = datetime.date(1900 + yy if yy >= CLIPPING_YEAR else 2000 + yy, month, day).isoformat()
    except ValueError:
        pass
    return time, date


def _main_signals(h: EdfHeader, name: str) -> tuple[list[EdfSignalHeader], list[int]]:
    """The ordinary signals of a header and which of them are the model's group: the ECG signals at the rate of the
    first one (`is_ecg`), by number among the ordinary signals. EdfError when there is no ordinary signal."""
    ordinary = [s for s in h.signals if not s.is_annotation]
    if not ordinary:
        raise EdfError(f"{name}: no signals to compress (only annotation signals)")
    ecg = [i for i, s in enumerate(ordinary) if s.is_ecg]
    spr = ordinary[ecg[0]].samples_per_record if ecg else None
    return ordinary, [i for i in ecg if ordinary[i].samples_per_record == spr]


def to_signal(f: EdfFile, name: str) -> Signal:
    """An EDF file's ordinary signals as a Signal: the ECG signals at the rate of the first one (`is_ecg`) are its
    channels, for the model; every other signal is an aux signal at its own rate, in its position (its number among
    the ordinary signals)."""
    h = f.header
    ordinary, main = _main_signals(h, name)
    spr = ordinary[main[0]].samples_per_record if main else None
    time, date = iso_start(h)
    channels, aux = [], []
    for i, s in enumerate(ordinary):
        ch = s.channel(h.bdf)
        x = (f.digital[i].astype(np.float64) - ch.baseline) / ch.gain
        if i in main:
            channels.append(x)
        else:
            aux.append(AuxChannel(i, h.fs(s), ch, x))
    n = f.n_records * (spr or 0)
    samples = np.stack(channels, axis=1) if channels else np.zeros((n, 0))
    fs = h.fs(ordinary[main[0]]) if main else h.fs(ordinary[0])
    return Signal(samples, fs, [ordinary[i].channel(h.bdf) for i in main], name, [], time, date, aux)


def read_edf(path: str | Path) -> tuple[Signal, EdfFile]:
    """An EDF or BDF file -> its Signal (`to_signal`) and the file read (for its header and annotation bytes)."""
    path = Path(path)
    f = read_edf_file(path)
    return to_signal(f, _record_name(path)), f


def _record_name(path: Path) -> str:
    return path.stem


def digital_signals(signal: Signal) -> list[np.ndarray]:
    """A Signal's digital samples, every ordinary signal in position order (its channels, then its aux signals, each
    in its place); invalid samples (NaN) become the channel's digital value 0."""
    out: dict[int, np.ndarray] = {}
    d = signal.digital()
    for c, p in enumerate(signal.positions()):
        out[p] = d[:, c]
    for a in signal.aux:
        out[a.position] = a.digital()
    return [out[p] for p in sorted(out)]


def edf_bytes(header: bytes, digital: list[np.ndarray], annotations: bytes, where: str) -> bytes:
    """An EDF or BDF file from its header bytes, its ordinary signals' digital samples (in signal order) and its
    annotation signals' raw bytes: the inverse of `read_edf_file`. Samples are clipped to the sample width (a lossy
    decode already stays within its channel's ADC range). EdfError when they do not fit the header."""
    h = parse_header(header, where)
    ordinary = [s for s in h.signals if not s.is_annotation]
    if len(digital) != len(ordinary):
        raise EdfError(f"{where}: {len(digital)} signals for a header of {len(ordinary)} ordinary signals")
    n = len(digital[0]) // ordinary[0].samples_per_record if ordinary else 0
    _check_annotations(h, annotations, n, where)
    return header + _records_bytes(h, digital, annotations, n, 0, n, where)


def _check_annotations(h: EdfHeader, annotations: bytes, n: int, where: str) -> None:
    """EdfError unless `annotations` holds the annotation signals' bytes of n data records."""
    note_bytes = [s.samples_per_record * h.sample_bytes for s in h.signals if s.is_annotation]
    if len(annotations) != n * sum(note_bytes):
        raise EdfError(f"{where}: {len(annotations)} bytes of annotation signals, {n} data records need "
                       f"{n * sum(note_bytes)}")


def _records_bytes(h: EdfHeader, digital: list[np.ndarray], annotations: bytes, n: int, r0: int, r1: int,
                   where: str) -> bytes:
    """The bytes of data records [r0, r1) of a file of n records: each ordinary signal's digital samples of those
    records (`digital`, in signal order) and the annotation signals' share of them, cut from `annotations` (every
    annotation signal's bytes of all n records, one signal after another)."""
    k = r1 - r0
    limit = 1 << (8 * h.sample_bytes - 1)
    parts, i, note_at = [], 0, 0
    for s in h.signals:
        width = s.samples_per_record * h.sample_bytes
        if s.is_annotation:
            parts.append(np.frombuffer(annotations, np.uint8, count=k * width, offset=note_at + r0 * width)
                         .reshape(k, width))
            note_at += n * width
            continue
        d = np.asarray(digital[i])
        i += 1
        if len(d) != k * s.samples_per_record:
            raise EdfError(f"{where}: signal {s.label} has {len(d)} samples, {k} data records of "
                           f"{s.samples_per_record} need {k * s.samples_per_record}")
        parts.append(_sample_bytes(np.clip(d, -limit, limit - 1), h.bdf, s.samples_per_record))
    body = np.concatenate(parts, axis=1) if parts else np.zeros((k, 0), np.uint8)
    return body.tobytes()


def write_edf(path: str | Path, signal: Signal, header: bytes, annotations: bytes | None = None,
              force: bool = False) -> list[Path]:
    """Write `signal` as the EDF or BDF file `header` describes (its bytes written unchanged), its annotation
    signals from their raw bytes; a temp file renamed into place, never over an existing file without force."""
    path = Path(path)
    data = edf_bytes(header, digital_signals(signal), annotations or b"", str(path))

    def write(fh: BinaryIO) -> None:
        fh.write(data)

    return [write_atomic(path, write, force)]


def anonymized(header: bytes, where: str = "<header>") -> bytes:
    """The header with its patient and recording identification blanked as EDF+ writes unknown subfields
    (UNKNOWN_PATIENT, UNKNOWN_RECORDING), each padded with spaces to its field; every other byte unchanged."""
    parse_header(header, where)
    return (header[:8] + UNKNOWN_PATIENT.encode("ascii").ljust(80) + UNKNOWN_RECORDING.encode("ascii").ljust(80)
            + header[168:])


def suffix_of(header: bytes) -> str:
    """.bdf for a BDF header, .edf otherwise."""
    return BDF_SUFFIX if header[:8] == BDF_VERSION else EDF_SUFFIX


# ------------------------------------------------------------------ in windows of data records


class EdfSource:
    """An EDF or BDF file read in windows of data records, for `vqcodec.ecg.stream`: its header parsed and its size
    checked as `read_edf_file` checks them, its ECG signals (the channels `to_signal` gives) as a Source, every other
    ordinary signal as an AuxSource (`aux`, at its own rate, in its position), and its annotation signals' raw bytes
    (`annotations()`): the values `read_edf` gives, held a window at a time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            with open(self.path, "rb") as fh:
                head = fh.read(FIXED_BYTES)
                count = head[252:256].decode("ascii", "replace").strip() if len(head) >= FIXED_BYTES else ""
                more = SIGNAL_HEADER_BYTES * int(count) if count.isdigit() else 0
                head += fh.read(more)
            size = self.path.stat().st_size
        except OSError as e:
            raise InputError(f"{self.path}: cannot read ({e.strerror or e})") from e
        h = parse_header(head, str(self.path))
        self.header = h
        self.n_records = _record_count(h, size - len(h.raw), self.path)
        ordinary, main = _main_signals(h, str(self.path))
        offsets: dict[int, int] = {}
        at = 0
        for s in h.signals:  # each ordinary signal's byte offset within a data record
            if not s.is_annotation:
                offsets[len(offsets)] = at
            at += s.samples_per_record * h.sample_bytes
        self._ordinary, self._offsets, self._main = ordinary, offsets, main
        self.record_name = self.path.stem
        self.comments: list[str] = []
        self.base_time, self.base_date = iso_start(h)
        self.channels = [ordinary[i].channel(h.bdf) for i in main]
        self.fs = h.fs(ordinary[main[0]]) if main else h.fs(ordinary[0])
        self.n_samples = self.n_records * ordinary[main[0]].samples_per_record if main else 0
        self.aux = [AuxSource(i, h.fs(s), s.channel(h.bdf), self.n_records * s.samples_per_record,
                              partial(self._physical, i))
                    for i, s in enumerate(ordinary) if i not in main]

    def _records(self, r0: int, r1: int) -> np.ndarray:
        """Data records [r0, r1) as bytes [r1 - r0, record_bytes]."""
        rb = self.header.record_bytes
        try:
            with open(self.path, "rb") as fh:
                fh.seek(len(self.header.raw) + r0 * rb)
                raw = fh.read((r1 - r0) * rb)
        except OSError as e:
            raise InputError(f"{self.path}: cannot read ({e.strerror or e})") from e
        if len(raw) != (r1 - r0) * rb:
            raise InputError(f"{self.path}: read {len(raw)} bytes of data records {r0}..{r1 - 1} where "
                             f"{(r1 - r0) * rb} were asked (the file changed?)")
        return np.frombuffer(raw, np.uint8).reshape(r1 - r0, rb)

    def _digital(self, records: np.ndarray, r0: int, i: int, start: int, stop: int) -> np.ndarray:
        """Ordinary signal i's digital samples [start, stop) from data records starting at r0."""
        s = self._ordinary[i]
        width = s.samples_per_record * self.header.sample_bytes
        at = self._offsets[i]
        d = _samples(records[:, at : at + width], self.header.bdf)
        first = r0 * s.samples_per_record
        return d[start - first : stop - first]

    def _span(self, spr: int, start: int, stop: int) -> tuple[int, int]:
        return start // spr, -(-stop // spr)

    def _physical(self, i: int, start: int, stop: int) -> np.ndarray:
        """Ordinary signal i's physical values [start, stop) at its own rate."""
        if stop <= start:
            return np.zeros(0)
        r0, r1 = self._span(self._ordinary[i].samples_per_record, start, stop)
        ch = self._ordinary[i].channel(self.header.bdf)
        return (self._digital(self._records(r0, r1), r0, i, start, stop).astype(np.float64) - ch.baseline) / ch.gain

    def read(self, start: int, stop: int) -> np.ndarray:
        """The ECG signals' physical values [stop - start, C]."""
        if stop <= start or not self._main:
            return np.zeros((max(0, stop - start), len(self._main)))
        r0, r1 = self._span(self._ordinary[self._main[0]].samples_per_record, start, stop)
        records = self._records(r0, r1)
        out = np.empty((stop - start, len(self._main)))
        for c, i in enumerate(self._main):
            ch = self.channels[c]
            out[:, c] = (self._digital(records, r0, i, start, stop).astype(np.float64) - ch.baseline) / ch.gain
        return out

    def annotations(self) -> bytes:
        """The annotation signals' raw bytes, signal after signal, each the share of every data record in order (as
        `read_edf_file` gives them), read RECORDS_AT_ONCE data records at a time."""
        h = self.header
        spans, at = [], 0
        for s in h.signals:
            width = s.samples_per_record * h.sample_bytes
            if s.is_annotation:
                spans.append((at, width))
            at += width
        if not spans:
            return b""
        parts: list[list[bytes]] = [[] for _ in spans]
        for r0 in range(0, self.n_records, RECORDS_AT_ONCE):
            records = self._records(r0, min(self.n_records, r0 + RECORDS_AT_ONCE))
            for j, (at, width) in enumerate(spans):
                parts[j].append(records[:, at : at + width].tobytes())
        return b"".join(b"".join(p) for p in parts)


RECORDS_AT_ONCE = 4096
"""Data records read at a time where a whole file is walked (its annotation signals)."""


class EdfWriter:
    """An EDF or BDF file written data records at a time into a temporary file beside the destination (its header
    bytes first, unchanged), published whole by `close()`: the bytes `edf_bytes` gives for the same samples.
    `abort()` leaves nothing behind."""

    def __init__(self, path: str | Path, header: bytes, annotations: bytes, n_records: int,
                 force: bool = False) -> None:
        self.path, self.force = Path(path), force
        self.header = parse_header(header, str(self.path))
        _check_annotations(self.header, annotations, n_records, str(self.path))
        check_output(self.path, force)
        self._notes, self.n_records, self.n_written = annotations, n_records, 0
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        except OSError as e:
            raise VqcError(f"{self.path}: cannot write ({e.strerror or e})") from e
        self._tmp, self._fh = Path(tmp), os.fdopen(fd, "wb")
        self._write(header)

    def _write(self, data: bytes) -> None:
        try:
            self._fh.write(data)
        except OSError as e:  # a full disk: nothing is left behind
            self.abort()
            raise VqcError(f"{self.path}: cannot write ({e.strerror or e})") from e

    def write(self, digital: list[np.ndarray]) -> None:
        """The next whole data records: every ordinary signal's digital samples of them, in signal order."""
        ordinary = [s for s in self.header.signals if not s.is_annotation]
        k = len(digital[0]) // ordinary[0].samples_per_record if ordinary else 0
        r0 = self.n_written
        if r0 + k > self.n_records:
            self.abort()
            raise VqcError(f"{self.path}: more than the {self.n_records} data records the file holds")
        self._write(_records_bytes(self.header, digital, self._notes, self.n_records, r0, r0 + k, str(self.path)))
        self.n_written += k

    def close(self) -> list[Path]:
        """Check the count, sync, and give the file its name; returns [path]."""
        if self.n_written != self.n_records:
            self.abort()
            raise VqcError(f"{self.path}: {self.n_written} data records written of {self.n_records}")
        try:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            publish(self._tmp, self.path, self.force)
        except BaseException as e:
            self.abort()
            if isinstance(e, OSError):
                raise VqcError(f"{self.path}: cannot write ({e.strerror or e})") from e
            raise
        return [self.path]

    def abort(self) -> None:
        """Remove the temporary file."""
        self._fh.close()
        self._tmp.unlink(missing_ok=True)
