"""The MIDI payload of a .vqc file: its typed header metadata and its sections (NOTE, eVNT, dNOT, mNOT), to and from
the container.

`vqcodec.container.format` walks and checks the bytes; this module says what a performance's file holds and which
minor version each section needs. `vqcodec.midi.codec` turns a Performance into a `MidiFile` and back.
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass, field

import numpy as np
import zstandard

from vqcodec.container import format as vqc
from vqcodec.container.format import (
    DEFAULT_LIMITS,
    TAG_BLKS,
    TAG_MTRC,
    TAG_NORM,
    Container,
    Header,
    Kind,
    Limits,
    Reader,
    SectionType,
)
from vqcodec.errors import FormatError, InputError, LimitError
from vqcodec.midi import coder
from vqcodec.midi.performance import MetaEvent, Performance

KIND = "midi"
TAG_NOTE, TAG_MNOT, TAG_DNOT, TAG_EVNT = "NOTE", "mNOT", "dNOT", "eVNT"
EVENTS_MINOR = 9
"""eVNT, the performance's meta events (tempo, metre, key, text), and NOTE coding NC05 (pedal depth) came with 1.9."""
MAX_META_EVENTS = 1 << 16
"""Meta events one eVNT section may declare (a piece has a few dozen; checked before anything is allocated)."""
MAX_META_BYTES = 1 << 20
"""The largest eVNT section, and the largest content its zstd frame may declare (checked before decompressing)."""
_EVENT = struct.Struct("<dHBI")  # time (s), track, type, data length; then the data
NOTES_DIGEST_MINOR = 8
"""dNOT, the SHA-256 of the decoded performance (notes_digest()), came with 1.8 (with the container's binding)."""
HEADER_CODEBOOK = 2
"""The container's smallest codebook size: a MIDI file holds no code indices, so unused fields take their minimum."""
COMPACT_NOTE_MINOR = 5
"""A NOTE with coding NC03, and the metrics section mNOT, need format 1.5."""
PRIOR_MINOR = 12
"""NOTE coding NC06 (the neural note prior) came with 1.12."""
VQ_NOTE_CODING = b"VQN1"
"""The NOTE coding of midi-vq (vqcodec.midi.vq): timing, duration and velocity as a VQ-VAE's code indices."""
VQ_NOTES_MINOR = 13
"""VQN1 (midi-vq) came with 1.13."""
PEDAL_MINOR = 15
"""NOTE codings NC07 and NC08 (the pedals under the pedal coding their head names) came with 1.15, and a VQN1
payload whose pedal stream is coded NC07 needs it too."""
NOTE_CODING_MINORS = {coder.NC04: 6, coder.NOTE_CODING: EVENTS_MINOR, coder.NC06: PRIOR_MINOR,
                      VQ_NOTE_CODING: VQ_NOTES_MINOR, coder.NC07: PEDAL_MINOR, coder.NC08: PEDAL_MINOR}
"""NOTE codings that need a later minor: NC04 (escapes coded by bit length) came with 1.6, NC05 (pedal depth) with
1.9, NC06 (the neural prior) with 1.12, VQN1 (midi-vq) with 1.13, NC07 and NC08 (the pedal coding) with 1.15."""
VQ_PEDAL_AT = 16
"""Where a VQN1 payload (vqcodec.midi.vq) holds its pedal stream's length (u32), after its 12-byte head and CRC; the
stream (a NOTE payload with no notes) follows."""
NOTE_METRICS = ("f1_onset", "f1_offset", "onset_err_ms_median", "onset_err_ms_max", "velocity_mae",
                "duration_rel_err_median")
"""A MIDI file's stored metrics, in mNOT's order, then PEDAL_METRIC: {controller: agreement}."""
PEDAL_METRIC = "pedal_agreement"
STORED_METRICS = (*NOTE_METRICS, PEDAL_METRIC)
"""What a file keeps of its NoteReport for `vqcodec info`."""
_NOTE_METRICS = struct.Struct("<" + "f" * len(NOTE_METRICS))
_PEDAL_ROW = struct.Struct("<Bf")  # controller, agreement
_MNOT_CAP = _NOTE_METRICS.size + 1 + 255 * _PEDAL_ROW.size
MICROSECONDS = 1_000_000


def notes_digest(perf: Performance) -> bytes:
    """SHA-256 of a performance as decoded: pitch, velocity, onset and offset (whole microseconds), then each
    pedal's controller, times and values; integers little-endian, so every machine agrees."""
    h = hashlib.sha256()
    us = lambda t: np.rint(np.asarray(t, np.float64) * MICROSECONDS).astype("<i8").tobytes()  # noqa: E731
    for part in (np.asarray(perf.pitch, "<i8").tobytes(), np.asarray(perf.velocity, "<i8").tobytes(),
                 us(perf.onset), us(perf.offset)):
        h.update(struct.pack("<Q", len(part)) + part)
    for c in sorted(perf.pedals):
        p = perf.pedals[c]
        h.update(struct.pack("<QQ", c, len(p.time)) + us(p.time) + np.asarray(p.value, "<i8").tobytes())
    return h.digest()


@dataclass
class MidiMeta:
    """The header metadata of a MIDI file, typed. Read from an untrusted header, so `from_json` never raises."""

    model: str
    quality: int
    record: str
    duration_s: float
    unknown: dict = field(default_factory=dict)  # keys this release does not know, kept as they were

    def to_json(self) -> dict:
        return {**self.unknown, "model": self.model, "quality": self.quality, "record": self.record,
                "duration_s": self.duration_s}

    @classmethod
    def from_json(cls, meta: dict) -> MidiMeta:
        q, d = meta.get("quality"), meta.get("duration_s")
        return cls(str(meta.get("model", "?")), q if isinstance(q, int) and not isinstance(q, bool) else 0,
                   str(meta.get("record", "performance")),
                   float(d) if isinstance(d, (int, float)) and not isinstance(d, bool) else math.nan,
                   {k: v for k, v in meta.items() if k not in ("model", "quality", "record", "duration_s")})


@dataclass(eq=False)
class MidiFile:
    """A decoded MIDI .vqc file: the header, the NOTE payload (vqcodec.midi.coder) and the stored metrics."""

    header: Header
    notes: bytes
    metrics: dict | None = None
    extra: dict[str, bytes] = field(default_factory=dict)  # unknown ancillary sections, kept verbatim
    notes_digest: bytes | None = None  # dNOT: sha256 of the decoded performance (notes_digest())
    bound: bool = False  # read from a file that carries the container's binding (format 1.8 on)
    events: list[MetaEvent] = field(default_factory=list)  # eVNT: the performance's meta events, exactly

    @property
    def meta(self) -> MidiMeta:
        return MidiMeta.from_json(self.header.meta)

    @staticmethod
    def header_for(meta: MidiMeta, fs: float, n_notes: int, model_sha256: str) -> Header:
        """The container header of a performance: notes as samples; the code-layout fields at their minimum."""
        return Header(kind=KIND, fs=fs, n_channels=0, n_samples=n_notes, n_frames=0, hop=1, block_frames=1,
                      n_stages=0, codebook_size=HEADER_CODEBOOK, model_sha256=model_sha256, meta=meta.to_json())


def _note_metrics_bytes(metrics: dict) -> bytes | None:
    """Metrics -> mNOT: NOTE_METRICS as float32 (None, not measured, as NaN), then the pedal count and
    (controller, agreement); None when they are not exactly that schema (they then go to mTRC as JSON, so whatever
    a reader accepts can be written again)."""
    pedals = metrics.get(PEDAL_METRIC)
    if set(metrics) != {*NOTE_METRICS, PEDAL_METRIC} or not isinstance(pedals, dict) or len(pedals) > 255:
        return None
    try:
        rows = sorted((int(c), float(v)) for c, v in pedals.items())
        head = _NOTE_METRICS.pack(*(math.nan if metrics[k] is None else float(metrics[k]) for k in NOTE_METRICS))
        return head + bytes([len(rows)]) + b"".join(_PEDAL_ROW.pack(c, v) for c, v in rows)
    except (TypeError, ValueError, OverflowError, struct.error):
        return None


def _read_note_metrics(r: Reader, data: memoryview) -> dict:
    """mNOT -> the metrics dict (values to float32's 6 significant digits, NaN as None; controllers as strings,
    like JSON's)."""
    n = data[_NOTE_METRICS.size] if len(data) > _NOTE_METRICS.size else -1
    if len(data) != _NOTE_METRICS.size + 1 + n * _PEDAL_ROW.size:
        raise r.error(FormatError, f"section {TAG_MNOT}: {len(data)} bytes is not a metrics record")
    short = lambda v: None if math.isnan(v) else float(f"{v:.6g}")  # noqa: E731
    out: dict = {k: short(v) for k, v in zip(NOTE_METRICS, _NOTE_METRICS.unpack_from(data), strict=True)}
    rows = [_PEDAL_ROW.unpack_from(data, _NOTE_METRICS.size + 1 + i * _PEDAL_ROW.size) for i in range(n)]
    out[PEDAL_METRIC] = {str(c): short(v) for c, v in rows}
    return out


def events_bytes(events: list[MetaEvent], level: int = vqc.ZSTD_LEVEL) -> bytes:
    """Meta events -> eVNT: one zstd frame (content size declared) of u32 count, then per event f64 time, u16 track,
    u8 type, u32 length and the data. ValueError when they do not fit the section's limits."""
    if len(events) > MAX_META_EVENTS:
        raise ValueError(f"{len(events)} meta events, over the limit {MAX_META_EVENTS}")
    raw = struct.pack("<I", len(events)) + b"".join(_EVENT.pack(e.time, e.track, e.type, len(e.data)) + e.data
                                                     for e in events)
    frame = zstandard.ZstdCompressor(level=level, write_content_size=True).compress(raw)
    if max(len(raw), len(frame)) > MAX_META_BYTES:
        raise ValueError(f"meta events of {len(raw)} bytes, over the limit {MAX_META_BYTES}")
    return frame


def _read_events(r: Reader, data: memoryview) -> list[MetaEvent]:
    """eVNT -> the meta events, checked: the frame's declared size and the count against the limits before anything
    is allocated, every event whole and valid (MetaEvent's rules), times in order, no byte left over."""
    where = f"section {TAG_EVNT}"
    declared = vqc.zstd_frame_size(r, data, where, MAX_META_BYTES)
    try:
        raw = zstandard.ZstdDecompressor().decompress(data, max_output_size=declared, allow_extra_data=False)
    except zstandard.ZstdError as e:
        raise r.error(FormatError, f"{where}: zstd: {e}") from None
    if len(raw) < 4:
        raise r.error(FormatError, f"{where}: {len(raw)} bytes hold no event count")
    (n,) = struct.unpack_from("<I", raw)
    if n > MAX_META_EVENTS:
        raise r.error(LimitError, f"{where}: {n} meta events, over the limit {MAX_META_EVENTS}")
    if n * _EVENT.size > len(raw) - 4:
        raise r.error(FormatError, f"{where}: {len(raw)} bytes cannot hold {n} events")
    events, pos = [], 4
    for i in range(n):
        if pos + _EVENT.size > len(raw):
            raise r.error(FormatError, f"{where}: event {i} is cut")
        time, track, kind, length = _EVENT.unpack_from(raw, pos)
        pos += _EVENT.size + length
        if pos > len(raw):
            raise r.error(FormatError, f"{where}: event {i} declares {length} bytes it does not hold")
        try:
            events.append(MetaEvent(time, kind, raw[pos - length : pos], track))
        except InputError as e:
            raise r.error(FormatError, f"{where}: event {i}: {e}") from None
        if i and events[-1].time < events[-2].time:
            raise r.error(FormatError, f"{where}: event {i} is earlier than the one before")
    if pos != len(raw):
        raise r.error(FormatError, f"{where}: {len(raw) - pos} bytes after the last event")
    return events


def _metrics(c: Container) -> dict | None:
    """The stored metrics: mNOT (binary) or mTRC (JSON); a file holding both is refused."""
    r = Reader(b"", c.name)
    if TAG_MTRC in c.sections and TAG_MNOT in c.sections:
        raise r.error(FormatError, f"sections {TAG_MTRC} and {TAG_MNOT} both hold metrics; a file has one")
    if TAG_MNOT in c.sections:
        return _read_note_metrics(r, c.sections[TAG_MNOT])
    return vqc.read_json(r, c.sections[TAG_MTRC], TAG_MTRC) if TAG_MTRC in c.sections else None


def _write(f: MidiFile, level: int) -> tuple[Header, list[tuple[str, bytes]]]:
    if not isinstance(f.notes, (bytes, bytearray)):
        raise ValueError("a MIDI file holds its NOTE payload as bytes")
    out = [(TAG_NORM, b""), (TAG_BLKS, b""), (TAG_NOTE, bytes(f.notes))]
    if f.events:
        out.append((TAG_EVNT, events_bytes(f.events, level)))
    if f.notes_digest is not None:
        out.append((TAG_DNOT, vqc.digest_payload(f.notes_digest, "notes_digest")))
    if f.metrics is not None:
        if not isinstance(f.metrics, dict):
            raise ValueError("metrics must be a dict")
        compact = _note_metrics_bytes(f.metrics)
        out.append((TAG_MNOT, compact) if compact is not None
                   else (TAG_MTRC, vqc.json_bytes(f.metrics, "metrics", allow_nan=True)))
    return f.header, out


def dumps(f: MidiFile, level: int = vqc.ZSTD_LEVEL) -> bytes:
    """Serialise a MIDI file to .vqc bytes; deterministic. Raises ValueError when `f` is inconsistent."""
    return vqc.dumps(f, level)


def loads(data: bytes | memoryview, name: str = "<bytes>", limits: Limits = DEFAULT_LIMITS,
          salvage: bool = False) -> MidiFile:
    """Parse and verify the bytes of a MIDI .vqc file (salvage has nothing to skip in one: every section counts)."""
    c = vqc.read(data, name, limits)
    r = Reader(b"", name)
    h = c.header
    if h.kind != KIND:
        raise r.error(FormatError, f"a {h.kind} file, not a MIDI performance")
    for tag in (TAG_NORM, TAG_BLKS):
        if tag not in c.sections:
            raise r.error(FormatError, f"missing section {tag}")
        if len(c.sections[tag]):
            raise r.error(FormatError, f"section {tag} of a midi file must be empty")
    if TAG_NOTE not in c.sections:
        raise r.error(FormatError, f"kind {h.kind} and section {TAG_NOTE} disagree (a midi file holds NOTE)")
    foreign = [t for t in c.sections
               if t not in (TAG_NORM, TAG_BLKS, TAG_NOTE, TAG_EVNT, TAG_DNOT, TAG_MNOT, TAG_MTRC)]
    if foreign:
        raise r.error(FormatError, f"kind {h.kind} and section {foreign[0]} disagree (a midi file does not hold it)")
    digest = bytes(c.sections[TAG_DNOT]) if TAG_DNOT in c.sections else None
    events = _read_events(r, c.sections[TAG_EVNT]) if TAG_EVNT in c.sections else []
    return MidiFile(h, bytes(c.sections[TAG_NOTE]), _metrics(c), c.extra, digest, c.bound, events)


def _note_minor(payload: bytes) -> int:
    """The minor a NOTE payload needs: its coding's, and for VQN1 also its pedal stream's."""
    coding = bytes(payload[:4])
    minor = NOTE_CODING_MINORS.get(coding, COMPACT_NOTE_MINOR)
    at = VQ_PEDAL_AT + 4
    if coding == VQ_NOTE_CODING and len(payload) >= at + 4 and struct.unpack_from("<I", payload, VQ_PEDAL_AT)[0]:
        minor = max(minor, NOTE_CODING_MINORS.get(bytes(payload[at : at + 4]), minor))
    return minor


vqc.register_section(SectionType(TAG_NOTE, _note_minor, lambda h, lim: lim.max_section_bytes))
vqc.register_section(SectionType(TAG_MNOT, lambda _: COMPACT_NOTE_MINOR, lambda h, lim: _MNOT_CAP))
vqc.register_section(SectionType(TAG_DNOT, lambda _: NOTES_DIGEST_MINOR, lambda h, lim: vqc.DIGEST_BYTES, exact=True))
vqc.register_section(SectionType(TAG_EVNT, lambda _: EVENTS_MINOR,
                                 lambda h, lim: min(MAX_META_BYTES, lim.max_section_bytes)))
vqc.register_kind(Kind(KIND, 2, MidiFile, loads, _write, _metrics, metric_tags=frozenset({TAG_MTRC, TAG_MNOT})))
