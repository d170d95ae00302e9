"""NoteCodec: piano performances <-> .vqc files (kind midi), with a MIDI bundle's quality ladder and priors.

The counterpart of `vqcodec.ecg.codec.Codec` for notes: it picks a quality level, has `vqcodec.midi.coder` code the
note table into the NOTE section, measures what was lost against the input, and stores that in the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vqcodec.container import format as vqc
from vqcodec.midi import coder as notecoder
from vqcodec.midi import choice as noterdo
from vqcodec.models.bundle import NoteBundle, load_note_bundle
from vqcodec.errors import FormatError, InputError, ModelMismatchError, ModelNotFoundError
from vqcodec.metrics import NoteReport, compare_notes
from vqcodec.midi.performance import Performance

HEADER_CODEBOOK = 2
"""The container's smallest codebook size: a MIDI file holds no code indices, so unused fields take their minimum."""
STORED_METRICS = (*vqc.NOTE_METRICS, vqc.PEDAL_METRIC)
"""What a file keeps of its NoteReport for `vqcodec info`: the headline losses only, as float32 in section mNOT,
since on a piece of a few thousand notes every 100 bytes cost some 0.3 bits/note (the bench and the CLI report
the rest)."""
STORED_DIGITS = 4


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
    def load(cls, model: str | Path = "midi") -> NoteCodec:
        return cls(load_note_bundle(model))

    def check_quality(self, quality: int | None, name: str) -> int:
        """The level to use (the default when None); InputError naming `name` when the ladder has no such level."""
        quality = self.default_quality if quality is None else quality
        if not 1 <= quality <= self.n_levels:
            raise InputError(f"{name}: --quality must be one of 1..{self.n_levels}, got {quality}")
        return quality

    def setting(self, quality: int) -> notecoder.NoteSetting:
        level = self.bundle.level(quality)
        return notecoder.NoteSetting(level["grid_ms"], level["velocity_step"], level["duration_milli"])

    def compress(self, perf: Performance, quality: int | None = None, original_bytes: int | None = None,
                 name: str = "performance") -> tuple[bytes, NoteReport]:
        """Performance -> (.vqc bytes, what was lost and what it cost, measured on the decoded file)."""
        quality = self.check_quality(quality, name)
        s = self.setting(quality)
        priors = self.bundle.priors(quality)
        payload = notecoder.encode(noterdo.choose(perf, s, priors), s, priors)
        meta = {"model": self.name, "quality": quality, "record": name, "duration_s": round(perf.end, 3)}
        header = vqc.Header(kind="midi", fs=1000 / s.grid_ms, n_channels=0, n_samples=len(perf), n_frames=0,
                            hop=1, block_frames=1, n_stages=0, codebook_size=HEADER_CODEBOOK,
                            model_sha256=self.model_id, meta=meta)
        f = vqc.VqcFile(header=header, blocks=[], norm=np.zeros((0, 0, 2), np.float32), notes=payload)
        decoded = self.decode_file(vqc.loads(vqc.dumps(f), name), name)
        report = compare_notes(perf, decoded, 0, original_bytes)
        full = report.to_dict()
        f.metrics = {k: _significant(full[k]) for k in STORED_METRICS}
        data = vqc.dumps(f)
        report.n_bytes = len(data)  # the file as written, metrics included
        return data, report

    def decode_file(self, f: vqc.VqcFile, name: str = "<bytes>") -> Performance:
        """A parsed midi .vqc file -> Performance (notes sorted by onset, pedals as on/off transitions)."""
        h = f.header
        if h.kind != "midi" or f.notes is None:
            raise ModelMismatchError(f"{name}: a {h.kind} file, and {self.name} is a MIDI model")
        if h.model_sha256 not in self.bundle.compatible_ids:
            raise ModelMismatchError(f"{name}: written by model {h.meta.get('model')} sha256 {h.model_sha256}, "
                                     f"but the model given is {self.name} sha256 {self.model_id}")
        setting, _ = notecoder.setting_of(f.notes, name)
        quality = next((q for q in range(1, self.n_levels + 1) if self.setting(q) == setting), None)
        if quality is None:
            raise FormatError(f"{name}: note setting {setting} is not a level of model {self.name}")
        sym, _ = notecoder.decode(f.notes, h.n_samples, self.bundle.priors(quality), name)
        return notecoder.rebuild(sym, setting)


def _significant(value: object) -> object:
    """Floats (also inside a dict) to STORED_DIGITS significant digits."""
    if isinstance(value, dict):
        return {k: _significant(v) for k, v in value.items()}
    return float(f"{value:.{STORED_DIGITS}g}") if isinstance(value, float) else value


def note_codec_for(h: vqc.Header, model: str | Path | NoteCodec | None, name: str) -> NoteCodec:
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
    raise ModelNotFoundError(f"{name}: written by model {h.meta.get('model')} sha256 {h.model_sha256}, "
                             "which is not installed (give its bundle folder with --model)")
