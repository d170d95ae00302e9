"""Baseline codecs for `vqcodec bench`: zstd, FLAC, SZ3 and a wavelet coder behind one tiny interface.

Each one codes a record's integer ADC samples [T, C] into self-describing bytes and back, through its real
library. Every byte a decoder needs is counted: a shared header (shape and part lengths) plus what each codec
adds (the wavelet step). Lossy decoders return real-valued ADC samples; the caller rounds them to the grid.
FLAC, SZ3 and the wavelet coder are the optional `[bench]` extra: asking for one that is not installed
raises MissingBaseline, which names the package to install.
"""

from __future__ import annotations

import importlib
import io
import struct
from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import zstandard

from vqcodec.errors import FormatError, VqcError

HEADER = struct.Struct("<IHH")
"""Samples per channel, channels, number of parts that follow."""
PART_LENGTH = struct.Struct("<I")
"""Byte length of one part (a zstd frame, a FLAC file, an SZ3 stream)."""
STEP = struct.Struct("<d")
"""The wavelet coder's quantisation step, in ADC units."""
INT16_MIN, INT16_MAX = -32768, 32767
INSTALL_HINT = "pip install 'vqcodec[bench]'"

ZSTD_LEVELS = (3, 19)
FLAC_MAX_CHANNELS = 8
"""libsndfile's FLAC writer takes at most 8 channels; wider records are coded in groups of 8."""
FLAC_SUBTYPE = "PCM_16"
FLAC_COMPRESSION_LEVEL = 1.0
"""soundfile's 0..1 scale: 1.0 is FLAC level 8, the strongest (libsndfile's default is level 5)."""
SZ3_BOUNDS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
"""Absolute error bounds swept for SZ3, in ADC units (1 adu = 5 uV on MIT-BIH)."""
WAVELET = "bior4.4"
WAVELET_LEVELS = 6
WAVELET_MODE = "periodization"
"""Non-expansive boundary handling: as many coefficients as samples."""
WAVELET_STEPS = (2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)
"""Uniform quantisation steps swept for the wavelet coder, in ADC units (one step for every band)."""
WAVELET_ZSTD_LEVEL = 19
COEFF_DTYPES: tuple[np.dtype, ...] = (np.dtype("<i2"), np.dtype("<i4"))
"""Integer types for quantised coefficients, narrowest first; the header names the one used by its index."""
COEFF_DTYPE = struct.Struct("<B")

FAMILIES = ("zstd", "flac", "sz3", "wavelet")
"""Baseline families in table order (the names `--methods` takes)."""
PACKAGES = {"flac": ("soundfile", "soundfile"), "sz3": ("pysz", "pysz"), "wavelet": ("pywt", "PyWavelets")}
"""Family -> (module to import, package to install)."""


class MissingBaseline(VqcError):
    """A baseline's optional library is not installed."""


class Unsupported(VqcError):
    """A record this baseline cannot code (samples wider than it takes)."""


def require(family: str) -> ModuleType:
    """Import the library a baseline family needs, or raise MissingBaseline naming the package."""
    module, package = PACKAGES[family]
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingBaseline(f"{family}: needs {package}, which is not installed ({INSTALL_HINT})") from e


def pack(n_samples: int, n_channels: int, parts: list[bytes], extra: bytes = b"") -> bytes:
    """Header + part lengths + codec parameters + parts."""
    lengths = b"".join(PART_LENGTH.pack(len(p)) for p in parts)
    return HEADER.pack(n_samples, n_channels, len(parts)) + lengths + extra + b"".join(parts)


def unpack(data: bytes, extra_size: int = 0) -> tuple[int, int, bytes, list[bytes]]:
    """Inverse of pack: (n_samples, n_channels, extra, parts); FormatError when the sizes disagree."""
    if len(data) < HEADER.size:
        raise FormatError("baseline stream shorter than its header")
    n, c, k = HEADER.unpack_from(data)
    pos = HEADER.size + k * PART_LENGTH.size
    if len(data) < pos + extra_size:
        raise FormatError("baseline stream shorter than its part table")
    lengths = [PART_LENGTH.unpack_from(data, HEADER.size + i * PART_LENGTH.size)[0] for i in range(k)]
    extra, pos = data[pos : pos + extra_size], pos + extra_size
    if pos + sum(lengths) != len(data):
        raise FormatError("baseline stream length disagrees with its header")
    parts = []
    for length in lengths:
        parts.append(data[pos : pos + length])
        pos += length
    return n, c, extra, parts


def as_int16(digital: np.ndarray, name: str) -> np.ndarray:
    """[T, C] integer ADC samples as int16; Unsupported when they do not fit."""
    if digital.size and (digital.min() < INT16_MIN or digital.max() > INT16_MAX):
        raise Unsupported(f"{name} codes 16-bit samples; these span {digital.min()}..{digital.max()}")
    return digital.astype(np.int16)


class Baseline(ABC):
    """One codec at one setting: ADC samples [T, C] int64 <-> bytes."""

    family: str
    label: str
    lossless: bool

    @property
    @abstractmethod
    def setting(self) -> str:
        """The setting as shown in tables ('-19 diff', 'eb=4')."""

    @property
    def name(self) -> str:
        """'SZ3 eb=4', 'zstd -19 diff', 'FLAC'."""
        return f"{self.label} {self.setting}".strip()

    @abstractmethod
    def encode(self, digital: np.ndarray, fs: float) -> bytes:
        """[T, C] int64 ADC samples -> bytes."""

    @abstractmethod
    def decode(self, data: bytes) -> np.ndarray:
        """bytes -> [T, C] ADC samples (exact integers when lossless, float64 otherwise)."""


@dataclass
class Zstd(Baseline):
    """python-zstandard on planar little-endian int16 samples, or on their first differences (wrapping)."""

    level: int
    diff: bool = False
    family = "zstd"
    label = "zstd"
    lossless = True

    @property
    def setting(self) -> str:
        return f"-{self.level}" + (" diff" if self.diff else "")

    def encode(self, digital: np.ndarray, fs: float) -> bytes:
        planar = as_int16(digital, "zstd").T
        if self.diff:
            # int16 arithmetic wraps, and the cumulative sum in decode unwraps it exactly
            planar = np.diff(planar, axis=1, prepend=np.zeros((planar.shape[0], 1), np.int16))
        frame = zstandard.ZstdCompressor(level=self.level).compress(planar.astype("<i2").tobytes())
        return pack(digital.shape[0], digital.shape[1], [frame])

    def decode(self, data: bytes) -> np.ndarray:
        n, c, _, (frame,) = unpack(data)
        planar = np.frombuffer(zstandard.ZstdDecompressor().decompress(frame, max_output_size=2 * n * c), "<i2")
        planar = planar.reshape(c, n)
        if self.diff:
            planar = np.cumsum(planar, axis=1, dtype=np.int16)
        return planar.T.astype(np.int64)


@dataclass
class Flac(Baseline):
    """FLAC -8 through soundfile (libsndfile), all channels of a record in one PCM_16 stream."""

    family = "flac"
    label = "FLAC"
    lossless = True

    def __post_init__(self) -> None:
        self._sf = require(self.family)

    @property
    def setting(self) -> str:
        return "-8"

    def encode(self, digital: np.ndarray, fs: float) -> bytes:
        x = as_int16(digital, "FLAC")
        parts = []
        for start in range(0, x.shape[1], FLAC_MAX_CHANNELS):
            buf = io.BytesIO()
            self._sf.write(buf, x[:, start : start + FLAC_MAX_CHANNELS], max(1, round(fs)), format="FLAC",
                           subtype=FLAC_SUBTYPE, compression_level=FLAC_COMPRESSION_LEVEL)
            parts.append(buf.getvalue())
        return pack(x.shape[0], x.shape[1], parts)

    def decode(self, data: bytes) -> np.ndarray:
        n, c, _, parts = unpack(data)
        groups = [self._sf.read(io.BytesIO(p), dtype="int16", always_2d=True)[0] for p in parts]
        out = np.concatenate(groups, axis=1) if groups else np.zeros((n, c), np.int16)
        return out.astype(np.int64)


@dataclass
class Sz3(Baseline):
    """SZ3 (pysz) with an absolute error bound in ADC units, one float64 stream per channel."""

    bound: float
    family = "sz3"
    label = "SZ3"
    lossless = False

    def __post_init__(self) -> None:
        self._pysz = require(self.family)

    @property
    def setting(self) -> str:
        return f"eb={self.bound:g}"

    def encode(self, digital: np.ndarray, fs: float) -> bytes:
        parts = []
        for ch in range(digital.shape[1]):
            config = self._pysz.szConfig()
            config.errorBoundMode = self._pysz.szErrorBoundMode.ABS
            config.absErrorBound = float(self.bound)
            stream, _ = self._pysz.sz.compress(np.ascontiguousarray(digital[:, ch], dtype=np.float64), config)
            parts.append(stream.tobytes())
        return pack(digital.shape[0], digital.shape[1], parts)

    def decode(self, data: bytes) -> np.ndarray:
        n, c, _, parts = unpack(data)
        out = np.zeros((n, c))
        for ch, part in enumerate(parts):
            out[:, ch], _ = self._pysz.sz.decompress(np.frombuffer(part, np.uint8), np.float64, (n,))
        return out


@dataclass
class Wavelet(Baseline):
    """bior4.4 DWT (6 levels, fewer on short signals), one uniform step for all bands, zstd -19 on the integers.

    The quantised coefficients of every channel are stored in the narrowest integer type that holds them.
    """

    step: float
    family = "wavelet"
    label = "wavelet"
    lossless = False

    def __post_init__(self) -> None:
        self._pywt = require(self.family)

    @property
    def setting(self) -> str:
        return f"step={self.step:g}"

    def _levels(self, n: int) -> int:
        return min(WAVELET_LEVELS, self._pywt.dwt_max_level(n, WAVELET))

    def encode(self, digital: np.ndarray, fs: float) -> bytes:
        n = digital.shape[0]
        q = np.concatenate([
            np.rint(band / self.step)
            for ch in range(digital.shape[1])
            for band in self._pywt.wavedec(digital[:, ch].astype(np.float64), WAVELET, mode=WAVELET_MODE,
                                           level=self._levels(n))
        ])
        kind = next(i for i, dt in enumerate(COEFF_DTYPES)
                    if np.iinfo(dt).min <= q.min() and q.max() <= np.iinfo(dt).max)
        frame = zstandard.ZstdCompressor(level=WAVELET_ZSTD_LEVEL).compress(q.astype(COEFF_DTYPES[kind]).tobytes())
        return pack(n, digital.shape[1], [frame], STEP.pack(self.step) + COEFF_DTYPE.pack(kind))

    def decode(self, data: bytes) -> np.ndarray:
        n, c, extra, (frame,) = unpack(data, STEP.size + COEFF_DTYPE.size)
        (step,), (kind,) = STEP.unpack_from(extra), COEFF_DTYPE.unpack_from(extra, STEP.size)
        dtype = COEFF_DTYPES[kind]
        q = np.frombuffer(zstandard.ZstdDecompressor().decompress(frame, max_output_size=dtype.itemsize * n * c),
                          dtype).astype(np.float64) * step
        shapes = self._pywt.wavedecn_shapes((n,), WAVELET, mode=WAVELET_MODE, level=self._levels(n))
        sizes = [shapes[0][0]] + [s["d"][0] for s in shapes[1:]]
        out = np.zeros((n, c))
        for ch, coeffs in enumerate(np.split(q, c)):
            bands = np.split(coeffs, np.cumsum(sizes)[:-1])
            out[:, ch] = self._pywt.waverec(bands, WAVELET, mode=WAVELET_MODE)[:n]
        return out


def make(family: str) -> list[Baseline]:
    """Every setting of one family, in sweep order; MissingBaseline when its library is absent."""
    if family == "zstd":
        return [Zstd(level, diff) for diff in (False, True) for level in ZSTD_LEVELS]
    if family == "flac":
        return [Flac()]
    if family == "sz3":
        return [Sz3(bound) for bound in SZ3_BOUNDS]
    if family == "wavelet":
        return [Wavelet(step) for step in WAVELET_STEPS]
    raise ValueError(f"unknown baseline {family!r} (choose from {', '.join(FAMILIES)})")
