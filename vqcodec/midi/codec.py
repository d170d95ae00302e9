"""NoteCodec: piano performances <-> .vqc files (kind midi), with a MIDI bundle's quality ladder and priors.

The counterpart of `vqcodec.ecg.codec.Codec` for notes: it picks a quality level, has `vqcodec.midi.coder` code the
note table into the NOTE section (pedal depth on `pedal_levels` levels), keeps the meta events exactly (eVNT),
measures what was lost against the input, and stores that in the file.
"""

from __future__ import annotations

from pathlib import Path

from vqcodec.container.format import DEFAULT_LIMITS, ZSTD_LEVEL, Header, Limits
from vqcodec.errors import BundleError, ChecksumError, FormatError, InputError, ModelMismatchError, ModelNotFoundError
from vqcodec.metrics import Compressed, compare_notes
from vqcodec.midi import choice as noterdo
from vqcodec.midi import coder as notecoder
from vqcodec.midi import file as midi_file
from vqcodec.midi.file import STORED_METRICS, MidiFile, MidiMeta
from vqcodec.midi.performance import Performance
from vqcodec.models.bundle import NoteBundle, load_note_bundle

PEDAL_BIN_VELOCITY_STEPS = 2
"""Below the top level a pedal's depth gets levels of about this many velocity steps each: the even level count
nearest 128 / (2 · velocity_step). At the default level (velocity step 10) that is 6, what was chosen on the asap
val pieces: from 2 levels (on/off) to 4, 6 and 8 levels the pedal-depth error fell from 16.1 to 4.3, 2.7 and 2.1
(CC64, MIDI units) for 1.3, 2.1 and 2.7 bits/note more; beyond 6 a bit/note bought less than one unit, and at 6
the error is close to the level's velocity error. The top level keeps all 128 values (`MAX_PEDAL_LEVELS`)."""
STORED_DIGITS = 4
"""Significant digits of the stored metrics (STORED_METRICS, the headline losses only: on a piece of a few
thousand notes every 100 bytes cost some 0.3 bits/note; the bench and the CLI report the rest)."""


class NoteCodec:
    """A loaded MIDI bundle: compress a Performance to .vqc bytes and decode them back."""

    def __init__(self, bundle: NoteBundle) -> None:
        self.bundle = bundle
        self.name = bundle.name
        self.model_id = bundle.model_id
        self.default_quality = int(bundle.manifest["default_quality"])
        self.n_levels = len(bundle.manifest["levels"])
        self.kind = "midi"

    @classmethod
    def load(cls, model: str | Path = "midi", threads: int | None = None) -> NoteCodec:
        """Load a MIDI bundle by name, alias or path (hashes verified). threads: as in Codec.load, so both load
        alike; the note coder runs no model and takes no threads."""
        bundle = load_note_bundle(model)
        if bundle.manifest.get("coder") is not None:  # a bundle of midi-vq levels (vqcodec.midi.vq)
            from vqcodec.midi.vq import VQ_CODER, VqNoteCodec

            if bundle.manifest["coder"] != VQ_CODER:
                raise BundleError(f"{bundle.path}: MIDI coder {bundle.manifest['coder']!r} is not one this version "
                                  "knows")
            return VqNoteCodec(bundle, threads)
        return cls(bundle)

    @property
    def qualities(self) -> list[int]:
        """The quality levels this model offers, 1 (coarsest) first."""
        return list(range(1, self.n_levels + 1))

    def check_quality(self, quality: int | None, name: str) -> int:
        """The level to use (the default when None); InputError naming `name` when the ladder has no such level."""
        quality = self.default_quality if quality is None else quality
        if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= self.n_levels:
            raise InputError(f"{name}: --quality must be one of 1..{self.n_levels}, got {quality}")
        return quality

    def setting(self, quality: int) -> notecoder.NoteSetting:
        level = self.bundle.level(quality)
        return notecoder.NoteSetting(level["grid_ms"], level["velocity_step"], level["duration_milli"],
                                     self.pedal_levels(quality))

    def pedal_levels(self, quality: int) -> int:
        """The pedal levels the encoder writes at a quality level (PEDAL_BIN_VELOCITY_STEPS); a decoder reads them
        from the file."""
        if quality == self.n_levels:
            return notecoder.MAX_PEDAL_LEVELS
        step = self.bundle.level(quality)["velocity_step"]
        nearest = 2 * round(notecoder.MAX_PEDAL_LEVELS / (2 * PEDAL_BIN_VELOCITY_STEPS * step))
        return min(max(nearest, notecoder.PEDAL_ON_OFF), notecoder.MAX_PEDAL_LEVELS)

    def _checked(self, perf: object, quality: int | None, max_error: int | None, name: str | None) -> tuple[str, int]:
        """compress's arguments checked: the name to use and the quality level, or InputError."""
        name = "performance" if name is None else name
        if not isinstance(perf, Performance):
            raise InputError(f"{name}: model {self.name} codes Performances, not {type(perf).__name__}")
        if max_error is not None:
            raise InputError(f"{name}: max_error bounds ECG samples; a MIDI model's bounds are its quality levels")
        return name, self.check_quality(quality, name)

    def compress(self, perf: Performance, quality: int | None = None, original_bytes: int | None = None,
                 level: int = ZSTD_LEVEL, max_error: int | None = None, *, name: str | None = None) -> Compressed:
        """Performance -> Compressed(.vqc bytes, NoteReport of what was lost and what it cost, measured on the
        decoded file). The parameters are Codec.compress's: max_error must be None (a MIDI model's bounds are its
        quality levels); name: the piece's name stored and used in messages (default "performance")."""
        name, quality = self._checked(perf, quality, max_error, name)
        s = self.setting(quality)
        priors = self.bundle.priors(quality)
        sym = noterdo.choose(perf, s, priors)
        pays = notecoder.pedal_coding_pays(sym, s, priors)  # NC07 (NC08) where their pedal coding pays
        payload = notecoder.encode(sym, s, priors, notecoder.pedal_coded(notecoder.NOTE_CODING, pays))
        if quality == self.bundle.prior_quality:  # NC06 where it pays
            neural = notecoder.encode(sym, s, priors, notecoder.pedal_coded(notecoder.NC06, pays), self.bundle.prior())
            payload = neural if len(neural) < len(payload) else payload
        meta = MidiMeta(model=self.name, quality=quality, record=name, duration_s=round(perf.end, 3))
        f = MidiFile(MidiFile.header_for(meta, 1000 / s.grid_ms, len(perf), self.model_id), payload,
                     events=list(perf.meta))
        return self._stored(f, perf, name, level, original_bytes)

    def _stored(self, f: MidiFile, perf: Performance, name: str, level: int,
                original_bytes: int | None) -> Compressed:
        """compress's last step: decode the file f as written, measure what it lost against perf, store that
        (metrics and the decoded notes' digest) in f, and return its bytes with the report."""
        try:
            decoded = self.decode_file(midi_file.loads(midi_file.dumps(f, level), name), name)
        except ValueError as e:  # what the format cannot hold (a FormatError is a ValueError too)
            raise InputError(f"{name}: cannot be stored: {e}") from e
        report = compare_notes(perf, decoded, 0, original_bytes)
        full = report.to_dict()
        f.metrics = {k: _significant(full[k]) for k in STORED_METRICS}
        f.notes_digest = midi_file.notes_digest(decoded)
        data = midi_file.dumps(f, level)
        report.n_bytes = len(data)  # the file as written, metrics included
        return Compressed(data, report)

    def decompress(self, data: bytes | bytearray | memoryview, name: str | None = None, *,
                   limits: Limits = DEFAULT_LIMITS, start: int | None = None, stop: int | None = None) -> Performance:
        """.vqc bytes -> Performance, as Codec.decompress: the file must name this model (sha256, or one it lists
        as compatible). name: the file's name in error messages (default "<bytes>"); limits: caps on what the
        file may declare. start and stop (a sample range) are for ECG records: an InputError here."""
        name = "<bytes>" if name is None else name
        if start is not None or stop is not None:
            raise InputError(f"{name}: a sample range is for ECG records, not performances")
        if isinstance(data, bytearray):
            data = bytes(data)
        if not isinstance(data, (bytes, memoryview)):
            raise InputError(f"{name}: expected .vqc bytes, got {type(data).__name__}")
        return self.decode_file(midi_file.loads(data, name, limits), name)

    def _check_model(self, f: MidiFile, name: str) -> Header:
        """f's header, once f is a midi file this model wrote (or one it lists as compatible); else
        ModelMismatchError."""
        h = f.header
        if not isinstance(f, MidiFile):
            raise ModelMismatchError(f"{name}: a {h.kind} file, and {self.name} is a MIDI model")
        if h.model_sha256 not in self.bundle.compatible_ids:
            raise ModelMismatchError(f"{name}: written by model {f.meta.model} sha256 {h.model_sha256}, "
                                     f"but the model given is {self.name} sha256 {self.model_id}")
        return h

    def decode_file(self, f: MidiFile, name: str = "<bytes>") -> Performance:
        """A parsed midi .vqc file -> Performance (notes sorted by onset, pedals as changes of level: on/off in a
        file written before format 1.9; the meta events the file keeps)."""
        h = self._check_model(f, name)
        setting, _ = notecoder.setting_of(f.notes, name)
        quality = next((q for q in range(1, self.n_levels + 1) if self.setting(q).grids == setting.grids), None)
        if quality is None:
            raise FormatError(f"{name}: note setting {setting} is not a level of model {self.name}")
        if h.model_sha256 == self.model_id and (f.meta.quality, h.fs) != (quality, 1000 / setting.grid_ms):
            raise FormatError(f"{name}: the header promises quality {f.meta.quality} at {h.fs:g} Hz, and the notes "
                              f"are coded at quality {quality} ({setting.grid_ms:g} ms grid)")
        net = self.bundle.prior() if f.notes[:4] in notecoder.NEURAL_CODINGS else None
        sym, _ = notecoder.decode(f.notes, h.n_samples, self.bundle.priors(quality), name, net)
        perf = notecoder.rebuild(sym, setting)
        if f.notes_digest is not None and midi_file.notes_digest(perf) != f.notes_digest:
            raise ChecksumError(f"{name}: the decoded notes do not match the file's digest of them (dNOT)")
        perf.meta = list(f.events)  # MetaEvents the file's reader checked, in time order
        return perf


def _significant(value: object) -> object:
    """Floats (also inside a dict) to STORED_DIGITS significant digits."""
    if isinstance(value, dict):
        return {k: _significant(v) for k, v in value.items()}
    return float(f"{value:.{STORED_DIGITS}g}") if isinstance(value, float) else value


def note_codec_for(h: Header, model: str | Path | NoteCodec | None, name: str) -> NoteCodec:
    """The codec that decodes a midi file: the one given, else the installed bundle whose id the file names."""
    if isinstance(model, NoteCodec):
        return model
    if model is not None:
        return NoteCodec.load(model)
    from vqcodec.models.bundle import installed_models, kind_of, shipped_root

    for bundle_name in installed_models():
        if kind_of(shipped_root() / bundle_name) == "midi":
            codec = NoteCodec.load(shipped_root() / bundle_name)
            if h.model_sha256 in codec.bundle.compatible_ids:
                return codec
    raise ModelNotFoundError(f"{name}: written by model {MidiMeta.from_json(h.meta).model} sha256 {h.model_sha256}, "
                             "which is not installed (give its bundle folder with --model)")
