"""The .vqc container, format 1.4 (reads 1.0 to 1.4): bytes <-> VqcFile (magic, header, CRC-checked sections, limits).

Pure container code: no model, no onnxruntime, no wfdb. The byte layout is specified in docs/FORMAT.md;
turning signals into code indices is `vqcodec.ecg.codec`'s job, packing the indices is `vqcodec.container.bitpack`'s.
"""

from __future__ import annotations

import json
import math
import re
import struct
import warnings
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import zstandard

from vqcodec.container import bitpack
from vqcodec.coding import residual
from vqcodec.errors import ChecksumError, FormatError, LimitError, TruncatedError, VersionError

MAGIC = b"\x89VQC\r\n\x1a\n"
VERSION = (1, 0)
RESIDUAL_MINOR = 1
"""Files with an error-bounded residual layer (section RESD) are written as 1.1 (unless IDXC makes them 1.2)."""
CODED_MINOR = 2
"""Files whose blocks hold entropy-coded indices (section IDXC) are written as 1.2; all others as 1.0 or 1.1."""
ADAPTIVE_RESD_MINOR = 4
"""Files whose RESD uses the adaptive contexts (vqcodec.coding.residual.N_CONTEXTS) are written as 1.4."""
COMPACT_NOTE_MINOR = 5
"""MIDI files with NOTE coding NC03 (vqcodec.midi.coder) and their metrics in mNOT are written as 1.5."""
NOTE_CODING_MINORS = {b"NC04": 6}
"""NOTE codings written as a later minor: NC04 (escapes coded by bit length) as 1.6."""
INDEX_CODING_MINORS = {"bigram-rans-2": 7}
"""IDXC codings written as a later minor: bigram-rans-2 (a prior per stage count) as 1.7."""
MAX_CODING_NAME = 64
ZSTD_LEVEL = 19

MAX_HEADER = 64 * 1024
MAX_CHANNELS = 256
MAX_SAMPLES = 2**33
MAX_BLOCK_BYTES = 64 * 1024 * 1024  # decoded (packed) bytes of one block
MAX_SECTION_BYTES = 2**31 - 1  # PNG's chunk cap
MAX_NAN_RUNS = 2**20
MAX_METRICS_BYTES = 1024 * 1024
MAX_STAGES = 32
MIN_CODEBOOK, MAX_CODEBOOK = 2, 65536
MAX_FS = 1e5

KINDS = {1: "ecg", 2: "midi"}
_KIND_CODES = {v: k for k, v in KINDS.items()}
TAG_BLKS, TAG_NORM, TAG_NANM, TAG_FPRT, TAG_MTRC, TAG_END = "BLKS", "NORM", "NANM", "fPRT", "mTRC", "END "
TAG_RESD, TAG_IDXC, TAG_NOTE, TAG_MNOT = "RESD", "IDXC", "NOTE", "mNOT"
KNOWN_TAGS = (TAG_NORM, TAG_NANM, TAG_IDXC, TAG_BLKS, TAG_RESD, TAG_NOTE, TAG_FPRT, TAG_MTRC, TAG_MNOT)  # dumps' order
NOTE_METRICS = ("f1_onset", "f1_offset", "onset_err_ms_median", "onset_err_ms_max", "velocity_mae",
                "duration_rel_err_median")
"""A midi file's stored metrics, in mNOT's order, then PEDAL_METRIC: {controller: agreement}."""
PEDAL_METRIC = "pedal_agreement"
_NOTE_METRICS = struct.Struct("<" + "f" * len(NOTE_METRICS))
_PEDAL_ROW = struct.Struct("<Bf")  # controller, agreement
_MNOT_CAP = _NOTE_METRICS.size + 1 + 255 * _PEDAL_ROW.size

_PREAMBLE = struct.Struct("<HHI")  # major, minor, hdr_len
_FIXED = struct.Struct("<BdHQQHIIBIB32s")  # the header's fixed part, then JSON
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_SECTION_HEAD = struct.Struct("<4sI")
_BLOCK_HEAD = struct.Struct("<II")  # compressed length, CRC-32 of the compressed bytes
NORM_FRAMES_KEY = "norm_frames"
"""Header meta key: frames per normalisation block, when smaller than a storage block."""
_NORM_WIDTH, _FPRT_WIDTH, _RUN_WIDTH = 2, 3, 3  # (offset, scale); (mean, rms, max|x|); (channel, start, length)
_SHA_RE = re.compile(r"[0-9a-f]{64}")
_TAG_RE = re.compile(rb"[A-Za-z]{4}")


@dataclass(frozen=True)
class Limits:
    """Caps on every length or count read from a file, checked before anything is allocated."""

    max_header: int = MAX_HEADER
    max_channels: int = MAX_CHANNELS
    max_samples: int = MAX_SAMPLES
    max_block_bytes: int = MAX_BLOCK_BYTES
    max_section_bytes: int = MAX_SECTION_BYTES
    max_nan_runs: int = MAX_NAN_RUNS
    max_metrics_bytes: int = MAX_METRICS_BYTES


DEFAULT_LIMITS = Limits()


@dataclass
class Header:
    """What a decoder needs before touching the payload: the record's shape, the code layout, the model."""

    kind: str
    fs: float
    n_channels: int
    n_samples: int
    n_frames: int
    hop: int
    block_frames: int
    n_stages: int
    codebook_size: int
    model_sha256: str
    meta: dict = field(default_factory=dict)

    @property
    def n_blocks(self) -> int:
        """ceil(n_frames / block_frames); 0 for an empty record."""
        return -(-self.n_frames // self.block_frames)

    @property
    def norm_frames(self) -> int:
        """Frames per normalisation block: meta["norm_frames"] when given, else block_frames."""
        return self.meta.get(NORM_FRAMES_KEY, self.block_frames)

    @property
    def n_norm_blocks(self) -> int:
        """Rows of NORM: ceil(n_frames / norm_frames); 0 for an empty record."""
        return -(-self.n_frames // self.norm_frames)

    @property
    def bits_per_index(self) -> int:
        """ceil(log2(codebook_size)): the packed width of one index."""
        return max(1, (self.codebook_size - 1).bit_length())

    def block_length(self, b: int) -> int:
        """Frames in block b (block_frames, except a shorter last block)."""
        return min(self.block_frames, self.n_frames - b * self.block_frames)

    def packed_block_size(self, frames: int) -> int:
        """Bytes of one block's packed indices: ceil(C * S * frames * bits / 8)."""
        return bitpack.packed_size(self.n_channels * self.n_stages * frames, self.bits_per_index)


@dataclass(eq=False)
class VqcFile:
    """A decoded .vqc file. `==` is identity (it holds arrays): compare the fields instead."""

    header: Header
    blocks: list[np.ndarray]  # uint16 [C, S, F_b] per block
    norm: np.ndarray  # float32 [n_norm_blocks, C, 2]: (offset, scale), the model sees (x - offset) / scale
    nan_runs: np.ndarray = field(default_factory=lambda: np.zeros((0, _RUN_WIDTH), np.int64))
    fingerprint: np.ndarray | None = None  # float32 [n_blocks, C, 3]: (mean, rms, max|x|)
    metrics: dict | None = None
    extra: dict[str, bytes] = field(default_factory=dict)  # unknown ancillary sections, kept verbatim
    lost_blocks: dict[int, str] = field(default_factory=dict)  # salvage only: block -> why it was unreadable
    damage: list[str] = field(default_factory=list)  # salvage only: other damage that was skipped
    residual: bytes | None = None  # RESD payload (vqcodec.coding.residual), decoded with the model's prediction
    index_coding: str | None = None  # IDXC: blocks are then the coded bytes of each block, decoded by the codec
    notes: bytes | None = None  # NOTE payload of a MIDI file (vqcodec.midi.coder), decoded with the model's priors


def _header_problem(h: Header, limits: Limits) -> tuple[type[Exception], str] | None:
    """The first invalid header field as (error class, message), or None; shared by dumps and loads."""
    if h.kind not in KINDS.values():
        return FormatError, f"unknown kind {h.kind!r}"
    if not (math.isfinite(h.fs) and 0 < h.fs <= MAX_FS):
        return FormatError, f"fs {h.fs} outside (0, {MAX_FS:g}]"
    if not 0 <= h.n_channels <= limits.max_channels:
        return LimitError, f"{h.n_channels} channels exceed the limit {limits.max_channels}"
    for what, n in (("n_samples", h.n_samples), ("n_frames", h.n_frames)):
        if not 0 <= n <= limits.max_samples:
            return LimitError, f"{what} {n} exceeds the limit {limits.max_samples}"
    if h.hop < 1 or h.block_frames < 1:
        return FormatError, f"hop {h.hop} and block_frames {h.block_frames} must be >= 1"
    if not 0 <= h.n_stages <= MAX_STAGES:  # 0: no model layer, the residual layer (RESD) holds every sample
        return FormatError, f"n_stages {h.n_stages} outside [0, {MAX_STAGES}]"
    if not MIN_CODEBOOK <= h.codebook_size <= MAX_CODEBOOK:
        return FormatError, f"codebook_size {h.codebook_size} outside [{MIN_CODEBOOK}, {MAX_CODEBOOK}]"
    if not (isinstance(h.model_sha256, str) and _SHA_RE.fullmatch(h.model_sha256)):
        return FormatError, "model_sha256 must be 64 lowercase hex characters"
    if not isinstance(h.meta, dict):
        return FormatError, "header meta must be a JSON object"
    nf = h.meta.get(NORM_FRAMES_KEY, h.block_frames)
    if not (type(nf) is int and 1 <= nf <= h.block_frames):
        return FormatError, f"meta {NORM_FRAMES_KEY} {nf!r} must be an integer in [1, block_frames]"
    largest = h.packed_block_size(min(h.block_frames, h.n_frames))
    if largest > limits.max_block_bytes:
        return LimitError, f"a block holds {largest} bytes of indices, over the limit {limits.max_block_bytes}"
    return None


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


# ------------------------------------------------------------------ writing


def _numpy_scalar(x: object) -> object:
    """json.dumps hook: numpy scalars (np.float32, np.int64, ...) become their Python value."""
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"{type(x).__name__} is not JSON-serialisable")


def _json_bytes(obj: dict, what: str, allow_nan: bool) -> bytes:
    """Compact, key-sorted UTF-8 JSON, so that dumps is deterministic."""
    try:
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=allow_nan,
                          default=_numpy_scalar)  # fmt: skip
        return text.encode("utf-8")  # UnicodeEncodeError (lone surrogates) is a ValueError
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what} is not JSON-serialisable: {e}") from None


def _note_metrics_bytes(metrics: dict) -> bytes | None:
    """A midi file's metrics -> mNOT: NOTE_METRICS as float32 (None, not measured, as NaN), then the pedal count
    and (controller, agreement); None when they are not exactly that schema (they then go to mTRC as JSON, as
    before 1.5, so whatever a reader accepts can be written again)."""
    pedals = metrics.get(PEDAL_METRIC)
    if set(metrics) != {*NOTE_METRICS, PEDAL_METRIC} or not isinstance(pedals, dict) or len(pedals) > 255:
        return None
    try:
        rows = sorted((int(c), float(v)) for c, v in pedals.items())
        head = _NOTE_METRICS.pack(*(math.nan if metrics[k] is None else float(metrics[k]) for k in NOTE_METRICS))
        return head + bytes([len(rows)]) + b"".join(_PEDAL_ROW.pack(c, v) for c, v in rows)
    except (TypeError, ValueError, OverflowError, struct.error):
        return None


def _read_metrics(r: _Reader, sections: dict[str, memoryview]) -> dict | None:
    """The stored metrics: mTRC (JSON) or mNOT (a midi file's, binary); a file holding both is refused."""
    if TAG_MTRC in sections and TAG_MNOT in sections:
        raise r.error(FormatError, f"sections {TAG_MTRC} and {TAG_MNOT} both hold metrics; a file has one")
    if TAG_MNOT in sections:
        return _read_note_metrics(r, sections[TAG_MNOT])
    return _read_json(r, sections[TAG_MTRC], TAG_MTRC) if TAG_MTRC in sections else None


def _read_note_metrics(r: _Reader, data: memoryview) -> dict:
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


def _check_array(a: Any, what: str, dtype: type, shape: tuple[int, ...]) -> np.ndarray:
    if not isinstance(a, np.ndarray) or a.dtype != dtype or a.shape != shape:
        got = f"{a.dtype} {a.shape}" if isinstance(a, np.ndarray) else type(a).__name__
        raise ValueError(f"{what} must be {np.dtype(dtype)} {shape}, got {got}")
    return a


def _coding_name_ok(name: bytes) -> bool:
    """Whether an IDXC payload is an index coding name: 1..MAX_CODING_NAME printable ASCII characters."""
    return 0 < len(name) <= MAX_CODING_NAME and name.isascii() and name.decode().isprintable()


def _section(tag: str, data: bytes) -> bytes:
    head = _SECTION_HEAD.pack(tag.encode("ascii"), len(data))
    return head + data + _U32.pack(zlib.crc32(data, zlib.crc32(head[:4])))


def dumps(f: VqcFile, level: int = ZSTD_LEVEL) -> bytes:
    """Serialise `f` to .vqc bytes; deterministic. Raises ValueError when `f` is inconsistent."""
    h = f.header
    problem = _header_problem(h, DEFAULT_LIMITS)
    if problem:
        raise ValueError(problem[1])
    if not 1 <= level <= 22:
        raise ValueError(f"zstd level must be in [1, 22], got {level}")
    C, S, nb = h.n_channels, h.n_stages, h.n_blocks
    meta = _json_bytes(h.meta, "header meta", allow_nan=False)
    if _FIXED.size + len(meta) > MAX_HEADER:
        raise ValueError(f"header meta is {len(meta)} bytes; the header is capped at {MAX_HEADER}")
    try:
        fixed = _FIXED.pack(
            _KIND_CODES[h.kind], h.fs, h.n_channels, h.n_samples, h.n_frames, h.hop,
            h.block_frames, nb, h.n_stages, h.codebook_size, h.bits_per_index, bytes.fromhex(h.model_sha256),
        )  # fmt: skip
    except struct.error as e:
        raise ValueError(f"header field has the wrong type: {e}") from None
    if (h.kind == "midi") != (f.notes is not None):
        raise ValueError("a midi file holds a NOTE section, and only a midi file does")
    minor = (NOTE_CODING_MINORS.get(bytes(f.notes[:4]), COMPACT_NOTE_MINOR) if f.notes is not None
             else ADAPTIVE_RESD_MINOR if f.residual is not None and residual.is_adaptive(f.residual)
             else CODED_MINOR if f.index_coding else RESIDUAL_MINOR if f.residual is not None else VERSION[1])
    minor = max(minor, INDEX_CODING_MINORS.get(f.index_coding or "", 0))
    version = (VERSION[0], minor)
    header = _PREAMBLE.pack(*version, len(fixed) + len(meta)) + fixed + meta
    out = [MAGIC, header, _U32.pack(zlib.crc32(header))]

    zc = zstandard.ZstdCompressor(level=level, write_checksum=True, write_content_size=True)
    norm = _check_array(f.norm, "norm", np.float32, (h.n_norm_blocks, C, _NORM_WIDTH))
    if not (np.isfinite(norm).all() and (norm[..., 1] > 0).all()):
        raise ValueError("norm must be finite with scale > 0")
    out.append(_section(TAG_NORM, norm.astype("<f4").tobytes()))

    runs = _check_array(f.nan_runs, "nan_runs", np.int64, np.shape(f.nan_runs)[:1] + (_RUN_WIDTH,))
    problem_runs = _runs_problem(runs, h)
    if problem_runs:
        raise ValueError(problem_runs)
    if len(runs) > DEFAULT_LIMITS.max_nan_runs:
        raise ValueError(f"{len(runs)} NaN runs exceed the limit {DEFAULT_LIMITS.max_nan_runs}")
    if len(runs):
        out.append(_section(TAG_NANM, zc.compress(runs.astype("<i8").tobytes())))

    if len(f.blocks) != nb:
        raise ValueError(f"{len(f.blocks)} blocks given, header implies {nb}")
    if f.index_coding is not None:
        name = f.index_coding.encode("ascii", "replace")
        if not _coding_name_ok(name):
            raise ValueError(f"index coding name {f.index_coding!r} must be 1..{MAX_CODING_NAME} printable ASCII")
        out.append(_section(TAG_IDXC, name))
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
    out.append(_section(TAG_BLKS, b"".join(blks)))
    if f.residual is not None:
        out.append(_section(TAG_RESD, bytes(f.residual)))
    if f.notes is not None:
        out.append(_section(TAG_NOTE, bytes(f.notes)))

    if f.fingerprint is not None:
        fp = _check_array(f.fingerprint, "fingerprint", np.float32, (nb, C, _FPRT_WIDTH))
        out.append(_section(TAG_FPRT, fp.astype("<f4").tobytes()))
    if f.metrics is not None:
        if not isinstance(f.metrics, dict):
            raise ValueError("metrics must be a dict")
        compact = _note_metrics_bytes(f.metrics) if h.kind == "midi" else None
        out.append(_section(TAG_MNOT, compact) if compact is not None
                   else _section(TAG_MTRC, _json_bytes(f.metrics, "metrics", allow_nan=True)))
    for tag in sorted(f.extra):  # unknown ancillary sections read from another file, copied verbatim
        if not (_TAG_RE.fullmatch(tag.encode("ascii", "replace")) and tag[0].islower()) or tag in KNOWN_TAGS:
            raise ValueError(f"extra section tag {tag!r} must be 4 ASCII letters, lowercase first, not a known tag")
        out.append(_section(tag, bytes(f.extra[tag])))

    size = sum(map(len, out)) + _SECTION_HEAD.size + _U64.size + _U32.size  # END counts itself
    out.append(_section(TAG_END, _U64.pack(size)))
    return b"".join(out)


# ------------------------------------------------------------------ reading


class _Reader:
    """A cursor over the file that raises named errors instead of IndexError/struct.error."""

    def __init__(self, data: bytes, name: str) -> None:
        # Slices of a memoryview share the buffer: walking a large file never copies its payloads.
        self.view = memoryview(data).cast("B")
        self.name = name
        self.pos = 0

    def error(self, cls: type[Exception], msg: str) -> Exception:
        return cls(f"{self.name}: {msg}")

    def take(self, n: int, where: str) -> memoryview:
        if n > len(self.view) - self.pos:
            raise self.error(TruncatedError, f"truncated in {where}")
        self.pos += n
        return self.view[self.pos - n : self.pos]


def _no_constant(token: str) -> None:
    """json.loads hook: the header meta is strict JSON, so NaN/Infinity (which dumps never writes) are invalid."""
    raise ValueError(f"{token} is not allowed in strict JSON")


def _read_header(r: _Reader, limits: Limits) -> Header:
    if len(r.view) == 0:
        raise r.error(FormatError, "empty file")
    head = bytes(r.view[: len(MAGIC)])
    if head != MAGIC:
        if len(head) < len(MAGIC) and MAGIC.startswith(head):
            raise r.error(TruncatedError, "truncated in magic")
        raise r.error(FormatError, "not a .vqc file (bad magic)")
    r.pos = len(MAGIC)
    major, minor = struct.unpack("<HH", r.take(4, "version"))
    # The major gate comes before anything else is parsed: a future major may change every later byte.
    if major != VERSION[0]:
        hint = "; upgrade vqcodec" if major > VERSION[0] else ""
        raise r.error(VersionError, f"format version {major}.{minor}, this vqcodec reads {VERSION[0]}.x{hint}")
    (hdr_len,) = _U32.unpack(r.take(4, "header"))
    if hdr_len > limits.max_header:
        raise r.error(LimitError, f"header length {hdr_len} exceeds the limit {limits.max_header}")
    body = r.take(hdr_len, "header")
    (crc,) = _U32.unpack(r.take(4, "header"))
    # Check the CRC before interpreting any field, so random damage reads as damage, not as odd values.
    if zlib.crc32(r.view[len(MAGIC) : r.pos - 4]) != crc:
        raise r.error(ChecksumError, "header CRC mismatch")
    if hdr_len < _FIXED.size:
        raise r.error(FormatError, f"header is {hdr_len} bytes, shorter than its fixed part ({_FIXED.size})")
    kind, fs, C, ns, nf, hop, bf, nb, S, K, bits, sha = _FIXED.unpack(body[: _FIXED.size])
    try:
        meta = json.loads(str(body[_FIXED.size :], "utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:  # JSONDecodeError is a ValueError
        raise r.error(FormatError, f"header JSON is invalid: {e}") from None
    if kind not in KINDS:
        raise r.error(FormatError, f"unknown kind {kind}")
    h = Header(KINDS[kind], fs, C, ns, nf, hop, bf, S, K, sha.hex(), meta)
    problem = _header_problem(h, limits)
    if problem:
        raise r.error(*problem)
    if bits != h.bits_per_index:
        raise r.error(FormatError, f"bits_per_index {bits} does not match codebook_size {K}")
    if nb != h.n_blocks:
        raise r.error(FormatError, f"n_blocks {nb} != ceil(n_frames / block_frames) = {h.n_blocks}")
    return h


def _section_cap(tag: str, h: Header, limits: Limits) -> int:
    """The largest length a section may declare; NORM and fPRT must match it exactly."""
    if tag == TAG_NORM:
        return h.n_norm_blocks * h.n_channels * _NORM_WIDTH * 4
    if tag == TAG_FPRT:
        return h.n_blocks * h.n_channels * _FPRT_WIDTH * 4
    if tag == TAG_MTRC:
        return limits.max_metrics_bytes
    if tag == TAG_MNOT:
        return _MNOT_CAP
    if tag == TAG_END:
        return _U64.size
    return limits.max_section_bytes


def _read_sections(r: _Reader, h: Header, limits: Limits, crc_tags: set[str] | None,
                   damage: list[str] | None = None, tolerate: frozenset[str] = frozenset({TAG_BLKS}),
                   ) -> list[tuple[str, memoryview]]:
    """Walk the sections up to END, checking lengths, the CRCs of `crc_tags` (None: all), END and EOF.

    With `damage` (salvage, info), a CRC mismatch of a section in `tolerate` (by default BLKS, whose blocks
    each have their own CRC) and bytes after END are noted there instead of raised.
    """
    sections: list[tuple[str, memoryview]] = []
    while True:
        tag_b, length = _SECTION_HEAD.unpack(r.take(_SECTION_HEAD.size, "section header"))
        if not (_TAG_RE.fullmatch(tag_b) or tag_b == TAG_END.encode()):
            raise r.error(FormatError, f"bad section tag {tag_b!r}")
        tag = tag_b.decode("ascii")
        cap = _section_cap(tag, h, limits)
        if tag in (TAG_NORM, TAG_FPRT, TAG_END) and length != cap:
            raise r.error(FormatError, f"section {tag} is {length} bytes, expected {cap}")
        if length > cap:
            raise r.error(LimitError, f"section {tag} length {length} exceeds the limit {cap}")
        payload = r.take(length, f"section {tag}")  # the cap above came first, so no huge length reaches this
        (crc,) = _U32.unpack(r.take(4, f"section {tag}"))
        if (crc_tags is None or tag in crc_tags or tag == TAG_END) and zlib.crc32(payload, zlib.crc32(tag_b)) != crc:
            if damage is None or tag not in tolerate:
                raise r.error(ChecksumError, f"section {tag} CRC mismatch")
            damage.append(f"section {tag} CRC mismatch" + (" (each block is checked by its own CRC)"
                                                            if tag == TAG_BLKS else ""))
        if tag == TAG_END:  # END's length and CRC are checked like any other section's
            break
        if any(t == tag for t, _ in sections):
            raise r.error(FormatError, f"duplicate section {tag}")
        sections.append((tag, payload))
    (total,) = _U64.unpack(payload)
    if total != r.pos:
        raise r.error(FormatError, f"END records {total} bytes but ends at byte {r.pos}")
    if r.pos != len(r.view):
        if damage is None:
            raise r.error(FormatError, f"{len(r.view) - r.pos} trailing bytes after END")
        damage.append(f"ignored {len(r.view) - r.pos} trailing bytes after END")
    return sections


def _frame_size(r: _Reader, frame: memoryview, where: str, limit: int) -> int:
    """The content size a zstd frame declares, checked against `limit` before anything is allocated."""
    try:
        declared = zstandard.frame_content_size(frame)
    except zstandard.ZstdError as e:
        raise r.error(FormatError, f"{where}: bad zstd frame header ({e})") from None
    if declared < 0:
        raise r.error(FormatError, f"{where}: zstd frame does not declare its content size")
    if declared > limit:
        raise r.error(LimitError, f"{where}: zstd frame declares {declared} bytes, over the limit {limit}")
    return declared


def _decompress(r: _Reader, frame: memoryview, size: int, where: str, dz: zstandard.ZstdDecompressor) -> bytes:
    """Decompress a frame whose declared size was checked; zstd verifies its own content checksum."""
    try:
        return dz.decompress(frame, max_output_size=size, allow_extra_data=False)
    except zstandard.ZstdError as e:
        raise r.error(FormatError, f"{where}: zstd: {e}") from None


def _read_blocks(
    r: _Reader, data: memoryview, h: Header, limits: Limits, dz: zstandard.ZstdDecompressor,
    lost: dict[int, str] | None = None, coded: bool = False,
) -> list:
    """Every block of BLKS, in order: index arrays, or each block's coded bytes when `coded` (IDXC).

    With `lost` (salvage), a block that fails a check is recorded there (block -> why) and replaced by zero
    indices, and the walk goes on: each block has its own length and CRC, so one bad block loses only itself
    unless its length field is what was damaged.
    """
    sub = _Reader(data, f"{r.name}: section {TAG_BLKS}")
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


def _read_coded_block(sub: _Reader, b: int, limits: Limits) -> bytes:
    """Block b of an IDXC file at the cursor: length limit and CRC; the codec decodes the bytes."""
    clen, crc = _BLOCK_HEAD.unpack(sub.take(_BLOCK_HEAD.size, f"block {b}"))
    if clen > limits.max_block_bytes:
        raise sub.error(LimitError, f"block {b} is {clen} bytes, over the limit {limits.max_block_bytes}")
    frame = sub.take(clen, f"block {b}")
    if zlib.crc32(frame) != crc:
        raise sub.error(ChecksumError, f"block {b} CRC mismatch")
    return bytes(frame)


def _read_block(sub: _Reader, b: int, h: Header, limits: Limits, dz: zstandard.ZstdDecompressor) -> np.ndarray:
    """Block b at the cursor: CRC, declared size (bomb guard), decompress, unpack, index range."""
    clen, crc = _BLOCK_HEAD.unpack(sub.take(_BLOCK_HEAD.size, f"block {b}"))
    frame = sub.take(clen, f"block {b}")
    if zlib.crc32(frame) != crc:
        raise sub.error(ChecksumError, f"block {b} CRC mismatch")
    frames = h.block_length(b)
    size = h.packed_block_size(frames)
    # zstd allocates what the frame declares (and ignores max_output_size then): compare it first.
    declared = _frame_size(sub, frame, f"block {b}", limits.max_block_bytes)
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


def _read_runs(
    r: _Reader, data: memoryview, h: Header, limits: Limits, dz: zstandard.ZstdDecompressor
) -> np.ndarray:
    row, where = _RUN_WIDTH * 8, f"section {TAG_NANM}"
    size = _frame_size(r, data, where, limits.max_nan_runs * row)
    if size == 0 or size % row:
        raise r.error(FormatError, f"{where}: content size {size} is not a positive multiple of {row}")
    runs = np.frombuffer(_decompress(r, data, size, where, dz), "<i8").reshape(-1, _RUN_WIDTH).astype(np.int64)
    problem = _runs_problem(runs, h)
    if problem:
        raise r.error(FormatError, f"{where}: {problem}")
    return runs


def _read_json(r: _Reader, data: memoryview, tag: str) -> dict:
    try:
        obj = json.loads(str(data, "utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise r.error(FormatError, f"section {tag}: invalid JSON: {e}") from None
    if not isinstance(obj, dict):
        raise r.error(FormatError, f"section {tag}: JSON is not an object")
    return obj


def loads(data: bytes, name: str = "<bytes>", limits: Limits = DEFAULT_LIMITS, salvage: bool = False) -> VqcFile:
    """Parse and fully verify .vqc bytes. Raises a VqcError subclass whose message starts with `name`.

    salvage=True tolerates damage confined to the index blocks: bytes after END are ignored, and a block that
    fails its CRC (or any other check) becomes zero indices listed in `lost_blocks` with the reason; `damage`
    lists what else was skipped. Damage anywhere else still raises: without an intact header, NORM, NANM,
    fPRT and END, the surviving blocks could not be decoded or verified.
    """
    r = _Reader(data, name)
    h = _read_header(r, limits)
    # Every section's CRC is checked before any payload is decompressed.
    damage: list[str] | None = [] if salvage else None
    sections = dict(_read_sections(r, h, limits, crc_tags=None, damage=damage))
    for tag in (TAG_NORM, TAG_BLKS):
        if tag not in sections:
            raise r.error(FormatError, f"missing section {tag}")
    extra = {}
    for tag, payload in sections.items():
        if tag in KNOWN_TAGS:
            continue
        if tag[0].isupper():
            raise r.error(FormatError, f"unsupported feature {tag}")
        warnings.warn(f"{name}: skipping unknown ancillary section {tag}", stacklevel=2)
        extra[tag] = bytes(payload)
    C, nb = h.n_channels, h.n_blocks
    norm = np.frombuffer(sections[TAG_NORM], "<f4").reshape(h.n_norm_blocks, C, _NORM_WIDTH).astype(np.float32)
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
    f = VqcFile(h, blocks, norm, extra=extra, lost_blocks=lost or {}, damage=damage or [], index_coding=coding)
    if TAG_NANM in sections:
        f.nan_runs = _read_runs(r, sections[TAG_NANM], h, limits, dz)
    if TAG_RESD in sections:
        _, uses_model, t, c = residual.header(sections[TAG_RESD], name)
        if (t, c) != (h.n_samples, h.n_channels):
            raise r.error(FormatError, f"section {TAG_RESD} is for {t} x {c} samples, the header says "
                                       f"{h.n_samples} x {h.n_channels}")
        if uses_model != (h.n_stages > 0):
            raise r.error(FormatError, f"section {TAG_RESD} and n_stages {h.n_stages} disagree on the model layer")
        residual.check_size(sections[TAG_RESD], name)
        f.residual = bytes(sections[TAG_RESD])
    if (h.kind == "midi") != (TAG_NOTE in sections):
        raise r.error(FormatError, f"kind {h.kind} and section {TAG_NOTE} disagree (a midi file holds NOTE, no other does)")
    if TAG_NOTE in sections:
        f.notes = bytes(sections[TAG_NOTE])
    elif TAG_RESD not in sections and h.n_stages == 0:
        raise r.error(FormatError, f"n_stages 0 (no model layer) needs section {TAG_RESD}")
    if TAG_FPRT in sections:
        f.fingerprint = np.frombuffer(sections[TAG_FPRT], "<f4").reshape(nb, C, _FPRT_WIDTH).astype(np.float32)
    f.metrics = _read_metrics(r, sections)
    return f


_PAYLOAD_TAGS = frozenset(KNOWN_TAGS) - {TAG_MTRC, TAG_MNOT}
"""What read_header with a damage list notes rather than raises: every section but the metrics it returns."""


def read_header(data: bytes, name: str = "<bytes>", limits: Limits = DEFAULT_LIMITS,
                damage: list[str] | None = None) -> tuple[Header, dict | None, int]:
    """Header, stored metrics and file size, for `vqcodec info`: walks the sections without decompressing.

    Checks the header, mTRC or mNOT and END CRCs and the structure. With `damage`, every other section's CRC
    too, each mismatch (and bytes after END) noted there, so a damaged payload is reported beside the header
    it did not damage; without, payloads are verified only by `loads`.
    """
    r = _Reader(data, name)
    h = _read_header(r, limits)
    sections = dict(_read_sections(r, h, limits, crc_tags=None if damage is not None else {TAG_MTRC, TAG_MNOT},
                                   damage=damage, tolerate=_PAYLOAD_TAGS))
    return h, _read_metrics(r, sections), r.pos
