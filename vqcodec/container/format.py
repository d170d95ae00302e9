"""The .vqc container: magic, version, a CRC-checked header, CRC-checked sections and END; it knows no payload.

What a section holds is its payload module's business (`vqcodec.ecg.file` for ECG records, `vqcodec.midi.file`
for performances): each registers its kind, and each section tag with the minor version it needs and its size
cap. This module walks and checks the structure, enforces the limits and dispatches a parsed file to the payload
module of its kind. The byte layout is specified in docs/FORMAT.md.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
import warnings
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import zstandard

from vqcodec.errors import ChecksumError, FormatError, LimitError, TruncatedError, VersionError

MAGIC = b"\x89VQC\r\n\x1a\n"
MAJOR = 1
"""The format's major version: a reader refuses any other before parsing anything else."""
BASE_MINOR = 0
"""The minor version of a file whose sections all date from 1.0; a section may need a later one."""
ZSTD_LEVEL = 19
"""The zstd level of every zstd frame vqcodec writes."""

MAX_HEADER = 64 * 1024
MAX_CHANNELS = 256
MAX_SAMPLES = 2**33
MAX_BLOCK_BYTES = 64 * 1024 * 1024  # decoded (packed) bytes of one block
MAX_SECTION_BYTES = 2**31 - 1  # PNG's chunk cap
MAX_NAN_RUNS = 2**20
MAX_METRICS_BYTES = 1024 * 1024
MAX_ANNOTATION_BYTES = 64 * 1024 * 1024  # a record's annotation files, stored verbatim (ECG section aNNO, 1.9)
MAX_STAGES = 32
MIN_CODEBOOK, MAX_CODEBOOK = 2, 65536
MAX_FS = 1e5

TAG_END = "END "
TAG_NORM, TAG_BLKS = "NORM", "BLKS"
"""The two sections every file has held since format 1.0 (a kind without their content writes them empty): what
they hold is the kind's business (for ECG, the normalisation statistics and the index blocks)."""
TAG_MTRC = "mTRC"
"""Stored metrics as a JSON object: an ancillary section any payload may carry."""
TAG_BIND = "bIND"
"""The binding: SHA-256 of every byte before it (magic, header, every section with its length and CRC), the last
section before END. It ties the header to its payload and the sections to each other and to their order, so a
splice of two files, a transplanted or a reordered section is refused even though every CRC holds."""
BIND_MINOR = 8
"""Files from format 1.8 on carry bIND, and a reader refuses one without it."""
DIGEST_BYTES = hashlib.sha256().digest_size
"""The length of every SHA-256 a file stores: bIND, and the payloads' digests of what they decode to."""

_PREAMBLE = struct.Struct("<HHI")  # major, minor, hdr_len
_FIXED = struct.Struct("<BdHQQHIIBIB32s")  # the header's fixed part, then JSON
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_SECTION_HEAD = struct.Struct("<4sI")
_SHA_RE = re.compile(r"[0-9a-f]{64}")
_TAG_RE = re.compile(rb"[A-Za-z]{4}")


@dataclass(frozen=True)
class Limits:
    """Caps on every length or count read from a file, checked before anything is allocated (the safety knobs
    of `vqcodec.decompress` and `vqcodec.info`, like zstandard's `max_output_size`)."""

    max_header: int = MAX_HEADER
    max_channels: int = MAX_CHANNELS
    max_samples: int = MAX_SAMPLES
    max_block_bytes: int = MAX_BLOCK_BYTES
    max_section_bytes: int = MAX_SECTION_BYTES
    max_nan_runs: int = MAX_NAN_RUNS
    max_metrics_bytes: int = MAX_METRICS_BYTES
    max_annotation_bytes: int = MAX_ANNOTATION_BYTES


DEFAULT_LIMITS = Limits()


@dataclass
class Header:
    """What a decoder needs before touching the payload: the record's shape, the code layout, the model.

    `meta` is the header's JSON object; each payload module reads and writes it through its own typed metadata
    (`vqcodec.ecg.file.EcgMeta`, `vqcodec.midi.file.MidiMeta`).
    """

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
    def bits_per_index(self) -> int:
        """ceil(log2(codebook_size)): the packed width of one index."""
        return max(1, (self.codebook_size - 1).bit_length())

    def block_length(self, b: int) -> int:
        """Frames in block b (block_frames, except a shorter last block)."""
        return min(self.block_frames, self.n_frames - b * self.block_frames)


# ------------------------------------------------------------------ what payload modules register


@dataclass(frozen=True)
class SectionType:
    """A section tag a payload module defines: the minor version a file holding it needs (which may depend on
    the payload's own bytes, e.g. its coding), and the largest length it may declare (or exactly that length)."""

    tag: str
    minor: Callable[[bytes], int]
    cap: Callable[[Header, Limits], int]
    exact: bool = False
    damage_note: str = ""
    """Said after "section TAG CRC mismatch" where a salvage or `info` tolerates that damage."""


class PayloadFile(Protocol):
    """What a payload module's file type offers the container."""

    header: Header


@dataclass(frozen=True)
class Kind:
    """A kind of file (its code in the header's kind byte) and the payload module that reads and writes it.

    `read(data, name, limits, salvage)` parses and verifies bytes of this kind into its file type (through
    `read` below); `write(file, level)` gives the header and sections to store; `metrics(container)` gives the
    stored metrics, held in the sections `metric_tags`, for `info`; `check_header` what the payload needs of the
    header beyond the container's checks, run when the header is read or written.
    """

    name: str
    code: int
    file_type: type
    read: Callable[[bytes | memoryview, str, Limits, bool], Any]
    write: Callable[[Any, int], tuple[Header, list[tuple[str, bytes]]]]
    metrics: Callable[[Container], dict | None]
    check_header: Callable[[Header, Limits], tuple[type[Exception], str] | None] = lambda h, limits: None
    metric_tags: frozenset[str] = frozenset({TAG_MTRC})


SECTION_TYPES: dict[str, SectionType] = {}
KINDS: dict[str, Kind] = {}


def register_section(section: SectionType) -> SectionType:
    """Make a section tag known; a tag is registered once."""
    if not (_TAG_RE.fullmatch(section.tag.encode("ascii")) and section.tag not in (TAG_END,)):
        raise ValueError(f"section tag {section.tag!r} must be 4 ASCII letters")
    if section.tag in SECTION_TYPES and SECTION_TYPES[section.tag] != section:
        raise ValueError(f"section tag {section.tag} is registered already")
    SECTION_TYPES[section.tag] = section
    return section


def register_kind(kind: Kind) -> Kind:
    """Make a file kind known (its name and header code unique)."""
    for other in KINDS.values():
        if other.name != kind.name and other.code == kind.code:
            raise ValueError(f"kind code {kind.code} is {other.name}'s already")
    KINDS[kind.name] = kind
    return kind


def _kind_by_code(code: int | None) -> Kind | None:
    return next((k for k in KINDS.values() if k.code == code), None)


register_section(SectionType(TAG_NORM, minor=lambda _: BASE_MINOR, cap=lambda h, lim: lim.max_section_bytes))
register_section(SectionType(TAG_BLKS, minor=lambda _: BASE_MINOR, cap=lambda h, lim: lim.max_section_bytes,
                             damage_note="each block is checked by its own CRC"))
register_section(SectionType(TAG_MTRC, minor=lambda _: BASE_MINOR, cap=lambda h, lim: lim.max_metrics_bytes))
register_section(SectionType(TAG_BIND, minor=lambda _: BIND_MINOR, cap=lambda h, lim: DIGEST_BYTES, exact=True))


def digest_payload(value: object, what: str) -> bytes:
    """A digest to store as a section, checked: DIGEST_BYTES bytes; ValueError otherwise."""
    if not (isinstance(value, bytes) and len(value) == DIGEST_BYTES):
        raise ValueError(f"{what} must be {DIGEST_BYTES} bytes")
    return value


# ------------------------------------------------------------------ checks shared by writing and reading


def _header_problem(h: Header, limits: Limits) -> tuple[type[Exception], str] | None:
    """The first invalid header field as (error class, message), or None; shared by write and read."""
    if h.kind not in KINDS:
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
    return KINDS[h.kind].check_header(h, limits)


# ------------------------------------------------------------------ writing


def _numpy_scalar(x: object) -> object:
    """json.dumps hook: numpy scalars (np.float32, np.int64, ...) become their Python value."""
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"{type(x).__name__} is not JSON-serialisable")


def json_bytes(obj: dict, what: str, allow_nan: bool) -> bytes:
    """Compact, key-sorted UTF-8 JSON, so that writing is deterministic; ValueError when obj cannot be."""
    try:
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=allow_nan,
                          default=_numpy_scalar)  # fmt: skip
        return text.encode("utf-8")  # UnicodeEncodeError (lone surrogates) is a ValueError
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what} is not JSON-serialisable: {e}") from None


def section_bytes(tag: str, data: bytes) -> bytes:
    """One section: tag, length, payload, CRC-32 over tag and payload."""
    head = _SECTION_HEAD.pack(tag.encode("ascii"), len(data))
    return head + data + _U32.pack(zlib.crc32(data, zlib.crc32(head[:4])))


def write(h: Header, sections: Sequence[tuple[str, bytes]], extra: dict[str, bytes] | None = None) -> bytes:
    """Header and (tag, payload) sections -> .vqc bytes; the minor version is the largest any section needs.

    `extra` holds unknown ancillary sections read from another file, copied verbatim after the known ones.
    Raises ValueError when the header or a section is inconsistent.
    """
    problem = _header_problem(h, DEFAULT_LIMITS)
    if problem:
        raise ValueError(problem[1])
    meta = json_bytes(h.meta, "header meta", allow_nan=False)
    if _FIXED.size + len(meta) > MAX_HEADER:
        raise ValueError(f"header meta is {len(meta)} bytes; the header is capped at {MAX_HEADER}")
    try:
        fixed = _FIXED.pack(
            KINDS[h.kind].code, h.fs, h.n_channels, h.n_samples, h.n_frames, h.hop,
            h.block_frames, h.n_blocks, h.n_stages, h.codebook_size, h.bits_per_index, bytes.fromhex(h.model_sha256),
        )  # fmt: skip
    except struct.error as e:
        raise ValueError(f"header field has the wrong type: {e}") from None
    minor = BIND_MINOR
    for tag, payload in sections:
        if tag not in SECTION_TYPES or tag == TAG_BIND:
            raise ValueError(f"section {tag} is not registered by any payload module")
        minor = max(minor, SECTION_TYPES[tag].minor(payload))
    header = _PREAMBLE.pack(MAJOR, minor, len(fixed) + len(meta)) + fixed + meta
    out = [MAGIC, header, _U32.pack(zlib.crc32(header))]
    out += [section_bytes(tag, bytes(payload)) for tag, payload in sections]
    for tag in sorted(extra or {}):
        if not (_TAG_RE.fullmatch(tag.encode("ascii", "replace")) and tag[0].islower()) or tag in SECTION_TYPES:
            raise ValueError(f"extra section tag {tag!r} must be 4 ASCII letters, lowercase first, not a known tag")
        out.append(section_bytes(tag, bytes((extra or {})[tag])))
    out.append(section_bytes(TAG_BIND, hashlib.sha256(b"".join(out)).digest()))
    size = sum(map(len, out)) + _SECTION_HEAD.size + _U64.size + _U32.size  # END counts itself
    out.append(section_bytes(TAG_END, _U64.pack(size)))
    return b"".join(out)


def dumps(f: PayloadFile, level: int = ZSTD_LEVEL) -> bytes:
    """Serialise a payload file (an `EcgFile` or `MidiFile`) to .vqc bytes; deterministic.

    Raises ValueError when the file is inconsistent.
    """
    kind_name = getattr(getattr(f, "header", None), "kind", None)
    kind = KINDS.get(kind_name) if isinstance(kind_name, str) else None
    if kind is None:
        raise ValueError(f"unknown kind {kind_name!r}")
    if not isinstance(f, kind.file_type):
        raise ValueError(f"a {type(f).__name__} cannot be written as kind {kind.name} ({kind.file_type.__name__})")
    if not 1 <= level <= 22:
        raise ValueError(f"zstd level must be in [1, 22], got {level}")
    header, sections = kind.write(f, level)
    extra = getattr(f, "extra", None)
    return write(header, sections, extra)


# ------------------------------------------------------------------ reading


class Reader:
    """A cursor over bytes that raises named errors instead of IndexError/struct.error."""

    def __init__(self, data: bytes | memoryview, name: str) -> None:
        # Slices of a memoryview share the buffer: walking a large file never copies its payloads.
        self.view = memoryview(data).cast("B")
        self.name = name
        self.pos = 0
        self.bind_at: int | None = None  # where the bIND section starts, once the walk has met it

    def error(self, cls: type[Exception], msg: str) -> Exception:
        return cls(f"{self.name}: {msg}")

    def take(self, n: int, where: str) -> memoryview:
        if n > len(self.view) - self.pos:
            raise self.error(TruncatedError, f"truncated in {where}")
        self.pos += n
        return self.view[self.pos - n : self.pos]


@dataclass
class Container:
    """A structurally checked file: its header, version, known sections in file order, unknown ancillary ones."""

    name: str
    header: Header
    version: tuple[int, int]
    sections: dict[str, memoryview]
    extra: dict[str, bytes] = field(default_factory=dict)
    damage: list[str] = field(default_factory=list)
    size: int = 0
    bound: bool = False  # whether it carries the binding (bIND, format 1.8 on), checked

    def error(self, cls: type[Exception], msg: str) -> Exception:
        """An error of class `cls` whose message starts with the file's name."""
        return cls(f"{self.name}: {msg}")


def _no_constant(token: str) -> None:
    """json.loads hook: the header meta is strict JSON, so NaN/Infinity (which write never emits) are invalid."""
    raise ValueError(f"{token} is not allowed in strict JSON")


def _read_header(r: Reader, limits: Limits) -> tuple[Header, tuple[int, int]]:
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
    if major != MAJOR:
        hint = "; upgrade vqcodec" if major > MAJOR else ""
        raise r.error(VersionError, f"format version {major}.{minor}, this vqcodec reads {MAJOR}.x{hint}")
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
    code, fs, C, ns, nf, hop, bf, nb, S, K, bits, sha = _FIXED.unpack(body[: _FIXED.size])
    try:
        meta = json.loads(str(body[_FIXED.size :], "utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:  # JSONDecodeError is a ValueError
        raise r.error(FormatError, f"header JSON is invalid: {e}") from None
    kind = _kind_by_code(code)
    if kind is None:
        raise r.error(FormatError, f"unknown kind {code}")
    h = Header(kind.name, fs, C, ns, nf, hop, bf, S, K, sha.hex(), meta)
    problem = _header_problem(h, limits)
    if problem:
        raise r.error(*problem)
    if bits != h.bits_per_index:
        raise r.error(FormatError, f"bits_per_index {bits} does not match codebook_size {K}")
    if nb != h.n_blocks:
        raise r.error(FormatError, f"n_blocks {nb} != ceil(n_frames / block_frames) = {h.n_blocks}")
    return h, (major, minor)


def _section_cap(tag: str, h: Header, limits: Limits) -> tuple[int, bool]:
    """The largest length a section may declare, and whether it must be exactly that."""
    if tag == TAG_END:
        return _U64.size, True
    known = SECTION_TYPES.get(tag)
    if known is None:
        return limits.max_section_bytes, False
    return known.cap(h, limits), known.exact


def _read_sections(r: Reader, h: Header, limits: Limits, crc_tags: frozenset[str] | None,
                   damage: list[str] | None = None, tolerate: frozenset[str] = frozenset(),
                   ) -> list[tuple[str, memoryview]]:
    """Walk the sections up to END, checking lengths, the CRCs of `crc_tags` (None: all), END and EOF.

    With `damage` (salvage, info), a CRC mismatch of a section in `tolerate` and bytes after END are noted there
    instead of raised, with what the section's type says about such damage.
    """
    sections: list[tuple[str, memoryview]] = []
    while True:
        start = r.pos
        tag_b, length = _SECTION_HEAD.unpack(r.take(_SECTION_HEAD.size, "section header"))
        if not (_TAG_RE.fullmatch(tag_b) or tag_b == TAG_END.encode()):
            raise r.error(FormatError, f"bad section tag {tag_b!r}")
        tag = tag_b.decode("ascii")
        cap, exact = _section_cap(tag, h, limits)
        if exact and length != cap:
            raise r.error(FormatError, f"section {tag} is {length} bytes, expected {cap}")
        if length > cap:
            raise r.error(LimitError, f"section {tag} length {length} exceeds the limit {cap}")
        payload = r.take(length, f"section {tag}")  # the cap above came first, so no huge length reaches this
        (crc,) = _U32.unpack(r.take(4, f"section {tag}"))
        if (crc_tags is None or tag in crc_tags or tag == TAG_END) and zlib.crc32(payload, zlib.crc32(tag_b)) != crc:
            if damage is None or tag not in tolerate:
                raise r.error(ChecksumError, f"section {tag} CRC mismatch")
            known = SECTION_TYPES.get(tag)
            damage.append(f"section {tag} CRC mismatch" + (f" ({known.damage_note})" if known and known.damage_note
                                                            else ""))
        if tag == TAG_END:  # END's length and CRC are checked like any other section's
            break
        if any(t == tag for t, _ in sections):
            raise r.error(FormatError, f"duplicate section {tag}")
        if tag == TAG_BIND:
            r.bind_at = start
        sections.append((tag, payload))
    (total,) = _U64.unpack(payload)
    if total != r.pos:
        raise r.error(FormatError, f"END records {total} bytes but ends at byte {r.pos}")
    if r.pos != len(r.view):
        if damage is None:
            raise r.error(FormatError, f"{len(r.view) - r.pos} trailing bytes after END")
        damage.append(f"ignored {len(r.view) - r.pos} trailing bytes after END")
    return sections


def read(data: bytes | memoryview, name: str = "<bytes>", limits: Limits = DEFAULT_LIMITS,
         damage: list[str] | None = None, tolerate: frozenset[str] = frozenset(),
         crc_tags: frozenset[str] | None = None, warn: bool = True, verify_binding: bool = True) -> Container:
    """Check the structure of .vqc bytes: magic, version, header CRC and fields, every section's length cap and
    CRC (or only `crc_tags`'), END and the end of the data. Unknown ancillary sections (lowercase first letter) are
    kept in `extra` (with a warning unless `warn` is False); an unknown critical one (uppercase) is an unsupported
    feature.

    Nothing is decompressed: that is the payload module's work, on sections whose CRC has passed.
    """
    r = Reader(data, name)
    h, version = _read_header(r, limits)
    walked = _read_sections(r, h, limits, crc_tags=crc_tags, damage=damage, tolerate=tolerate)
    bound = (_check_binding(r, walked, version, damage) if verify_binding
             else any(t == TAG_BIND for t, _ in walked))
    sections: dict[str, memoryview] = {}
    extra: dict[str, bytes] = {}
    for tag, payload in walked:
        if tag == TAG_BIND:
            continue
        if tag in SECTION_TYPES:
            sections[tag] = payload
        elif tag[0].isupper():
            raise r.error(FormatError, f"unsupported feature {tag}")
        else:
            if warn:
                warnings.warn(f"{name}: skipping unknown ancillary section {tag}", stacklevel=3)
            extra[tag] = bytes(payload)
    return Container(name, h, version, sections, extra, damage if damage is not None else [], r.pos, bound)


def _check_binding(r: Reader, walked: list[tuple[str, memoryview]], version: tuple[int, int],
                   damage: list[str] | None) -> bool:
    """Whether the file is bound (bIND present and right); FormatError or ChecksumError when it should be and is
    not. With `damage` already noted (salvage, info), a wrong digest is noted too: the damage explains it."""
    tags = [t for t, _ in walked]
    if TAG_BIND not in tags:
        if version[1] >= BIND_MINOR:
            raise r.error(FormatError, f"format {version[0]}.{version[1]} file without its binding section "
                                       f"{TAG_BIND} (removed, or the file was cut)")
        return False
    if tags[-1] != TAG_BIND:
        raise r.error(FormatError, f"section {TAG_BIND} must be the last before END (sections reordered)")
    assert r.bind_at is not None
    if hashlib.sha256(r.view[: r.bind_at]).digest() != bytes(walked[-1][1]):
        why = (f"the binding ({TAG_BIND}) disagrees with the header and sections before it: they are not one "
               "file's (spliced, reordered or damaged)")
        if damage:  # the damage already noted (a block's CRC, bytes after END) explains it
            return False
        raise r.error(ChecksumError, why)
    return True


def read_json(r: Reader, data: memoryview, tag: str) -> dict:
    """A section holding a JSON object (mTRC, for example); FormatError naming the section when it is not one."""
    try:
        obj = json.loads(str(data, "utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise r.error(FormatError, f"section {tag}: invalid JSON: {e}") from None
    if not isinstance(obj, dict):
        raise r.error(FormatError, f"section {tag}: JSON is not an object")
    return obj


def loads(data: bytes | memoryview, name: str = "<bytes>", limits: Limits = DEFAULT_LIMITS,
          salvage: bool = False) -> Any:
    """Parse and fully verify .vqc bytes into the payload file of its kind (`EcgFile`, `MidiFile`). Raises a
    VqcError subclass whose message starts with `name`.

    salvage=True asks the payload module to tolerate damage confined to what it can lose alone (an ECG file's
    index blocks); see `vqcodec.ecg.file.loads`.
    """
    kind = _kind_by_code(_peek_kind(data))
    if kind is None:  # bad magic, damaged header, unknown kind: the container's own checks name the problem
        read(data, name, limits)
        raise FormatError(f"{name}: unknown kind")
    return kind.read(data, name, limits, salvage)


def _peek_kind(data: bytes | memoryview) -> int | None:
    """The header's kind byte, unchecked (the full checks follow), or None when the data is too short."""
    at = len(MAGIC) + _PREAMBLE.size
    view = memoryview(data).cast("B")
    return view[at] if len(view) > at else None


def read_header(data: bytes | memoryview, name: str = "<bytes>", limits: Limits = DEFAULT_LIMITS,
                damage: list[str] | None = None) -> tuple[Header, dict | None, int]:
    """Header, stored metrics and file size, for `vqcodec info`: walks the sections without decompressing.

    Checks the header, the metrics sections' and END's CRCs and the structure. With `damage`, every other
    section's CRC too, each mismatch (and bytes after END) noted there, so a damaged payload is reported beside the
    header it did not damage; without, payloads are verified only by `loads`.
    """
    c, metrics = inspect(data, name, limits, damage)
    return c.header, metrics, c.size


def inspect(data: bytes | memoryview, name: str = "<bytes>", limits: Limits = DEFAULT_LIMITS,
            damage: list[str] | None = None) -> tuple[Container, dict | None]:
    """The checked container and its stored metrics, without decompressing (read_header's work, whole)."""
    kind = _kind_by_code(_peek_kind(data))
    metric_tags = frozenset().union(*(k.metric_tags for k in KINDS.values()))
    tolerate = frozenset(SECTION_TYPES) - metric_tags
    c = read(data, name, limits, damage=damage, tolerate=tolerate,
             crc_tags=None if damage is not None else metric_tags, warn=False, verify_binding=damage is not None)
    return c, (kind.metrics(c) if kind else None)


def header_problem(h: Header) -> str | None:
    """Why a header cannot be written (the container's checks, then its kind's), or None."""
    problem = _header_problem(h, DEFAULT_LIMITS)
    return problem[1] if problem else None


def zstd_frame_size(r: Reader, frame: memoryview, where: str, limit: int) -> int:
    """The content size a zstd frame declares, checked against `limit` before anything is allocated (a payload
    module's compressed parts: the container itself compresses nothing)."""
    try:
        declared = zstandard.frame_content_size(frame)
    except zstandard.ZstdError as e:
        raise r.error(FormatError, f"{where}: bad zstd frame header ({e})") from None
    if declared < 0:
        raise r.error(FormatError, f"{where}: zstd frame does not declare its content size")
    if declared > limit:
        raise r.error(LimitError, f"{where}: zstd frame declares {declared} bytes, over the limit {limit}")
    return declared
