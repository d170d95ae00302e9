"""Fixity (format 1.8): a file's header is bound to its sections, its promises to its payload and its payload to
the signal it decodes to, so no splice of two real files, no transplanted or reordered section decodes silently.

The files are real: the committed tiny ECG model's files of one record at several settings, and the shipped MIDI
model's files of one performance at two levels.
"""

from __future__ import annotations

import hashlib
import random
import struct
from pathlib import Path

import numpy as np
import pytest

import vqcodec
from tests.helpers import mutate
from tests.helpers.notes import random_performance
from tests.helpers.signals import make_signal
from tests.helpers.vqc import OFF_MINOR, join, patch_header, split
from vqcodec.container import format as vf
from vqcodec.ecg import file as ecg_file
from vqcodec.ecg.codec import Codec
from vqcodec.errors import ChecksumError, FormatError, VqcError
from vqcodec.midi import file as midi_file
from vqcodec.midi.codec import NoteCodec

SETTINGS = {"default": {}, "top": {"quality": "top"}, "e2": {"max_error": 2}, "e5": {"max_error": 5},
            "lossless": {"max_error": 0}}


@pytest.fixture(scope="module")
def ecg_files(codec: Codec) -> dict[str, bytes]:
    sig = make_signal(4000, channels=2, seed=3)
    out = {}
    for name, kw in SETTINGS.items():
        kw = {**kw, "quality": max(codec.qualities)} if kw.get("quality") == "top" else kw
        out[name] = codec.compress(sig, **kw).data
    return out


@pytest.fixture(scope="module")
def midi() -> NoteCodec:
    return NoteCodec.load("midi")


@pytest.fixture(scope="module")
def midi_files(midi: NoteCodec) -> dict[str, bytes]:
    perf = random_performance(300, seed=5)
    return {"q3": midi.compress(perf, 3).data, "q7": midi.compress(perf, 7).data}


def _decode(blob: bytes, codec: Codec, midi: NoteCodec) -> object:
    return vqcodec.decompress(blob, model=midi if vf._peek_kind(blob) == 2 else codec)


def _same(a: object, b: object) -> bool:
    if hasattr(a, "samples"):
        return bool(np.array_equal(a.samples, b.samples, equal_nan=True))
    return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("pitch", "onset", "offset", "velocity"))


def test_new_files_are_format_1_8_and_bound(ecg_files: dict[str, bytes], midi_files: dict[str, bytes]) -> None:
    """ECG files say 1.8, or 1.11 with a residual layer (in blocks, RESB); midi files 1.9, for their NOTE coding
    NC05 (pedal depth); all carry the binding."""
    for blob in [*ecg_files.values(), *midi_files.values()]:
        minor = midi_file.EVENTS_MINOR if vf._peek_kind(blob) == 2 else \
            ecg_file.RESIDUAL_BLOCKS_MINOR if b"RESB" in blob else vf.BIND_MINOR
        assert struct.unpack_from("<HH", blob, 8) == (1, minor)
        _, sections = split(blob)
        assert sections[-1][0] == vf.TAG_BIND.encode()
        assert sections[-1][1] == hashlib.sha256(blob[: blob.rindex(vf.TAG_BIND.encode())]).digest()
        assert vqcodec.info(blob).bound


@pytest.mark.parametrize(("head", "body"), [("lossless", "e2"), ("e2", "lossless"), ("default", "top"),
                                            ("e5", "default")])
def test_the_header_of_one_file_with_the_payload_of_another_is_refused(
        ecg_files: dict[str, bytes], codec: Codec, midi: NoteCodec, head: str, body: str) -> None:
    """The splice that decoded silently before 1.8: the first bytes of one file (its header, whatever cut) and the
    rest of the other file of the same record at another setting."""
    a, b = ecg_files[head], ecg_files[body]
    header_end = len(split(a)[0])
    for cut in range(header_end, min(len(a), len(b)), max(1, min(len(a), len(b)) // 40)):
        with pytest.raises(VqcError):
            _decode(a[:cut] + b[cut:], codec, midi)


def test_a_midi_header_of_one_level_with_the_notes_of_another_is_refused(
        midi_files: dict[str, bytes], codec: Codec, midi: NoteCodec) -> None:
    for x, y in (("q3", "q7"), ("q7", "q3")):
        head, _ = split(midi_files[x])
        _, sections = split(midi_files[y])
        with pytest.raises(ChecksumError, match="bIND"):
            _decode(head + midi_files[y][len(split(midi_files[y])[0]):], codec, midi)
        # and with the binding rewritten too, the header's promise (its level) disagrees with the notes
        forged = join(head, [(t, p) for t, p in sections])
        with pytest.raises(FormatError, match="quality"):
            _decode(forged, codec, midi)


def test_a_removed_binding_is_refused_in_a_1_8_file(ecg_files: dict[str, bytes]) -> None:
    head, sections = split(ecg_files["default"])
    stripped = join(head, [(t, p) for t, p in sections if t != vf.TAG_BIND.encode()], bind=False)
    with pytest.raises(FormatError, match="bIND"):
        vf.loads(stripped, "x.vqc")


def test_a_file_from_before_1_8_reads_and_says_it_carries_no_binding(ecg_files: dict[str, bytes]) -> None:
    head, sections = split(ecg_files["e2"])
    old = join(patch_header(head, OFF_MINOR, "H", 7),
               [(t, p) for t, p in sections if t not in (vf.TAG_BIND.encode(), b"dSIG")], bind=False)
    f = vf.loads(old, "old.vqc")
    assert not f.bound
    info = vqcodec.info(old)
    assert not info.bound and any("no binding" in line for line in info.lines())


def test_the_promises_in_the_header_are_checked_against_the_payload(ecg_files: dict[str, bytes]) -> None:
    """A lossless header whose residual layer is coded for max error 2, the bIND made to agree: refused."""
    head, _ = split(ecg_files["lossless"])
    _, body = split(ecg_files["e2"])
    with pytest.raises(FormatError, match="max error"):
        vf.loads(join(head, body), "x.vqc")


def test_the_decoded_samples_are_checked_against_their_digest(ecg_files: dict[str, bytes], codec: Codec) -> None:
    head, sections = split(ecg_files["e2"])
    forged = join(head, [(t, bytes(32) if t == b"dSIG" else p) for t, p in sections])
    with pytest.raises(ChecksumError, match="digest"):
        codec.decompress(forged)
    assert codec.decompress(ecg_files["e2"]).n_samples == 4000


def test_no_structured_mutation_of_real_files_decodes_silently(
        ecg_files: dict[str, bytes], midi_files: dict[str, bytes], codec: Codec, midi: NoteCodec) -> None:
    """The CI slice of benchmarks/fuzz.py: splices, transplants, swaps and reorders (which CRCs alone cannot
    catch), and random damage, through the public API; every outcome is a VqcError or the same samples."""
    rng = random.Random(7)
    groups = [ecg_files, midi_files]
    reference = {id(b): _decode(b, codec, midi) for g in groups for b in g.values()}
    outcomes = {"refused": 0, "same": 0}
    for _ in range(300):
        files = rng.choice(groups)
        blob = rng.choice(list(files.values()))
        others = [b for b in files.values() if b is not blob]
        kind = rng.choice(sorted(mutate.ALL))
        mutated = mutate.ALL[kind](rng, blob, others)
        blob = next((b for b in files.values() if b == mutated), blob)  # a splice may give another file whole
        try:
            out = _decode(mutated, codec, midi)
        except VqcError:
            outcomes["refused"] += 1
            continue
        assert _same(out, reference[id(blob)]), f"{kind} decoded silently to other samples"
        outcomes["same"] += 1
    assert outcomes["refused"] > 200


def test_verify_names_the_damaged_file_and_passes_the_others(
        ecg_files: dict[str, bytes], cli, tiny_bundle: Path, tmp_path: Path) -> None:
    for name, blob in ecg_files.items():
        (tmp_path / f"{name}.vqc").write_bytes(blob)
    damaged = bytearray(ecg_files["e2"])
    damaged[len(damaged) // 2] ^= 0x10
    (tmp_path / "broken.vqc").write_bytes(bytes(damaged))
    r = cli("verify", tmp_path, "--model", tiny_bundle)
    assert r.code == 1
    lines = r.stdout.strip().splitlines()
    assert sum(line.endswith(": OK") for line in lines) == len(ecg_files)
    assert any(line.startswith(str(tmp_path / "broken.vqc")) and "FAILED" in line for line in lines)
    assert "1 of 6 files failed" in r.stderr
    good = cli("verify", tmp_path / "e2.vqc", tmp_path / "lossless.vqc", "--model", tiny_bundle)
    assert good.code == 0 and good.stdout.count(": OK") == 2
