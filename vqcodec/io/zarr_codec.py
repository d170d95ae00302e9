"""A numcodecs codec (id "vqcodec") that stores each Zarr chunk of integer ECG samples as one whole .vqc file;
its neighbour vqcodec/io/zarr3.py wraps it for Zarr format 3.

    codec = numcodecs.get_codec({"id": "vqcodec", "fs": 360, "max_error": 0})   # lossless
    z = zarr.create_array("100.zarr", shape=(650000, 2), chunks=(21600, 2), dtype="int16", zarr_format=2,
                          compressors=codec)

A chunk is `[time, channels]` (or `[time]`) integer ADC samples. `encode` codes it with `vqcodec.compress` as a
record at `fs` Hz (at a quality level, within `max_error` ADC units, or at the cheapest setting with PRDN at most
`max_prdn` %) and returns the .vqc bytes; the chunk's dtype and number of dimensions travel in the file, so a chunk
decodes alone, to the same dtype and shape. Every chunk is a whole file, with its header, CRCs and the model's id:
see docs/ZARR.md for the chunk lengths that pay. Needs the `zarr` extra (numcodecs).
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numcodecs.abc import Codec as NumcodecsCodec
from numcodecs.compat import ensure_bytes, ensure_ndarray_like, ndarray_copy
from numcodecs.registry import register_codec

from vqcodec.api import DEFAULT_MODEL, compress, decode
from vqcodec.coding.residual import MAX_ERROR_LIMIT
from vqcodec.container import format as vqc
from vqcodec.ecg.codec import Codec
from vqcodec.ecg.conditioning import SAMPLE_VALUE_RANGE
from vqcodec.ecg.file import EcgFile
from vqcodec.ecg.signal import FMT_BITS, ChannelInfo, Signal
from vqcodec.errors import FormatError, InputError, ModelNotFoundError
from vqcodec.io.wfdb import DEFAULT_UNITS, UNCALIBRATED_GAIN
from vqcodec.models.bundle import find_by_id

CODEC_ID = "vqcodec"
"""The codec's numcodecs id (and, as "numcodecs.vqcodec", its Zarr format 3 name)."""
CODEC_NAME = f"numcodecs codec {CODEC_ID}"
"""What messages about the codec's settings start with."""
CHUNK_RECORD = "chunk"
"""The record name each chunk's .vqc file stores."""
CHUNK_FMT = "32"
"""The WFDB format each chunk's channels are stored as: wide enough for any integer chunk the codec takes."""
SAMPLE_RANGE = (SAMPLE_VALUE_RANGE[CHUNK_FMT][0] + 1, SAMPLE_VALUE_RANGE[CHUNK_FMT][1])
"""The samples a chunk may hold: CHUNK_FMT's range without its minimum, which WFDB reserves for invalid samples."""
LAYOUT_PREFIX = "vqcodec numcodecs chunk:"
LAYOUT_RE = re.compile(re.escape(LAYOUT_PREFIX) + r" dtype ([<>|=][iu][1248]), ([12])-D")
"""The comment that carries a chunk's dtype and dimensions in its file, e.g. `vqcodec numcodecs chunk: dtype <i2,
2-D`."""


def chunk_name(n_bytes: int) -> str:
    """What messages about one chunk start with: its size and the codec (a codec is never told which chunk)."""
    return f"chunk of {n_bytes} bytes ({CODEC_NAME})"


@dataclass(frozen=True)
class ChunkLayout:
    """A chunk's numpy dtype (as `dtype.str`) and number of dimensions, stored in its file as one comment."""

    dtype: str
    ndim: int

    def comment(self) -> str:
        return f"{LAYOUT_PREFIX} dtype {self.dtype}, {self.ndim}-D"

    @classmethod
    def from_comments(cls, comments: list[str], name: str) -> ChunkLayout:
        """The layout stored in a file's comments; FormatError when the file was not written by this codec."""
        for text in comments:
            m = LAYOUT_RE.fullmatch(text)
            if m:
                return cls(m.group(1), int(m.group(2)))
        raise FormatError(f"{name}: not a chunk written by the {CODEC_NAME} (no dtype comment)")


_LOCK = threading.Lock()
_LOADED: dict[str, Codec] = {}
"""Loaded models by name, alias, bundle path or id: a model is loaded (and its hashes checked) once per process."""
_BY_ID: dict[str, Codec | None] = {}
"""Installed models found by a chunk's model id (None: none installed)."""


def _loaded(model: str) -> Codec:
    with _LOCK:
        if model not in _LOADED:
            _LOADED[model] = Codec.load(model)
        return _LOADED[model]


def _installed(model_id: str) -> Codec | None:
    with _LOCK:
        if model_id not in _BY_ID:
            bundle = find_by_id(model_id)
            _BY_ID[model_id] = None if bundle is None else Codec(bundle)
        return _BY_ID[model_id]


def _optional_int(value: object, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{CODEC_NAME}: {what} must be a whole number, got {value!r}")
    return int(value)


def _positive(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(value) and value > 0):
        raise InputError(f"{CODEC_NAME}: {what} must be a positive number, got {value!r}")
    return float(value)


class VqcCodec(NumcodecsCodec):
    """numcodecs codec: a chunk of integer samples [time, channels] or [time] <-> one .vqc file.

    fs: the samples' rate in Hz (a rate other than the model's is resampled to it and back). quality: a level of
    the model (default: its default level). max_error: every sample within this many ADC units (0: lossless).
    max_prdn: the cheapest setting whose PRDN on the chunk is at most this (%); it goes with neither quality nor
    max_error. model: a model name, alias or bundle folder (default "ecg"); a chunk decodes with it when it reads
    the model id the chunk's file names, else with the installed model of that id. gain: ADC units per mV,
    stored so that what a chunk's file reports (`vqcodec info`) is in mV; the samples do not depend on it.
    """

    codec_id = CODEC_ID

    def __init__(self, fs: float, quality: int | None = None, max_error: int | None = None,
                 max_prdn: float | None = None, model: str | None = None, gain: float = UNCALIBRATED_GAIN) -> None:
        self.fs = _positive(fs, "fs")
        if self.fs > vqc.MAX_FS:
            raise InputError(f"{CODEC_NAME}: fs {fs!r} above the format's {vqc.MAX_FS:g} Hz")
        self.quality = _optional_int(quality, "quality")
        self.max_error = _optional_int(max_error, "max_error")
        if self.max_error is not None and not 0 <= self.max_error <= MAX_ERROR_LIMIT:
            raise InputError(f"{CODEC_NAME}: max_error {self.max_error} outside [0, {MAX_ERROR_LIMIT}]")
        self.max_prdn = None if max_prdn is None else _positive(max_prdn, "max_prdn")
        if self.max_prdn is not None and (self.quality is not None or self.max_error is not None):
            raise InputError(f"{CODEC_NAME}: max_prdn picks the setting itself: it goes with neither quality nor "
                             "max_error")
        if model is not None and not isinstance(model, (str, Path)):
            raise InputError(f"{CODEC_NAME}: model must be a name or a bundle folder, got {model!r}")
        self.model = None if model is None else str(model)
        self.gain = _positive(gain, "gain")

    def get_config(self) -> dict[str, Any]:
        """The settings as JSON values, with the id: `numcodecs.get_codec(config)` makes the same codec."""
        return {"id": CODEC_ID, "fs": self.fs, "quality": self.quality, "max_error": self.max_error,
                "max_prdn": self.max_prdn, "model": self.model, "gain": self.gain}

    @property
    def codec(self) -> Codec:
        """The model this codec writes with, loaded once per process."""
        return _loaded(self.model or DEFAULT_MODEL)

    def encode(self, buf: Any) -> bytes:
        """A chunk of integer samples [time, channels] or [time] -> the bytes of one .vqc file."""
        x = np.asarray(ensure_ndarray_like(buf))
        if x.dtype.kind not in "iu":
            raise InputError(f"{CODEC_NAME}: takes integer ADC samples, got {x.dtype} (round them to the ADC grid "
                             "first)")
        if x.ndim not in (1, 2):
            raise InputError(f"{CODEC_NAME}: takes a chunk [time, channels] or [time], got shape {x.shape}")
        layout = ChunkLayout(x.dtype.str, x.ndim)
        x = x[:, None] if x.ndim == 1 else x
        if x.size == 0:
            raise InputError(f"{CODEC_NAME}: empty chunk of shape {x.shape}")
        lo, hi = SAMPLE_RANGE
        if x.min() < lo or x.max() > hi:
            raise InputError(f"{CODEC_NAME}: chunk samples span {x.min()}..{x.max()}, outside {lo}..{hi}")
        bits = min(8 * x.dtype.itemsize, FMT_BITS[CHUNK_FMT])
        channels = [ChannelInfo(f"ch{c}", DEFAULT_UNITS, self.gain, 0, bits, 0, CHUNK_FMT) for c in range(x.shape[1])]
        signal = Signal(x.astype(np.float64) / self.gain, self.fs, channels, CHUNK_RECORD, [layout.comment()])
        if self.max_prdn is not None:
            return self.codec.compress_to_prdn(signal, self.max_prdn).data
        return compress(signal, self.codec, self.quality, self.max_error)

    def decode(self, buf: Any, out: Any = None) -> Any:
        """The bytes of one chunk's .vqc file -> its samples, in the dtype and shape they were encoded with (into
        `out` when given, which must hold exactly that many bytes). A damaged or foreign chunk raises the VqcError
        that names what is wrong, starting with the chunk's size and this codec."""
        data = ensure_bytes(buf)
        name = chunk_name(len(data))
        parsed = vqc.loads(data, name)
        if not isinstance(parsed, EcgFile):
            raise FormatError(f"{name}: holds a {parsed.header.kind} file, not ECG samples")
        layout = ChunkLayout.from_comments(parsed.meta.comments, name)
        signal = decode(parsed, self._decoder(parsed.header.model_sha256, name), name)
        assert isinstance(signal, Signal)  # an EcgFile decodes to a Signal
        dtype = np.dtype(layout.dtype)
        info = np.iinfo(dtype)
        samples = signal.digital().clip(info.min, info.max).astype(dtype)
        samples = samples.reshape(-1) if layout.ndim == 1 else samples
        if out is not None:
            target = ensure_ndarray_like(out)
            if target.nbytes != samples.nbytes:
                raise InputError(f"{name}: out= holds {target.nbytes} bytes, the chunk {samples.nbytes} "
                                 f"({samples.shape} {dtype})")
        return ndarray_copy(samples, out)

    def _decoder(self, model_id: str, name: str) -> Codec:
        """The model that decodes a chunk: this codec's own when it reads the chunk's model id, else the installed
        one with that id."""
        own = self.codec
        if model_id in own.bundle.compatible_ids:
            return own
        found = _installed(model_id)
        if found is None:
            raise ModelNotFoundError(f"{name}: written by model sha256 {model_id}, which is not installed and "
                                     f"which {own.name} does not read; give the codec that model")
        return found


register_codec(VqcCodec)
