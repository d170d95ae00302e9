"""vqcodec.container.format: the .vqc container round-trips, and every malformed file fails with a named VqcError.

Files are crafted by splitting a valid file into its sections and joining them back with fresh CRCs, so each
test changes exactly one thing (RELIABILITY.md section 5, cases 1-13).
"""

from __future__ import annotations

import struct
import tracemalloc
import warnings
from collections.abc import Callable

import numpy as np
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.vqc import (
    HEADER_START,
    OFF_BITS,
    OFF_BLOCKS,
    OFF_CHANNELS,
    OFF_CODEBOOK,
    OFF_FS,
    OFF_HDR_LEN,
    OFF_KIND,
    OFF_MAJOR,
    OFF_SAMPLES,
    block_frames,
    crc,
    flip_in_block,
    join,
    patch_header,
    split,
    with_block,
    with_section,
)
from vqcodec.container import bitpack
from vqcodec.container import format as vf
from vqcodec.ecg.file import EcgFile
from vqcodec.errors import ChecksumError, FormatError, LimitError, TruncatedError, VersionError, VqcError
from vqcodec.midi.file import MidiFile

NAME = "100.vqc"
SHA = "5e" * 32
MAX_PEAK = 16 * 1024 * 1024


# A whole empty record (0 samples, 0 blocks, one channel): the frozen v1.0 byte layout.
EMPTY_VQC = """
    89 56 51 43 0d 0a 1a 0a                           # magic
    01 00 08 00                                       # version 1.8
    4d 00 00 00                                       # hdr_len 77
    01                                                # kind ecg
    00 00 00 00 00 80 76 40                           # fs 360.0
    01 00                                             # 1 channel
    00 00 00 00 00 00 00 00                           # n_samples 0
    00 00 00 00 00 00 00 00                           # n_frames 0
    04 00                                             # hop 4
    32 00 00 00                                       # block_frames 50
    00 00 00 00                                       # n_blocks 0
    01                                                # n_stages 1
    02 00 00 00                                       # codebook_size 2
    01                                                # bits_per_index 1
    00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  # model sha256
    00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00
    7b 7d                                             # meta: {}
    8f f0 01 9d                                       # header CRC
    4e 4f 52 4d  00 00 00 00  14 38 a9 a1             # NORM, empty
    42 4c 4b 53  00 00 00 00  8e ad 36 88             # BLKS, empty
    62 49 4e 44  20 00 00 00                          # bIND, 32 bytes: SHA-256 of every byte before it
    7e 0d a6 fa 10 d3 8d 3e  2f bc 04 e9 7a 65 11 4f
    b8 76 4c f7 93 f0 dd 5c  3e 75 02 e6 36 c2 0b 4f
    0d d8 59 ee                                       # bIND CRC
    45 4e 44 20  08 00 00 00                          # END
    b9 00 00 00 00 00 00 00                           # total length 185
    93 dc 32 8b                                       # END CRC
"""


def hexbytes(text: str) -> bytes:
    """Parse a commented hexdump (mido style): everything after '#' on a line is a comment."""
    return bytes.fromhex(" ".join(line.split("#")[0] for line in text.splitlines()))


def peak_bytes(fn: Callable[..., object], *args: object) -> tuple[BaseException, int]:
    """Run fn expecting a VqcError; return it and the tracemalloc peak."""
    tracemalloc.start()
    try:
        with pytest.raises(VqcError) as info:
            fn(*args)
        return info.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def make_file(codebook_size: int = 1000) -> EcgFile:
    """2 channels, 3 stages, 130 frames in blocks of 50 (the last one 30), NaN runs, fingerprint, metrics."""
    meta = {"model": "ecg-v1", "channels": [{"name": "MLII", "units": "mV"}, {"name": "V5", "units": "mV"}],
            "comments": ["Ünïcode ok", ""], "base_time": None}  # fmt: skip
    h = vf.Header("ecg", 360.0, 2, 1000, 130, 8, 50, 3, codebook_size, SHA, meta)
    rng = np.random.default_rng(7)
    blocks = [rng.integers(0, codebook_size, (2, 3, h.block_length(b))).astype(np.uint16) for b in range(3)]
    blocks[0][0, 0, 0] = codebook_size - 1
    norm = np.stack([rng.normal(size=(3, 2)), rng.uniform(0.1, 2, (3, 2))], axis=-1).astype(np.float32)
    runs = np.array([[0, 0, 5], [0, 100, 20], [1, 990, 10]], dtype=np.int64)
    fingerprint = rng.normal(size=(3, 2, 3)).astype(np.float32)
    metrics = {"prd": [1.5, 2.25], "snr": [float("inf"), 30.0], "cr": 12.5, "clipped": np.int64(3)}
    return EcgFile(h, blocks, norm, runs, fingerprint, metrics)


@pytest.fixture(scope="module")
def blob() -> bytes:
    return vf.dumps(make_file())


def assert_same(a: EcgFile, b: EcgFile) -> None:
    assert a.header == b.header
    assert len(a.blocks) == len(b.blocks)
    for x, y in zip(a.blocks, b.blocks):
        assert x.dtype == y.dtype == np.uint16
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.norm, b.norm)
    np.testing.assert_array_equal(a.nan_runs, b.nan_runs)
    assert (a.fingerprint is None) == (b.fingerprint is None)
    if a.fingerprint is not None:
        np.testing.assert_array_equal(a.fingerprint, b.fingerprint)
    assert a.metrics == b.metrics
    assert a.extra == b.extra


# ------------------------------------------------------------------ round trips


def test_empty_record_matches_the_frozen_layout() -> None:
    h = vf.Header("ecg", 360.0, 1, 0, 0, 4, 50, 1, 2, "00" * 32, {})
    f = EcgFile(h, [], np.zeros((0, 1, 2), np.float32))
    data = vf.dumps(f)
    assert data == hexbytes(EMPTY_VQC)
    assert_same(vf.loads(data), f)


def test_round_trip_field_by_field(blob: bytes) -> None:
    f = make_file()
    g = vf.loads(blob, NAME)
    assert_same(g, f)
    assert [b.shape for b in g.blocks] == [(2, 3, 50), (2, 3, 50), (2, 3, 30)]
    assert g.header.n_blocks == 3 and g.header.bits_per_index == 10


def test_round_trip_without_optional_sections() -> None:
    f = make_file()
    f.nan_runs, f.fingerprint, f.metrics = np.zeros((0, 3), np.int64), None, None
    data = vf.dumps(f)
    assert b"NANM" not in data and b"fPRT" not in data and b"mTRC" not in data
    assert_same(vf.loads(data), f)


def test_dumps_is_deterministic(blob: bytes) -> None:
    assert vf.dumps(make_file()) == blob
    assert vf.dumps(vf.loads(blob)) == blob


def test_read_header_skips_payloads(blob: bytes) -> None:
    broken = bytearray(blob)
    broken[blob.index(b"BLKS") + 20] ^= 0xFF  # inside block 0: only loads notices
    for data in (blob, bytes(broken)):
        h, metrics, size = vf.read_header(data, NAME)
        assert h == make_file().header and metrics == make_file().metrics and size == len(blob)
    with pytest.raises(ChecksumError, match=r"^100\.vqc: section BLKS CRC mismatch"):
        vf.loads(bytes(broken), NAME)


@settings(max_examples=30, deadline=None)
@given(
    kind=st.sampled_from(["ecg", "midi"]),
    fs=st.floats(1e-3, 1e5),
    channels=st.integers(0, 3),
    n_frames=st.integers(0, 120),
    block_frames=st.integers(1, 64),
    stages=st.integers(1, 4),
    codebook_size=st.integers(2, 65536),
    names=st.lists(st.text(max_size=8), max_size=3),
    seed=st.integers(0, 2**32 - 1),
)
def test_round_trip_property(
    kind: str, fs: float, channels: int, n_frames: int, block_frames: int, stages: int,
    codebook_size: int, names: list[str], seed: int,
) -> None:  # fmt: skip
    meta = {"channels": [{"name": n, "units": "µV"} for n in names], "comments": []}
    rng = np.random.default_rng(seed)
    if kind == "midi":  # NOTE is opaque here; a midi file holds no code layout
        h = vf.Header(kind, fs, 0, n_frames, 0, 1, 1, 0, 2, SHA, meta)
        notes = bytes(rng.integers(0, 256, 20, dtype=np.uint8))
        back_midi = vf.loads(vf.dumps(MidiFile(h, notes), level=1))
        assert isinstance(back_midi, MidiFile) and back_midi.header == h and back_midi.notes == notes
        return
    h = vf.Header(kind, fs, channels, n_frames * 3, n_frames, 3, block_frames, stages, codebook_size, SHA, meta)
    blocks = [rng.integers(0, codebook_size, (channels, stages, h.block_length(b))).astype(np.uint16)
              for b in range(h.n_blocks)]  # fmt: skip
    f = EcgFile(h, blocks, np.ones((h.n_blocks, channels, 2), np.float32))
    back = vf.loads(vf.dumps(f, level=1))
    assert_same(back, f)


# ------------------------------------------------------------------ rejected files (catalog cases 1-13)


def test_empty_file() -> None:
    with pytest.raises(FormatError, match=r"^100\.vqc: empty file$"):
        vf.loads(b"", NAME)


@pytest.mark.parametrize(
    "data",
    [
        hexbytes("52 49 46 46 24 00 00 00 57 41 56 45 66 6d 74 20  # RIFF....WAVEfmt (a .wav)"),
        hexbytes("28 b5 2f fd 20 00 01 00 00                       # a .zst frame"),
        hexbytes("89 50 4e 47 0d 0a 1a 0a 00 00 00 0d               # a .png"),
        hexbytes("e3 03 00 e3 03 00 e3 03 00                        # a format 212 .dat"),
    ],
)
def test_wrong_magic(data: bytes) -> None:
    with pytest.raises(FormatError, match=r"^100\.vqc: not a \.vqc file \(bad magic\)$"):
        vf.loads(data, NAME)


def test_every_proper_prefix_is_truncated(blob: bytes) -> None:
    for n in range(1, len(blob)):
        with pytest.raises(TruncatedError, match=r"^100\.vqc: truncated"):
            vf.loads(blob[:n], NAME)
        with pytest.raises(TruncatedError):
            vf.read_header(blob[:n], NAME)


def test_truncation_names_the_section(blob: bytes) -> None:
    with pytest.raises(TruncatedError, match=r"^100\.vqc: truncated in section BLKS$"):
        vf.loads(blob[: blob.index(b"BLKS") + 20], NAME)


def test_every_single_bit_flip_fails(blob: bytes) -> None:
    # Exhaustive over the whole file (header, tags, lengths, payloads, CRCs, END): never a silent success.
    for i in range(len(blob)):
        for bit in range(8):
            bad = bytearray(blob)
            bad[i] ^= 1 << bit
            with pytest.raises(VqcError):
                vf.loads(bytes(bad), NAME)


def test_payload_flips_behind_fixed_crcs_still_fail(blob: bytes) -> None:
    # With the CRCs recomputed, zstd's frame checksum and the index checks are the last line of defence.
    frame = block_frames(split(blob)[1][2][1])[0]
    for i in range(0, len(frame), 7):
        bad = bytearray(frame)
        bad[i] ^= 0x10
        with pytest.raises(FormatError):
            vf.loads(with_block(blob, 0, bytes(bad)), NAME)


@pytest.mark.parametrize("extra", [1, 1000])
def test_trailing_bytes(blob: bytes, extra: int) -> None:
    with pytest.raises(FormatError, match=rf"^100\.vqc: {extra} trailing bytes after END$"):
        vf.loads(blob + b"\0" * extra, NAME)


# ------------------------------------------------------------------ salvage (catalog 5): damage confined to blocks


@pytest.mark.parametrize("extra", [1, 1000])
def test_salvage_ignores_trailing_bytes_and_says_so(blob: bytes, extra: int) -> None:
    f = vf.loads(blob + b"\xff" * extra, NAME, salvage=True)
    assert_same(f, vf.loads(blob, NAME))
    assert f.damage == [f"ignored {extra} trailing bytes after END"] and f.lost_blocks == {}
    clean = vf.loads(blob, NAME, salvage=True)
    assert clean.damage == [] and clean.lost_blocks == {}


def test_salvage_loses_only_the_damaged_block(blob: bytes) -> None:
    bad = flip_in_block(blob, 1, 10)
    with pytest.raises(ChecksumError, match="section BLKS CRC mismatch"):
        vf.loads(bad, NAME)
    f, good = vf.loads(bad, NAME, salvage=True), vf.loads(blob, NAME)
    assert f.lost_blocks == {1: "block 1 CRC mismatch"}
    assert f.damage == ["section BLKS CRC mismatch (each block is checked by its own CRC)"]
    for b in (0, 2):
        np.testing.assert_array_equal(f.blocks[b], good.blocks[b])
    assert f.blocks[1].shape == good.blocks[1].shape and not f.blocks[1].any()
    np.testing.assert_array_equal(f.norm, good.norm)
    np.testing.assert_array_equal(f.fingerprint, good.fingerprint)


def test_salvage_of_a_damaged_block_length_loses_the_blocks_after_it(blob: bytes) -> None:
    f = vf.loads(flip_in_block(blob, 1, -7), NAME, salvage=True)  # the length's second byte: +16 KiB
    assert set(f.lost_blocks) == {1, 2} and f.lost_blocks[1] == "truncated in block 1"
    np.testing.assert_array_equal(f.blocks[0], vf.loads(blob, NAME).blocks[0])


@pytest.mark.slow
def test_salvage_never_hides_a_single_bit_flip(blob: bytes) -> None:
    """Exhaustive: with salvage, every flip is still refused or is reported (a lost block or a skipped problem).

    Flips outside BLKS are all refused: salvage does not rescue a damaged header, NORM, NANM, fPRT, mTRC or END."""
    start = blob.index(b"BLKS")
    end = start + 12 + struct.unpack_from("<I", blob, start + 4)[0]
    for i in range(len(blob)):
        for bit in range(8):
            bad = bytearray(blob)
            bad[i] ^= 1 << bit
            try:
                f = vf.loads(bytes(bad), NAME, salvage=True)
            except VqcError:
                continue
            assert start + 8 <= i < end, f"byte {i} outside the block data salvaged"
            assert f.lost_blocks or f.damage, f"bit {bit} of byte {i}: salvaged silently"


def test_newer_major_version() -> None:
    data = patch_header(vf.dumps(make_file()), OFF_MAJOR, "HH", 2, 3)
    expected = r"^100\.vqc: format version 2\.3, this vqcodec reads 1\.x; upgrade vqcodec$"
    with pytest.raises(VersionError, match=expected):
        vf.loads(data, NAME)


def test_newer_minor_version_with_ancillary_section_decodes(blob: bytes) -> None:
    data = with_section(patch_header(blob, OFF_MAJOR, "HH", 1, 7), b"zFUT", b"annotations")
    with pytest.warns(UserWarning, match=r"^100\.vqc: skipping unknown ancillary section zFUT$"):
        f = vf.loads(data, NAME)
    assert f.extra == {"zFUT": b"annotations"}
    base = vf.loads(blob)
    base.extra = f.extra
    assert_same(f, base)  # everything else decodes as before
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert vf.read_header(data)[0] == f.header
    with pytest.warns(UserWarning):
        assert vf.loads(vf.dumps(f)).extra == f.extra  # kept on rewrite (as version 1.0)


def test_unknown_critical_section(blob: bytes) -> None:
    with pytest.raises(FormatError, match=r"^100\.vqc: unsupported feature XTRA$"):
        vf.loads(with_section(blob, b"XTRA", b"\x01"), NAME)


def test_duplicate_and_missing_sections(blob: bytes) -> None:
    head, sections = split(blob)
    with pytest.raises(FormatError, match="duplicate section NORM"):
        vf.loads(join(head, sections + sections[:1]), NAME)
    with pytest.raises(FormatError, match="missing section NORM"):
        vf.loads(join(head, sections[1:]), NAME)


def test_huge_header_length_is_refused_before_allocating(blob: bytes) -> None:
    data = blob[:OFF_HDR_LEN] + struct.pack("<I", 2**31) + blob[OFF_HDR_LEN + 4 :]
    err, peak = peak_bytes(vf.loads, data, NAME)
    assert isinstance(err, LimitError) and str(err).startswith("100.vqc: header length 2147483648")
    assert peak < MAX_PEAK
    err, peak = peak_bytes(vf.loads, data, NAME, vf.Limits(max_header=2**32))
    assert isinstance(err, TruncatedError) and peak < MAX_PEAK


def test_section_longer_than_the_file(blob: bytes) -> None:
    i = blob.index(b"BLKS")
    data = blob[: i + 4] + struct.pack("<I", 2**30) + blob[i + 8 :]
    err, peak = peak_bytes(vf.loads, data, NAME)
    assert isinstance(err, TruncatedError) and "section BLKS" in str(err) and peak < MAX_PEAK


@pytest.mark.parametrize(
    ("offset", "fmt", "value", "match"),
    [
        (OFF_SAMPLES, "Q", 2**40, "n_samples 1099511627776 exceeds the limit 8589934592"),
        (OFF_CHANNELS, "H", 1000, "1000 channels exceed the limit 256"),
    ],
)
def test_huge_counts_are_refused_before_allocating(
    blob: bytes, offset: int, fmt: str, value: int, match: str
) -> None:
    err, peak = peak_bytes(vf.loads, patch_header(blob, offset, fmt, value), NAME)
    assert isinstance(err, LimitError) and match in str(err) and peak < MAX_PEAK


def test_limits_can_be_lowered(blob: bytes) -> None:
    with pytest.raises(LimitError, match="n_samples 1000 exceeds the limit 999"):
        vf.loads(blob, NAME, vf.Limits(max_samples=999))


@pytest.mark.parametrize(
    ("offset", "fmt", "value", "match"),
    [
        (OFF_KIND, "B", 3, "unknown kind 3"),
        (OFF_FS, "d", 0.0, r"fs 0.0 outside \(0, 100000\]"),
        (OFF_FS, "d", float("nan"), "fs nan outside"),
        (OFF_BITS, "B", 11, "bits_per_index 11 does not match codebook_size 1000"),
        (OFF_CODEBOOK, "I", 1, r"codebook_size 1 outside \[2, 65536\]"),
        (OFF_BLOCKS, "I", 4, r"n_blocks 4 != ceil\(n_frames / block_frames\) = 3"),
    ],
)
def test_impossible_header_values(blob: bytes, offset: int, fmt: str, value: object, match: str) -> None:
    with pytest.raises(FormatError, match=rf"^100\.vqc: {match}"):
        vf.loads(patch_header(blob, offset, fmt, value), NAME)


def test_header_json_must_be_an_object(blob: bytes) -> None:
    data = bytearray(blob)
    meta_at = HEADER_START + struct.calcsize("<BdHQQHIIBIB32s")
    data[meta_at] = ord("[")  # '{' -> '[': invalid JSON
    (hdr_len,) = struct.unpack_from("<I", data, OFF_HDR_LEN)
    data[HEADER_START + hdr_len : HEADER_START + hdr_len + 4] = crc(bytes(data[8 : HEADER_START + hdr_len]))
    with pytest.raises(FormatError, match=r"^100\.vqc: header JSON is invalid"):
        vf.loads(bytes(data), NAME)


@pytest.mark.parametrize("payload", [b"[1]", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000, b"{"])
def test_bad_metrics_json(blob: bytes, payload: bytes) -> None:
    head, sections = split(blob)
    data = join(head, [(t, payload if t == b"mTRC" else p) for t, p in sections])
    with pytest.raises(FormatError, match=r"^100\.vqc: section mTRC: "):
        vf.loads(data, NAME)


def test_wrong_zstd_content_size(blob: bytes) -> None:
    raw = zstandard.ZstdDecompressor().decompress(block_frames(split(blob)[1][2][1])[0])
    longer = zstandard.ZstdCompressor(write_content_size=True).compress(raw + b"\0")
    with pytest.raises(FormatError, match=r"block 0: zstd content size 376, the header implies 375"):
        vf.loads(with_block(blob, 0, longer), NAME)
    unsized = zstandard.ZstdCompressor(write_content_size=False).compress(raw)
    with pytest.raises(FormatError, match="does not declare its content size"):
        vf.loads(with_block(blob, 0, unsized), NAME)


@pytest.mark.parametrize("declare_size", [True, False])
def test_decompression_bomb_is_never_expanded(blob: bytes, declare_size: bool) -> None:
    zc = zstandard.ZstdCompressor(level=1, write_checksum=True, write_content_size=declare_size)
    obj = zc.compressobj(size=256 * 2**20 if declare_size else -1)
    zeros = bytes(2**20)
    bomb = b"".join(obj.compress(zeros) for _ in range(256)) + obj.flush()
    assert len(bomb) < 64 * 1024
    err, peak = peak_bytes(vf.loads, with_block(blob, 1, bomb), NAME)
    assert isinstance(err, LimitError if declare_size else FormatError) and peak < MAX_PEAK


def test_index_beyond_codebook() -> None:
    data = vf.dumps(make_file())
    codes = make_file().blocks[2].copy()
    codes[1, 2, -1] = 1000  # fits the 10-bit field, but the codebook has 1000 entries
    frame = zstandard.ZstdCompressor(write_content_size=True).compress(bitpack.pack(codes, 10))
    with pytest.raises(FormatError, match=r"^100\.vqc: section BLKS: block 2: index 1000 >= codebook_size 1000$"):
        vf.loads(with_block(data, 2, frame), NAME)


@pytest.mark.parametrize(
    ("runs", "match"),
    [
        ([[2, 0, 1]], "channel out of range"),
        ([[0, 995, 10]], "outside"),
        ([[0, 10, 0]], "length < 1"),
        ([[1, 0, 5], [0, 0, 5]], "not sorted"),
        ([[0, 0, 5], [0, 4, 5]], "overlapping"),
    ],
)
def test_bad_nan_runs(blob: bytes, runs: list[list[int]], match: str) -> None:
    payload = zstandard.ZstdCompressor(write_content_size=True).compress(np.array(runs, "<i8").tobytes())
    head, sections = split(blob)
    sections = [(t, payload if t == b"NANM" else p) for t, p in sections]
    with pytest.raises(FormatError, match=f"section NANM: .*{match}"):
        vf.loads(join(head, sections), NAME)
    f = make_file()
    f.nan_runs = np.array(runs, np.int64)
    with pytest.raises(ValueError, match=match):
        vf.dumps(f)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_raise_only_vqc_errors(data: bytes) -> None:
    for candidate in (data, vf.MAGIC + data, hexbytes(EMPTY_VQC)[:16] + data):
        with pytest.raises(VqcError):
            vf.loads(candidate)


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_mutated_files_raise_only_vqc_errors(data: st.DataObject) -> None:
    blob = vf.dumps(make_file())
    at = data.draw(st.integers(0, len(blob) - 1))
    junk = data.draw(st.binary(min_size=1, max_size=16))
    mutated = blob[:at] + junk + blob[at + len(junk) :]
    if mutated != blob:
        with pytest.raises(VqcError):
            vf.loads(mutated)


# ------------------------------------------------------------------ dumps refuses misuse


def _misuse(field: str, value: object) -> EcgFile:
    f = make_file()
    if field.startswith("header."):
        setattr(f.header, field.split(".")[1], value)
    else:
        setattr(f, field, value)
    return f


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("header.kind", "eeg", "unknown kind"),
        ("header.model_sha256", "AB" * 32, "64 lowercase hex"),
        ("header.n_stages", 33, "n_stages 33"),
        ("header.meta", {"x": float("nan")}, "not JSON-serialisable"),
        ("header.meta", {"x": "\ud800"}, "not JSON-serialisable"),
        ("blocks", [], "0 blocks given, header implies 3"),
        ("norm", np.ones((3, 2, 2)), r"norm must be float32 \(3, 2, 2\), got float64"),
        ("norm", np.zeros((3, 2, 2), np.float32), "scale > 0"),
        ("fingerprint", np.zeros((3, 2), np.float32), "fingerprint must be float32"),
        ("nan_runs", np.zeros((1, 3), np.int32), "nan_runs must be int64"),
        ("metrics", {"x": object()}, "not JSON-serialisable"),
        ("extra", {"ANNO": b""}, "lowercase first"),
        ("extra", {"fPRT": b""}, "not a known tag"),
    ],
)
def test_dumps_rejects_misuse(field: str, value: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        vf.dumps(_misuse(field, value))


def test_dumps_rejects_bad_blocks() -> None:
    f = make_file()
    f.blocks[2] = f.blocks[2][:, :, :-1]
    with pytest.raises(ValueError, match=r"block 2 must be uint16 \(2, 3, 30\)"):
        vf.dumps(f)
    f = make_file()
    f.blocks[0][0, 0, 0] = 1000
    with pytest.raises(ValueError, match="block 0 holds index 1000"):
        vf.dumps(f)


def midi_file(metrics: dict | None) -> MidiFile:
    """A kind-midi file around an opaque NOTE payload, with the given stored metrics."""
    h = vf.Header(kind="midi", fs=62.5, n_channels=0, n_samples=3, n_frames=0, hop=1, block_frames=1, n_stages=0,
                  codebook_size=2, model_sha256="ab" * 32, meta={"model": "m"})
    return MidiFile(header=h, notes=b"NC03" + bytes(20), metrics=metrics)


NOTE_METRICS = {"f1_onset": 1.0, "f1_offset": 0.9987, "onset_err_ms_median": 4.005, "onset_err_ms_max": 8.0,
                "velocity_mae": 2.558, "duration_rel_err_median": None, "pedal_agreement": {"64": 0.9947, "67": 1.0}}


def test_midi_metrics_are_stored_in_binary_and_read_back() -> None:
    """Format 1.5: a midi file's metrics take 35 bytes in mNOT instead of ~190 of JSON; None (not measured) is NaN."""
    data = vf.dumps(midi_file(NOTE_METRICS))
    assert b"mNOT" in data and b"mTRC" not in data and data[8:12] == bytes([1, 0, vf.BIND_MINOR, 0])
    assert vf.SECTION_TYPES["mNOT"].minor(b"") == 5  # mNOT came with 1.5
    assert vf.loads(data, "m.vqc").metrics == NOTE_METRICS == vf.read_header(data, "m.vqc")[1]
    _, sections = split(data)
    assert len(dict(sections)[b"mNOT"]) == 24 + 1 + 2 * 5


@pytest.mark.parametrize("metrics", [{"f1_onset": 1.0}, {**NOTE_METRICS, "pedal_agreement": {"x": 1.0}},
                                     {**NOTE_METRICS, "extra": 1}])
def test_midi_metrics_of_another_shape_stay_json(metrics: dict) -> None:
    """What a reader accepts (an older file's JSON, any keys) is written again as it was: as mTRC JSON."""
    data = vf.dumps(midi_file(metrics))
    assert b"mTRC" in data and b"mNOT" not in data
    assert vf.loads(data, "m.vqc").metrics == metrics


@pytest.mark.parametrize("cut", [1, 5, 24])
def test_a_mnot_of_the_wrong_length_is_a_format_error(cut: int) -> None:
    head, sections = split(vf.dumps(midi_file(NOTE_METRICS)))
    bad = join(head, [(tag, payload[:-cut] if tag == b"mNOT" else payload) for tag, payload in sections])
    with pytest.raises(FormatError, match="section mNOT: .* is not a metrics record"):
        vf.loads(bad, "m.vqc")


def test_a_file_with_both_metrics_sections_is_refused() -> None:
    both = with_section(vf.dumps(midi_file(NOTE_METRICS)), b"mTRC", b"{}")
    for read in (vf.loads, vf.read_header):
        with pytest.raises(FormatError, match="sections mTRC and mNOT both hold metrics"):
            read(both, "m.vqc")


def test_read_header_with_a_damage_list_notes_every_payload_crc_mismatch(blob: bytes) -> None:
    broken = bytearray(blob)
    broken[blob.index(b"BLKS") + 20] ^= 0xFF
    damage: list[str] = []
    h, metrics, _ = vf.read_header(bytes(broken), NAME, damage=damage)
    assert h == make_file().header and metrics == make_file().metrics and damage == [
        "section BLKS CRC mismatch (each block is checked by its own CRC)"]
    assert vf.read_header(blob, NAME, damage=(whole := [])) and whole == []
