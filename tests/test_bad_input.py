"""The bad-input catalog (docs/RELIABILITY.md, "The 35 catalog cases") end to end: every failure is clean, every
corruption is caught.

Each CLI failure goes through ONE helper, `assert_fails_cleanly`: exit 1 (130 for Ctrl-C), exactly one stderr
line naming the file, no traceback, and the watched folder byte-for-byte and mtime-for-mtime unchanged (so no
output, no temporary file, and any existing output untouched). The CLI runs in-process (`vqcodec.cli.main`
with sys.argv patched) unless the real process adds something: printed warnings, a real SIGINT.
Container-level cases already proven exhaustively in tests/container/test_format.py are not repeated; here they are
driven through the codec and the CLI on files a real model wrote.
"""

from __future__ import annotations

import builtins
import errno
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tracemalloc
import warnings
import wave
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pytest
import zstandard

from tests.fuzz.fuzz_format import check_both, fix_crcs
from tests.helpers.bundles import edited_bundle
from tests.helpers.cli import CliResult, Runner, assert_fails_cleanly, run_process, snapshot
from tests.helpers.signals import make_signal
from tests.helpers.vqc import block_frames, flip_in_block, patch_header, split, with_block, with_meta, with_section
from vqcodec import api
from vqcodec.cli import EXIT_ERROR, EXIT_INTERRUPTED
from vqcodec.container import atomic
from vqcodec.container import format as vf
from vqcodec.ecg import codec as codec_module
from vqcodec.ecg.codec import Codec
from vqcodec.ecg.signal import ChannelInfo, Signal
from vqcodec.errors import (
    BundleError,
    ChecksumError,
    FormatError,
    LimitError,
    ModelMismatchError,
    TruncatedError,
    VersionError,
)
from vqcodec.io import write
from vqcodec.midi.codec import NoteCodec
from vqcodec.midi.performance import Performance
from vqcodec.models.bundle import ALIASES, load_bundle

DATA = Path(__file__).parent / "data"
GOLDEN_FILE = DATA / "golden" / "v1" / "ecg_short.vqc"
CRASHES = DATA / "crashes"
SEEDS = Path(__file__).parent / "fuzz" / "corpus"
MAX_PEAK = 16 * 1024 * 1024
OFF_MINOR, OFF_HDR_LEN, OFF_CHANNELS, OFF_SAMPLES, OFF_MODEL_SHA = 10, 12, 25, 27, 59
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# ------------------------------------------------------------------ fixtures: a real model and real files


@pytest.fixture(scope="module")
def good_vqc(codec: Codec) -> bytes:
    """A real compressed file: 2 channels, 1200 samples, one NaN run, written by the tiny model."""
    sig = make_signal(1200, channels=2)
    sig.record_name = "rec"
    sig.samples[100:120, 1] = np.nan
    return codec.compress(sig)[0]


@pytest.fixture
def vqc_path(tmp_path: Path, good_vqc: bytes) -> Path:
    path = tmp_path / "rec.vqc"
    path.write_bytes(good_vqc)
    return path


@pytest.fixture
def record(tmp_path: Path) -> Path:
    """A WFDB record rec.hea + rec.dat in tmp_path."""
    base = tmp_path / "rec"
    write(base, make_signal(1000, channels=2))
    return base


def put(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# ------------------------------------------------------------------ 1-2: empty and foreign files


def test_an_empty_file_is_refused_as_empty(cli: Runner, tmp_path: Path) -> None:
    empty = put(tmp_path / "empty.vqc", b"")
    for command in ("decompress", "info"):
        line = assert_fails_cleanly(lambda command=command: cli(command, empty, "-o", tmp_path / "o.npy")
                                    if command == "decompress" else cli(command, empty), empty, tmp_path)
        assert "empty file" in line


@pytest.mark.parametrize("kind", ["dat", "wav", "zst"])
def test_a_real_foreign_file_renamed_to_vqc_is_not_a_vqc_file(cli: Runner, tmp_path: Path, kind: str,
                                                               good_vqc: bytes) -> None:
    src = tmp_path / "src"
    src.mkdir()
    if kind == "dat":
        write(src / "r", make_signal(500, channels=1))
        data = (src / "r.dat").read_bytes()
    elif kind == "wav":
        with wave.open(str(src / "a.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(np.arange(400, dtype="<i2").tobytes())
        data = (src / "a.wav").read_bytes()
    else:
        data = zstandard.ZstdCompressor().compress(good_vqc)
    bad = put(tmp_path / f"{kind}.vqc", data)
    line = assert_fails_cleanly(lambda: cli("decompress", bad, "-o", tmp_path / "o.npy"), bad, tmp_path)
    assert "not a .vqc file" in line


# ------------------------------------------------------------------ 3-5: truncation, bit flips, trailing bytes


def test_every_proper_prefix_of_a_golden_file_is_a_truncation() -> None:
    data = GOLDEN_FILE.read_bytes()
    assert 1024 <= len(data) <= 2048
    for n in range(1, len(data)):
        for parse in (vf.loads, vf.read_header):
            with pytest.raises(TruncatedError):
                parse(data[:n], "g.vqc")


def test_a_truncated_file_fails_cleanly_from_the_cli(cli: Runner, tmp_path: Path, good_vqc: bytes) -> None:
    cut = put(tmp_path / "cut.vqc", good_vqc[: len(good_vqc) // 2])
    line = assert_fails_cleanly(lambda: cli("decompress", cut, "-o", tmp_path / "o.npy"), cut, tmp_path)
    assert "truncated" in line


def test_no_single_bit_flip_in_a_real_compressed_file_decodes_silently(codec: Codec, good_vqc: bytes) -> None:
    """Exhaustive over every bit of a file the model wrote, decoded through the codec (not just the parser)."""
    caught: dict[str, int] = {}
    for bit in range(len(good_vqc) * 8):
        flipped = bytearray(good_vqc)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises((FormatError, LimitError)) as info:
            api.decompress(bytes(flipped), codec, name="flip.vqc")
        caught[type(info.value).__name__] = caught.get(type(info.value).__name__, 0) + 1
    assert sum(caught.values()) == len(good_vqc) * 8
    assert caught.get("ChecksumError", 0) > 0.9 * len(good_vqc) * 8  # the CRCs, not luck, catch damage


def test_a_bit_flipped_file_fails_cleanly_from_a_real_process(tmp_path: Path, good_vqc: bytes,
                                                              tiny_bundle: Path) -> None:
    flipped = bytearray(good_vqc)
    flipped[len(flipped) // 2] ^= 0x10
    bad = put(tmp_path / "flip.vqc", bytes(flipped))
    line = assert_fails_cleanly(
        lambda: run_process("decompress", bad, "-o", tmp_path / "o.npy", "--model", tiny_bundle), bad, tmp_path)
    assert "CRC mismatch" in line


@pytest.mark.parametrize("extra", [1, 1000])
def test_trailing_bytes_after_end_fail_cleanly(cli: Runner, tmp_path: Path, good_vqc: bytes, extra: int) -> None:
    bad = put(tmp_path / "tail.vqc", good_vqc + b"\0" * extra)
    line = assert_fails_cleanly(lambda: cli("decompress", bad, "-o", tmp_path / "o.npy"), bad, tmp_path)
    assert f"{extra} trailing bytes after END" in line


@pytest.fixture(scope="module")
def three_block_vqc(codec: Codec) -> bytes:
    """A real file of 3 storage blocks (2 channels, 18 000 samples: 7200 + 7200 + 3600) with a NaN run."""
    sig = make_signal(18000, channels=2)
    sig.record_name = "long"
    sig.samples[500:520, 0] = np.nan
    data = codec.compress(sig)[0]
    assert vf.loads(data).header.n_blocks == 3
    return data


@pytest.mark.parametrize("fs", [360.0, 500.0])
def test_salvage_recovers_every_sample_the_damage_cannot_reach(codec: Codec, three_block_vqc: bytes,
                                                               fs: float) -> None:
    """Catalog 5, --salvage: one byte of block 1 damaged on disk (no CRC fixed). Strict decoding refuses it; salvage
    returns block 1's samples, widened by the decoder's context, as NaN, and every other sample exactly as the
    undamaged file decodes, with a warning and a comment naming the lost span. At 500 Hz the span also goes
    through the resampling to the model's 360 Hz and back."""
    data = three_block_vqc
    if fs != 360.0:
        sig = make_signal(25000, channels=2, fs=fs)
        sig.record_name = "long"
        data = codec.compress(sig)[0]
    h = vf.loads(data).header
    assert h.n_blocks == 3
    bad = flip_in_block(data, 1, 40)
    with pytest.raises(ChecksumError, match="section BLKS CRC mismatch"):
        api.decompress(bad, codec, name="long.vqc")
    clean = api.decompress(data, codec, name="long.vqc")
    with pytest.warns(UserWarning) as caught:
        salvaged = api.decompress(bad, codec, name="long.vqc", salvage=True)
    start, stop = api.lost_samples(h, 1, codec.fs, codec.decode_margin)
    lost = np.zeros(h.n_samples, bool)
    lost[start:stop] = True
    assert np.isnan(salvaged.samples[lost]).all()
    np.testing.assert_array_equal(salvaged.samples[~lost], clean.samples[~lost])  # the NaN run included
    if fs == 360.0:
        assert (start, stop) == (7200 - 256, 14400 + 256)  # block 1, plus DECODE_MARGIN (64) frames of hop 4 a side
        span = f"samples {start}..{stop - 1} (19.3 s to 40.7 s)"
        assert [str(w.message) for w in caught] == [
            "long.vqc: salvage: section BLKS CRC mismatch (each block is checked by its own CRC)",
            f"long.vqc: salvage: block 1 lost (block 1 CRC mismatch); {span} of every channel are invalid (NaN)"]
        assert salvaged.comments[-1] == f"vqcodec salvage: {span} lost (block 1 damaged), stored as invalid"


@pytest.mark.parametrize("tag", [b"NORM", b"NANM", b"fPRT"])
def test_salvage_still_refuses_damage_outside_the_blocks(cli: Runner, tmp_path: Path, three_block_vqc: bytes,
                                                          tiny_bundle: Path, tag: bytes) -> None:
    """Without an intact NORM, NANM or fPRT the surviving blocks cannot be decoded or verified."""
    at = three_block_vqc.index(tag) + 9
    bad = put(tmp_path / "bad.vqc", three_block_vqc[:at] + bytes([three_block_vqc[at] ^ 1]) + three_block_vqc[at + 1 :])
    line = assert_fails_cleanly(lambda: cli("decompress", bad, "--salvage", "-o", tmp_path / "o.npy", "--model",
                                            tiny_bundle), bad, tmp_path)
    assert f"section {tag.decode()} CRC mismatch" in line and "--salvage can" not in line


def test_salvage_from_the_cli_writes_what_survives_and_warns_about_each_loss(tmp_path: Path, three_block_vqc: bytes,
                                                                            tiny_bundle: Path, codec: Codec) -> None:
    """Real processes, so the warnings reach stderr as the user sees them: strict refuses with a hint, --salvage
    writes the record with one warning line per problem and a SALVAGED summary."""
    bad = put(tmp_path / "long.vqc", flip_in_block(three_block_vqc, 2, 30) + b"\0" * 1000)
    line = assert_fails_cleanly(
        lambda: run_process("decompress", bad, "-o", tmp_path / "o.npy", "--model", tiny_bundle), bad, tmp_path)
    assert "section BLKS CRC mismatch (decompress --salvage can recover the undamaged blocks)" in line
    result = run_process("decompress", bad, "--salvage", "-o", tmp_path / "o.npy", "--model", tiny_bundle)
    assert result.code == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[:3] == [
        f"vqcodec: warning: {bad}: salvage: section BLKS CRC mismatch (each block is checked by its own CRC)",
        f"vqcodec: warning: {bad}: salvage: ignored 1000 trailing bytes after END",
        (f"vqcodec: warning: {bad}: salvage: block 2 lost (block 2 CRC mismatch); samples 14144..17999 (39.3 s to "
         "50.0 s) of every channel are invalid (NaN)")]
    assert lines[3] == (f"{bad}: wrote {tmp_path / 'o.npy'}; SALVAGED from a damaged file: 1 of 3 blocks lost and "
                        "written as invalid samples, 2 other problem(s) skipped (see the warnings)")
    assert len(lines) == 4 and "Traceback" not in result.stderr
    back, clean = np.load(tmp_path / "o.npy"), api.decompress(three_block_vqc, codec).samples
    assert np.isnan(back[14144:]).all()
    np.testing.assert_array_equal(back[:14144], clean[:14144])


@pytest.mark.parametrize("extra", [1, 1000])
def test_salvage_decodes_a_file_with_trailing_bytes_like_the_clean_file(cli: Runner, tmp_path: Path, good_vqc: bytes,
                                                                        tiny_bundle: Path, codec: Codec,
                                                                        extra: int) -> None:
    src = put(tmp_path / "tail.vqc", good_vqc + b"\xaa" * extra)
    result = cli("decompress", src, "--salvage", "-o", tmp_path / "o.npy", "--model", tiny_bundle)
    assert result.code == 0 and "SALVAGED from a damaged file: 0 of 1 blocks lost" in result.stderr, result
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), api.decompress(good_vqc, codec).samples)


# ------------------------------------------------------------------ 6-8: versions and sections


def test_a_newer_major_version_names_both_versions_and_says_upgrade(cli: Runner, tmp_path: Path,
                                                                    good_vqc: bytes) -> None:
    bad = put(tmp_path / "v2.vqc", good_vqc[:8] + struct.pack("<H", 2) + good_vqc[10:])
    line = assert_fails_cleanly(lambda: cli("info", bad), bad, tmp_path)
    assert "version 2." in line and "1.x" in line and "upgrade vqcodec" in line
    with pytest.raises(VersionError):
        vf.loads(bad.read_bytes())


def test_a_newer_minor_version_with_an_unknown_ancillary_section_decodes_with_a_warning(
        tmp_path: Path, good_vqc: bytes, tiny_bundle: Path) -> None:
    """A real process, so the warning is seen as the user sees it (pytest would capture it in-process)."""
    newer = with_section(patch_header(good_vqc, OFF_MINOR, "H", 7), b"zNEW", b"from the future")
    src = put(tmp_path / "minor.vqc", newer)
    result = run_process("decompress", src, "-o", tmp_path / "out.npy", "--model", tiny_bundle)
    assert result.code == 0, result.stderr
    assert "warning" in result.stderr and "unknown ancillary section zNEW" in result.stderr
    assert np.load(tmp_path / "out.npy").shape == (1200, 2)


def test_an_unknown_critical_section_is_an_unsupported_feature(cli: Runner, tmp_path: Path, good_vqc: bytes,
                                                                tiny_bundle: Path) -> None:
    bad = put(tmp_path / "crit.vqc", with_section(good_vqc, b"ZNEW", b"must understand"))
    line = assert_fails_cleanly(lambda: cli("decompress", bad, "-o", tmp_path / "o.npy", "--model", tiny_bundle),
                                bad, tmp_path)
    assert "unsupported feature ZNEW" in line


# ------------------------------------------------------------------ 9-12: limits and bombs, memory-bounded


def _peak(run: Callable[[], CliResult]) -> Callable[[], CliResult]:
    """Wrap a CLI call so that its tracemalloc peak is asserted below MAX_PEAK."""

    def measured() -> CliResult:
        tracemalloc.start()
        try:
            result = run()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < MAX_PEAK, f"peak {peak} bytes"
        return result

    return measured


@pytest.mark.parametrize("case, expected", [
    ("header length 2^31", "header length 2147483648 exceeds the limit"),
    ("n_samples 2^40", "n_samples 1099511627776 exceeds the limit"),
    ("65535 channels", "65535 channels exceed the limit"),
    ("section longer than the file", "truncated in section"),
])
def test_huge_lengths_and_counts_fail_cleanly_before_allocating(cli: Runner, tmp_path: Path, good_vqc: bytes,
                                                                case: str, expected: str) -> None:
    if case == "header length 2^31":
        data = good_vqc[:OFF_HDR_LEN] + struct.pack("<I", 2**31) + good_vqc[OFF_HDR_LEN + 4 :]
    elif case == "n_samples 2^40":
        data = patch_header(good_vqc, OFF_SAMPLES, "Q", 2**40)
    elif case == "65535 channels":
        data = patch_header(good_vqc, OFF_CHANNELS, "H", 65535)
    else:
        head, _ = split(good_vqc)
        data = head + b"BLKS" + struct.pack("<I", 2**31 - 1) + b"\0" * 64
    bad = put(tmp_path / "big.vqc", data)
    line = assert_fails_cleanly(_peak(lambda: cli("decompress", bad, "-o", tmp_path / "o.npy")), bad, tmp_path)
    assert expected in line


def plain_blocks(good_vqc: bytes, codec: Codec) -> bytes:
    """The same file with its indices as zstd frames of packed bits (format 1.0 blocks) instead of rANS."""
    f = vf.loads(good_vqc)
    indices = codec.file_indices(f)
    bf = f.header.block_frames
    f.blocks = [np.ascontiguousarray(indices[:, :, b * bf : (b + 1) * bf]) for b in range(f.header.n_blocks)]
    f.index_coding = None
    return vf.dumps(f)


def test_a_block_whose_zstd_size_differs_from_the_header_fails_cleanly(cli: Runner, tmp_path: Path,
                                                                        good_vqc: bytes, codec: Codec) -> None:
    good_vqc = plain_blocks(good_vqc, codec)
    _, sections = split(good_vqc)
    frame = block_frames(dict(sections)[b"BLKS"])[0]
    raw = zstandard.ZstdDecompressor().decompress(frame)
    bad = put(tmp_path / "size.vqc", with_block(good_vqc, 0, zstandard.ZstdCompressor().compress(raw + b"\0")))
    line = assert_fails_cleanly(lambda: cli("decompress", bad, "-o", tmp_path / "o.npy"), bad, tmp_path)
    assert "zstd content size" in line and "the header implies" in line


def test_a_decompression_bomb_in_a_real_file_is_refused_unexpanded(cli: Runner, tmp_path: Path,
                                                                    good_vqc: bytes, codec: Codec) -> None:
    """128 MiB of zeros in a KB-sized frame, spliced into block 0: refused on its declared size."""
    good_vqc = plain_blocks(good_vqc, codec)
    size = 128 * 1024 * 1024
    cobj = zstandard.ZstdCompressor(level=1).compressobj(size=size)
    chunk = bytes(1024 * 1024)
    bomb = b"".join(cobj.compress(chunk) for _ in range(size // len(chunk))) + cobj.flush()
    assert len(bomb) < 64 * 1024
    bad = put(tmp_path / "bomb.vqc", with_block(good_vqc, 0, bomb))
    line = assert_fails_cleanly(_peak(lambda: cli("decompress", bad, "-o", tmp_path / "o.npy")), bad, tmp_path)
    assert f"declares {size} bytes, over the limit" in line


def test_header_meta_with_nan_is_invalid_strict_json(good_vqc: bytes) -> None:
    """FORMAT.md: meta is strict JSON. Python's json.loads accepts NaN unless told not to (fixed in format.py)."""
    with pytest.raises(FormatError, match="header JSON is invalid: NaN"):
        vf.loads(with_meta(good_vqc, model_fs=float("nan")), "nan.vqc")


@pytest.mark.parametrize("meta", [
    {"channels": [{"name": "a", "surprise": 1}, {"name": "b"}]},
    {"channels": ["not a mapping", "x"]},
    {"channels": [{"name": "a", "gain": "x"}, {"name": "b"}]},
    {"channels": [{"name": "a", "gain": 0}, {"name": "b"}]},
    {"comments": 5},
    {"n_model": "many"},
    {"n_model": 10**12},
])
def test_well_formed_files_with_impossible_metadata_fail_with_a_vqc_error(codec: Codec, good_vqc: bytes,
                                                                          meta: dict) -> None:
    """CRCs prove integrity, not sense: a crafted header must still fail as a FormatError, not a TypeError."""
    with pytest.raises(FormatError):
        codec.decompress(with_meta(good_vqc, **meta), "meta.vqc")


# ------------------------------------------------------------------ 14-18: model binding


def test_a_file_naming_an_uninstalled_model_lists_the_installed_ones(cli: Runner, vqc_path: Path,
                                                                     codec: Codec) -> None:
    line = assert_fails_cleanly(lambda: cli("decompress", vqc_path), vqc_path, vqc_path.parent)
    assert codec.model_id in line and "is not installed" in line and "installed:" in line


def test_a_file_decoded_with_a_retrained_model_shows_both_hashes(cli: Runner, vqc_path: Path, codec: Codec,
                                                                 tiny_bundle: Path, tmp_path_factory) -> None:
    other = edited_bundle(tiny_bundle, tmp_path_factory.mktemp("b") / "retrained", name="tiny-retrained")
    retrained = Codec.load(other)
    out = vqc_path.parent / "o.npy"
    line = assert_fails_cleanly(lambda: cli("decompress", vqc_path, "--model", other, "-o", out), vqc_path,
                                vqc_path.parent)
    assert codec.model_id in line and retrained.model_id in line and codec.model_id != retrained.model_id


def test_a_bundle_of_another_kind_is_refused_by_the_ecg_codec(tiny_bundle: Path, tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="a model for midi files, not ecg"):
        Codec.load(edited_bundle(tiny_bundle, tmp_path / "midi", kind="midi"))


def test_an_ecg_file_decoded_with_the_midi_model_is_a_kind_mismatch(good_vqc: bytes) -> None:
    with pytest.raises(ModelMismatchError, match=r"ecg file, and midi-v2 is a MIDI model"):
        api.decompress(good_vqc, NoteCodec.load("midi"), name="rec.vqc")


@pytest.mark.parametrize("damage", ["flipped byte", "truncated"])
def test_a_tampered_encoder_fails_at_load_before_onnxruntime_sees_it(
        cli: Runner, record: Path, tiny_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        damage: str) -> None:
    bad = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bad)
    onnx = bad / "encoder.onnx"
    raw = bytearray(onnx.read_bytes())
    if damage == "flipped byte":
        raw[len(raw) // 2] ^= 0x01
    else:
        del raw[len(raw) // 2 :]
    onnx.write_bytes(bytes(raw))
    sessions: list[object] = []
    monkeypatch.setattr(codec_module, "session", lambda *a: sessions.append(a))  # records any session start
    line = assert_fails_cleanly(lambda: cli("compress", record, "-o", tmp_path / "r.vqc", "--model", bad), onnx,
                                tmp_path)
    assert "sha256 does not match" in line and sessions == []


def rehashed_bundle(src: Path, dst: Path, decoder_gain: float) -> Path:
    """A copy of a bundle whose decoder's output layer is scaled by `decoder_gain`, with the manifest re-hashed.

    The bundle is consistent (it loads, every sha256 matches), so its model id is new: a real edit of the weights.
    """
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    shutil.copytree(src, dst)
    model = onnx.load(dst / "decoder.onnx")
    last = [init for init in model.graph.initializer if len(init.dims) >= 3][-1]  # the output convolution
    last.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(last) * np.float32(decoder_gain), last.name))
    onnx.save(model, dst / "decoder.onnx")
    manifest = json.loads((dst / "manifest.json").read_text())
    manifest["files"]["decoder.onnx"] = hashlib.sha256((dst / "decoder.onnx").read_bytes()).hexdigest()
    (dst / "manifest.json").write_text(json.dumps(manifest))
    return dst


@pytest.mark.parametrize("gain", [1.0, 1.05])
def test_a_decoder_with_perturbed_weights_fails_the_fingerprint(cli: Runner, tmp_path: Path, gain: float) -> None:
    """Catalog 18, with the shipped model. Edited weights change the model id, so case 15 catches them first; the
    fingerprint is the check behind that. Here a file the real model wrote is relabelled with the edited bundle's id
    (header CRC fixed), as a forged or mislabelled file would be: a 5 % gain error in the decoder's output layer
    is caught by the fingerprint, while the same relabelling with the weights unchanged (gain 1.0) decodes.
    (The tiny test model's output is nearly constant, so a gain error barely moves it.)"""
    shipped = load_bundle("ecg").path
    written = Codec.load(shipped, threads=1).compress(make_signal(3000, channels=2))[0]
    bundle = rehashed_bundle(shipped, tmp_path / "bundle", gain)
    edited = Codec.load(bundle, threads=1)
    relabelled = patch_header(written, OFF_MODEL_SHA, "32s", bytes.fromhex(edited.model_id))
    if gain == 1.0:
        assert api.decompress(relabelled, edited, name="rel.vqc").n_samples == 3000
        return
    with pytest.raises(ChecksumError, match=r"^rel\.vqc: reconstruction does not match the encoder's fingerprint"):
        api.decompress(relabelled, edited, name="rel.vqc")
    src = put(tmp_path / "rel.vqc", relabelled)
    line = assert_fails_cleanly(lambda: cli("decompress", src, "-o", tmp_path / "o.npy", "--model", bundle), src,
                                tmp_path)
    assert "does not match the encoder's fingerprint" in line


def test_a_cut_manifest_fails_at_load_as_a_bundle_error(cli: Runner, record: Path, tiny_bundle: Path,
                                                        tmp_path: Path) -> None:
    bad = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bad)
    manifest = bad / "manifest.json"
    manifest.write_bytes(manifest.read_bytes()[:100])
    line = assert_fails_cleanly(lambda: cli("compress", record, "-o", tmp_path / "r.vqc", "--model", bad), manifest,
                                tmp_path)
    assert "malformed manifest" in line


# ------------------------------------------------------------------ 19-24: inputs


def test_a_missing_or_directory_input_fails_cleanly(cli: Runner, tmp_path: Path) -> None:
    missing, folder = tmp_path / "nope.vqc", tmp_path / "dir.vqc"
    folder.mkdir()
    for args, name in [(("compress", tmp_path / "nope", "-o", tmp_path / "x.vqc"), tmp_path / "nope"),
                       (("compress", folder, "-o", tmp_path / "x.vqc"), folder),
                       (("decompress", missing, "-o", tmp_path / "o.npy"), missing),
                       (("decompress", folder, "-o", tmp_path / "o.npy"), folder),
                       (("info", missing), missing)]:
        assert_fails_cleanly(lambda args=args: cli(*args), name, tmp_path)


def unreadable(run: Callable[[], CliResult], *paths: Path) -> Callable[[], CliResult]:
    """`run` with opening `paths` for reading refused (EACCES), as for a mode-000 file read by a non-root user.

    Tests run as root here, which reads files whatever their mode, so the refusal is simulated at `open`
    (builtins.open, and io.open which pathlib uses); it applies only while `run` runs.
    """
    denied = {os.path.abspath(p) for p in paths}
    real_open = io.open

    def guarded_open(file: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        if isinstance(file, (str, os.PathLike)) and os.path.abspath(file) in denied and "r" in mode:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(file))
        return real_open(file, mode, *args, **kwargs)

    def denied_run() -> CliResult:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(io, "open", guarded_open)
            mp.setattr(builtins, "open", guarded_open)
            return run()

    return denied_run


@pytest.mark.parametrize("denied", ["rec.vqc (info)", "rec.vqc (decompress)", "rec.hea", "rec.dat", "a.npy"])
def test_an_input_the_user_may_not_read_fails_cleanly(cli: Runner, vqc_path: Path, record: Path, tiny_bundle: Path,
                                                      denied: str) -> None:
    """Catalog 19, unreadable input, for every kind of input file (the permission error is simulated: root)."""
    folder = vqc_path.parent
    np.save(folder / "a.npy", make_signal(500, channels=1).samples)
    name = denied.split()[0]
    args = {"rec.vqc (info)": ("info", vqc_path),
            "rec.vqc (decompress)": ("decompress", vqc_path, "-o", folder / "o.npy", "--model", tiny_bundle),
            "rec.hea": ("compress", record, "-o", folder / "x.vqc", "--model", tiny_bundle),
            "rec.dat": ("compress", record, "-o", folder / "x.vqc", "--model", tiny_bundle),
            "a.npy": ("compress", folder / "a.npy", "--fs", 360, "-o", folder / "x.vqc", "--model", tiny_bundle)}
    line = assert_fails_cleanly(unreadable(lambda: cli(*args[denied]), folder / name), name, folder)
    assert "cannot read" in line and line.endswith("(Permission denied)"), line


@pytest.mark.skipif(IS_ROOT, reason="root reads files whatever their mode")
def test_an_unreadable_input_fails_cleanly(cli: Runner, vqc_path: Path) -> None:
    vqc_path.chmod(0)
    try:
        line = assert_fails_cleanly(lambda: cli("info", vqc_path), vqc_path, vqc_path.parent)
    finally:
        vqc_path.chmod(0o644)
    assert "cannot read" in line


@pytest.mark.parametrize("case, expected", [
    ("missing dat", "rec.dat not found"),
    ("short dat", "shorter than the header says"),
    ("multi-segment", "multi-segment"),
    ("multi-rate", "multi-rate"),
    ("skewed", "skewed records are not supported (signal 1 skew 2)"),
    ("zero samples", "empty record"),
    ("zero channels", "no signals"),
])
def test_a_bad_wfdb_record_fails_cleanly_naming_the_record(cli: Runner, record: Path, tiny_bundle: Path,
                                                           case: str, expected: str) -> None:
    dat, hea = record.with_suffix(".dat"), record.with_suffix(".hea")
    if case == "missing dat":
        dat.unlink()
    elif case == "short dat":
        os.truncate(dat, dat.stat().st_size - 7)
    elif case == "multi-segment":
        hea.write_text("rec/2 3 360 80\nrec 40\nrec 40\n")
    elif case == "multi-rate":
        hea.write_text("rec 1 360 20\nrec.dat 212x2 200 12 0 0 0 0 x\n")
    elif case == "skewed":
        lines = hea.read_text().splitlines()
        hea.write_text("\n".join([*lines[:2], lines[2].replace(" 212 ", " 212:2 ", 1), *lines[3:]]) + "\n")
    elif case == "zero samples":
        hea.write_text("rec 1 360 0\nrec.dat 16 200 16 0\n")
    else:
        hea.write_text("rec 0 360 40\n")
    out = record.parent / "out.vqc"
    line = assert_fails_cleanly(lambda: cli("compress", hea, "-o", out, "--model", tiny_bundle), hea, record.parent)
    assert expected in line


@pytest.mark.parametrize("shape", [(0,), (0, 2), (5, 0)])
def test_an_empty_array_input_is_refused(cli: Runner, tmp_path: Path, tiny_bundle: Path,
                                                         shape: tuple[int, ...]) -> None:
    """Catalog 24, the choice made: files refuse empty input; the API keeps a valid empty .vqc (test_codec)."""
    arr = tmp_path / "e.npy"
    np.save(arr, np.zeros(shape))
    line = assert_fails_cleanly(lambda: cli("compress", arr, "--fs", 360, "-o", tmp_path / "e.vqc", "--model",
                                            tiny_bundle), arr, tmp_path)
    assert "empty array" in line


@pytest.mark.parametrize("fs", [128.0, 360.0, 1000.0])
def test_a_one_sample_array_round_trips_through_the_cli_at_any_rate(cli: Runner, tmp_path: Path, tiny_bundle: Path,
                                                                     fs: float) -> None:
    """Catalog 27 at length 1: resampling one sample used to give NaN and a ValueError traceback (fixed)."""
    np.save(tmp_path / "one.npy", np.array([[0.5]]))
    one = tmp_path / "one.vqc"
    assert cli("compress", tmp_path / "one.npy", "--fs", fs, "-o", one, "--model", tiny_bundle).code == 0
    assert cli("decompress", one, "-o", tmp_path / "back.npy", "--model", tiny_bundle).code == 0
    back = np.load(tmp_path / "back.npy")
    assert back.shape == (1, 1) and np.isfinite(back).all()


def test_a_3d_or_mislabelled_api_signal_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"\[T, C\]"):
        Signal(np.zeros((4, 2, 1)), 360.0, [ChannelInfo("a"), ChannelInfo("b")])
    with pytest.raises(ValueError, match="2 channels but 1 ChannelInfo"):
        Signal(np.zeros((4, 2)), 360.0, [ChannelInfo("a")])


def test_an_api_signal_with_fewer_samples_than_channels_warns_that_it_may_be_transposed(codec: Codec) -> None:
    """Catalog 26: 3 leads of 12 samples passed as [C, T] read as 12 channels of 3 samples: compressed, with a
    warning."""
    leads = make_signal(12, channels=3).samples.T  # [C, T] by mistake
    wide = Signal(leads, 360.0, [ChannelInfo(f"c{i}") for i in range(12)], "wide")
    with pytest.warns(UserWarning, match=r"^wide: 3 samples < 12 channels; are the samples \[C, T\] instead of "
                                         r"\[T, C\]\?$"):
        data = api.compress(wide, codec)
    assert vf.loads(data).header.n_channels == 12
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        api.compress(Signal(leads.T, 360.0, [ChannelInfo(f"c{i}") for i in range(3)], "tall"), codec)
        api.compress(Signal(np.zeros((12, 12)), 360.0, wide.channels, "square"), codec)
        api.compress(Signal(np.zeros((0, 12)), 360.0, wide.channels, "empty"), codec)  # empty: nothing to warn about
    with pytest.warns(UserWarning, match=r"^wide: 3 samples < 12 channels"):
        codec.compress(wide)  # the Codec API warns too


def test_an_integer_api_signal_compresses_like_its_float_values(codec: Codec) -> None:
    sig = make_signal(800, channels=1)
    digital = np.rint(sig.samples * 200).astype(np.int64)
    as_int = Signal(digital, 360.0, [ChannelInfo("a", gain=1.0)], "i")
    as_float = Signal(digital.astype(np.float64), 360.0, [ChannelInfo("a", gain=1.0)], "i")
    assert codec.compress(as_int)[0] == codec.compress(as_float)[0]


def test_a_broken_midi_file_fails_cleanly_in_the_cli(cli: Runner, tmp_path: Path) -> None:
    midi = put(tmp_path / "song.mid", b"MThd\0\0\0\x06\0\0\0\x01\x01\xe0")  # one track declared, none present
    line = assert_fails_cleanly(lambda: cli("compress", midi, "-o", tmp_path / "s.vqc"), midi, tmp_path)
    assert "not a valid MIDI file" in line


def test_a_midi_file_with_the_ecg_model_fails_cleanly(cli: Runner, tmp_path: Path) -> None:
    midi = tmp_path / "song.mid"
    write(midi, Performance([60], [0.0], [0.5], [80]))
    line = assert_fails_cleanly(lambda: cli("compress", midi, "-o", tmp_path / "s.vqc", "--model", "ecg"),
                                ALIASES["ecg"], tmp_path)
    assert "a model for ecg files, not midi" in line


# ------------------------------------------------------------------ 31-34: outputs


@pytest.mark.parametrize("target", ["rec.vqc", "back.npy", "back"])
def test_an_existing_output_is_untouched_without_force(cli: Runner, tmp_path: Path, record: Path, vqc_path: Path,
                                                       tiny_bundle: Path, target: str) -> None:
    if target == "rec.vqc":
        args, existing = ("compress", record, "-o", vqc_path, "--model", tiny_bundle), vqc_path
    elif target == "back.npy":
        existing = put(tmp_path / target, b"precious")
        args = ("decompress", vqc_path, "-o", existing, "--model", tiny_bundle)
    else:
        existing = put(tmp_path / "back.hea", b"precious")
        args = ("decompress", vqc_path, "-o", tmp_path / target, "--model", tiny_bundle)
    line = assert_fails_cleanly(lambda: cli(*args), existing, tmp_path)
    assert "already exists (use --force" in line
    assert cli(*args, "--force").code == 0 and existing.read_bytes() != b"precious"


@pytest.mark.parametrize("command", ["compress", "decompress"])
def test_a_missing_output_folder_is_made_and_one_that_cannot_be_fails_cleanly(
        cli: Runner, tmp_path: Path, record: Path, vqc_path: Path, tiny_bundle: Path, command: str) -> None:
    src, name = (record, "r.vqc") if command == "compress" else (vqc_path, "r")
    result = cli(command, src, "-o", tmp_path / "no" / "sub" / name, "--model", tiny_bundle)
    assert result.code == 0 and (tmp_path / "no" / "sub").is_dir(), result.stderr
    put(tmp_path / "file", b"")
    out = tmp_path / "file" / "sub" / name  # a folder cannot be made inside a file
    line = assert_fails_cleanly(lambda: cli(command, src, "-o", out, "--model", tiny_bundle), out, tmp_path)
    assert "cannot create its folder" in line


@pytest.mark.parametrize("name", ["a.b", "rec.v2"])
def test_a_wfdb_output_name_with_a_dot_is_refused(cli: Runner, vqc_path: Path, tiny_bundle: Path, name: str) -> None:
    out = vqc_path.parent / name
    line = assert_fails_cleanly(lambda: cli("decompress", vqc_path, "-o", out, "--model", tiny_bundle), name,
                                vqc_path.parent)
    assert "contain no '.'" in line


@pytest.mark.parametrize("stored", ["../escape", "/tmp/vqcodec-escape", "sub/escape", "bad\x00name", ".."])
def test_the_default_output_name_from_a_file_never_leaves_the_current_folder(
        cli: Runner, codec: Codec, tiny_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        stored: str) -> None:
    """The record name inside a .vqc is untrusted: decompress without -o writes a bare name here (fixed in cli.py)."""
    sig = make_signal(300, channels=1)
    sig.record_name = stored
    here = tmp_path / "here"
    (here / "sub").mkdir(parents=True)
    src = put(here / "in.vqc", codec.compress(sig)[0])
    monkeypatch.chdir(here)
    outside = snapshot(tmp_path)
    result = cli("decompress", src, "--model", tiny_bundle)
    assert result.code == 0, result.stderr
    written = set(snapshot(tmp_path)) - set(outside)
    plain = {"../escape": "escape", "/tmp/vqcodec-escape": "vqcodec-escape", "sub/escape": "escape"}
    expected = plain.get(stored, "in")  # not a plain name: the .vqc file's stem
    assert written == {f"here/{expected}.hea", f"here/{expected}.dat"}
    assert not Path("/tmp/vqcodec-escape.hea").exists()


def read_only(run: Callable[[], CliResult], folder: Path, only_rename: bool = False) -> Callable[[], CliResult]:
    """`run` with `folder` read-only for this process: creating, renaming or removing an entry in it fails with EACCES.

    Tests run as root here, which writes whatever the folder's mode, so the refusal is simulated at the calls that
    add entries to a folder (os.open with O_CREAT, os.mkdir, os.replace/rename, open for writing). With
    `only_rename`, only the final rename is refused (a temporary file exists and must be cleaned up).
    """
    folder = Path(os.path.abspath(folder))
    real = {name: getattr(os, name) for name in ("open", "mkdir", "replace", "rename", "link")}
    real_open = io.open

    def inside(path: object) -> bool:
        return Path(os.path.abspath(os.fspath(path))).parent == folder  # type: ignore[arg-type]

    def refuse(path: object) -> PermissionError:
        return PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))  # type: ignore[arg-type]

    def os_open(path: object, flags: int, *args: object, **kwargs: object) -> int:
        if not only_rename and flags & os.O_CREAT and inside(path):
            raise refuse(path)
        return real["open"](path, flags, *args, **kwargs)

    def mkdir(path: object, *args: object, **kwargs: object) -> None:
        if not only_rename and inside(path):
            raise refuse(path)
        return real["mkdir"](path, *args, **kwargs)

    def move(name: str) -> Callable[..., None]:
        def moved(src: object, dst: object, *args: object, **kwargs: object) -> None:
            if inside(src) or inside(dst):
                raise refuse(dst)
            return real[name](src, dst, *args, **kwargs)
        return moved

    def open_(file: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        if not only_rename and isinstance(file, (str, os.PathLike)) and set(mode) & set("wxa+") and inside(file):
            raise refuse(file)
        return real_open(file, mode, *args, **kwargs)

    def denied_run() -> CliResult:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(os, "open", os_open)
            mp.setattr(os, "mkdir", mkdir)
            mp.setattr(os, "replace", move("replace"))
            mp.setattr(os, "rename", move("rename"))
            mp.setattr(os, "link", move("link"))  # a new output is published by a hard link
            mp.setattr(io, "open", open_)
            mp.setattr(builtins, "open", open_)
            return run()

    return denied_run


@pytest.mark.parametrize("refused", ["read-only folder", "rename refused"])
@pytest.mark.parametrize("output", ["r.vqc", "back.npy", "back"])
def test_an_output_folder_that_cannot_be_written_fails_cleanly(cli: Runner, tmp_path: Path, record: Path,
                                                               vqc_path: Path, tiny_bundle: Path, output: str,
                                                               refused: str) -> None:
    """Catalog 32: the folder refuses the temporary file, or the final rename: exit 1, one line, nothing left."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    src = record if output.endswith(".vqc") else vqc_path
    command = "compress" if output.endswith(".vqc") else "decompress"
    run = read_only(lambda: cli(command, src, "-o", out_dir / output, "--model", tiny_bundle), out_dir,
                    only_rename=refused == "rename refused")
    line = assert_fails_cleanly(run, out_dir / output, tmp_path)
    assert "cannot write" in line and line.endswith("(Permission denied)"), line


# ------------------------------------------------------------------ 32 / issue item 9: interrupted writes


class _HalfWriter:
    """A file object that writes half of what it is given, then raises `error` (a write cut short)."""

    def __init__(self, fh: BinaryIO, error: BaseException) -> None:
        self.fh, self.error = fh, error

    def __enter__(self) -> _HalfWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.fh.close()

    def write(self, data: bytes) -> int:
        self.fh.write(bytes(data)[: len(data) // 2])
        self.fh.flush()
        raise self.error


@pytest.mark.parametrize("error, code, says", [(OSError(28, "No space left on device"), EXIT_ERROR, "cannot write"),
                                               (KeyboardInterrupt(), EXIT_INTERRUPTED, "interrupted")])
def test_a_compress_cut_off_mid_write_leaves_no_partial_output(cli: Runner, tmp_path: Path, record: Path,
                                                               tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch,
                                                               error: BaseException, code: int, says: str) -> None:
    real_fdopen = os.fdopen
    monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode: _HalfWriter(real_fdopen(fd, mode), error))
    out = tmp_path / "r.vqc"
    line = assert_fails_cleanly(lambda: cli("compress", record, "-o", out, "--model", tiny_bundle),
                                out if code == EXIT_ERROR else "interrupted", tmp_path, code)
    assert says in line


@pytest.mark.parametrize("target", ["back", "back.npy"])
def test_a_decompress_interrupted_while_moving_outputs_into_place_leaves_nothing(
        cli: Runner, vqc_path: Path, tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch, target: str) -> None:
    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    monkeypatch.setattr(os, "link", interrupted)  # a new output is published by a hard link
    assert_fails_cleanly(lambda: cli("decompress", vqc_path, "-o", vqc_path.parent / target, "--model", tiny_bundle),
                         "interrupted", vqc_path.parent, EXIT_INTERRUPTED)


def test_ctrl_c_while_the_model_runs_exits_130_with_no_output(
        cli: Runner, tmp_path: Path, record: Path, tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Codec, "compress", interrupted)
    monkeypatch.setattr(Codec, "compress_source", interrupted)  # a WFDB record is read in windows
    assert_fails_cleanly(lambda: cli("compress", record, "-o", tmp_path / "r.vqc", "--model", tiny_bundle),
                         "interrupted", tmp_path, EXIT_INTERRUPTED)


def test_a_real_sigint_mid_write_exits_130_and_leaves_nothing(tmp_path: Path, record: Path,
                                                              tiny_bundle: Path) -> None:
    """A real process gets a real SIGINT after half the output is written to its temporary file.

    The child first restores Python's own SIGINT handler: a parent that ignores SIGINT (a background job of a
    non-interactive shell, nohup) passes that on, and Python then leaves Ctrl-C ignored, as the user asked."""
    code = (
        "import os, signal, sys, time\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "import vqcodec.container.atomic as atomic\n"
        "real = os.fdopen\n"
        "class Half:\n"
        "    def __init__(self, fh): self.fh = fh\n"
        "    def __enter__(self): return self\n"
        "    def __exit__(self, *a): self.fh.close()\n"
        "    def write(self, b):\n"
        "        self.fh.write(bytes(b)[: len(b) // 2]); self.fh.flush()\n"
        "        os.kill(os.getpid(), signal.SIGINT); time.sleep(30)\n"
        "atomic.os.fdopen = lambda fd, mode: Half(real(fd, mode))\n"
        "from vqcodec.cli import main\n"
        f"sys.argv = ['vqcodec', 'compress', {str(record)!r}, '-o', {str(tmp_path / 'r.vqc')!r},"
        f" '--model', {str(tiny_bundle)!r}]\n"
        "main()\n"
    )

    def run() -> CliResult:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    line = assert_fails_cleanly(run, "interrupted", tmp_path, EXIT_INTERRUPTED)
    assert line == "vqcodec: interrupted"


# ------------------------------------------------------------------ fuzz findings, replayed in CI


@pytest.mark.filterwarnings("ignore:.*unknown ancillary section")
@pytest.mark.parametrize("path", sorted(CRASHES.glob("crash-*")) + sorted(CRASHES.glob("slow-unit-*"))
                         + sorted(SEEDS.glob("*.vqc")), ids=lambda p: p.name)
def test_saved_fuzz_inputs_parse_or_raise_only_vqc_errors(path: Path) -> None:
    """Every crash or slow input atheris ever found (tests/data/crashes/) and every seed replays through the
    harness check."""
    data = path.read_bytes()
    check_both(data)  # raw, and with every CRC fixed, as the fuzzer ran it
    if path.parent == SEEDS:  # a seed is a valid file with something in it: channels, or notes
        seed = vf.loads(data, path.name)
        assert seed.header.n_channels >= 1 or seed.header.n_samples >= 1


def test_a_midi_file_declaring_more_notes_than_its_stream_can_hold_is_refused_before_decoding() -> None:
    """The fuzzer's slow unit: 851 968 notes declared over 388 bytes of rANS words (CRCs fixed)."""
    data = fix_crcs((CRASHES / "slow-unit-5fd2a0b7d04e794ea1cfe6760b0a0af63b5c77b3").read_bytes())
    with pytest.raises(FormatError, match="cannot hold 851968 notes"):
        api.decompress(data, name="slow.vqc")
