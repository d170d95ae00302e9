"""The ECG payload of a .vqc file: its typed header metadata and its sections, to and from the container.

`vqcodec.container.format` walks and checks the bytes; this module says what an ECG file's sections hold (NORM,
NANM, IDXC, BLKS, RESD and, block by block, RESB, fPRT, dSIG, mTRC, the signals coded without the model: AUXS, or
block by block AUXB, and the record's own files kept verbatim: aNNO, wHEA, eDFH, eDFA), which minor version each
needs, and checks them.
`vqcodec.ecg.codec` turns signals into an `EcgFile` and back.
"""

from __future__ import annotations

import hashlib
import math
import re
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import zstandard

from vqcodec.coding import entropy, residual
from vqcodec.container import bitpack
from vqcodec.container import format as vqc
from vqcodec.container.format import (
    BASE_MINOR,
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
from vqcodec.ecg.signal import ChannelInfo
from vqcodec.errors import ChecksumError, FormatError, LimitError

KIND = "ecg"
TAG_NANM, TAG_IDXC, TAG_RESD, TAG_FPRT, TAG_DSIG = "NANM", "IDXC", "RESD", "fPRT", "dSIG"
"""An ECG file's own sections; NORM (normalisation statistics) and BLKS (index blocks) are the two every file holds."""
TAG_ANNO, TAG_WHEA = "aNNO", "wHEA"
"""The record's own files, kept verbatim: its annotation files (aNNO) and, in a lossless file, its WFDB header text
(wHEA). Ancillary: a reader before 1.9 skips them and decodes the signal as before."""
TAG_AUXS = "AUXS"
"""The record's auxiliary signals (channels the model is not for, each at its own rate), coded by the residual layer
alone. Critical: a reader before 1.10 refuses the file ("unsupported feature AUXS") rather than decode it without
them."""
TAG_EDFH, TAG_EDFA = "eDFH", "eDFA"
"""An EDF or BDF file's own bytes, kept verbatim: its header (eDFH: 256 bytes plus 256 per signal) and the raw
bytes of its annotation signals (eDFA: "EDF Annotations", every data record's share one after another).
Ancillary: a reader before 1.10 would skip them and decode the signals as before (it refuses AUXS first, if
present)."""
TAG_RESB = "RESB"
"""The residual layer coded block by block (RESIDUAL_BLOCK_SAMPLES samples each, every block on its own), so that
a coder holds one block at a time whatever the record's length. Critical: a reader before 1.11 refuses the file
("unsupported feature RESB") rather than decode it without its residual layer."""
TAG_AUXB = "AUXB"
"""The aux signals coded block by block (each signal cut into blocks of the header's `aux_block` samples at its own
rate, every block on its own), so that a coder holds one block at a time and a time range decodes only the blocks it
needs. Critical: a reader before 1.14 refuses the file ("unsupported feature AUXB") rather than decode it without
them."""
SECTION_ORDER = (TAG_NORM, TAG_NANM, TAG_IDXC, TAG_BLKS, TAG_RESD, TAG_RESB, TAG_FPRT, TAG_DSIG, TAG_MTRC,
                 TAG_ANNO, TAG_WHEA, TAG_AUXS, TAG_AUXB, TAG_EDFH, TAG_EDFA)
"""The order an ECG file's sections are written in."""

RESIDUAL_MINOR = 1
"""A file with an error-bounded residual layer (RESD) with the static tables needs format 1.1."""
CODED_MINOR = 2
"""A file whose blocks hold entropy-coded indices (IDXC) needs 1.2."""
ADAPTIVE_RESD_MINOR = 4
"""A RESD with the adaptive contexts (vqcodec.coding.residual.N_CONTEXTS) needs 1.4."""
INDEX_CODING_MINORS = {entropy.CODING_ONE_PRIOR: CODED_MINOR, entropy.CODING_PER_STAGES: 7}
"""The minor each index coding needs: bigram-rans-2 (a prior per stage count) came with 1.7."""
MAX_CODING_NAME = 64
SIGNAL_DIGEST_MINOR = 8
"""dSIG, the SHA-256 of the decoded ADC samples of a file with a residual layer (exact on every machine, as FLAC's
MD5 of the audio), came with 1.8 (with the container's binding)."""
RECORD_FILES_MINOR = 9
"""aNNO (the record's annotation files) and wHEA (a lossless file's original WFDB header) came with 1.9."""
AUX_MINOR = 10
"""AUXS (signals coded without the model), eDFH and eDFA (an EDF file's header and annotation bytes) came with
1.10."""
RESIDUAL_BLOCKS_MINOR = 11
"""RESB (the residual layer block by block, the header key `residual_block`) came with 1.11."""
RESIDUAL_BLOCK_SAMPLES = 64 * residual.LANE_SAMPLES
"""Record samples per residual block (the last one shorter) in the files this release writes: 131072, 6 min at
360 Hz. Stored in each file's header (`residual_block`), so that a later value does not break earlier files."""
RESIDUAL_BLOCK_KEY = "residual_block"
"""The header JSON key of the residual block length, present only in a file with RESB."""
MAX_RESIDUAL_BLOCKS = 1 << 24
"""Residual blocks one RESB section may hold (a format constant: 2^24 blocks of 2^17 samples are far beyond
any record's 2^32 - 1 samples)."""
_RESB_COUNT, _RESB_SIZE = struct.Struct("<I"), struct.Struct("<I")  # RESB: the count of blocks; each one's size
AUX_KEY = "aux"
"""The header JSON key of the aux signals' metadata (a list of AuxInfo objects), present only when there are some."""
MAX_AUX_SIGNALS = 4096
"""Aux signals one file may hold (a format constant: an EDF file holds at most 9999 signals in its 4-digit field;
polysomnography uses a few dozen)."""
MAX_EDF_HEADER_BYTES = 256 * (1 + MAX_AUX_SIGNALS + vqc.MAX_CHANNELS)
"""The largest EDF header eDFH holds: 256 bytes plus 256 per signal."""
_AUX_COUNT, _AUX_ENTRY = struct.Struct("<I"), struct.Struct("<II")  # AUXS: the count; per signal: NaN runs, bytes
_AUX_RUN_WIDTH = 2  # (start, length) of a run of invalid samples of one aux signal
AUX_BLOCKS_MINOR = 14
"""AUXB (the aux signals block by block, the header key `aux_block`) came with 1.14."""
AUX_BLOCK_SAMPLES = RESIDUAL_BLOCK_SAMPLES
"""Samples of one aux signal (at its own rate) per aux block, the last one shorter, in the files this release writes.
Stored in each file's header (`aux_block`), so that a later value does not break earlier files."""
AUX_BLOCK_KEY = "aux_block"
"""The header JSON key of the aux block length, present only in a file with AUXB."""
_AUXB_ENTRY, _AUXB_BLOCK = struct.Struct("<II"), struct.Struct("<II")  # AUXB: NaN runs, blocks; a block's size, CRC
MAX_ANNOTATION_FILES = 64
"""Annotation files one aNNO section may hold (a format constant: a record has a handful)."""
ANNOTATOR_RE = re.compile(r"[A-Za-z0-9_]{1,32}")
"""What an annotator name (the annotation file's extension, `atr` in `100.atr`) may be: a safe file suffix."""
RESERVED_ANNOTATORS = frozenset({"hea", "dat"})
"""Extensions that are the record's own header and signal file, never an annotation file."""
MAX_WFDB_HEADER_BYTES = 1024 * 1024
"""The largest WFDB header text wHEA holds (a format constant, as mNOT's size: headers are a few hundred bytes)."""
_ANNO_COUNT, _ANNO_SIZE = struct.Struct("<H"), struct.Struct("<I")  # aNNO: the count of files; each one's size

_NORM_WIDTH, _FPRT_WIDTH, _RUN_WIDTH = 2, 3, 3  # (offset, scale); (mean, rms, max|x|); (channel, start, length)
_BLOCK_HEAD = struct.Struct("<II")  # compressed length, CRC-32 of the compressed bytes
INVALID_DIGITAL = np.iinfo(np.int64).min
"""What an invalid (NaN) sample counts as in signal_digest."""


def signal_digest(digital: np.ndarray) -> bytes:
    """SHA-256 of ADC samples [T, C] (int64 little-endian, row-major; invalid samples as INVALID_DIGITAL)."""
    return hashlib.sha256(np.ascontiguousarray(digital, dtype="<i8").tobytes()).digest()


# ------------------------------------------------------------------ typed header metadata


@dataclass
class AuxInfo:
    """What the header says of one aux signal: its position among the record's signals (vqcodec.ecg.signal
    .AuxChannel), rate, length, channel metadata and the residual layer's bound in ADC units (0: lossless)."""

    position: int
    fs: float
    n_samples: int
    channel: ChannelInfo
    max_error: int

    def to_json(self) -> dict:
        return {"position": self.position, "fs": self.fs, "n_samples": self.n_samples, "channel": vars(self.channel),
                "max_error": self.max_error}

    @classmethod
    def from_json(cls, obj: object) -> AuxInfo | None:
        """The typed view of a stored entry, or None when it has the wrong shape or types."""
        if not isinstance(obj, dict):
            return None
        try:
            ch = ChannelInfo(**obj.get("channel", {}))
        except TypeError:
            return None
        fs = obj.get("fs")
        ints = [obj.get(k) for k in ("position", "n_samples", "max_error")]
        if not (all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in ints) and _channel_ok(ch)
                and isinstance(fs, (int, float)) and not isinstance(fs, bool) and math.isfinite(fs)
                and 0 < fs <= vqc.MAX_FS):
            return None
        return cls(ints[0], float(fs), ints[1], ch, ints[2])  # type: ignore[arg-type]


@dataclass
class EcgMeta:
    """The header metadata of an ECG file (the JSON object after the fixed fields), typed.

    Read from an untrusted header, so `from_json` never raises: what is missing takes the first release's
    defaults, and `problem` says what the decoder cannot use.
    """

    model: str
    model_fs: float
    quality: int | None  # 0: no model layer (the residual layer holds every sample); None: not stored
    n_model: int  # samples per channel at the model's rate
    record: str
    channels: list[ChannelInfo]
    comments: list[str] = field(default_factory=list)
    base_time: str | None = None
    base_date: str | None = None
    original_bytes: int | None = None
    norm_frames: int | None = None  # frames per normalisation block; None: one per storage block
    max_error: int | None = None  # the residual layer's bound in ADC units (0: lossless); None: no layer
    aux: list[AuxInfo] = field(default_factory=list)  # the signals coded without the model (section AUXS)
    residual_block: int | None = None  # record samples per residual block (section RESB); None: no RESB
    aux_block: int | None = None  # samples per aux block of each aux signal (section AUXB); None: no AUXB
    unknown: dict = field(default_factory=dict)  # keys this release does not know, kept as they were
    invalid: str | None = field(default=None, repr=False, compare=False)  # why the stored object does not fit

    _KEYS = ("model", "model_fs", "quality", "n_model", "record", "channels", "comments", "base_time", "base_date",
             "original_bytes", "norm_frames", "max_error", AUX_KEY, RESIDUAL_BLOCK_KEY, AUX_BLOCK_KEY)

    def to_json(self) -> dict:
        """The JSON object the header stores (optional keys only when set, as every release wrote them)."""
        out: dict[str, Any] = {
            "model": self.model, "model_fs": self.model_fs, "quality": self.quality, "n_model": self.n_model,
            "record": self.record, "comments": self.comments, "base_time": self.base_time,
            "base_date": self.base_date, "channels": [vars(ch) for ch in self.channels],
            "original_bytes": self.original_bytes,
        }
        if self.norm_frames is not None:
            out["norm_frames"] = self.norm_frames
        if self.max_error is not None:
            out["max_error"] = self.max_error
        if self.aux:
            out[AUX_KEY] = [a.to_json() for a in self.aux]
        if self.residual_block is not None:
            out[RESIDUAL_BLOCK_KEY] = self.residual_block
        if self.aux_block is not None:
            out[AUX_BLOCK_KEY] = self.aux_block
        return {**self.unknown, **out}

    @classmethod
    def from_json(cls, meta: dict) -> EcgMeta:
        """The typed view of a stored object; wrong types are noted in `invalid`, never raised."""
        invalid = None
        n_model = meta.get("n_model", 0)
        if not _is_int(n_model):
            invalid = "n_model disagrees with n_frames"
        try:
            channels = [ChannelInfo(**ch) for ch in meta.get("channels", [])]
        except TypeError as e:
            channels, invalid = [], invalid or f"header channel metadata is invalid ({e})"
        if invalid is None and not all(map(_channel_ok, channels)):
            invalid = "header channel metadata has wrong types or a gain <= 0"
        stored_aux = meta.get(AUX_KEY, [])
        aux = [AuxInfo.from_json(a) for a in stored_aux] if isinstance(stored_aux, list) else [None]
        if invalid is None and None in aux:
            invalid = f"header {AUX_KEY} metadata has wrong types, a rate out of range or a gain <= 0"
        comments = meta.get("comments", [])
        times = (meta.get("base_time"), meta.get("base_date"))
        if invalid is None and not (isinstance(comments, list) and all(isinstance(c, str) for c in comments)
                                    and all(t is None or isinstance(t, str) for t in times)):
            invalid = "header comments or base time/date have the wrong type"
        return cls(
            model=str(meta.get("model", "?")), model_fs=_number(meta.get("model_fs"), math.nan),
            quality=q if _is_int(q := meta.get("quality")) else None, n_model=n_model if _is_int(n_model) else 0,
            record=meta.get("record", "record"), channels=channels,
            comments=list(comments) if isinstance(comments, list) else [],
            base_time=times[0] if isinstance(times[0], str) else None,
            base_date=times[1] if isinstance(times[1], str) else None,
            original_bytes=b if _is_int(b := meta.get("original_bytes")) else None,
            norm_frames=meta.get(NORM_FRAMES_KEY), max_error=bound if _is_int(bound := meta.get("max_error")) else None,
            aux=[a for a in aux if a is not None],
            residual_block=_positive_int(meta.get(RESIDUAL_BLOCK_KEY)),
            aux_block=_positive_int(meta.get(AUX_BLOCK_KEY)),
            unknown={k: v for k, v in meta.items() if k not in cls._KEYS}, invalid=invalid,
        )


NORM_FRAMES_KEY = "norm_frames"
"""The EcgMeta key (and header JSON key) of the normalisation block, in frames."""


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _positive_int(v: object) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None


def _number(v: object, default: float) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else default


def _channel_ok(ch: ChannelInfo) -> bool:
    """Whether stored channel metadata has the types (and a usable gain) the decoder and writers rely on."""
    ints = (ch.baseline, ch.adc_res, ch.adc_zero)
    return (all(isinstance(v, str) for v in (ch.name, ch.units, ch.fmt))
            and all(_is_int(v) for v in ints)
            and isinstance(ch.gain, (int, float)) and not isinstance(ch.gain, bool)
            and math.isfinite(ch.gain) and ch.gain > 0)


def norm_frames(h: Header) -> int:
    """Frames per normalisation block: the header's norm_frames when given, else one per storage block."""
    nf = h.meta.get(NORM_FRAMES_KEY, h.block_frames)
    return nf if _is_int(nf) and nf >= 1 else h.block_frames


def n_norm_blocks(h: Header) -> int:
    """Rows of NORM: ceil(n_frames / norm_frames); 0 for an empty record."""
    return -(-h.n_frames // norm_frames(h))


def packed_block_size(h: Header, frames: int) -> int:
    """Bytes of one block's zstd-packed indices: ceil(C * S * frames * bits / 8)."""
    return bitpack.packed_size(h.n_channels * h.n_stages * frames, h.bits_per_index)


def _header_problem(h: Header, limits: Limits) -> tuple[type[Exception], str] | None:
    """What the ECG payload needs of the header beyond the container's checks."""
    nf = h.meta.get(NORM_FRAMES_KEY, h.block_frames)
    if not (type(nf) is int and 1 <= nf <= h.block_frames):
        return FormatError, f"meta {NORM_FRAMES_KEY} {nf!r} must be an integer in [1, block_frames]"
    largest = packed_block_size(h, min(h.block_frames, h.n_frames))
    if largest > limits.max_block_bytes:
        return LimitError, f"a block holds {largest} bytes of indices, over the limit {limits.max_block_bytes}"
    return None


# ------------------------------------------------------------------ the file


@dataclass(eq=False)
class AuxStream:
    """One aux signal's code: the residual layer's payload over the whole signal (section AUXS, format 1.10) or one
    payload per aux block (`blocks`, section AUXB, format 1.14; `residual` is then None), each coded by
    vqcodec.coding.residual without the model, and its runs of invalid samples, int64 [k, 2] (start, length), sorted
    and apart."""

    residual: bytes | None
    nan_runs: np.ndarray = field(default_factory=lambda: np.zeros((0, _AUX_RUN_WIDTH), np.int64))
    blocks: list[bytes] | None = None


@dataclass(eq=False)
class EcgFile:
    """A decoded ECG .vqc file. `==` is identity (it holds arrays): compare the fields instead."""

    header: Header
    blocks: list  # uint16 [C, S, F_b] per block, or each block's coded bytes when index_coding is set
    norm: np.ndarray  # float32 [n_norm_blocks, C, 2]: (offset, scale), the model sees (x - offset) / scale
    nan_runs: np.ndarray = field(default_factory=lambda: np.zeros((0, _RUN_WIDTH), np.int64))
    fingerprint: np.ndarray | None = None  # float32 [n_blocks, C, 3]: (mean, rms, max|x|)
    metrics: dict | None = None
    extra: dict[str, bytes] = field(default_factory=dict)  # unknown ancillary sections, kept verbatim
    lost_blocks: dict[int, str] = field(default_factory=dict)  # salvage only: block -> why it was unreadable
    damage: list[str] = field(default_factory=list)  # salvage only: other damage that was skipped
    residual: bytes | None = None  # RESD payload (vqcodec.coding.residual), decoded with the model's prediction
    index_coding: str | None = None  # IDXC: blocks are then the coded bytes of each block, decoded by the codec
    signal_digest: bytes | None = None  # dSIG: sha256 of the decoded ADC samples (signal_digest()), exact files only
    residual_blocks: list[bytes] | None = None  # RESB: one RESD-layout payload per residual block (meta.residual_block)
    bound: bool = False  # read from a file that carries the container's binding (format 1.8 on)
    annotations: dict[str, bytes] = field(default_factory=dict)  # aNNO: annotator (extension) -> the file's bytes
    wfdb_header: bytes | None = None  # wHEA: the record's original .hea text, lossless files only
    aux: list[AuxStream] = field(default_factory=list)  # AUXS: one per entry of the header's aux list, in its order
    lost_aux_blocks: dict[tuple[int, int], str] = field(default_factory=dict)  # salvage: (aux signal, block) -> why
    edf_header: bytes | None = None  # eDFH: the EDF or BDF file's header bytes, verbatim
    edf_annotations: bytes | None = None  # eDFA: the raw bytes of its annotation signals, verbatim

    @property
    def meta(self) -> EcgMeta:
        """The header's metadata, typed."""
        return EcgMeta.from_json(self.header.meta)

    @property
    def has_residual(self) -> bool:
        """Whether the file has a residual layer, whole (RESD) or block by block (RESB)."""
        return self.residual is not None or self.residual_blocks is not None


def _runs_problem(runs: np.ndarray, h: Header) -> str | None:
    """Why NaN runs are not canonical (in range, sorted by (channel, start), non-overlapping), or None."""
    if runs.size == 0:
        return None
    ch, start, length = runs.T
    if ch.min() < 0 or ch.max() >= h.n_channels:
        return "NaN run channel out of range"
    if start.min() < 0 or length.min() < 1 or np.any(start > h.n_samples - length):
        return "NaN run outside [0, n_samples) or of length < 1"
    same = ch[1:] == ch[:-1]
    if np.any(ch[1:] < ch[:-1]) or np.any(same & (start[1:] < start[:-1] + length[:-1])):
        return "NaN runs not sorted by (channel, start) or overlapping"
    return None


def _check_array(a: Any, what: str, dtype: type, shape: tuple[int, ...]) -> np.ndarray:
    if not isinstance(a, np.ndarray) or a.dtype != dtype or a.shape != shape:
        got = f"{a.dtype} {a.shape}" if isinstance(a, np.ndarray) else type(a).__name__
        raise ValueError(f"{what} must be {np.dtype(dtype)} {shape}, got {got}")
    return a


def _coding_name_ok(name: bytes) -> bool:
    """Whether an IDXC payload is an index coding name: 1..MAX_CODING_NAME printable ASCII characters."""
    return 0 < len(name) <= MAX_CODING_NAME and name.isascii() and name.decode().isprintable()


def _write(f: EcgFile, level: int) -> tuple[Header, list[tuple[str, bytes]]]:
    """An EcgFile -> its header and sections, checked (the header by the container); ValueError when inconsistent."""
    h = f.header
    problem = vqc.header_problem(h)
    if problem:
        raise ValueError(problem)
    C, S, nb = h.n_channels, h.n_stages, h.n_blocks
    out: list[tuple[str, bytes]] = []
    zc = zstandard.ZstdCompressor(level=level, write_checksum=True, write_content_size=True)
    norm = _check_array(f.norm, "norm", np.float32, (n_norm_blocks(h), C, _NORM_WIDTH))
    if not (np.isfinite(norm).all() and (norm[..., 1] > 0).all()):
        raise ValueError("norm must be finite with scale > 0")
    out.append((TAG_NORM, norm.astype("<f4").tobytes()))

    runs = _check_array(f.nan_runs, "nan_runs", np.int64, np.shape(f.nan_runs)[:1] + (_RUN_WIDTH,))
    problem_runs = _runs_problem(runs, h)
    if problem_runs:
        raise ValueError(problem_runs)
    if len(runs) > DEFAULT_LIMITS.max_nan_runs:
        raise ValueError(f"{len(runs)} NaN runs exceed the limit {DEFAULT_LIMITS.max_nan_runs}")
    if len(runs):
        out.append((TAG_NANM, zc.compress(runs.astype("<i8").tobytes())))

    if len(f.blocks) != nb:
        raise ValueError(f"{len(f.blocks)} blocks given, header implies {nb}")
    if f.index_coding is not None:
        name = f.index_coding.encode("ascii", "replace")
        if not _coding_name_ok(name):
            raise ValueError(f"index coding name {f.index_coding!r} must be 1..{MAX_CODING_NAME} printable ASCII")
        out.append((TAG_IDXC, name))
    blks = []
    for b, codes in enumerate(f.blocks):
        if f.index_coding is not None:
            if not isinstance(codes, bytes) or len(codes) > DEFAULT_LIMITS.max_block_bytes:
                raise ValueError(f"block {b}: coded blocks are bytes of at most {DEFAULT_LIMITS.max_block_bytes}")
            frame = codes
        else:
            _check_array(codes, f"block {b}", np.uint16, (C, S, h.block_length(b)))
            if codes.size and codes.max() >= h.codebook_size:
                raise ValueError(f"block {b} holds index {codes.max()} >= codebook_size {h.codebook_size}")
            frame = zc.compress(bitpack.pack(codes, h.bits_per_index))
        blks += [_BLOCK_HEAD.pack(len(frame), zlib.crc32(frame)), frame]
    out.append((TAG_BLKS, b"".join(blks)))
    if f.residual is not None:
        out.append((TAG_RESD, bytes(f.residual)))
    if f.residual_blocks is not None:
        if f.residual is not None:
            raise ValueError(f"a file holds its residual layer whole ({TAG_RESD}) or in blocks ({TAG_RESB}), not both")
        out.append((TAG_RESB, residual_blocks_bytes(f.residual_blocks)))
    if f.fingerprint is not None:
        fp = _check_array(f.fingerprint, "fingerprint", np.float32, (nb, C, _FPRT_WIDTH))
        out.append((TAG_FPRT, fp.astype("<f4").tobytes()))
    if f.signal_digest is not None:
        out.append((TAG_DSIG, vqc.digest_payload(f.signal_digest, "signal_digest")))
    if f.metrics is not None:
        if not isinstance(f.metrics, dict):
            raise ValueError("metrics must be a dict")
        out.append((TAG_MTRC, vqc.json_bytes(f.metrics, "metrics", allow_nan=True)))
    if f.annotations:
        out.append((TAG_ANNO, annotations_bytes(f.annotations, level)))
    if f.wfdb_header is not None:
        if EcgMeta.from_json(h.meta).max_error != 0:
            raise ValueError("wfdb_header (the original .hea) is kept by lossless files only")
        if not (isinstance(f.wfdb_header, bytes) and 0 < len(f.wfdb_header) <= MAX_WFDB_HEADER_BYTES):
            raise ValueError(f"wfdb_header must be 1..{MAX_WFDB_HEADER_BYTES} bytes")
        out.append((TAG_WHEA, f.wfdb_header))
    meta = EcgMeta.from_json(h.meta)
    problem_aux = _aux_problem(meta, h, f.aux)
    if problem_aux:
        raise ValueError(problem_aux)
    if f.aux:
        blocked = f.aux[0].blocks is not None
        out.append((TAG_AUXB, aux_blocks_bytes(f.aux)) if blocked else (TAG_AUXS, aux_bytes(f.aux)))
    for tag, raw, cap in ((TAG_EDFH, f.edf_header, MAX_EDF_HEADER_BYTES),
                          (TAG_EDFA, f.edf_annotations, DEFAULT_LIMITS.max_annotation_bytes)):
        if raw is not None:
            if not (isinstance(raw, bytes) and 0 < len(raw) <= cap):
                raise ValueError(f"section {tag} holds 1..{cap} bytes")
            out.append((tag, zc.compress(raw)))
    return h, out


def residual_blocks_bytes(payloads: list[bytes]) -> bytes:
    """The RESB payload: u32 count, u32 size of each block's payload, then the payloads (each in RESD's layout)."""
    if len(payloads) > MAX_RESIDUAL_BLOCKS:
        raise ValueError(f"{len(payloads)} residual blocks exceed the limit {MAX_RESIDUAL_BLOCKS}")
    return b"".join([_RESB_COUNT.pack(len(payloads)), *(_RESB_SIZE.pack(len(p)) for p in payloads),
                     *(bytes(p) for p in payloads)])


def residual_block_spans(n_samples: int, block: int) -> list[tuple[int, int]]:
    """(start, stop) of each residual block of a record of n_samples samples: `block` samples each, the last
    shorter; none for an empty record."""
    return [(a, min(a + block, n_samples)) for a in range(0, n_samples, block)]


def aux_bytes(streams: list[AuxStream]) -> bytes:
    """The AUXS payload: u32 count; per signal u32 NaN runs and u32 residual bytes; then per signal its runs
    (int64 start, length) and its residual layer's payload."""
    head = [_AUX_COUNT.pack(len(streams))] + [_AUX_ENTRY.pack(len(a.nan_runs), len(a.residual or b""))
                                              for a in streams]
    body = [np.ascontiguousarray(a.nan_runs, "<i8").tobytes() + bytes(a.residual or b"") for a in streams]
    return b"".join(head + body)


def aux_blocks_bytes(streams: list[AuxStream]) -> bytes:
    """The AUXB payload: u32 count; per signal u32 NaN runs and u32 blocks; then per signal its runs (int64 start,
    length), per block its u32 size and u32 CRC-32, and its blocks' payloads (each in RESD's layout, one channel)."""
    head = [_AUX_COUNT.pack(len(streams))] + [_AUXB_ENTRY.pack(len(a.nan_runs), len(a.blocks or []))
                                              for a in streams]
    body = []
    for a in streams:
        blocks = [bytes(p) for p in a.blocks or []]
        body += [np.ascontiguousarray(a.nan_runs, "<i8").tobytes(),
                 *(_AUXB_BLOCK.pack(len(p), zlib.crc32(p)) for p in blocks), *blocks]
    return b"".join(head + body)


def aux_block_count(n_samples: int, block: int) -> int:
    """Aux blocks of a signal of n_samples samples in blocks of `block` (the last one shorter)."""
    return -(-n_samples // block)


def _aux_problem(meta: EcgMeta, h: Header, streams: Sequence[AuxStream],
                 lost: frozenset[tuple[int, int]] = frozenset()) -> str | None:
    """Why the aux signals' code disagrees with the header's list of them (or with itself), or None. `lost`: the
    (aux signal, block) that salvage left out, not checked."""
    if len(streams) != len(meta.aux):
        return f"{len(streams)} aux signals coded, the header lists {len(meta.aux)}"
    if len(meta.aux) > MAX_AUX_SIGNALS:
        return f"{len(meta.aux)} aux signals exceed the limit {MAX_AUX_SIGNALS}"
    positions = [a.position for a in meta.aux]
    if len(set(positions)) != len(positions) or any(p >= h.n_channels + len(positions) for p in positions):
        return f"aux positions {positions} repeat or lie beyond the record's {h.n_channels + len(positions)} signals"
    blocked = {a.blocks is not None for a in streams}
    if len(blocked) > 1 or any((a.blocks is None) == (a.residual is None) for a in streams):
        return "aux signals are coded either each whole (AUXS) or each in blocks (AUXB)"
    if blocked == {True} and meta.aux_block is None:
        return f"the header gives no {AUX_BLOCK_KEY} (a positive integer) for aux signals in blocks"
    if blocked != {True} and (meta.aux_block is not None or AUX_BLOCK_KEY in h.meta):
        return f"the header's {AUX_BLOCK_KEY} needs aux signals in blocks (section {TAG_AUXB})"
    for i, (info, a) in enumerate(zip(meta.aux, streams)):
        runs = a.nan_runs
        if a.blocks is None:
            assert a.residual is not None  # checked above
            payloads = [(a.residual, info.n_samples, f"aux signal {i}")]
        else:
            assert meta.aux_block is not None
            count = aux_block_count(info.n_samples, meta.aux_block)
            if len(a.blocks) != count:
                return f"aux signal {i}: {len(a.blocks)} blocks, the header implies {count} of {meta.aux_block} samples"
            payloads = [(p, z - s, f"aux signal {i} block {b}") for b, (p, (s, z)) in enumerate(zip(
                a.blocks, residual_block_spans(info.n_samples, meta.aux_block))) if (i, b) not in lost]
        for payload, n, where in payloads:
            try:
                bound, uses_model, t, c = residual.header(payload, where)
                residual.check_size(payload, where)
            except FormatError as e:
                return str(e)
            if (bound, uses_model, t, c) != (info.max_error, False, n, 1):
                return (f"{where} is coded for max error {bound}, {t} x {c} samples, the header says max error "
                        f"{info.max_error}, {n} x 1")
            if a.blocks is not None and not residual.is_adaptive(payload):
                return f"{where}: not the adaptive layout (format 1.4) every block uses"
        if not (isinstance(runs, np.ndarray) and runs.dtype == np.int64 and runs.ndim == 2
                and runs.shape[1] == _AUX_RUN_WIDTH):
            return f"aux signal {i}: NaN runs must be int64 [k, {_AUX_RUN_WIDTH}]"
        if len(runs):
            start, length = runs.T
            if start.min() < 0 or length.min() < 1 or np.any(start > info.n_samples - length) \
                    or np.any(start[1:] < start[:-1] + length[:-1]):
                return f"aux signal {i}: NaN runs outside its samples, overlapping or not sorted"
    return None


def annotations_bytes(files: dict[str, bytes], level: int = vqc.ZSTD_LEVEL) -> bytes:
    """Annotation files {annotator: bytes} -> the aNNO payload: u16 count; per file, in annotator order, u8 name
    length, the name and u32 size; then one zstd frame (content size and checksum declared) of the files' bytes one
    after another (one frame, since a record's files are alike: LUDB's 12 take 776 bytes so, 1235 in a frame each).
    ValueError when they do not fit the format (names, count, DEFAULT_LIMITS.max_annotation_bytes)."""
    if not 0 < len(files) <= MAX_ANNOTATION_FILES:
        raise ValueError(f"{len(files)} annotation files; a file holds 1..{MAX_ANNOTATION_FILES}")
    index = [_ANNO_COUNT.pack(len(files))]
    for ext in sorted(files):
        if not (isinstance(ext, str) and ANNOTATOR_RE.fullmatch(ext) and ext not in RESERVED_ANNOTATORS):
            raise ValueError(f"annotator {ext!r} must be 1..32 letters, digits or _, and not hea or dat")
        if not isinstance(files[ext], bytes):
            raise ValueError(f"annotation file {ext} must be bytes")
        index += [bytes([len(ext)]), ext.encode("ascii"), _ANNO_SIZE.pack(len(files[ext]))]
    content = b"".join(files[ext] for ext in sorted(files))
    zc = zstandard.ZstdCompressor(level=level, write_checksum=True, write_content_size=True)
    payload = b"".join(index) + zc.compress(content)
    if max(len(content), len(payload)) > DEFAULT_LIMITS.max_annotation_bytes:
        raise ValueError(f"annotation files of {len(content)} bytes, over the limit "
                         f"{DEFAULT_LIMITS.max_annotation_bytes}")
    return payload


def _annotation_index(r: Reader, limits: Limits) -> list[tuple[str, int]]:
    """The index at the start of an aNNO payload (the cursor left on its frame), checked."""
    (count,) = _ANNO_COUNT.unpack(r.take(_ANNO_COUNT.size, "count"))
    if not 0 < count <= MAX_ANNOTATION_FILES:
        raise r.error(FormatError, f"{count} annotation files; a file holds 1..{MAX_ANNOTATION_FILES}")
    index: list[tuple[str, int]] = []
    for i in range(count):
        (n,) = r.take(1, f"index entry {i}")
        raw = bytes(r.take(n, f"index entry {i}"))
        ext = raw.decode("ascii", "replace")
        if not (ANNOTATOR_RE.fullmatch(ext) and ext not in RESERVED_ANNOTATORS):
            raise r.error(FormatError, f"index entry {i}: {raw!r} is not an annotator name")
        if index and ext <= index[-1][0]:
            raise r.error(FormatError, f"index entry {i}: annotators not in strictly increasing order ({ext})")
        (size,) = _ANNO_SIZE.unpack(r.take(_ANNO_SIZE.size, f"index entry {i}"))
        index.append((ext, size))
    total = sum(size for _, size in index)
    if total > limits.max_annotation_bytes:
        raise r.error(LimitError, f"annotation files of {total} bytes, over the limit {limits.max_annotation_bytes}")
    return index


def annotation_index(data: bytes | memoryview, name: str = "<bytes>", limits: Limits = DEFAULT_LIMITS,
                     ) -> list[tuple[str, int]]:
    """The index of an aNNO payload, checked without decompressing: (annotator, size in bytes) per file, in file
    order. FormatError or LimitError naming the section when it is not one."""
    return _annotation_index(Reader(data, f"{name}: section {TAG_ANNO}"), limits)


def read_annotations(data: bytes | memoryview, name: str = "<bytes>", limits: Limits = DEFAULT_LIMITS,
                     ) -> dict[str, bytes]:
    """An aNNO payload -> {annotator: the file's bytes}: the frame's declared size is checked against the index
    before it is decompressed, and its content by zstd's checksum."""
    r = Reader(data, f"{name}: section {TAG_ANNO}")
    index = _annotation_index(r, limits)
    frame = r.view[r.pos :]
    total = sum(size for _, size in index)
    declared = vqc.zstd_frame_size(r, frame, "frame", total)
    if declared != total:
        raise r.error(FormatError, f"zstd content size {declared}, the index says {total}")
    content = _decompress(r, frame, total, "frame", zstandard.ZstdDecompressor())
    files, at = {}, 0
    for ext, size in index:
        files[ext], at = content[at : at + size], at + size
    return files


def dumps(f: EcgFile, level: int = vqc.ZSTD_LEVEL) -> bytes:
    """Serialise an ECG file to .vqc bytes; deterministic. Raises ValueError when `f` is inconsistent."""
    return vqc.dumps(f, level)


# ------------------------------------------------------------------ reading


def _decompress(r: Reader, frame: memoryview, size: int, where: str, dz: zstandard.ZstdDecompressor) -> bytes:
    """Decompress a frame whose declared size was checked; zstd verifies its own content checksum."""
    try:
        return dz.decompress(frame, max_output_size=size, allow_extra_data=False)
    except zstandard.ZstdError as e:
        raise r.error(FormatError, f"{where}: zstd: {e}") from None


def _read_blocks(r: Reader, data: memoryview, h: Header, limits: Limits, dz: zstandard.ZstdDecompressor,
                 lost: dict[int, str] | None = None, coded: bool = False) -> list:
    """Every block of BLKS, in order: index arrays, or each block's coded bytes when `coded` (IDXC).

    With `lost` (salvage), a block that fails a check is recorded there (block -> why) and replaced by zero
    indices, and the walk goes on: each block has its own length and CRC, so one bad block loses only itself
    unless its length field is what was damaged.
    """
    sub = Reader(data, f"{r.name}: section {TAG_BLKS}")
    blocks: list = []
    for b in range(h.n_blocks):
        try:
            blocks.append(_read_coded_block(sub, b, limits) if coded else _read_block(sub, b, h, limits, dz))
        except (FormatError, LimitError) as e:
            if lost is None:
                raise
            lost[b] = str(e).removeprefix(f"{sub.name}: ")
            blocks.append(b"" if coded else np.zeros((h.n_channels, h.n_stages, h.block_length(b)), np.uint16))
    if sub.pos != len(sub.view) and not lost:  # with a lost block, its bad length explains the rest
        raise sub.error(FormatError, f"{len(sub.view) - sub.pos} bytes after the last block")
    return blocks


def _read_coded_block(sub: Reader, b: int, limits: Limits) -> bytes:
    """Block b of an IDXC file at the cursor: length limit and CRC; the codec decodes the bytes."""
    clen, crc = _BLOCK_HEAD.unpack(sub.take(_BLOCK_HEAD.size, f"block {b}"))
    if clen > limits.max_block_bytes:
        raise sub.error(LimitError, f"block {b} is {clen} bytes, over the limit {limits.max_block_bytes}")
    frame = sub.take(clen, f"block {b}")
    if zlib.crc32(frame) != crc:
        raise sub.error(ChecksumError, f"block {b} CRC mismatch")
    return bytes(frame)


def _read_block(sub: Reader, b: int, h: Header, limits: Limits, dz: zstandard.ZstdDecompressor) -> np.ndarray:
    """Block b at the cursor: CRC, declared size (bomb guard), decompress, unpack, index range."""
    clen, crc = _BLOCK_HEAD.unpack(sub.take(_BLOCK_HEAD.size, f"block {b}"))
    frame = sub.take(clen, f"block {b}")
    if zlib.crc32(frame) != crc:
        raise sub.error(ChecksumError, f"block {b} CRC mismatch")
    frames = h.block_length(b)
    size = packed_block_size(h, frames)
    # zstd allocates what the frame declares (and ignores max_output_size then): compare it first.
    declared = vqc.zstd_frame_size(sub, frame, f"block {b}", limits.max_block_bytes)
    if declared != size:
        raise sub.error(FormatError, f"block {b}: zstd content size {declared}, the header implies {size}")
    raw = _decompress(sub, frame, size, f"block {b}", dz)
    count = h.n_channels * h.n_stages * frames
    try:
        codes = bitpack.unpack(raw, h.bits_per_index, count).reshape(h.n_channels, h.n_stages, frames)
    except FormatError as e:
        raise sub.error(FormatError, f"block {b}: {e}") from None
    if codes.size and codes.max() >= h.codebook_size:
        raise sub.error(FormatError, f"block {b}: index {codes.max()} >= codebook_size {h.codebook_size}")
    return codes


def _read_runs(r: Reader, data: memoryview, h: Header, limits: Limits, dz: zstandard.ZstdDecompressor,
               ) -> np.ndarray:
    row, where = _RUN_WIDTH * 8, f"section {TAG_NANM}"
    size = vqc.zstd_frame_size(r, data, where, limits.max_nan_runs * row)
    if size == 0 or size % row:
        raise r.error(FormatError, f"{where}: content size {size} is not a positive multiple of {row}")
    runs = np.frombuffer(_decompress(r, data, size, where, dz), "<i8").reshape(-1, _RUN_WIDTH).astype(np.int64)
    problem = _runs_problem(runs, h)
    if problem:
        raise r.error(FormatError, f"{where}: {problem}")
    return runs


def _bound_text(max_error: int | None) -> str:
    return "no bound" if max_error is None else "lossless" if max_error == 0 else f"max error {max_error}"


def _metrics(c: Container) -> dict | None:
    return vqc.read_json(Reader(b"", c.name), c.sections[TAG_MTRC], TAG_MTRC) if TAG_MTRC in c.sections else None


def loads(data: bytes | memoryview, name: str = "<bytes>", limits: Limits = DEFAULT_LIMITS,
          salvage: bool = False) -> EcgFile:
    """Parse and fully verify the bytes of an ECG .vqc file. Raises a VqcError subclass whose message starts with
    `name`.

    salvage=True tolerates damage confined to the index blocks: bytes after END are ignored, and a block that
    fails its CRC (or any other check) becomes zero indices listed in `lost_blocks` with the reason; an aux block
    (AUXB) that fails its CRC is listed in `lost_aux_blocks` (its samples decode as invalid); `damage` lists what else
    was skipped. Damage anywhere else still raises: without an intact header, NORM, NANM,
    fPRT and END, the surviving blocks could not be decoded or verified.
    """
    # Every section's CRC is checked before any payload is decompressed.
    damage: list[str] | None = [] if salvage else None
    c = vqc.read(data, name, limits, damage=damage,
                 tolerate=frozenset({TAG_BLKS, TAG_AUXB, TAG_ANNO, TAG_WHEA, TAG_EDFH, TAG_EDFA}))
    h, sections = c.header, c.sections
    r = Reader(b"", name)
    if h.kind != KIND:
        raise r.error(FormatError, f"a {h.kind} file, not an ECG record")
    for tag in (TAG_NORM, TAG_BLKS):
        if tag not in sections:
            raise r.error(FormatError, f"missing section {tag}")
    foreign = [t for t in sections if t not in SECTION_ORDER]
    if foreign:
        raise r.error(FormatError, f"kind {h.kind} and section {foreign[0]} disagree (an ECG file does not hold it)")
    C, nb = h.n_channels, h.n_blocks
    expected = n_norm_blocks(h) * C * _NORM_WIDTH * 4
    if len(sections[TAG_NORM]) != expected:
        raise r.error(FormatError, f"section {TAG_NORM} is {len(sections[TAG_NORM])} bytes, expected {expected}")
    norm = np.frombuffer(sections[TAG_NORM], "<f4").reshape(n_norm_blocks(h), C, _NORM_WIDTH).astype(np.float32)
    if not (np.isfinite(norm).all() and (norm[..., 1] > 0).all()):
        raise r.error(FormatError, f"section {TAG_NORM}: values must be finite with scale > 0")
    dz = zstandard.ZstdDecompressor()
    lost: dict[int, str] | None = {} if salvage else None
    coding = None
    if TAG_IDXC in sections:
        raw_name = bytes(sections[TAG_IDXC])
        if not _coding_name_ok(raw_name):
            raise r.error(FormatError, f"section {TAG_IDXC}: not an index coding name")
        coding = raw_name.decode()
    blocks = _read_blocks(r, sections[TAG_BLKS], h, limits, dz, lost, coded=coding is not None)
    f = EcgFile(h, blocks, norm, extra=c.extra, lost_blocks=lost or {}, damage=damage or [], index_coding=coding,
                bound=c.bound)
    if TAG_NANM in sections:
        f.nan_runs = _read_runs(r, sections[TAG_NANM], h, limits, dz)
    meta = EcgMeta.from_json(h.meta)
    if meta.quality is not None and (meta.quality == 0) != (h.n_stages == 0):
        raise r.error(FormatError, f"the header's quality {meta.quality} and its {h.n_stages} code stages disagree")
    if TAG_RESD in sections:
        coded_for, uses_model, t, ch = residual.header(sections[TAG_RESD], name)
        if meta.max_error != coded_for:
            raise r.error(FormatError, f"the header promises {_bound_text(meta.max_error)}, and the residual layer "
                                       f"is coded for max error {coded_for}")
        if (t, ch) != (h.n_samples, h.n_channels):
            raise r.error(FormatError, f"section {TAG_RESD} is for {t} x {ch} samples, the header says "
                                       f"{h.n_samples} x {h.n_channels}")
        if uses_model != (h.n_stages > 0):
            raise r.error(FormatError, f"section {TAG_RESD} and n_stages {h.n_stages} disagree on the model layer")
        residual.check_size(sections[TAG_RESD], name)
        f.residual = bytes(sections[TAG_RESD])
    if TAG_RESB in sections:
        if TAG_RESD in sections:
            raise r.error(FormatError, f"sections {TAG_RESD} and {TAG_RESB} both hold a residual layer")
        f.residual_blocks = _read_residual_blocks(r, sections[TAG_RESB], meta, h)
    elif meta.residual_block is not None or RESIDUAL_BLOCK_KEY in h.meta:
        raise r.error(FormatError, f"the header's {RESIDUAL_BLOCK_KEY} needs section {TAG_RESB}")
    if not f.has_residual and h.n_stages == 0:
        raise r.error(FormatError, f"n_stages 0 (no model layer) needs section {TAG_RESD} or {TAG_RESB}")
    if not f.has_residual and meta.max_error is not None:
        raise r.error(FormatError, f"the header promises {_bound_text(meta.max_error)}, and the file has no "
                                   "residual layer")
    if TAG_DSIG in sections:
        if not f.has_residual:
            raise r.error(FormatError, f"section {TAG_DSIG} digests exact samples; this file has no residual layer")
        f.signal_digest = bytes(sections[TAG_DSIG])
    if TAG_FPRT in sections:
        f.fingerprint = np.frombuffer(sections[TAG_FPRT], "<f4").reshape(nb, C, _FPRT_WIDTH).astype(np.float32)
    f.metrics = _metrics(c)
    if TAG_AUXS in sections and TAG_AUXB in sections:
        raise r.error(FormatError, f"sections {TAG_AUXS} and {TAG_AUXB} both hold aux signals")
    if TAG_AUXB in sections:
        f.aux = _read_aux_blocks(r, sections[TAG_AUXB], meta, h, limits, f.lost_aux_blocks if salvage else None)
        if salvage and not f.lost_aux_blocks and any(d.startswith(f"section {TAG_AUXB} CRC mismatch")
                                                     for d in f.damage):
            raise r.error(FormatError, f"section {TAG_AUXB} is damaged outside its aux blocks (in the index or the "
                                       "runs of invalid samples, which no block's CRC covers)")
    elif meta.aux_block is not None or AUX_BLOCK_KEY in h.meta:
        raise r.error(FormatError, f"the header lists {len(meta.aux)} aux signals in blocks ({AUX_BLOCK_KEY}) and "
                                   f"section {TAG_AUXB} is missing")
    elif TAG_AUXS in sections or meta.aux:
        f.aux = _read_aux(r, sections.get(TAG_AUXS), meta, h, limits)
    _read_record_files(f, sections, meta, name, limits, f.damage if salvage else None)
    return f


def _read_residual_blocks(r: Reader, data: memoryview, meta: EcgMeta, h: Header) -> list[bytes]:
    """The RESB section: its block payloads, each checked as RESD's (bound, shape, model layer, size) against its
    span of the record."""
    sub = Reader(data, f"{r.name}: section {TAG_RESB}")
    block = meta.residual_block
    if block is None:
        raise sub.error(FormatError, f"the header gives no {RESIDUAL_BLOCK_KEY} (a positive integer)")
    spans = residual_block_spans(h.n_samples, block)
    (count,) = _RESB_COUNT.unpack(sub.take(_RESB_COUNT.size, "count"))
    if count != len(spans):
        raise sub.error(FormatError, f"{count} blocks, the header implies {len(spans)} of {block} samples")
    sizes = [_RESB_SIZE.unpack(sub.take(_RESB_SIZE.size, f"size {b}"))[0] for b in range(count)]
    payloads = []
    for b, ((a, z), size) in enumerate(zip(spans, sizes)):
        payload = sub.take(size, f"block {b}")
        where = f"{sub.name}: block {b}"
        coded_for, uses_model, t, ch = residual.header(payload, where)
        if meta.max_error != coded_for:
            raise sub.error(FormatError, f"block {b}: the header promises {_bound_text(meta.max_error)}, and the "
                                         f"block is coded for max error {coded_for}")
        if (t, ch) != (z - a, h.n_channels):
            raise sub.error(FormatError, f"block {b} is for {t} x {ch} samples, the header implies "
                                         f"{z - a} x {h.n_channels}")
        if uses_model != (h.n_stages > 0):
            raise sub.error(FormatError, f"block {b} and n_stages {h.n_stages} disagree on the model layer")
        if not residual.is_adaptive(payload):
            raise sub.error(FormatError, f"block {b}: not the adaptive layout (format 1.4) every block uses")
        residual.check_size(payload, where)
        payloads.append(bytes(payload))
    if sub.pos != len(sub.view):
        raise sub.error(FormatError, f"{len(sub.view) - sub.pos} bytes after the last block")
    return payloads


def _aux_entries(sub: Reader, entry: struct.Struct) -> list[tuple[int, ...]]:
    """AUXS's or AUXB's u32 count (within MAX_AUX_SIGNALS) and its entries, one per aux signal."""
    (count,) = _AUX_COUNT.unpack(sub.take(_AUX_COUNT.size, "count"))
    if count > MAX_AUX_SIGNALS:
        raise sub.error(LimitError, f"{count} aux signals exceed the limit {MAX_AUX_SIGNALS}")
    return [entry.unpack(sub.take(entry.size, f"entry {i}")) for i in range(count)]


def _aux_runs(sub: Reader, i: int, n_runs: int, limits: Limits) -> np.ndarray:
    """Aux signal i's n_runs invalid runs as int64 little-endian [n_runs * _AUX_RUN_WIDTH], within the limit."""
    if n_runs > limits.max_nan_runs:
        raise sub.error(LimitError, f"aux signal {i}: {n_runs} NaN runs exceed the limit {limits.max_nan_runs}")
    return np.frombuffer(sub.take(n_runs * _AUX_RUN_WIDTH * 8, f"aux signal {i}"), "<i8")


def _read_aux(r: Reader, data: memoryview | None, meta: EcgMeta, h: Header, limits: Limits) -> list[AuxStream]:
    """The AUXS section, checked against the header's aux list."""
    if data is None:
        raise r.error(FormatError, f"the header lists {len(meta.aux)} aux signals and section {TAG_AUXS} is missing")
    sub = Reader(data, f"{r.name}: section {TAG_AUXS}")
    streams = []
    for i, (n_runs, size) in enumerate(_aux_entries(sub, _AUX_ENTRY)):
        runs = _aux_runs(sub, i, n_runs, limits)
        streams.append((sub.take(size, f"aux signal {i}"), runs.reshape(-1, _AUX_RUN_WIDTH).astype(np.int64)))
    if sub.pos != len(sub.view):
        raise sub.error(FormatError, f"{len(sub.view) - sub.pos} bytes after the last aux signal")
    if meta.invalid:
        raise r.error(FormatError, meta.invalid)
    out = [AuxStream(bytes(payload), runs) for payload, runs in streams]
    problem = _aux_problem(meta, h, out)
    if problem:
        raise sub.error(FormatError, problem)
    return out


def _read_aux_blocks(r: Reader, data: memoryview, meta: EcgMeta, h: Header, limits: Limits,
                     lost: dict[tuple[int, int], str] | None = None) -> list[AuxStream]:
    """The AUXB section, each block's CRC checked, and the whole checked against the header's aux list. With `lost`
    (salvage), a block that fails its CRC is recorded there ((aux signal, block) -> why) and left empty."""
    sub = Reader(data, f"{r.name}: section {TAG_AUXB}")
    out = []
    for i, (n_runs, n_blocks) in enumerate(_aux_entries(sub, _AUXB_ENTRY)):
        if n_blocks > MAX_RESIDUAL_BLOCKS:
            raise sub.error(LimitError, f"aux signal {i}: {n_blocks} blocks exceed the limit {MAX_RESIDUAL_BLOCKS}")
        runs = _aux_runs(sub, i, n_runs, limits)
        heads = [_AUXB_BLOCK.unpack(sub.take(_AUXB_BLOCK.size, f"aux signal {i} block {b}")) for b in range(n_blocks)]
        blocks = []
        for b, (size, crc) in enumerate(heads):
            payload = sub.take(size, f"aux signal {i} block {b}")
            if zlib.crc32(payload) != crc:
                name = meta.aux[i].channel.name if i < len(meta.aux) else "?"
                if lost is None:
                    raise sub.error(ChecksumError, f"aux signal {i} ({name}) block {b} CRC mismatch")
                lost[(i, b)] = f"aux signal {i} ({name}) block {b} CRC mismatch"
            blocks.append(bytes(payload))
        out.append(AuxStream(None, runs.reshape(-1, _AUX_RUN_WIDTH).astype(np.int64), blocks))
    if sub.pos != len(sub.view):
        raise sub.error(FormatError, f"{len(sub.view) - sub.pos} bytes after the last aux signal")
    if meta.invalid:
        raise r.error(FormatError, meta.invalid)
    problem = _aux_problem(meta, h, out, frozenset(lost or {}))
    if problem:
        raise sub.error(FormatError, problem)
    return out


def read_edf_section(data: bytes | memoryview, tag: str, name: str = "<bytes>", limits: Limits = DEFAULT_LIMITS,
                     ) -> bytes:
    """An eDFH or eDFA payload (one zstd frame) -> the EDF bytes it keeps, its declared size checked first."""
    r = Reader(data, f"{name}: section {tag}")
    cap = MAX_EDF_HEADER_BYTES if tag == TAG_EDFH else limits.max_annotation_bytes
    size = vqc.zstd_frame_size(r, r.view, "frame", cap)
    return _decompress(r, r.view, size, "frame", zstandard.ZstdDecompressor())


def _read_record_files(f: EcgFile, sections: dict[str, memoryview], meta: EcgMeta, name: str, limits: Limits,
                       damage: list[str] | None) -> None:
    """aNNO and wHEA into `f`. With `damage` (salvage), a section that is damaged is left out, noted there, and the
    signal still decodes; without, its damage raises."""
    r = Reader(b"", name)
    for tag in (TAG_ANNO, TAG_WHEA, TAG_EDFH, TAG_EDFA):
        if tag not in sections:
            continue
        if damage is not None and any(d.startswith(f"section {tag} CRC mismatch") for d in damage):
            continue  # noted by the container, with what is left out
        try:
            if tag == TAG_ANNO:
                f.annotations = read_annotations(sections[tag], name, limits)
            elif tag == TAG_EDFH:
                f.edf_header = read_edf_section(sections[tag], tag, name, limits)
            elif tag == TAG_EDFA:
                f.edf_annotations = read_edf_section(sections[tag], tag, name, limits)
            elif meta.max_error != 0:
                raise r.error(FormatError, f"section {TAG_WHEA} keeps the original header of a lossless file, and "
                                           f"this file promises {_bound_text(meta.max_error)}")
            else:
                f.wfdb_header = bytes(sections[tag])
        except (FormatError, LimitError) as e:
            if damage is None:
                raise
            damage.append(f"{str(e).removeprefix(f'{name}: ')} (left out)")


def with_record_files(data: bytes | memoryview, annotations: dict[str, bytes] | None = None,
                      wfdb_header: bytes | None = None, name: str = "<bytes>", level: int = vqc.ZSTD_LEVEL) -> bytes:
    """An ECG file's bytes with the record's own files added, kept verbatim: its annotation files {annotator: bytes}
    (aNNO) and its original WFDB header text (wHEA), which is kept only when the file is lossless (a lossy file's
    decoded samples have other checksums and first values, so its header is the one vqcodec writes). The rest of the
    file is written again as it was (the same bytes at the same zstd level). Unchanged when there is nothing to add.
    ValueError when the files do not fit the format."""
    f = loads(data, name)
    header = wfdb_header if f.meta.max_error == 0 else None
    if not annotations and header is None:
        return bytes(data)
    f.annotations, f.wfdb_header = dict(annotations or {}), header
    return dumps(f, level)


def with_edf_files(data: bytes | memoryview, header: bytes, annotations: bytes | None = None, name: str = "<bytes>",
                   level: int = vqc.ZSTD_LEVEL) -> bytes:
    """An ECG file's bytes with an EDF or BDF file's own bytes added, kept verbatim: its header (eDFH) and its
    annotation signals' raw bytes (eDFA), so that decompress writes the EDF file again (byte for byte when the
    signals are lossless). The rest of the file is written again as it was. ValueError when they do not fit."""
    f = loads(data, name)
    f.edf_header, f.edf_annotations = header, annotations or None
    return dumps(f, level)


# ------------------------------------------------------------------ registration


def _idxc_minor(payload: bytes) -> int:
    return INDEX_CODING_MINORS.get(bytes(payload).decode("ascii", "replace"), CODED_MINOR)


def _resd_minor(payload: bytes) -> int:
    return ADAPTIVE_RESD_MINOR if residual.is_adaptive(payload) else RESIDUAL_MINOR


def _any_size(h: Header, limits: Limits) -> int:
    return limits.max_section_bytes


for _section in (
    SectionType(TAG_NANM, lambda _: BASE_MINOR, _any_size),
    SectionType(TAG_IDXC, _idxc_minor, _any_size),
    SectionType(TAG_RESD, _resd_minor, _any_size),
    SectionType(TAG_RESB, lambda _: RESIDUAL_BLOCKS_MINOR, _any_size),
    SectionType(TAG_FPRT, lambda _: BASE_MINOR, lambda h, lim: h.n_blocks * h.n_channels * _FPRT_WIDTH * 4,
                exact=True),
    SectionType(TAG_DSIG, lambda _: SIGNAL_DIGEST_MINOR, lambda h, lim: vqc.DIGEST_BYTES, exact=True),
    SectionType(TAG_ANNO, lambda _: RECORD_FILES_MINOR, lambda h, lim: lim.max_annotation_bytes,
                damage_note="the annotation files are left out"),
    SectionType(TAG_WHEA, lambda _: RECORD_FILES_MINOR, lambda h, lim: MAX_WFDB_HEADER_BYTES,
                damage_note="the original header is left out; vqcodec writes its own"),
    SectionType(TAG_AUXS, lambda _: AUX_MINOR, _any_size),
    SectionType(TAG_AUXB, lambda _: AUX_BLOCKS_MINOR, _any_size,
                damage_note="each aux block is checked by its own CRC"),
    SectionType(TAG_EDFH, lambda _: AUX_MINOR, lambda h, lim: MAX_EDF_HEADER_BYTES,
                damage_note="the EDF header is left out: the signals decode, not to EDF"),
    SectionType(TAG_EDFA, lambda _: AUX_MINOR, lambda h, lim: lim.max_annotation_bytes,
                damage_note="the EDF annotations are left out"),
):
    vqc.register_section(_section)
vqc.register_kind(Kind(KIND, 1, EcgFile, loads, _write, _metrics, check_header=_header_problem))
