"""midi-vq tokens: a performance as the code indices of vqcodec.midi.vq per window (a fixed-rate discrete
representation, e.g. for training generative models), with what turns them back into notes, in one .npz file.

A tokens file holds the model's name and id, the quality level, the window length, hop and codebook size, the
code indices [windows, stages, window / hop], the pitches and the onset corrections per note, and the pedals as
the level codes them. `detokenize` gives what `decompress` of a .vqc file of the same level gives, meta events
aside (a tokens file keeps none). Its neighbour vqcodec.midi.vq does the coding.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vqcodec.errors import InputError, ModelMismatchError
from vqcodec.midi.performance import Pedal, Performance
from vqcodec.midi.vq import VqCodes, VqLevel, VqNoteCodec

TOKENS_FORMAT = "vqcodec-midi-tokens-1"
"""The `format` entry of a tokens file; another layout gets another name."""
_KEYS = ("format", "model", "model_id", "quality", "window", "hop", "codes", "stages", "onset_bound_ms", "anchor_ms",
         "pedal_levels", "pedal_grid_ms", "indices", "pitch", "corrections", "pedal_controllers", "pedal_counts",
         "pedal_times", "pedal_values")
DEFAULT_VQ_MODEL = "midi-vq"
ZIP_MAGIC = b"PK\x03\x04"
"""How an .npz file (a zip archive) begins."""


@dataclass
class Tokens:
    """One performance as midi-vq tokens (see the module's docstring)."""

    model: str
    model_id: str
    quality: int
    window: int
    hop: int
    codes: int
    level: VqLevel
    indices: np.ndarray  # [windows, stages, window / hop] uint16
    pitch: np.ndarray  # [N] uint8
    corrections: np.ndarray  # [N] int64
    pedals: dict[int, Pedal]

    def to_bytes(self) -> bytes:
        """The .npz file's bytes (deterministic)."""
        controllers = sorted(self.pedals)
        arrays = {
            "format": np.array(TOKENS_FORMAT), "model": np.array(self.model), "model_id": np.array(self.model_id),
            "quality": np.array(self.quality), "window": np.array(self.window), "hop": np.array(self.hop),
            "codes": np.array(self.codes), "stages": np.array(self.level.stages),
            "onset_bound_ms": np.array(self.level.onset_bound_ms), "anchor_ms": np.array(self.level.anchor_ms),
            "pedal_levels": np.array(self.level.pedal_levels), "pedal_grid_ms": np.array(self.level.pedal_grid_ms),
            "indices": self.indices.astype(np.uint16),
            "pitch": self.pitch.astype(np.uint8), "corrections": self.corrections.astype(np.int64),
            "pedal_controllers": np.array(controllers, np.uint8),
            "pedal_counts": np.array([len(self.pedals[c]) for c in controllers], np.int64),
            "pedal_times": np.concatenate([self.pedals[c].time for c in controllers] or [np.zeros(0)]),
            "pedal_values": np.concatenate([self.pedals[c].value for c in controllers] or [np.zeros(0, np.uint8)]),
        }
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for key in _KEYS:
                entry = io.BytesIO()
                np.lib.format.write_array(entry, np.asarray(arrays[key]), allow_pickle=False)
                info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                z.writestr(info, entry.getvalue(), zipfile.ZIP_DEFLATED)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "<tokens>") -> Tokens:
        """Parse a tokens file; InputError naming it for anything that is not one (one line)."""
        if not bytes(data[:4]) == ZIP_MAGIC:
            raise InputError(f"{name}: not a midi-vq tokens file (not an .npz archive)")
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                missing = [k for k in _KEYS if k not in z.files]
                if "format" in z.files and str(z["format"]) != TOKENS_FORMAT:
                    raise InputError(f"{name}: not a midi-vq tokens file (format {str(z['format'])!r})")
                if missing:
                    raise InputError(f"{name}: not a midi-vq tokens file (missing {', '.join(missing)})")
                a = {k: z[k] for k in _KEYS}
        except InputError:
            raise
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
            raise InputError(f"{name}: not a midi-vq tokens file (.npz): {e}") from None
        try:
            level = VqLevel(int(a["stages"]), int(a["onset_bound_ms"]), int(a["anchor_ms"]), int(a["pedal_levels"]),
                            int(a["pedal_grid_ms"]))
            counts = a["pedal_counts"].astype(np.int64)
            ends = np.cumsum(counts)
            if ends[-1:].sum() != len(a["pedal_times"]) or len(a["pedal_times"]) != len(a["pedal_values"]) \
                    or len(counts) != len(a["pedal_controllers"]) or np.any(counts < 0):
                raise ValueError("pedal arrays disagree")
            pedals = {int(c): Pedal(a["pedal_times"][e - n : e], a["pedal_values"][e - n : e])
                      for c, n, e in zip(a["pedal_controllers"].tolist(), counts.tolist(), ends.tolist())}
            tokens = cls(str(a["model"]), str(a["model_id"]), int(a["quality"]), int(a["window"]), int(a["hop"]),
                         int(a["codes"]), level, a["indices"].astype(np.uint16), a["pitch"].astype(np.int64),
                         a["corrections"].astype(np.int64), pedals)
        except (ValueError, TypeError, InputError) as e:
            raise InputError(f"{name}: a damaged midi-vq tokens file ({e})") from None
        n, nw = len(tokens.pitch), tokens.indices.shape[0] if tokens.indices.ndim == 3 else -1
        if tokens.indices.ndim != 3 or len(tokens.corrections) != n or nw != -(-n // max(tokens.window, 1)) \
                or np.any(tokens.pitch > 127):
            raise InputError(f"{name}: a damaged midi-vq tokens file (indices, pitches and corrections disagree)")
        return tokens


def tokens(perf: Performance, model: str | Path | VqNoteCodec = DEFAULT_VQ_MODEL,
           quality: int | None = None, name: str = "performance") -> Tokens:
    """A performance's midi-vq tokens at a quality level (the model's default when None)."""
    from vqcodec.midi import coder as notecoder
    from vqcodec.midi import vq

    codec = model if isinstance(model, VqNoteCodec) else vq.load(model)
    if not isinstance(perf, Performance):
        raise InputError(f"{name}: tokens are made of a Performance, not {type(perf).__name__}")
    quality = codec.check_quality(quality, name)
    codes = codec.codes(perf, quality)
    s = codes.level.pedal_setting
    gaps, depth = notecoder.quantise_pedals(perf, s)
    empty = np.zeros(0, np.int64)
    pedals = notecoder.rebuild(notecoder.Symbols(empty, empty, empty, empty, gaps, depth), s).pedals
    return Tokens(codec.name, codec.model_id, quality, codec.model.window, codec.model.hop, codec.model.n_codes,
                  codes.level, codes.indices, codes.pitch, codes.corrections, pedals)


def detokenize(tok: Tokens, model: str | Path | VqNoteCodec | None = None, name: str = "<tokens>") -> Performance:
    """Tokens -> the performance they stand for (the model the tokens name, from the installed ones, by default)."""
    from vqcodec.midi import vq

    codec = model if isinstance(model, VqNoteCodec) else vq.load(model or tok.model)
    if tok.model_id not in codec.bundle.compatible_ids:
        raise ModelMismatchError(f"{name}: tokens of model {tok.model} sha256 {tok.model_id}, but the model given is "
                                 f"{codec.name} sha256 {codec.model_id}")
    if tok.level not in codec.levels or codec.levels.index(tok.level) + 1 != tok.quality:
        raise InputError(f"{name}: level {tok.level} is not quality {tok.quality} of model {codec.name}")
    m = codec.model
    if (tok.window, tok.hop, tok.codes) != (m.window, m.hop, m.n_codes) or tok.indices.shape[1:] != \
            (tok.level.stages, m.frames) or (tok.indices.size and int(tok.indices.max()) >= m.n_codes):
        raise InputError(f"{name}: tokens of shape {tok.indices.shape} do not fit model {codec.name}")
    return codec.rebuild(VqCodes(tok.pitch, tok.indices, tok.corrections, tok.level), dict(tok.pedals))
